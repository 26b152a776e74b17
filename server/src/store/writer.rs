//! The writer: one thread per store owns the write connection and the running workflows'
//! state, and commits the work of many concurrent requests in one transaction.
//!
//! Requests send it jobs over a channel and wait on a oneshot reply, so an async handler
//! never blocks a thread on the database. The writer takes every job that queued up while the
//! previous batch ran, and for each one:
//! - takes the workflow's state from its memory ([`WorkflowCache`]), or reads it;
//! - runs the engine's change on it (the engine is pure and quick), and the parent's
//!   cascade when a sub-workflow finishes;
//! - turns the decision into rows ([`Writes`]), each update naming the revision it was decided
//!   on.
//!
//! Then it claims what polls and update-v2 asked for (after the writes, so a task queued in
//! this batch can be handed out by it), commits once, keeps the new states in memory, and
//! answers everyone. Nothing is answered before the commit that holds it.
//!
//! SQLite writes each job's rows at once in a savepoint, so a job that fails rolls back alone.
//! PostgreSQL first locks every workflow the batch changes (`FOR UPDATE`, in id order) and
//! checks the revisions its memory holds against the rows (another server may have written
//! them), then writes the batch's rows at the end. Should a batch fail as a whole (a stale row,
//! a constraint, a deadlock between servers), it is rolled back and each job runs again alone.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, Arc};

use baton_engine::Decision;
use baton_model::{IdempotencyStrategy, Task, Workflow, WorkflowDef};
use diesel::connection::TransactionManager;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, PooledConnection};
use tokio::sync::oneshot;

use super::checkpointer::{self, Checkpoints};
use super::claims::{self, PollDataThrottle, UnlimitedTypes};
use super::connection::{AnyConnection, AnyPool, Backend};
use super::idempotency::{self, Verdict};
use super::rows::{load_held, IndexedColumns, TaskRow, WorkflowRow};
use super::schema::tasks;
use super::snapshots::{Snapshot, SnapshotCache};
use super::workflow_cache::{Held, WorkflowCache};
use super::writer_stats::{Phase, Phases, WriterStats};
use super::writes::Writes;
use super::{
    Cascade, Change, Committed, Created, Pending, PollSpec, Polled, PolledTasks, StoreError,
    StoreResult, ThenPoll,
};

/// Most jobs committed together, so one batch cannot hold its first job for long.
const MAX_BATCH: usize = 256;
/// How often a job whose rows moved under it (another server) is decided again.
const STALE_RETRIES: usize = 5;
/// Workflows and tasks kept in memory between decisions.
pub const CACHED_WORKFLOWS: usize = 8_192;
pub const CACHED_TASKS: usize = 100_000;

type Reply<T> = Option<oneshot::Sender<StoreResult<T>>>;
pub type CustomWork = Box<dyn FnMut(&mut AnyConnection) -> StoreResult<Box<dyn Any + Send>> + Send>;

/// One request to the writer.
pub enum Job {
    /// Insert a new workflow from its first decision. `backup` keeps a copy on PostgreSQL,
    /// whose batches may have to run a job again.
    Create {
        decision: Option<Box<Decision>>,
        backup: Option<Box<Decision>>,
        strategy: IdempotencyStrategy,
        cascade: Cascade,
        reply: Reply<Created>,
    },
    /// Change a workflow; with `then_poll`, also claim what it asks for given the decision.
    Change {
        workflow_id: String,
        change: Change,
        then_poll: Option<ThenPoll>,
        cascade: Cascade,
        now: i64,
        reply: Reply<(Committed, PolledTasks)>,
    },
    Poll {
        spec: PollSpec,
        now: i64,
        reply: Reply<Polled>,
    },
    /// Any other write, in its own savepoint; `forget` names workflows it changes behind the
    /// memory's back (a removal).
    Custom {
        work: CustomWork,
        forget: Vec<String>,
        reply: Reply<Box<dyn Any + Send>>,
    },
}

/// The sending side, held by the store.
#[derive(Clone)]
pub struct WriterHandle {
    jobs: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Starts the writer thread on a connection taken from `pool` for good.
    pub fn start(
        pool: &AnyPool,
        backend: Backend,
        snapshots: Arc<SnapshotCache>,
    ) -> StoreResult<WriterHandle> {
        let mut conn = pool.get()?;
        let checkpoints = match backend {
            Backend::Sqlite => Some(checkpointer::start(pool, &mut conn)?),
            Backend::Postgres => {
                prefer_key_lookups(&mut conn)?;
                None
            }
        };
        let (jobs, receiver) = mpsc::channel();
        let mut writer = Writer {
            conn,
            pool: pool.clone(),
            backend,
            cache: WorkflowCache::new(CACHED_WORKFLOWS, CACHED_TASKS),
            poll_data: PollDataThrottle::default(),
            unlimited: UnlimitedTypes::default(),
            jobs: receiver,
            checkpoints,
            stats: WriterStats::default(),
            snapshots: snapshots.clone(),
        };
        std::thread::Builder::new()
            .name("baton-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Connection(format!("cannot start the writer: {e}")))?;
        Ok(WriterHandle { jobs })
    }

    /// Sends a job whose reply comes through `receiver`.
    pub fn submit<T>(&self, job: Job, receiver: oneshot::Receiver<StoreResult<T>>) -> Pending<T> {
        // A writer that stopped drops the job, and with it the reply: the wait then fails.
        let _ = self.jobs.send(job);
        Pending(receiver)
    }

    /// Runs `work` in the writer's transaction and waits for its commit (from a blocking
    /// thread).
    pub fn write<T: Send + 'static>(
        &self,
        forget: Vec<String>,
        mut work: impl FnMut(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (reply, receiver) = oneshot::channel();
        let job = Job::Custom {
            work: Box::new(move |conn| Ok(Box::new(work(conn)?) as Box<dyn Any + Send>)),
            forget,
            reply: Some(reply),
        };
        let done = self.submit(job, receiver).wait()?;
        Ok(*done
            .downcast::<T>()
            .expect("a custom write answers with its own type"))
    }
}

struct Writer {
    conn: PooledConnection<ConnectionManager<AnyConnection>>,
    pool: AnyPool,
    backend: Backend,
    cache: WorkflowCache,
    poll_data: PollDataThrottle,
    unlimited: UnlimitedTypes,
    jobs: mpsc::Receiver<Job>,
    /// SQLite: the WAL's checkpointer.
    checkpoints: Option<Checkpoints>,
    stats: WriterStats,
    snapshots: Arc<SnapshotCache>,
}

/// PostgreSQL: every statement the writer runs touches a handful of rows by key. With
/// statistics from when the tables were small (a new database, or right after a burst), the
/// planner hash-joins a batch's few rows against a sequential scan of the whole table instead,
/// and each batch costs a scan of every workflow and task. These settings, on the writer's
/// own connection only, take those plans off the table whatever the statistics say.
fn prefer_key_lookups(conn: &mut AnyConnection) -> StoreResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(
        "SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off;",
    )?;
    Ok(())
}

/// A job's result before its batch commits.
enum Done {
    Created(Created),
    Changed(Box<Committed>, Option<usize>),
    Polled(usize),
    Custom(Box<dyn Any + Send>),
}

/// A claim a batch makes after its writes, and what it got.
pub struct ClaimSlot {
    pub spec: PollSpec,
    pub now: i64,
    pub tasks: Vec<Task>,
    pub next_visible_at: Option<i64>,
}

impl Writer {
    fn run(&mut self) {
        while let Ok(first) = self.jobs.recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match self.jobs.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.stats.batch(jobs.len());
            self.handle(jobs, 0);
            // After the batch is answered: the copy holds up only the jobs that queue meanwhile.
            if let Some(checkpoints) = &mut self.checkpoints {
                checkpoints.rewind_if_due(&mut self.conn);
            }
        }
    }

    fn handle(&mut self, mut jobs: Vec<Job>, attempt: usize) {
        match self.run_batch(&mut jobs) {
            Ok((results, mut claims)) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    answer(job, result, &mut claims);
                }
            }
            Err(error) => {
                tracing::debug!(%error, jobs = jobs.len(), "batch rolled back");
                let stale = matches!(error, StoreError::Stale(_));
                if jobs.len() > 1 {
                    for job in jobs {
                        if runnable_again(&job) {
                            self.handle(vec![job], 0);
                        } else {
                            fail(job, StoreError::Connection(error.to_string()));
                        }
                    }
                } else if stale && attempt < STALE_RETRIES && jobs.iter().all(runnable_again) {
                    self.handle(jobs, attempt + 1);
                } else {
                    let mut error = Some(error);
                    for job in jobs {
                        let error = error
                            .take()
                            .unwrap_or_else(|| StoreError::Connection("batch failed".into()));
                        fail(job, error);
                    }
                }
            }
        }
    }

    /// Runs jobs in one transaction. `Err` means nothing was committed.
    fn run_batch(
        &mut self,
        jobs: &mut [Job],
    ) -> StoreResult<(Vec<StoreResult<Done>>, Vec<ClaimSlot>)> {
        if self.conn_is_broken() {
            self.conn = self.pool.get()?;
            if self.backend == Backend::Postgres {
                prefer_key_lookups(&mut self.conn)?;
            }
        }
        let conn: &mut AnyConnection = &mut self.conn;
        <AnyConnection as Connection>::TransactionManager::begin_transaction(conn)?;
        let mut batch = Batch {
            conn,
            backend: self.backend,
            cache: &mut self.cache,
            poll_data: &mut self.poll_data,
            unlimited: &mut self.unlimited,
            overlay: HashMap::new(),
            lost: HashSet::new(),
            touched: HashSet::new(),
            writes: Writes::default(),
            claims: Vec::new(),
            phases: Phases::start(),
            snapshots: &self.snapshots,
            written_snapshots: Vec::new(),
        };
        // A job that panics (an engine bug) must not take the writer down with it: the batch
        // rolls back and its jobs run again one by one, so only the panicking one fails.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| batch.run(jobs)))
            .unwrap_or_else(|_| {
                Err(StoreError::Connection(
                    "a change panicked and was rolled back".into(),
                ))
            });
        let outcome = outcome.and_then(|results| {
            <AnyConnection as Connection>::TransactionManager::commit_transaction(batch.conn)?;
            Ok(results)
        });
        batch.phases.lap(Phase::Commit);
        match outcome {
            Ok(results) => {
                let Batch {
                    overlay,
                    claims,
                    phases,
                    written_snapshots,
                    ..
                } = batch;
                self.stats.add(&phases);
                for (id, definition) in written_snapshots {
                    self.snapshots.keep(&id, &definition);
                }
                for (_, held) in overlay {
                    self.cache.put(held);
                }
                if let Some(checkpoints) = &self.checkpoints {
                    checkpoints.committed();
                }
                Ok((results, claims))
            }
            Err(error) => {
                let clean = rollback_all(batch.conn);
                let touched = std::mem::take(&mut batch.touched);
                drop(batch);
                if !clean {
                    // Its transaction state is unknown: start over on a fresh connection.
                    if let Ok(conn) = self.pool.get() {
                        self.conn = conn;
                        if self.backend == Backend::Postgres {
                            let _ = prefer_key_lookups(&mut self.conn);
                        }
                    }
                }
                for id in touched {
                    self.cache.forget(&id);
                }
                Err(error)
            }
        }
    }

    fn conn_is_broken(&mut self) -> bool {
        use diesel::r2d2::R2D2Connection;
        let conn: &mut AnyConnection = &mut self.conn;
        conn.is_broken()
    }
}

/// Rolls back every open level (a job that panicked may leave its savepoint open). False when
/// the connection's transaction state cannot be trusted any more.
fn rollback_all(conn: &mut AnyConnection) -> bool {
    type Manager = <AnyConnection as Connection>::TransactionManager;
    for _ in 0..8 {
        match Manager::transaction_manager_status_mut(conn).transaction_depth() {
            Ok(None) => return true,
            Ok(Some(_)) => {
                if Manager::rollback_transaction(conn).is_err() {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// Whether a job can run again after its batch failed (a create whose decision was consumed
/// without a copy cannot).
fn runnable_again(job: &Job) -> bool {
    match job {
        Job::Create {
            decision, backup, ..
        } => decision.is_some() || backup.is_some(),
        _ => true,
    }
}

fn fail(job: Job, error: StoreError) {
    match job {
        Job::Create { reply, .. } => send(reply, Err(error)),
        Job::Change { reply, .. } => send(reply, Err(error)),
        Job::Poll { reply, .. } => send(reply, Err(error)),
        Job::Custom { reply, .. } => send(reply, Err(error)),
    }
}

fn send<T>(reply: Reply<T>, result: StoreResult<T>) {
    if let Some(reply) = reply {
        // The requester may have given up (its connection closed): nothing to tell.
        let _ = reply.send(result);
    }
}

fn answer(job: Job, result: StoreResult<Done>, claims: &mut [ClaimSlot]) {
    let result = match result {
        Ok(done) => done,
        Err(error) => return fail(job, error),
    };
    match (job, result) {
        (Job::Create { reply, .. }, Done::Created(created)) => send(reply, Ok(created)),
        (Job::Change { reply, .. }, Done::Changed(committed, claim)) => {
            let polled = claim
                .map(|at| std::mem::take(&mut claims[at].tasks))
                .unwrap_or_default();
            send(reply, Ok((*committed, polled)));
        }
        (Job::Poll { reply, .. }, Done::Polled(at)) => {
            let slot = &mut claims[at];
            send(
                reply,
                Ok(Polled {
                    tasks: std::mem::take(&mut slot.tasks),
                    next_visible_at: slot.next_visible_at,
                }),
            );
        }
        (Job::Custom { reply, .. }, Done::Custom(value)) => send(reply, Ok(value)),
        (job, _) => fail(
            job,
            StoreError::Connection("the writer mixed up a reply".into()),
        ),
    }
}

/// One transaction's work in progress.
pub struct Batch<'w> {
    pub conn: &'w mut AnyConnection,
    backend: Backend,
    cache: &'w mut WorkflowCache,
    poll_data: &'w mut PollDataThrottle,
    unlimited: &'w mut UnlimitedTypes,
    /// Workflows this batch has read or changed, as they stand in it.
    overlay: HashMap<String, Held>,
    /// Workflows whose in-batch state a failed job consumed: read again (after flushing).
    lost: HashSet<String>,
    /// Every workflow the batch took from memory or read: forgotten if it rolls back.
    touched: HashSet<String>,
    /// PostgreSQL: the rows to write at the end.
    writes: Writes,
    claims: Vec<ClaimSlot>,
    phases: Phases,
    snapshots: &'w SnapshotCache,
    /// Snapshots this batch stores, remembered once it commits.
    written_snapshots: Vec<(String, Arc<WorkflowDef>)>,
}

/// A job's own changes, merged into the batch when the job succeeds.
#[derive(Default)]
struct Scope {
    states: HashMap<String, Held>,
    writes: Writes,
    cascaded: Vec<Decision>,
    /// Definition snapshots the job's writes store.
    snapshots: Vec<(String, Arc<WorkflowDef>)>,
}

impl Batch<'_> {
    fn run(&mut self, jobs: &mut [Job]) -> StoreResult<Vec<StoreResult<Done>>> {
        if self.backend == Backend::Postgres {
            self.lock_changed_workflows(jobs)?;
        }
        self.phases.lap(Phase::Lock);
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs.iter_mut() {
            let result = self.run_job(job)?;
            results.push(result);
        }
        self.phases.lap(Phase::Decide);
        self.flush()?;
        self.phases.lap(Phase::Write);
        claims::claim_all(self)?;
        self.phases.lap(Phase::Claim);
        Ok(results)
    }

    /// PostgreSQL: locks the rows of every workflow the batch's changes name, in id order (so
    /// batches on several servers cannot deadlock on them), and brings what memory holds of
    /// them up to date with the rows.
    fn lock_changed_workflows(&mut self, jobs: &[Job]) -> StoreResult<()> {
        let mut ids: Vec<String> = jobs
            .iter()
            .filter_map(|job| match job {
                Job::Change { workflow_id, .. } => Some(workflow_id.clone()),
                _ => None,
            })
            .collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        self.touched.extend(ids.iter().cloned());
        let fresh = fresh_states(self.conn, &ids, self.cache, self.snapshots)?;
        self.overlay.extend(fresh);
        Ok(())
    }

    /// Runs one job. `Err` fails the whole batch; `Ok(Err)` fails just this job.
    fn run_job(&mut self, job: &mut Job) -> StoreResult<StoreResult<Done>> {
        if let Job::Custom { work, forget, .. } = job {
            return self.run_custom(work, forget);
        }
        for _ in 0..STALE_RETRIES {
            let sqlite = self.backend == Backend::Sqlite;
            if sqlite {
                <AnyConnection as Connection>::TransactionManager::begin_transaction(self.conn)?;
            }
            let mut scope = Scope::default();
            let result = self.job_in_scope(job, &mut scope);
            let result = match result {
                // SQLite writes the job's rows now, inside its savepoint.
                Ok(done) if sqlite => match scope.writes.flush(self.conn) {
                    Ok(()) => Ok(done),
                    Err(error) => Err(error),
                },
                other => other,
            };
            match result {
                Ok(done) => {
                    if sqlite {
                        <AnyConnection as Connection>::TransactionManager::commit_transaction(
                            self.conn,
                        )?;
                    }
                    self.overlay.extend(scope.states);
                    self.writes.append(scope.writes);
                    self.written_snapshots.extend(scope.snapshots);
                    return Ok(Ok(done));
                }
                Err(error) => {
                    if sqlite {
                        <AnyConnection as Connection>::TransactionManager::rollback_transaction(
                            self.conn,
                        )?;
                    }
                    self.lost.extend(scope.states.into_keys());
                    match error {
                        // Memory was behind the rows (another process wrote them): the job's
                        // workflows are now marked lost, so they are read again.
                        StoreError::Stale(_) if sqlite => continue,
                        // PostgreSQL wrote nothing of this job yet, but a failed statement
                        // aborts the whole transaction.
                        StoreError::Stale(_) | StoreError::Database(_) if !sqlite => {
                            return Err(error)
                        }
                        other => return Ok(Err(other)),
                    }
                }
            }
        }
        Ok(Err(StoreError::Stale(
            "the workflow kept changing under the writer".into(),
        )))
    }

    fn job_in_scope(&mut self, job: &mut Job, scope: &mut Scope) -> StoreResult<Done> {
        match job {
            Job::Create {
                decision,
                backup,
                strategy,
                cascade,
                ..
            } => {
                let start = decision.as_ref().or(backup.as_ref());
                let name = start
                    .and_then(|d| d.workflow.workflow_name())
                    .unwrap_or_default()
                    .to_owned();
                let key = start
                    .and_then(|d| d.workflow.idempotency_key.clone())
                    .unwrap_or_default();
                if !key.is_empty() {
                    // Earlier starts of this batch must be visible to the check.
                    self.flush()?;
                    if let Verdict::Existing(id) =
                        idempotency::check(self.conn, &name, &key, *strategy)?
                    {
                        return Ok(Done::Created(Created::Existing(id)));
                    }
                }
                let decision = match decision.take() {
                    Some(decision) => {
                        if self.backend == Backend::Postgres && backup.is_none() {
                            *backup = Some(decision.clone());
                        }
                        *decision
                    }
                    None => *backup.clone().ok_or_else(|| {
                        StoreError::Connection("a start cannot be committed again".into())
                    })?,
                };
                let summary = self.apply(scope, decision, None, cascade)?;
                Ok(Done::Created(Created::New(Box::new(Committed {
                    decision: summary,
                    cascaded: std::mem::take(&mut scope.cascaded),
                }))))
            }
            Job::Change {
                workflow_id,
                change,
                then_poll,
                cascade,
                now,
                ..
            } => {
                let held = self
                    .take_state(scope, workflow_id)?
                    .ok_or_else(|| StoreError::NotFound(format!("workflow {workflow_id}")))?;
                let (workflow, previous) = Previous::of(held);
                let decision = change(workflow)?;
                let spec = then_poll
                    .as_mut()
                    .and_then(|then_poll| then_poll(&decision));
                let summary = self.apply(scope, decision, Some(previous), cascade)?;
                let claim = spec.map(|spec| {
                    self.claims.push(ClaimSlot {
                        spec,
                        now: *now,
                        tasks: Vec::new(),
                        next_visible_at: None,
                    });
                    self.claims.len() - 1
                });
                Ok(Done::Changed(
                    Box::new(Committed {
                        decision: summary,
                        cascaded: std::mem::take(&mut scope.cascaded),
                    }),
                    claim,
                ))
            }
            Job::Poll { spec, now, .. } => {
                self.claims.push(ClaimSlot {
                    spec: spec.clone(),
                    now: *now,
                    tasks: Vec::new(),
                    next_visible_at: None,
                });
                Ok(Done::Polled(self.claims.len() - 1))
            }
            Job::Custom { .. } => unreachable!("custom jobs run in run_custom"),
        }
    }

    /// Runs a custom write in its own savepoint: its failure is its own.
    fn run_custom(
        &mut self,
        work: &mut CustomWork,
        forget: &[String],
    ) -> StoreResult<StoreResult<Done>> {
        self.flush()?;
        // It may be a task definition with a new limit.
        self.unlimited.forget_all();
        for id in forget {
            self.cache.forget(id);
            self.overlay.remove(id);
            self.lost.insert(id.clone());
        }
        <AnyConnection as Connection>::TransactionManager::begin_transaction(self.conn)?;
        match work(self.conn) {
            Ok(value) => {
                <AnyConnection as Connection>::TransactionManager::commit_transaction(self.conn)?;
                Ok(Ok(Done::Custom(value)))
            }
            Err(error) => {
                <AnyConnection as Connection>::TransactionManager::rollback_transaction(self.conn)?;
                Ok(Err(error))
            }
        }
    }

    /// The current state of a workflow for this job, taken into its scope: from the batch, from
    /// memory (checked against the rows on PostgreSQL), or read. `None` when it does not exist.
    fn take_state(&mut self, scope: &mut Scope, workflow_id: &str) -> StoreResult<Option<Held>> {
        if let Some(held) = scope.states.remove(workflow_id) {
            return Ok(Some(held));
        }
        if let Some(held) = self.overlay.remove(workflow_id) {
            return Ok(Some(held));
        }
        self.touched.insert(workflow_id.to_owned());
        if self.lost.remove(workflow_id) {
            self.cache.forget(workflow_id);
        }
        // A read must see this batch's own writes.
        self.flush()?;
        let ids = [workflow_id.to_owned()];
        Ok(fresh_states(self.conn, &ids, self.cache, self.snapshots)?.remove(workflow_id))
    }

    /// The batch's current state of a workflow (for claims, which change only the claimed
    /// task: the revision on its row guards it, so memory is not checked first).
    pub fn held_mut(&mut self, workflow_id: &str) -> StoreResult<Option<&mut Held>> {
        if !self.overlay.contains_key(workflow_id) {
            self.touched.insert(workflow_id.to_owned());
            let held = match self.cache.take(workflow_id) {
                Some(held) if !self.lost.contains(workflow_id) => Some(held),
                _ => {
                    self.lost.remove(workflow_id);
                    self.flush()?;
                    load_held(self.conn, self.snapshots, workflow_id)?
                }
            };
            match held {
                Some(held) => {
                    self.overlay.insert(workflow_id.to_owned(), held);
                }
                None => return Ok(None),
            }
        }
        Ok(self.overlay.get_mut(workflow_id))
    }

    /// Reads a workflow again from its rows, replacing what the batch held.
    pub fn reload(&mut self, workflow_id: &str) -> StoreResult<Option<&mut Held>> {
        self.overlay.remove(workflow_id);
        self.cache.forget(workflow_id);
        self.lost.insert(workflow_id.to_owned());
        self.held_mut(workflow_id)
    }

    pub fn poll_data(&mut self) -> &mut PollDataThrottle {
        self.poll_data
    }

    pub fn unlimited(&mut self) -> &mut UnlimitedTypes {
        self.unlimited
    }

    pub fn claim_slot(&mut self, at: usize) -> &mut ClaimSlot {
        &mut self.claims[at]
    }

    pub fn claims_len(&self) -> usize {
        self.claims.len()
    }

    /// PostgreSQL: writes the rows gathered so far (SQLite has none waiting).
    fn flush(&mut self) -> StoreResult<()> {
        if self.writes.is_empty() {
            return Ok(());
        }
        self.writes.flush(self.conn)
    }

    /// Turns a decision into rows and keeps its state in the scope, then does the same for the
    /// workflows it starts and, when it finishes a sub-workflow, for the parent's decision.
    /// `previous` is the revision of the workflow row and of its task rows the decision was
    /// made on (`None` for a new workflow). Returns the decision as the caller sees it.
    fn apply(
        &mut self,
        scope: &mut Scope,
        mut decision: Decision,
        previous: Option<Previous>,
        cascade: &mut Cascade,
    ) -> StoreResult<Decision> {
        let (revision, mut task_revisions, keys, definition) = match previous {
            Some(previous) => (
                Some(previous.revision),
                previous.task_revisions,
                Some(previous.keys),
                previous.definition,
            ),
            None => (None, HashMap::new(), None, None),
        };
        let new_revision = revision.map_or(0, |r| r + 1);
        let definition_id = self.definition_id(scope, &mut decision.workflow, definition)?;
        let row = WorkflowRow::of(&mut decision.workflow, new_revision, definition_id.clone())?;
        let same_keys = keys.is_some_and(|keys| keys.matches(&row));
        scope.writes.workflow(row, revision, same_keys);
        for task in decision.changed() {
            let expected = task_revisions.get(&task.task_id).copied();
            let written = expected.map_or(0, |r| r + 1);
            scope.writes.task(TaskRow::of(task, written)?, expected);
            task_revisions.insert(task.task_id.clone(), written);
        }
        let workflow_id = decision.workflow.workflow_id.clone();
        for op in &decision.queue {
            scope.writes.queue(op.clone(), &workflow_id);
        }
        if !decision.removed_tasks.is_empty() {
            scope.writes.remove_tasks(&decision.removed_tasks);
            for task_id in &decision.removed_tasks {
                task_revisions.remove(task_id);
            }
        }
        for message in &decision.messages {
            scope
                .writes
                .message(message, decision.workflow.update_time)?;
        }
        let mut summary = summarize(&decision);
        let children = std::mem::take(&mut decision.children);
        let parent_update = decision.parent_update.take();
        scope.states.insert(
            workflow_id,
            Held {
                workflow: decision.workflow,
                revision: new_revision,
                task_revisions,
                definition_id,
            },
        );
        for child in children {
            let child = self.apply(scope, child, None, cascade)?;
            summary.children.push(child);
        }
        if let Some(update) = parent_update {
            // A parent removed meanwhile has nobody left to tell.
            if let Some(parent) = self.take_state(scope, &update.parent_workflow_id)? {
                let (workflow, previous) = Previous::of(parent);
                let parent_decision = cascade(workflow, &update)?;
                let parent_summary = self.apply(scope, parent_decision, Some(previous), cascade)?;
                scope.cascaded.push(parent_summary);
            }
        }
        Ok(summary)
    }
}

impl Batch<'_> {
    /// The snapshot a workflow's row names for its definition: the one it named before when
    /// the decision kept the definition, else the snapshot of the definition, stored with the
    /// batch unless this server stored it already (then the workflow shares that copy).
    fn definition_id(
        &mut self,
        scope: &mut Scope,
        workflow: &mut Workflow,
        previous: Option<(Arc<WorkflowDef>, String)>,
    ) -> StoreResult<Option<String>> {
        let Some(definition) = &workflow.workflow_definition else {
            return Ok(None);
        };
        if let Some((before, id)) = previous {
            if Arc::ptr_eq(&before, definition) {
                return Ok(Some(id));
            }
        }
        let snapshot = Snapshot::of(definition)?;
        match self.snapshots.known(&snapshot.id) {
            Some(shared) => workflow.workflow_definition = Some(shared),
            None => {
                scope
                    .snapshots
                    .push((snapshot.id.clone(), definition.clone()));
                scope.writes.snapshot(snapshot.clone());
            }
        }
        Ok(Some(snapshot.id))
    }
}

/// What a decision was made on, besides the workflow itself: the revisions of its rows and
/// the values of its indexed columns.
struct Previous {
    revision: i64,
    task_revisions: HashMap<String, i64>,
    keys: IndexedColumns,
    /// The definition and the snapshot the row named for it.
    definition: Option<(Arc<WorkflowDef>, String)>,
}

impl Previous {
    fn of(held: Held) -> (Workflow, Previous) {
        let keys = IndexedColumns::of(&held.workflow);
        let definition = held
            .workflow
            .workflow_definition
            .clone()
            .zip(held.definition_id);
        let previous = Previous {
            revision: held.revision,
            task_revisions: held.task_revisions,
            keys,
            definition,
        };
        (held.workflow, previous)
    }
}

/// The decision as its requester sees it: the workflow without its definition and with only
/// the tasks the decision changed (the full state stays in the writer's memory), and its
/// effects.
fn summarize(decision: &Decision) -> Decision {
    let full = &decision.workflow;
    let workflow = Workflow {
        status: full.status,
        end_time: full.end_time,
        workflow_id: full.workflow_id.clone(),
        parent_workflow_id: full.parent_workflow_id.clone(),
        parent_workflow_task_id: full.parent_workflow_task_id.clone(),
        tasks: decision.changed().cloned().collect(),
        output: full.output.clone(),
        correlation_id: full.correlation_id.clone(),
        reason_for_incompletion: full.reason_for_incompletion.clone(),
        priority: full.priority,
        create_time: full.create_time,
        update_time: full.update_time,
        ..Workflow::default()
    };
    Decision {
        workflow,
        changed_tasks: decision.changed_tasks.clone(),
        queue: decision.queue.clone(),
        children: Vec::new(),
        parent_update: decision.parent_update.clone(),
        removed_tasks: decision.removed_tasks.clone(),
        messages: decision.messages.clone(),
    }
}

/// The current state of the workflows `ids` (sorted), reusing what memory holds when it is up
/// to date. On PostgreSQL their rows are locked until the transaction ends and memory is
/// checked against the rows' revisions (another server may have written them); SQLite serves
/// one process, whose writes all go through this writer, so memory is current.
fn fresh_states(
    conn: &mut AnyConnection,
    ids: &[String],
    cache: &mut WorkflowCache,
    snapshots: &SnapshotCache,
) -> StoreResult<HashMap<String, Held>> {
    let mut fresh = HashMap::with_capacity(ids.len());
    let AnyConnection::Postgresql(pg) = conn else {
        for id in ids {
            let held = match cache.take(id) {
                Some(held) => Some(held),
                None => load_held(conn, snapshots, id)?,
            };
            if let Some(held) = held {
                fresh.insert(id.clone(), held);
            }
        }
        return Ok(fresh);
    };
    // One round trip locks the rows (in id order) and reads every revision.
    let rows: Vec<RevisionRow> = diesel::sql_query(
        "SELECT w.workflow_id, w.revision, t.task_id, t.revision AS task_revision \
         FROM workflows w LEFT JOIN tasks t ON t.workflow_id = w.workflow_id \
         WHERE w.workflow_id = ANY($1) ORDER BY w.workflow_id, t.seq FOR UPDATE OF w",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(ids)
    .load(pg)?;
    let mut revisions: Vec<(String, i64)> = Vec::with_capacity(ids.len());
    let mut task_revisions: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for row in rows {
        if revisions
            .last()
            .is_none_or(|(id, _)| *id != row.workflow_id)
        {
            revisions.push((row.workflow_id.clone(), row.revision));
        }
        if let (Some(task_id), Some(revision)) = (row.task_id, row.task_revision) {
            task_revisions
                .entry(row.workflow_id)
                .or_default()
                .push((task_id, revision));
        }
    }
    let rows = revisions;
    for (id, revision) in rows {
        let current = task_revisions.remove(&id).unwrap_or_default();
        let refreshed = match cache.take(&id) {
            Some(held) if held.revision == revision => refresh_tasks(conn, held, current)?,
            _ => None,
        };
        let held = match refreshed {
            Some(held) => Some(held),
            None => load_held(conn, snapshots, &id)?,
        };
        if let Some(held) = held {
            fresh.insert(id, held);
        }
    }
    Ok(fresh)
}

#[derive(QueryableByName)]
struct RevisionRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    workflow_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    revision: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    task_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    task_revision: Option<i64>,
}

/// Brings a held workflow's tasks up to the rows' revisions (`current`, in sequence order),
/// reading only the tasks that changed (a poll on another server); `None` when the workflow
/// should be read whole instead.
fn refresh_tasks(
    conn: &mut AnyConnection,
    mut held: Held,
    current: Vec<(String, i64)>,
) -> StoreResult<Option<Held>> {
    let unchanged = current.len() == held.task_revisions.len()
        && current
            .iter()
            .all(|(id, revision)| held.task_revisions.get(id) == Some(revision));
    if unchanged {
        return Ok(Some(held));
    }
    let stale: Vec<&str> = current
        .iter()
        .filter(|(id, revision)| held.task_revisions.get(id) != Some(revision))
        .map(|(id, _)| id.as_str())
        .collect();
    let mut reloaded: HashMap<String, Task> = HashMap::with_capacity(stale.len());
    for chunk in stale.chunks(500) {
        let bodies: Vec<(String, String)> = tasks::table
            .filter(tasks::task_id.eq_any(chunk))
            .select((tasks::task_id, tasks::body))
            .load(conn)?;
        for (id, body) in bodies {
            reloaded.insert(id, super::rows::parse(&body)?);
        }
    }
    let mut by_id: HashMap<String, Task> = std::mem::take(&mut held.workflow.tasks)
        .into_iter()
        .map(|task| (task.task_id.clone(), task))
        .collect();
    let mut tasks = Vec::with_capacity(current.len());
    let mut revisions = HashMap::with_capacity(current.len());
    for (id, revision) in current {
        let task = match reloaded.remove(&id).or_else(|| by_id.remove(&id)) {
            Some(task) => task,
            // Written between the two reads: read the whole workflow instead.
            None => return Ok(None),
        };
        tasks.push(task);
        revisions.insert(id, revision);
    }
    held.workflow.tasks = tasks;
    held.task_revisions = revisions;
    Ok(Some(held))
}
