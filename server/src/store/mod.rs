//! Durable state: definitions, executions, task queues, logs and poll data, behind one trait.
//!
//! One diesel implementation serves both SQLite and PostgreSQL ([`DieselStore`]); the few
//! statements that differ by backend (queue claims, upserts) branch on the connection.
//! Every method is blocking: the runtime calls them from blocking threads.

mod connection;
mod diesel_store;
mod group_commit;
mod idempotency;
mod same_sql;
mod schema;
mod task_cache;
mod task_limits;

use std::collections::BTreeMap;

use baton_engine::{Decision, EngineError, EventMessage, ParentUpdate};
use baton_model::{
    IdempotencyStrategy, PollData, Task, TaskDef, TaskExecLog, Workflow, WorkflowDef,
    WorkflowStatus,
};

pub use connection::{Backend, DatabaseUrl};
pub use diesel_store::DieselStore;

/// Errors from the store. `Rejected` carries the engine's refusal of a change, so the
/// caller can map it to a client error; everything else is an infrastructure failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    /// A start request repeated an idempotency key its strategy refuses; says which.
    #[error("{0}")]
    Duplicate(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Rejected(#[from] EngineError),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database connection pool error: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database connection error: {0}")]
    Connection(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored document is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A change to one workflow, computed under its lock from its current state.
/// It runs inside the store's transaction, so it must be pure and quick.
pub type WorkflowChange<'a> = &'a mut dyn FnMut(Workflow) -> Result<Decision, EngineError>;

/// Computes a parent's decision from its finished child's outcome, inside the child's
/// transaction.
pub type ParentCascade<'a> =
    &'a mut dyn FnMut(Workflow, &ParentUpdate) -> Result<Decision, EngineError>;

/// What a poll hands to a worker, already marked as started.
pub type PolledTasks = Vec<Task>;

/// One claim on a queue: which queue, how many tasks, and who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollSpec {
    /// The queue (`type`, or `domain:type`).
    pub queue_name: String,
    pub count: usize,
    pub worker_id: Option<String>,
    pub domain: Option<String>,
}

impl PollSpec {
    /// The task type the queue holds (its name without the `domain:` prefix).
    pub fn task_type(&self) -> &str {
        self.queue_name
            .split_once(':')
            .map_or(self.queue_name.as_str(), |(_, task_type)| task_type)
    }
}

/// The storage interface the runtime needs.
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    // Task definitions.
    fn upsert_task_defs(&self, defs: &[TaskDef], now: i64) -> StoreResult<()>;
    fn task_def(&self, name: &str) -> StoreResult<Option<TaskDef>>;
    fn task_defs(&self) -> StoreResult<Vec<TaskDef>>;
    /// The registered definitions among `names` (unknown names are left out).
    fn task_defs_named(&self, names: &[String]) -> StoreResult<Vec<TaskDef>>;
    fn delete_task_def(&self, name: &str) -> StoreResult<bool>;

    // Workflow definitions.
    /// Stores a definition; with `overwrite` false an existing (name, version) is a conflict.
    fn put_workflow_def(&self, def: &WorkflowDef, overwrite: bool, now: i64) -> StoreResult<()>;
    /// One version, or the latest when `version` is `None`.
    fn workflow_def(&self, name: &str, version: Option<i32>) -> StoreResult<Option<WorkflowDef>>;
    /// Every version of every definition, by name then version.
    fn workflow_defs(&self) -> StoreResult<Vec<WorkflowDef>>;
    fn delete_workflow_def(&self, name: &str, version: i32) -> StoreResult<bool>;

    // Executions.
    /// Inserts a new workflow with the tasks and queue entries of its first decision (and the
    /// workflows that decision starts). Mutable because serializing the workflow row sets its
    /// tasks aside for a moment; the decision is unchanged afterwards.
    fn create_workflow(
        &self,
        decision: &mut Decision,
        cascade: ParentCascade<'_>,
    ) -> StoreResult<()>;
    /// [`Store::create_workflow`] for a start request with an `idempotencyKey` (the
    /// decision's workflow carries it): an earlier workflow of the same name with that key
    /// makes it return that workflow's id instead (RETURN_EXISTING) or fail with
    /// `Duplicate` (FAIL; FAIL_ON_RUNNING while that one runs). `None` when it created the
    /// workflow. The check and the insert are one transaction, safe across servers.
    fn create_workflow_once(
        &self,
        decision: &mut Decision,
        cascade: ParentCascade<'_>,
        strategy: IdempotencyStrategy,
    ) -> StoreResult<Option<String>>;
    fn workflow(&self, workflow_id: &str, include_tasks: bool) -> StoreResult<Option<Workflow>>;
    /// Loads the workflow under its lock, runs `change`, and commits the decision it returns,
    /// all in one transaction. `NotFound` when there is no such workflow.
    /// The returned decision's workflow may hold only the tasks the decision changed (a large
    /// workflow's other tasks stay in the store's cache).
    /// When the decision finishes a sub-workflow, `cascade` computes its parent's decision,
    /// which commits in the same transaction.
    fn update_workflow(
        &self,
        workflow_id: &str,
        change: WorkflowChange<'_>,
        cascade: ParentCascade<'_>,
    ) -> StoreResult<Decision>;
    /// Like [`Store::update_workflow`], then, in the same transaction, claims the tasks that
    /// `then_poll` asks for given the decision (update-v2's "next task for this worker").
    fn update_workflow_and_poll(
        &self,
        workflow_id: &str,
        change: WorkflowChange<'_>,
        then_poll: &mut dyn FnMut(&Decision) -> Option<PollSpec>,
        cascade: ParentCascade<'_>,
        now: i64,
    ) -> StoreResult<(Decision, PolledTasks)>;
    /// Deletes a workflow, its tasks, their queue entries and logs. False when it did not exist.
    fn remove_workflow(&self, workflow_id: &str) -> StoreResult<bool>;
    fn task(&self, task_id: &str) -> StoreResult<Option<Task>>;
    /// Ids of the RUNNING or PAUSED workflows of `name` at `version`, oldest first; only those
    /// started within `started` (from, to; epoch ms, inclusive) when given.
    fn running_workflow_ids(
        &self,
        name: &str,
        version: i32,
        started: Option<(i64, i64)>,
    ) -> StoreResult<Vec<String>>;
    /// Up to `limit` workflows the sweeper should look at by `now`: a timeout is due
    /// (`next_check_at`), or a polled task's lease ran out.
    fn due_workflows(&self, now: i64, limit: usize) -> StoreResult<Vec<String>>;
    /// Up to `limit` running or paused sub-workflows whose parent has ended, with the parent's
    /// status: they should have been terminated with it (a server died in between).
    fn orphaned_workflows(&self, limit: usize) -> StoreResult<Vec<(String, WorkflowStatus)>>;
    /// The workflows of `name` with `correlation_id`, oldest first: only unfinished ones unless
    /// `include_closed`.
    fn workflows_by_correlation_id(
        &self,
        name: &str,
        correlation_id: &str,
        include_closed: bool,
        include_tasks: bool,
    ) -> StoreResult<Vec<Workflow>>;

    // Queues.
    /// Claims up to `count` visible tasks from the queue, marks them IN_PROGRESS for the
    /// worker, leases their queue entries, and records the poll.
    fn poll(&self, request: &PollSpec, now: i64) -> StoreResult<PolledTasks>;
    /// When the next not-yet-visible entry of `queue_name` becomes visible, if any.
    fn next_visible_at(&self, queue_name: &str) -> StoreResult<Option<i64>>;
    /// Entries waiting (not leased) per queue, for every queue that has any entry.
    fn queue_sizes(&self) -> StoreResult<BTreeMap<String, i64>>;
    fn queue_size(&self, queue_name: &str) -> StoreResult<i64>;
    /// Poll data for one task type (every domain), or for all when `None`.
    fn poll_data(&self, task_type: Option<&str>) -> StoreResult<Vec<PollData>>;

    // Task logs.
    fn add_task_log(&self, task_id: &str, log: &str, now: i64) -> StoreResult<()>;
    fn task_logs(&self, task_id: &str) -> StoreResult<Vec<TaskExecLog>>;

    // Events.
    /// The messages published to an event queue, oldest first.
    fn event_messages(&self, queue_name: &str) -> StoreResult<Vec<EventMessage>>;
}
