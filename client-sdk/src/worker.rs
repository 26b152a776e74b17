//! Task workers: the [`Worker`] trait, the [`TaskOutcome`] a worker returns, and the
//! [`WorkerRunner`] that polls Baton for tasks, runs workers concurrently and reports
//! their results.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_model::{JsonMap, Task, TaskResult, TaskResultStatus};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::{BatonClient, PollRequest};

/// A boxed, `Send` future borrowing from `'a`: what [`Worker::execute`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Executes tasks of one task type.
///
/// The trait is object safe, so a runner holds workers as `Arc<dyn Worker>`; implement
/// `execute` by boxing an `async` block:
///
/// ```
/// use baton_client::{BoxFuture, TaskOutcome, Worker};
/// use baton_model::{JsonMap, Task};
///
/// struct Greeter;
///
/// impl Worker for Greeter {
///     fn task_type(&self) -> &str {
///         "greet"
///     }
///
///     fn execute(&self, task: Task) -> BoxFuture<'_, TaskOutcome> {
///         Box::pin(async move {
///             let name = task.input_data.get("name").and_then(|v| v.as_str()).unwrap_or("world");
///             let mut output = JsonMap::new();
///             output.insert("greeting".into(), format!("Hello, {name}").into());
///             TaskOutcome::completed(output)
///         })
///     }
/// }
/// ```
///
/// For closures, see [`worker_fn`].
pub trait Worker: Send + Sync {
    /// The task type (task definition name) this worker polls for.
    fn task_type(&self) -> &str;

    /// Executes one task. A panic is reported as a FAILED (retryable) result.
    fn execute(&self, task: Task) -> BoxFuture<'_, TaskOutcome>;
}

/// A [`Worker`] made from a closure; see [`worker_fn`].
pub struct FnWorker<F> {
    task_type: String,
    f: F,
}

/// A worker for `task_type` that runs `f` on each task.
///
/// ```
/// use baton_client::{worker_fn, TaskOutcome};
/// use baton_model::JsonMap;
///
/// let echo = worker_fn("echo", |task| async move { TaskOutcome::completed(task.input_data) });
/// # let _ = echo;
/// ```
pub fn worker_fn<F, Fut>(task_type: impl Into<String>, f: F) -> FnWorker<F>
where
    F: Fn(Task) -> Fut + Send + Sync,
    Fut: Future<Output = TaskOutcome> + Send + 'static,
{
    FnWorker {
        task_type: task_type.into(),
        f,
    }
}

impl<F, Fut> Worker for FnWorker<F>
where
    F: Fn(Task) -> Fut + Send + Sync,
    Fut: Future<Output = TaskOutcome> + Send + 'static,
{
    fn task_type(&self) -> &str {
        &self.task_type
    }

    fn execute(&self, task: Task) -> BoxFuture<'_, TaskOutcome> {
        Box::pin((self.f)(task))
    }
}

impl<F> std::fmt::Debug for FnWorker<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnWorker")
            .field("task_type", &self.task_type)
            .finish_non_exhaustive()
    }
}

/// What executing a task produced; [`TaskOutcome::into_task_result`] turns it into the
/// [`TaskResult`] reported to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// The task succeeded (COMPLETED).
    Completed {
        /// The task's `outputData`.
        output: JsonMap,
    },
    /// The task failed; the server retries it as its definition allows (FAILED).
    Failed {
        /// `reasonForIncompletion`.
        reason: String,
        /// The task's `outputData`.
        output: JsonMap,
    },
    /// The task failed and must not be retried (FAILED_WITH_TERMINAL_ERROR).
    FailedTerminal {
        /// `reasonForIncompletion`.
        reason: String,
    },
    /// The task is still running; the server hands it out again after
    /// `callback_after_seconds` (IN_PROGRESS).
    InProgress {
        /// Seconds until the task becomes pollable again.
        callback_after_seconds: i64,
        /// The task's `outputData` so far.
        output: JsonMap,
    },
}

impl TaskOutcome {
    /// [`TaskOutcome::Completed`] with `output`.
    pub fn completed(output: JsonMap) -> Self {
        Self::Completed { output }
    }

    /// [`TaskOutcome::Failed`] with `reason` and no output.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self::Failed {
            reason: reason.into(),
            output: JsonMap::new(),
        }
    }

    /// [`TaskOutcome::FailedTerminal`] with `reason`.
    pub fn failed_terminal(reason: impl Into<String>) -> Self {
        Self::FailedTerminal {
            reason: reason.into(),
        }
    }

    /// [`TaskOutcome::InProgress`] with no output, polled again after
    /// `callback_after_seconds`.
    pub fn in_progress(callback_after_seconds: i64) -> Self {
        Self::InProgress {
            callback_after_seconds,
            output: JsonMap::new(),
        }
    }

    /// The status reported for this outcome.
    pub fn status(&self) -> TaskResultStatus {
        match self {
            Self::Completed { .. } => TaskResultStatus::Completed,
            Self::Failed { .. } => TaskResultStatus::Failed,
            Self::FailedTerminal { .. } => TaskResultStatus::FailedWithTerminalError,
            Self::InProgress { .. } => TaskResultStatus::InProgress,
        }
    }

    /// The result reporting this outcome for `task` (its `workflowInstanceId` and
    /// `taskId`). `workerId` is left unset; the [`WorkerRunner`] fills it in.
    pub fn into_task_result(self, task: &Task) -> TaskResult {
        self.into_result_for(&task.workflow_instance_id, &task.task_id)
    }

    fn into_result_for(self, workflow_instance_id: &str, task_id: &str) -> TaskResult {
        let mut result = TaskResult::new(workflow_instance_id, task_id, self.status());
        match self {
            Self::Completed { output } => result.output_data = output,
            Self::Failed { reason, output } => {
                result.reason_for_incompletion = Some(reason);
                result.output_data = output;
            }
            Self::FailedTerminal { reason } => result.reason_for_incompletion = Some(reason),
            Self::InProgress {
                callback_after_seconds,
                output,
            } => {
                result.callback_after_seconds = callback_after_seconds;
                result.output_data = output;
            }
        }
        result
    }
}

impl<E: std::fmt::Display> From<Result<JsonMap, E>> for TaskOutcome {
    /// `Ok(output)` → [`TaskOutcome::Completed`]; `Err(e)` → [`TaskOutcome::Failed`]
    /// with `e` as the reason.
    fn from(result: Result<JsonMap, E>) -> Self {
        match result {
            Ok(output) => Self::completed(output),
            Err(err) => Self::failed(err.to_string()),
        }
    }
}

/// Longest long poll a runner asks for, whatever [`TaskRunnerConfig::poll_timeout_ms`]
/// says: 5000 ms.
pub const MAX_POLL_TIMEOUT_MS: u64 = 5_000;

/// Exponential retry of a request: attempt, wait `initial_delay`, attempt, wait
/// `initial_delay × multiplier`, … for at most `max_attempts` attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Wait before the second attempt. Default 100 ms.
    pub initial_delay: Duration,
    /// Factor applied to the wait after each retry. Default 2.0.
    pub multiplier: f64,
    /// Total attempts, the first included (0 is treated as 1). Default 5.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(100),
            multiplier: 2.0,
            max_attempts: 5,
        }
    }
}

/// Settings of a [`WorkerRunner`], applied to each of its workers.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRunnerConfig {
    /// Reported as `workerid` when polling and as the result's `workerId`.
    /// Default: the host name (`$HOSTNAME`, else `/etc/hostname`), else `"baton-worker"`.
    pub worker_id: String,
    /// Task domain to poll. Default `None` (the domain-less queue).
    pub domain: Option<String>,
    /// Maximum tasks in flight per worker; each poll asks for at most as many tasks as
    /// there are free slots. Default 4 (0 is treated as 1).
    pub concurrency: usize,
    /// Long-poll timeout sent with each batch poll, in milliseconds. Default 1000,
    /// capped at [`MAX_POLL_TIMEOUT_MS`].
    pub poll_timeout_ms: u64,
    /// First wait after an empty poll that returned immediately (before half the poll
    /// timeout elapsed, i.e. the server does not long-poll). Doubles on each further
    /// such poll up to `max_idle_backoff`; reset when a poll returns tasks or
    /// long-polls. Default 10 ms.
    pub min_idle_backoff: Duration,
    /// Longest idle wait. Default 1 s.
    pub max_idle_backoff: Duration,
    /// First wait after a failed poll; doubles on each further failure up to
    /// `max_error_backoff`, reset by a successful poll. Default 100 ms.
    pub min_error_backoff: Duration,
    /// Longest wait after failed polls. Default 5 s.
    pub max_error_backoff: Duration,
    /// Retry of result updates (`POST /api/tasks`) that failed with a transport error,
    /// a 5xx or a 429 (see [`crate::ClientError::is_retryable`]). Other errors, and the
    /// last failed attempt, are logged at `error` level and the result is dropped (the
    /// server times the task out per its definition). Default
    /// [`RetryPolicy::default`]: 100 ms × 2, 5 attempts.
    pub update_retry: RetryPolicy,
}

impl Default for TaskRunnerConfig {
    fn default() -> Self {
        Self {
            worker_id: default_worker_id(),
            domain: None,
            concurrency: 4,
            poll_timeout_ms: 1_000,
            min_idle_backoff: Duration::from_millis(10),
            max_idle_backoff: Duration::from_secs(1),
            min_error_backoff: Duration::from_millis(100),
            max_error_backoff: Duration::from_secs(5),
            update_retry: RetryPolicy::default(),
        }
    }
}

/// The default worker id: the host name, or `"baton-worker"` when it is unknown.
pub fn default_worker_id() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "baton-worker".to_owned())
}

/// Polls Baton for the task types of its workers, runs tasks concurrently and reports
/// their results.
///
/// Each worker gets its own poll loop: it waits for a free slot (see
/// [`TaskRunnerConfig::concurrency`]), batch-polls for as many tasks as there are free
/// slots, and runs each task in its own tokio task, which reports the outcome with
/// [`BatonClient::update_task`] (retrying per [`TaskRunnerConfig::update_retry`]).
///
/// ```no_run
/// # async fn run() -> Result<(), baton_client::ClientError> {
/// use baton_client::{worker_fn, BatonClient, TaskOutcome, TaskRunnerConfig, WorkerRunner};
///
/// let client = BatonClient::new("http://127.0.0.1:8080")?;
/// let handle = WorkerRunner::new(client, TaskRunnerConfig::default())
///     .with_worker(worker_fn("echo", |task| async move {
///         TaskOutcome::completed(task.input_data)
///     }))
///     .start();
/// // ... until shutdown:
/// handle.stop().await;
/// # Ok(())
/// # }
/// ```
pub struct WorkerRunner {
    client: BatonClient,
    config: TaskRunnerConfig,
    workers: Vec<Arc<dyn Worker>>,
}

impl std::fmt::Debug for WorkerRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerRunner")
            .field("config", &self.config)
            .field(
                "task_types",
                &self
                    .workers
                    .iter()
                    .map(|w| w.task_type())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl WorkerRunner {
    /// A runner with no workers yet.
    pub fn new(client: BatonClient, config: TaskRunnerConfig) -> Self {
        Self {
            client,
            config,
            workers: Vec::new(),
        }
    }

    /// Adds a worker.
    #[must_use]
    pub fn with_worker(mut self, worker: impl Worker + 'static) -> Self {
        self.workers.push(Arc::new(worker));
        self
    }

    /// Adds already shared workers.
    #[must_use]
    pub fn with_workers(mut self, workers: impl IntoIterator<Item = Arc<dyn Worker>>) -> Self {
        self.workers.extend(workers);
        self
    }

    /// The runner's settings.
    pub fn config(&self) -> &TaskRunnerConfig {
        &self.config
    }

    /// Starts one poll loop per worker on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime.
    #[must_use = "dropping the handle stops the runner"]
    pub fn start(self) -> RunnerHandle {
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let config = Arc::new(self.config);
        for worker in self.workers {
            let poller = Poller {
                client: self.client.clone(),
                worker,
                config: Arc::clone(&config),
                cancel: cancel.clone(),
                tracker: tracker.clone(),
            };
            tracker.spawn(poller.run());
        }
        tracing::debug!(worker_id = %config.worker_id, "worker runner started");
        RunnerHandle { cancel, tracker }
    }
}

/// Controls a started [`WorkerRunner`].
///
/// Dropping the handle without calling [`RunnerHandle::stop`] signals the runner to
/// stop but does not wait for it.
#[derive(Debug)]
pub struct RunnerHandle {
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl RunnerHandle {
    /// Stops polling and waits until every task already polled has been executed and
    /// its result reported (or its report given up on, see
    /// [`TaskRunnerConfig::update_retry`]).
    ///
    /// A poll request already sent is awaited, not abandoned, so that the tasks it
    /// hands out are executed rather than lost: stopping takes at most one poll
    /// timeout plus the time in-flight tasks need.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        tracing::debug!("worker runner stopped");
    }

    /// Whether stopping was requested.
    pub fn is_stopping(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Number of poll loops and tasks still running.
    pub fn in_flight(&self) -> usize {
        self.tracker.len()
    }
}

impl Drop for RunnerHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Exponential backoff between `min` and `max`, doubling.
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next.min(self.max);
        self.next = delay.saturating_mul(2).max(self.min).min(self.max);
        delay
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

/// The poll loop of one worker.
struct Poller {
    client: BatonClient,
    worker: Arc<dyn Worker>,
    config: Arc<TaskRunnerConfig>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Poller {
    async fn run(self) {
        let config = &*self.config;
        let concurrency = config.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let timeout_ms = config.poll_timeout_ms.min(MAX_POLL_TIMEOUT_MS);
        let poll_timeout = Duration::from_millis(timeout_ms);
        let mut idle = Backoff::new(config.min_idle_backoff, config.max_idle_backoff);
        let mut errors = Backoff::new(config.min_error_backoff, config.max_error_backoff);
        let task_type = self.worker.task_type().to_owned();
        tracing::debug!(%task_type, concurrency, timeout_ms, "polling");

        loop {
            let first = tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break, // never closed
                },
            };
            let mut permits = vec![first];
            while let Ok(permit) = Arc::clone(&slots).try_acquire_owned() {
                permits.push(permit);
            }
            let request = PollRequest {
                count: u32::try_from(permits.len()).unwrap_or(u32::MAX),
                timeout_ms,
                worker_id: Some(config.worker_id.clone()),
                domain: config.domain.clone(),
            };
            let started = Instant::now();
            // Not raced against cancellation: tasks the server hands out are run.
            let polled = self.client.batch_poll(&task_type, &request).await;
            let delay = match polled {
                Ok(tasks) if tasks.is_empty() => {
                    errors.reset();
                    let elapsed = started.elapsed();
                    if poll_timeout.is_zero() || elapsed < poll_timeout / 2 {
                        Some(idle.next_delay())
                    } else {
                        idle.reset();
                        None
                    }
                }
                Ok(tasks) => {
                    errors.reset();
                    idle.reset();
                    tracing::debug!(%task_type, count = tasks.len(), "polled tasks");
                    for task in tasks {
                        let permit = permits.pop();
                        if permit.is_none() {
                            tracing::warn!(
                                %task_type,
                                task_id = %task.task_id,
                                "server returned more tasks than requested; running it anyway"
                            );
                        }
                        self.tracker.spawn(execute(
                            self.client.clone(),
                            Arc::clone(&self.worker),
                            Arc::clone(&self.config),
                            task,
                            permit,
                        ));
                    }
                    None
                }
                Err(err) => {
                    let delay = errors.next_delay();
                    tracing::warn!(%task_type, error = %err, retry_in = ?delay, "poll failed");
                    Some(delay)
                }
            };
            drop(permits);
            if let Some(delay) = delay {
                tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => break,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
        tracing::debug!(%task_type, "stopped polling");
    }
}

/// Runs one task and reports its outcome; `_permit` holds its concurrency slot until
/// the report is done.
async fn execute(
    client: BatonClient,
    worker: Arc<dyn Worker>,
    config: Arc<TaskRunnerConfig>,
    task: Task,
    _permit: Option<OwnedSemaphorePermit>,
) {
    let workflow_instance_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let task_type = task.task_type.clone();
    // A separate tokio task, so that a panicking worker is reported as a failure.
    let run = tokio::spawn(async move { worker.execute(task).await });
    let outcome = match run.await {
        Ok(outcome) => outcome,
        Err(err) => {
            let reason = if err.is_panic() {
                format!("worker panicked: {}", panic_message(&err.into_panic()))
            } else {
                "worker task was cancelled".to_owned()
            };
            tracing::error!(%task_type, %task_id, %reason, "task execution failed");
            TaskOutcome::failed(reason)
        }
    };
    let mut result = outcome.into_result_for(&workflow_instance_id, &task_id);
    result.worker_id = Some(config.worker_id.clone());
    report(&client, &result, &config.update_retry).await;
}

fn panic_message(payload: &Box<dyn Any + Send>) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

/// Posts `result`, retrying retryable failures per `policy`. Returns whether the
/// server accepted it.
async fn report(client: &BatonClient, result: &TaskResult, policy: &RetryPolicy) -> bool {
    let max_attempts = policy.max_attempts.max(1);
    let mut delay = policy.initial_delay;
    let mut attempt = 1;
    loop {
        match client.update_task(result).await {
            Ok(_) => return true,
            Err(err) if err.is_retryable() && attempt < max_attempts => {
                tracing::warn!(
                    task_id = %result.task_id,
                    attempt,
                    error = %err,
                    retry_in = ?delay,
                    "task update failed; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = delay.mul_f64(policy.multiplier.max(1.0));
                attempt += 1;
            }
            Err(err) => {
                tracing::error!(
                    task_id = %result.task_id,
                    workflow_instance_id = %result.workflow_instance_id,
                    attempt,
                    error = %err,
                    "task update failed; giving up"
                );
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_model::TaskStatus;
    use serde_json::json;

    fn task() -> Task {
        Task {
            task_type: "encode".into(),
            task_id: "t-1".into(),
            workflow_instance_id: "wf-1".into(),
            status: TaskStatus::InProgress,
            ..Task::default()
        }
    }

    fn map(value: serde_json::Value) -> JsonMap {
        match value {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("test maps are objects"),
        }
    }

    #[test]
    fn a_completed_outcome_reports_completed_with_its_output_for_the_task() {
        let result = TaskOutcome::completed(map(json!({"size": 3}))).into_task_result(&task());
        assert_eq!(result.workflow_instance_id, "wf-1");
        assert_eq!(result.task_id, "t-1");
        assert_eq!(result.status, Some(TaskResultStatus::Completed));
        assert_eq!(result.output_data, map(json!({"size": 3})));
        assert_eq!(result.reason_for_incompletion, None);
        assert_eq!(result.worker_id, None);
    }

    #[test]
    fn a_failed_outcome_reports_failed_with_reason_and_output() {
        let outcome = TaskOutcome::Failed {
            reason: "disk full".into(),
            output: map(json!({"partial": true})),
        };
        let result = outcome.into_task_result(&task());
        assert_eq!(result.status, Some(TaskResultStatus::Failed));
        assert_eq!(result.reason_for_incompletion.as_deref(), Some("disk full"));
        assert_eq!(result.output_data, map(json!({"partial": true})));
    }

    #[test]
    fn a_terminal_failure_reports_failed_with_terminal_error() {
        let result = TaskOutcome::failed_terminal("bad input").into_task_result(&task());
        assert_eq!(
            result.status,
            Some(TaskResultStatus::FailedWithTerminalError)
        );
        assert_eq!(result.reason_for_incompletion.as_deref(), Some("bad input"));
        let wire = serde_json::to_value(&result).unwrap();
        assert_eq!(wire["status"], "FAILED_WITH_TERMINAL_ERROR");
    }

    #[test]
    fn an_in_progress_outcome_reports_its_callback_delay() {
        let outcome = TaskOutcome::InProgress {
            callback_after_seconds: 30,
            output: map(json!({"percent": 50})),
        };
        let wire = serde_json::to_value(outcome.into_task_result(&task())).unwrap();
        assert_eq!(wire["status"], "IN_PROGRESS");
        assert_eq!(wire["callbackAfterSeconds"], 30);
        assert_eq!(wire["outputData"], json!({"percent": 50}));
        assert_eq!(wire["taskId"], "t-1");
        assert_eq!(wire["workflowInstanceId"], "wf-1");
    }

    #[test]
    fn a_result_converts_ok_to_completed_and_err_to_failed() {
        let ok: Result<JsonMap, String> = Ok(map(json!({"a": 1})));
        assert_eq!(
            TaskOutcome::from(ok),
            TaskOutcome::completed(map(json!({"a": 1})))
        );
        let err: Result<JsonMap, String> = Err("boom".into());
        assert_eq!(TaskOutcome::from(err), TaskOutcome::failed("boom"));
    }

    #[test]
    fn backoff_doubles_from_min_to_max_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(35));
        let delays: Vec<_> = (0..4).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [10, 20, 35, 35]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(10));
    }

    #[test]
    fn the_default_config_documents_its_values() {
        let config = TaskRunnerConfig::default();
        assert!(!config.worker_id.is_empty());
        assert_eq!(config.concurrency, 4);
        assert_eq!(config.poll_timeout_ms, 1_000);
        assert_eq!(config.min_idle_backoff, Duration::from_millis(10));
        assert_eq!(config.max_idle_backoff, Duration::from_secs(1));
        assert_eq!(
            config.update_retry.initial_delay,
            Duration::from_millis(100)
        );
        assert_eq!(config.update_retry.max_attempts, 5);
    }

    #[test]
    fn workers_of_different_types_fit_in_one_vec() {
        struct Named;
        impl Worker for Named {
            fn task_type(&self) -> &str {
                "named"
            }
            fn execute(&self, _task: Task) -> BoxFuture<'_, TaskOutcome> {
                Box::pin(async { TaskOutcome::failed_terminal("unused") })
            }
        }
        let workers: Vec<Arc<dyn Worker>> = vec![
            Arc::new(Named),
            Arc::new(worker_fn("closure", |_task| async {
                TaskOutcome::completed(JsonMap::new())
            })),
        ];
        let types: Vec<&str> = workers.iter().map(|w| w.task_type()).collect();
        assert_eq!(types, ["named", "closure"]);
    }
}
