//! In-process workers for the system tasks that run outside the decision: HTTP calls, jq
//! transforms (evaluated in a sandbox process) and the end of timed WAITs.
//!
//! The engine queues these tasks like worker tasks, in the queue named after their type, so
//! they are durable queue entries committed with the decision that scheduled them. Each
//! executor here long-polls its queue through the [`Runtime`] exactly as an external worker
//! would, runs the task off the decide path, and reports the result with
//! [`Runtime::update_task`]. A slow HTTP endpoint therefore never holds a workflow lock.

mod http;
mod jq;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use baton_model::{task_type, JsonMap, Task, TaskResult, TaskResultStatus};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::runtime::{PollRequest, Runtime, MAX_POLL_TIMEOUT_MS};

pub use http::HttpTask;
pub use jq::JqTask;

/// The worker id system tasks are polled and completed with.
pub const SYSTEM_WORKER_ID: &str = "baton-system";

/// How a system task ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: TaskResultStatus,
    pub output: JsonMap,
    pub reason: Option<String>,
}

impl Outcome {
    pub fn completed(output: JsonMap) -> Self {
        Outcome {
            status: TaskResultStatus::Completed,
            output,
            reason: None,
        }
    }

    pub fn failed(reason: impl Into<String>, output: JsonMap) -> Self {
        Outcome {
            status: TaskResultStatus::Failed,
            output,
            reason: Some(reason.into()),
        }
    }
}

pub type Execution = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// One kind of system task the server carries out itself.
pub trait SystemTask: Send + Sync + 'static {
    /// The task type, which is also its queue's name.
    fn task_type(&self) -> &'static str;
    /// How many of its tasks may run at once.
    fn concurrency(&self) -> usize;
    fn execute(&self, task: Task) -> Execution;
}

/// Ends a timed WAIT: its queue entry becomes visible at the deadline, so claiming it means
/// the time is up.
pub struct WaitTask;

impl SystemTask for WaitTask {
    fn task_type(&self) -> &'static str {
        task_type::WAIT
    }

    fn concurrency(&self) -> usize {
        64
    }

    fn execute(&self, task: Task) -> Execution {
        // A WAIT's output is whatever an update gave it meanwhile.
        Box::pin(async move { Outcome::completed(task.output_data) })
    }
}

/// The system tasks every server runs.
pub fn standard_tasks(jq: crate::jq::JqSandbox) -> Vec<Arc<dyn SystemTask>> {
    vec![
        Arc::new(WaitTask),
        Arc::new(HttpTask::new()),
        Arc::new(JqTask::new(jq)),
    ]
}

/// Runs every executor until the future is dropped.
pub async fn run(runtime: Runtime, tasks: Vec<Arc<dyn SystemTask>>) {
    let loops = tasks
        .into_iter()
        .map(|task| work_queue(runtime.clone(), task));
    futures_util::future::join_all(loops).await;
}

/// Polls one system task queue and runs what it claims, at most `concurrency` at a time.
/// A claim is never abandoned: each claimed task runs in its own spawned task and reports,
/// even if this loop is stopped meanwhile.
async fn work_queue(runtime: Runtime, task: Arc<dyn SystemTask>) {
    let slots = Arc::new(Semaphore::new(task.concurrency().max(1)));
    loop {
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut held = vec![first];
        while let Ok(more) = slots.clone().try_acquire_owned() {
            held.push(more);
        }
        let request = PollRequest {
            task_type: task.task_type().to_owned(),
            count: held.len(),
            worker_id: Some(SYSTEM_WORKER_ID.to_owned()),
            domain: None,
            timeout: Duration::from_millis(MAX_POLL_TIMEOUT_MS),
        };
        let claimed = match runtime.poll(request).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(task_type = task.task_type(), %error, "system task poll failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for (claimed, slot) in claimed.into_iter().zip(held.drain(..)) {
            let runtime = runtime.clone();
            let task = task.clone();
            tokio::spawn(async move {
                let outcome = task.execute(claimed.clone()).await;
                report(&runtime, &claimed, outcome).await;
                drop(slot);
            });
        }
    }
}

/// Reports a system task's outcome, retrying while the store is unavailable. A workflow
/// that is gone (removed meanwhile) has nobody left to tell.
async fn report(runtime: &Runtime, task: &Task, outcome: Outcome) {
    let result = TaskResult {
        workflow_instance_id: task.workflow_instance_id.clone(),
        task_id: task.task_id.clone(),
        status: Some(outcome.status),
        output_data: outcome.output,
        reason_for_incompletion: outcome.reason,
        worker_id: Some(SYSTEM_WORKER_ID.to_owned()),
        ..TaskResult::default()
    };
    let mut delay = Duration::from_millis(100);
    loop {
        match runtime.update_task(result.clone(), false).await {
            Ok(_) => return,
            Err(ApiError::Internal(error)) => {
                tracing::warn!(task_id = %task.task_id, %error, "cannot record a system task's result; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(refused) => {
                tracing::info!(task_id = %task.task_id, %refused, "a system task's result was not recorded");
                return;
            }
        }
    }
}
