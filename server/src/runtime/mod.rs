//! The async services: run engine decisions under the store's locks, and long-poll queues.
//!
//! Blocking store calls run on tokio's blocking pool, never on the async executor.
//! Every state change goes through [`Runtime::change_workflow`] or [`Runtime::start`],
//! which commit the decision and then wake the long polls of the queues it pushed to.

mod embed;
mod notifier;
pub mod sweeper;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baton_engine::{Decision, EngineError, IdSource, ParentUpdate, StartParams};
use baton_model::{
    IdempotencyStrategy, JsonMap, Task, TaskResult, TaskResultStatus, Workflow, WorkflowDef,
};

use crate::error::ApiError;
use crate::store::{Cascade, Committed, Created, PollSpec, Store, StoreError};

pub use notifier::QueueNotifier;

/// The longest a batch poll may wait, as in Conductor.
pub const MAX_POLL_TIMEOUT_MS: u64 = 5000;

/// How many workflow change announcements a slow listener may fall behind before it is told
/// it lagged.
const WORKFLOW_CHANGES_BUFFER: usize = 1024;

/// How often a long poll looks again at a queue whose tasks its type's limits hold back.
const LIMITED_RECHECK_MS: i64 = 100;

/// Fresh ids for workflows and tasks: UUIDs, as Conductor uses, but version 7 (time first,
/// then random bits) rather than 4. Clients treat ids as opaque strings; the database does
/// not: new rows land at the end of every index on an id instead of on a random page, so a
/// commit writes a few hot pages rather than one page per row (SQLite's WAL, PostgreSQL's
/// B-trees).
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidIds;

impl IdSource for UuidIds {
    fn next_id(&mut self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// Milliseconds since the epoch, from the system clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// An operator's action on a whole workflow.
#[derive(Debug, Clone)]
pub enum Operation {
    Pause,
    Resume,
    Terminate {
        reason: Option<String>,
    },
    /// With `resume_subworkflow_tasks`, a failed sub-workflow is retried in place (its parent's
    /// task waits for it again) rather than started over.
    Retry {
        resume_subworkflow_tasks: bool,
    },
    /// Scheduled tasks waiting out a callback become pollable now.
    ResetCallbacks,
    /// Re-runs the decider (`PUT /api/workflow/decide/{id}`).
    Decide,
    /// Starts an ended workflow over; with `use_latest_definitions`, on the latest version of
    /// its definition.
    Restart {
        use_latest_definitions: bool,
    },
    Rerun(baton_engine::operator::Rerun),
    /// Records a task of the definition as SKIPPED before the flow reaches it.
    Skip {
        reference: String,
        input: JsonMap,
        output: JsonMap,
    },
}

/// How a task is finished from outside the worker protocol.
#[derive(Debug, Clone)]
pub enum Completion {
    /// `POST /api/tasks/{workflowId}/{taskRefName}/{status}`.
    ByReference {
        reference: String,
        status: TaskResultStatus,
        output: JsonMap,
        worker_id: Option<String>,
    },
    /// `POST /api/tasks/{workflowId}/{status}/signal`: the waiting WAIT or HUMAN task.
    Signal {
        status: TaskResultStatus,
        output: JsonMap,
    },
}

/// The store's cascade: a finished sub-workflow's outcome settles its parent's task.
fn settle_parent(now: i64) -> Cascade {
    Box::new(move |parent: Workflow, update: &ParentUpdate| {
        baton_engine::apply_child_outcome(parent, update, now, &mut UuidIds)
    })
}

/// A running sub-workflow whose parent ended: it is terminated after the parent's commit.
#[derive(Debug, Clone)]
struct Orphan {
    workflow_id: String,
    parent_status: baton_model::WorkflowStatus,
}

/// The children of the SUB_WORKFLOW tasks a decision cancelled (its workflow ended).
fn orphans_of(decision: &Decision) -> Vec<Orphan> {
    decision
        .changed()
        .filter(|task| {
            task.task_type == baton_model::task_type::SUB_WORKFLOW
                && task.status == baton_model::TaskStatus::Canceled
        })
        .filter_map(|task| task.sub_workflow_id.clone())
        .map(|workflow_id| Orphan {
            workflow_id,
            parent_status: decision.workflow.status,
        })
        .collect()
}

/// The orphans of a commit: of its decision and of the parents' decisions it cascaded into.
fn orphans_of_commit(committed: &Committed) -> Vec<Orphan> {
    std::iter::once(&committed.decision)
        .chain(&committed.cascaded)
        .flat_map(orphans_of)
        .collect()
}

/// Shared state of the running server.
#[derive(Clone)]
pub struct Runtime {
    store: Arc<dyn Store>,
    notifier: Arc<QueueNotifier>,
    /// The id of every workflow a commit on this server changed, while anyone listens.
    changes: tokio::sync::broadcast::Sender<String>,
}

/// What a long poll asks for.
#[derive(Debug, Clone)]
pub struct PollRequest {
    pub task_type: String,
    pub count: usize,
    pub worker_id: Option<String>,
    pub domain: Option<String>,
    pub timeout: Duration,
}

impl Runtime {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Runtime {
            store,
            notifier: Arc::new(QueueNotifier::default()),
            changes: tokio::sync::broadcast::channel(WORKFLOW_CHANGES_BUFFER).0,
        }
    }

    /// Runs a blocking store operation on the blocking pool.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(store.as_ref()))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::from)
    }

    /// Starts a workflow of `definition`, committing its first decision. Returns its id, or,
    /// when `params` carry an `idempotencyKey` that `strategy` (default FAIL) says was used
    /// before, the earlier workflow's id (RETURN_EXISTING) or a 409.
    pub async fn start(
        &self,
        definition: WorkflowDef,
        params: StartParams,
        strategy: Option<IdempotencyStrategy>,
    ) -> Result<String, ApiError> {
        let now = now_ms();
        let workflow_id = params.workflow_id.clone();
        let definition = self
            .with_task_defs(definition, Some(params.input.clone()))
            .await?;
        let decision = baton_engine::start_workflow(definition, params, now, &mut UuidIds)?;
        let created = self
            .store
            .create_workflow(
                decision,
                settle_parent(now),
                strategy.unwrap_or(IdempotencyStrategy::Fail),
            )
            .await?;
        match created {
            Created::New(committed) => {
                self.announce_commit(&committed);
                Ok(workflow_id)
            }
            Created::Existing(existing) => Ok(existing),
        }
    }

    /// Embeds what the engine will need into the definition (task definitions, the
    /// definitions of sub-workflows and failure workflows), as it stands now. `input` is the
    /// workflow's input, which may name its failure workflow.
    async fn with_task_defs(
        &self,
        definition: WorkflowDef,
        input: Option<JsonMap>,
    ) -> Result<WorkflowDef, ApiError> {
        match self
            .blocking(move |store| embed::embed_definitions(store, definition, input.as_ref()))
            .await?
        {
            Ok(definition) => Ok(definition),
            Err(embed::EmbedError::Cycle(path)) => Err(ApiError::BadRequest(format!(
                "Workflow definitions contain themselves: {path}"
            ))),
            Err(embed::EmbedError::TooDeep(path)) => Err(ApiError::BadRequest(format!(
                "Sub-workflows nest deeper than {}: {path}",
                embed::MAX_NESTING
            ))),
        }
    }

    /// Records a worker's result. Unknown workflows and tasks are 404s; a task that
    /// belongs to another workflow is a 400. With `then_poll` (update-v2), the same
    /// transaction also claims the worker's next task of the same type, once this one is done.
    pub async fn update_task(
        &self,
        result: TaskResult,
        then_poll: bool,
    ) -> Result<(Decision, Vec<Task>), ApiError> {
        if result.status.is_none() {
            return Err(EngineError::MissingStatus.into());
        }
        let result = Arc::new(result);
        let now = now_ms();
        let change = {
            let result = result.clone();
            Box::new(move |workflow: Workflow| {
                baton_engine::apply_task_result(workflow, &result, now, &mut UuidIds)
            })
        };
        let next_poll = {
            let result = result.clone();
            Box::new(move |decision: &Decision| {
                let task = decision
                    .workflow
                    .tasks
                    .iter()
                    .find(|t| t.task_id == result.task_id)?;
                let done = task.status.is_terminal() && !result.extend_lease;
                (then_poll && done).then(|| PollSpec {
                    queue_name: baton_engine::queue_name(&task.task_type, task.domain.as_deref()),
                    count: 1,
                    worker_id: result.worker_id.clone(),
                    domain: task.domain.clone(),
                })
            })
        };
        let outcome = self
            .store
            .update_workflow_and_poll(
                &result.workflow_instance_id,
                change,
                next_poll,
                settle_parent(now),
                now,
            )
            .await;
        let (committed, next) = match outcome {
            Ok(done) => done,
            Err(StoreError::NotFound(_)) => {
                return Err(ApiError::NotFound(format!(
                    "No such workflow found by id: {}",
                    result.workflow_instance_id
                )))
            }
            Err(StoreError::Rejected(EngineError::TaskNotFound(_))) => {
                return Err(self.explain_missing_task(&result).await)
            }
            Err(other) => return Err(other.into()),
        };
        // The worker's next task may be the one this decision queued: nobody else needs
        // waking for it.
        let handed: Vec<&str> = next.iter().map(|task| task.task_id.as_str()).collect();
        self.announce_commit_except(&committed, &handed);
        self.end_orphans(orphans_of_commit(&committed)).await;
        if !result.logs.is_empty() {
            let result = result.clone();
            self.blocking(move |store| {
                let now = now_ms();
                for log in result.logs.iter().filter_map(|log| log.log.as_deref()) {
                    store.add_task_log(&result.task_id, log, now)?;
                }
                Ok(())
            })
            .await?;
        }
        Ok((committed.decision, next))
    }

    /// Finishes a workflow's pending task from outside (a task by reference name, or the
    /// waiting WAIT/HUMAN task for a signal). Returns the task's id, or `None` when the
    /// workflow has no such pending task.
    pub async fn complete_from_outside(
        &self,
        workflow_id: String,
        completion: Completion,
    ) -> Result<Option<String>, ApiError> {
        let decision = self
            .change_workflow(workflow_id, move |workflow, now| match &completion {
                Completion::ByReference {
                    reference,
                    status,
                    output,
                    worker_id,
                } => baton_engine::complete_pending_task(
                    workflow,
                    reference,
                    *status,
                    output.clone(),
                    worker_id.clone(),
                    now,
                    &mut UuidIds,
                ),
                Completion::Signal { status, output } => baton_engine::signal_waiting_task(
                    workflow,
                    *status,
                    output.clone(),
                    now,
                    &mut UuidIds,
                ),
            })
            .await?;
        // The finished task is the first one the decision touched.
        Ok(decision.changed_tasks.first().cloned())
    }

    /// Pauses, resumes, terminates, retries, restarts, reruns, re-decides a workflow or resets
    /// its callbacks.
    pub async fn operate(&self, workflow_id: String, operation: Operation) -> Result<(), ApiError> {
        if let Operation::Retry {
            resume_subworkflow_tasks: true,
        } = operation
        {
            // The deepest failed sub-workflow is retried; each parent follows in its commit.
            let mut target = workflow_id.clone();
            while let Some(child) = self.failed_sub_workflow_of(&target).await? {
                target = child;
            }
            if target != workflow_id {
                let retry = Operation::Retry {
                    resume_subworkflow_tasks: false,
                };
                return Box::pin(self.operate(target, retry)).await;
            }
        }
        let latest = match operation {
            Operation::Restart {
                use_latest_definitions: true,
            } => Some(self.latest_definition_of(&workflow_id).await?),
            _ => None,
        };
        self.change_workflow(workflow_id, move |workflow, now| match &operation {
            Operation::Pause => baton_engine::operator::pause(workflow, now),
            Operation::Resume => baton_engine::operator::resume(workflow, now, &mut UuidIds),
            Operation::Terminate { reason } => {
                baton_engine::operator::terminate(workflow, reason.clone(), now)
            }
            Operation::Retry { .. } => baton_engine::operator::retry(workflow, now, &mut UuidIds),
            Operation::ResetCallbacks => baton_engine::operator::reset_callbacks(workflow, now),
            Operation::Decide => baton_engine::decide(workflow, now, &mut UuidIds),
            Operation::Restart { .. } => {
                baton_engine::operator::restart(workflow, latest.clone(), now, &mut UuidIds)
            }
            Operation::Rerun(request) => {
                baton_engine::operator::rerun(workflow, request, now, &mut UuidIds)
            }
            Operation::Skip {
                reference,
                input,
                output,
            } => baton_engine::operator::skip_task(
                workflow,
                reference,
                input.clone(),
                output.clone(),
                now,
                &mut UuidIds,
            ),
        })
        .await?;
        Ok(())
    }

    /// The child of an ended workflow's failed SUB_WORKFLOW task (not retried already), when
    /// that child failed, timed out or was terminated too.
    async fn failed_sub_workflow_of(&self, workflow_id: &str) -> Result<Option<String>, ApiError> {
        let lookup = workflow_id.to_owned();
        self.blocking(move |store| {
            let Some(workflow) = store.workflow(&lookup, true)? else {
                return Ok(None);
            };
            if !workflow.status.is_terminal() {
                return Ok(None);
            }
            let children = workflow.tasks.iter().filter(|task| {
                task.task_type == baton_model::task_type::SUB_WORKFLOW
                    && !task.retried
                    && !task.status.is_successful()
            });
            for child_id in children.filter_map(|task| task.sub_workflow_id.clone()) {
                let child = store.workflow(&child_id, false)?;
                if child.is_some_and(|child| {
                    child.status.is_terminal()
                        && child.status != baton_model::WorkflowStatus::Completed
                }) {
                    return Ok(Some(child_id));
                }
            }
            Ok(None)
        })
        .await
    }

    /// The latest registered version of a workflow's definition, prepared to run.
    async fn latest_definition_of(&self, workflow_id: &str) -> Result<WorkflowDef, ApiError> {
        let lookup = workflow_id.to_owned();
        let (definition, input) = self
            .blocking(move |store| {
                let Some(workflow) = store.workflow(&lookup, false)? else {
                    return Ok(Err(ApiError::NotFound(format!(
                        "No such workflow found by id: {lookup}"
                    ))));
                };
                let name = workflow.workflow_name().unwrap_or_default().to_owned();
                Ok(store
                    .workflow_def(&name, None)?
                    .map(|definition| (definition, workflow.input))
                    .ok_or_else(|| {
                        ApiError::NotFound(format!("Unable to find latest definition for {lookup}"))
                    }))
            })
            .await??;
        self.with_task_defs(definition, Some(input)).await
    }

    /// Applies `change` to one workflow under its lock (and a finished sub-workflow's outcome
    /// to its parent), commits it, and wakes the long polls of the queues it pushed to.
    /// An unknown workflow is Conductor's 404.
    async fn change_workflow<F>(&self, workflow_id: String, change: F) -> Result<Decision, ApiError>
    where
        F: FnMut(Workflow, i64) -> Result<Decision, EngineError> + Send + 'static,
    {
        let (decision, orphans) = self.commit_change(workflow_id, change).await?;
        self.end_orphans(orphans).await;
        Ok(decision)
    }

    /// Terminates the running sub-workflows whose parents ended, and theirs in turn, each in
    /// its own transaction after the parent's. (One that ended meanwhile is left as it is.)
    async fn end_orphans(&self, mut orphans: Vec<Orphan>) {
        while let Some(orphan) = orphans.pop() {
            let reason = format!(
                "Parent workflow has been terminated with status {}",
                orphan.parent_status
            );
            let terminated = self
                .commit_change(orphan.workflow_id.clone(), move |workflow, now| {
                    if workflow.status.is_terminal() {
                        return Ok(Decision::unchanged(workflow));
                    }
                    baton_engine::operator::terminate(workflow, Some(reason.clone()), now)
                })
                .await;
            match terminated {
                Ok((_, more)) => orphans.extend(more),
                Err(error) => {
                    tracing::warn!(workflow_id = %orphan.workflow_id, %error, "cannot terminate a sub-workflow whose parent ended");
                }
            }
        }
    }

    /// [`Runtime::change_workflow`] without ending orphans: returns them instead.
    async fn commit_change<F>(
        &self,
        workflow_id: String,
        mut change: F,
    ) -> Result<(Decision, Vec<Orphan>), ApiError>
    where
        F: FnMut(Workflow, i64) -> Result<Decision, EngineError> + Send + 'static,
    {
        let now = now_ms();
        let outcome = self
            .store
            .update_workflow(
                &workflow_id,
                Box::new(move |workflow| change(workflow, now)),
                settle_parent(now),
            )
            .await;
        let committed = match outcome {
            Ok((committed, _)) => committed,
            Err(StoreError::NotFound(_)) => {
                return Err(ApiError::NotFound(format!(
                    "No such workflow found by id: {workflow_id}"
                )))
            }
            Err(other) => return Err(other.into()),
        };
        self.announce_commit(&committed);
        let orphans = orphans_of_commit(&committed);
        Ok((committed.decision, orphans))
    }

    /// A task missing from the named workflow: a 400 when it belongs to another workflow,
    /// else a 404.
    async fn explain_missing_task(&self, result: &TaskResult) -> ApiError {
        let task_id = result.task_id.clone();
        match self.blocking(move |store| store.task(&task_id)).await {
            Ok(Some(task)) => EngineError::WrongWorkflow {
                task_id: result.task_id.clone(),
                claimed: result.workflow_instance_id.clone(),
                actual: task.workflow_instance_id,
            }
            .into(),
            Ok(None) => EngineError::TaskNotFound(result.task_id.clone()).into(),
            Err(lookup) => lookup,
        }
    }

    /// Polls up to `count` tasks, waiting up to `timeout` for the first to arrive.
    pub async fn poll(&self, request: PollRequest) -> Result<Vec<Task>, ApiError> {
        let queue_name = baton_engine::queue_name(&request.task_type, request.domain.as_deref());
        let notify = self.notifier.for_queue(&queue_name);
        let deadline = tokio::time::Instant::now() + request.timeout;
        loop {
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();

            let spec = PollSpec {
                queue_name: queue_name.clone(),
                count: request.count.max(1),
                worker_id: request.worker_id.clone(),
                domain: request.domain.clone(),
            };
            let now = now_ms();
            let polled = self.store.poll(&spec, now).await?;
            let (tasks, next_visible) = (polled.tasks, polled.next_visible_at.map(|at| at - now));
            if !tasks.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(tasks);
            }
            // Also wake when a delayed entry becomes visible. An entry visible already but
            // not handed out is held back by the type's limits: look again a little later
            // (a slot may free up on another server, which cannot wake this one).
            let wake_at = next_visible
                .map(|in_ms| {
                    let in_ms = if in_ms <= 0 {
                        LIMITED_RECHECK_MS
                    } else {
                        in_ms
                    };
                    tokio::time::Instant::now() + Duration::from_millis(in_ms as u64)
                })
                .map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                _ = &mut woken => {}
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// Wakes the long polls of every queue a committed decision (or a parent decision it
    /// cascaded into) pushed to, and, while anyone listens, announces the workflows it changed
    /// or started.
    fn announce_commit(&self, committed: &Committed) {
        self.announce_commit_except(committed, &[]);
    }

    /// [`Runtime::announce_commit`], waking nobody for the pushed tasks in `handed_out`
    /// (claimed in the same commit already). A woken long poll that finds nothing costs the
    /// writer a whole transaction.
    fn announce_commit_except(&self, committed: &Committed, handed_out: &[&str]) {
        let decisions = || std::iter::once(&committed.decision).chain(&committed.cascaded);
        for decision in decisions() {
            for (queue_name, task_id) in decision.pushes() {
                if !handed_out.contains(&task_id) {
                    self.notifier.notify(queue_name);
                }
            }
        }
        if self.changes.receiver_count() > 0 {
            for decision in decisions() {
                let started = decision.children.iter().map(|child| &child.workflow);
                for workflow in std::iter::once(&decision.workflow).chain(started) {
                    let _ = self.changes.send(workflow.workflow_id.clone());
                }
            }
        }
    }

    /// Announcements of committed changes, by workflow id (for waiting on a workflow). A
    /// receiver that lags behind gets `Lagged` and should look at the workflow again.
    pub fn workflow_changes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_uuids_that_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000).map(|_| UuidIds.next_id()).collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 7);
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "later ids sort after earlier ones");
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
    }
}
