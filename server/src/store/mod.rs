//! Durable state: definitions, executions, task queues, logs and poll data, behind one trait.
//!
//! One diesel implementation serves both SQLite and PostgreSQL ([`DieselStore`]); the few
//! statements that differ by backend (queue claims, upserts) branch on the connection.
//! Every method is blocking: the runtime calls them from blocking threads.

/// Runs `$body` with `$c` bound to the concrete connection of either backend, for
/// statements the multi-backend connection cannot express (upserts, row locks), and for the
/// hot path's statements: through the multi-backend connection every execution renders its
/// SQL and collects its binds twice, ~9 % of the server's CPU under load.
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::store::connection::AnyConnection::Postgresql($c) => $body,
            $crate::store::connection::AnyConnection::Sqlite($c) => $body,
        }
    };
}

mod checkpointer;
mod claims;
mod connection;
mod diesel_store;
mod idempotency;
mod pg_batch;
mod rows;
mod same_sql;
mod schema;
mod snapshots;
mod task_limits;
mod workflow_cache;
mod writer;
mod writer_stats;
mod writes;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
    /// A row changed after the state a decision was made on was read (another server wrote
    /// it). The writer decides again on the new state; this escapes only if that keeps
    /// happening.
    #[error("{0} changed meanwhile")]
    Stale(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A change to one workflow, computed by the writer from its current state. It must be pure
/// and quick: it runs in the writer's transaction, and may run again if that is rolled back.
pub type Change = Box<dyn FnMut(Workflow) -> Result<Decision, EngineError> + Send>;

/// Computes a parent's decision from its finished child's outcome, in the child's
/// transaction.
pub type Cascade = Box<dyn FnMut(Workflow, &ParentUpdate) -> Result<Decision, EngineError> + Send>;

/// What to claim, given a committed change's decision (update-v2's next task for the worker).
pub type ThenPoll = Box<dyn FnMut(&Decision) -> Option<PollSpec> + Send>;

/// A committed decision as its requester sees it: the workflow without its definition and
/// with only the tasks the decision changed, and the decision's effects. `cascaded` holds the
/// decisions the commit made for parents of finished sub-workflows.
#[derive(Debug, Clone)]
pub struct Committed {
    pub decision: Decision,
    pub cascaded: Vec<Decision>,
}

/// The outcome of a start with an idempotency key.
#[derive(Debug, Clone)]
pub enum Created {
    New(Box<Committed>),
    /// An earlier workflow with the key, whose id the start returns instead.
    Existing(String),
}

/// What a poll claimed, and when the queue's next delayed entry becomes visible if nothing
/// was ready.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub tasks: Vec<Task>,
    pub next_visible_at: Option<i64>,
}

/// A write handed to the store's writer; await it, or [`Pending::wait`] from a blocking
/// thread.
pub struct Pending<T>(tokio::sync::oneshot::Receiver<StoreResult<T>>);

impl<T> Pending<T> {
    /// Blocks until the write is committed (or failed). Not for async code.
    pub fn wait(self) -> StoreResult<T> {
        self.0
            .blocking_recv()
            .unwrap_or_else(|_| Err(writer_gone()))
    }
}

impl<T> Future for Pending<T> {
    type Output = StoreResult<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|outcome| outcome.unwrap_or_else(|_| Err(writer_gone())))
    }
}

fn writer_gone() -> StoreError {
    StoreError::Connection("the store's writer stopped".into())
}

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

    // Executions. Changes go through the store's writer and are committed before they are
    // answered.
    /// Inserts a new workflow with the tasks and queue entries of its first decision (and the
    /// workflows that decision starts). When the decision's workflow carries an
    /// `idempotencyKey`, an earlier workflow of the same name with that key makes it return
    /// that workflow's id instead (RETURN_EXISTING) or fail with `Duplicate` (FAIL;
    /// FAIL_ON_RUNNING while that one runs). The check and the insert are one transaction,
    /// safe across servers.
    fn create_workflow(
        &self,
        decision: Decision,
        cascade: Cascade,
        strategy: IdempotencyStrategy,
    ) -> Pending<Created>;
    fn workflow(&self, workflow_id: &str, include_tasks: bool) -> StoreResult<Option<Workflow>>;
    /// Runs `change` on the workflow's current state and commits the decision it returns, all
    /// in one transaction. `NotFound` when there is no such workflow. When the decision
    /// finishes a sub-workflow, `cascade` computes its parent's decision, which commits in the
    /// same transaction.
    fn update_workflow(
        &self,
        workflow_id: &str,
        change: Change,
        cascade: Cascade,
    ) -> Pending<(Committed, PolledTasks)>;
    /// Like [`Store::update_workflow`], then, in the same transaction, claims the tasks that
    /// `then_poll` asks for given the decision (update-v2's "next task for this worker").
    fn update_workflow_and_poll(
        &self,
        workflow_id: &str,
        change: Change,
        then_poll: ThenPoll,
        cascade: Cascade,
        now: i64,
    ) -> Pending<(Committed, PolledTasks)>;
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
    fn poll(&self, request: &PollSpec, now: i64) -> Pending<Polled>;
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
