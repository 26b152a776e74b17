//! The diesel implementation of [`Store`], for SQLite and PostgreSQL alike.
//!
//! Documents are kept as Conductor JSON in `body` columns; the other columns exist for
//! filtering and ordering. Writes run in one transaction each. On SQLite, Baton's own
//! writers queue on a mutex (SQLite has one writer at a time, and a queue beats spinning
//! on `SQLITE_BUSY`). On PostgreSQL, a workflow is locked with `SELECT ... FOR UPDATE`
//! and queue claims use `FOR UPDATE SKIP LOCKED`, so several servers can share one database.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use baton_engine::{Decision, EventMessage, QueueOp};
use baton_model::{
    IdempotencyStrategy, PollData, Task, TaskDef, TaskExecLog, Workflow, WorkflowDef,
    WorkflowStatus,
};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, PooledConnection};

use super::connection::{open_pool, AnyConnection, AnyPool, Backend, DatabaseUrl};
use super::group_commit::GroupCommit;
use super::idempotency::{self, Verdict};
use super::same_sql::SameSql;
use super::schema::{
    event_messages, poll_data, queue_entries, task_defs, task_logs, tasks, workflow_defs, workflows,
};
use super::task_cache::{CachedTasks, TaskCache, MIN_CACHED_TASKS};
use super::task_limits;
use super::{ParentCascade, PollSpec, PolledTasks, Store, StoreError, StoreResult, WorkflowChange};

/// Runs `$body` with `$c` bound to the concrete connection of either backend, for
/// statements the multi-backend connection cannot express (upserts, row locks), and for the
/// hot path's statements: through the multi-backend connection every execution renders its
/// SQL and collects its binds twice, ~9 % of the server's CPU under load.
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            AnyConnection::Postgresql($c) => $body,
            AnyConnection::Sqlite($c) => $body,
        }
    };
}

pub struct DieselStore {
    pool: AnyPool,
    backend: Backend,
    /// SQLite's single writer, committing concurrent writes together; `None` on PostgreSQL.
    sqlite_writer: Option<GroupCommit>,
    /// When poll data was last written per (queue, domain).
    poll_data_written: Mutex<HashMap<PollDataKey, i64>>,
    /// Tasks of large workflows between decisions.
    task_cache: TaskCache,
}

/// A `poll_data` row's key: queue name and domain (empty for none).
type PollDataKey = (String, String);

/// How often the same worker's polls of one queue are written to `poll_data`.
pub const POLL_DATA_FLUSH_MS: i64 = 1000;

impl DieselStore {
    /// Opens (and migrates) the database at `url` with a pool of `pool_size` connections.
    pub fn open(url: &DatabaseUrl, pool_size: u32) -> StoreResult<Self> {
        let pool = open_pool(url, pool_size)?;
        let sqlite_writer = match url.backend() {
            Backend::Sqlite => Some(GroupCommit::new(&pool)?),
            Backend::Postgres => None,
        };
        Ok(DieselStore {
            pool,
            backend: url.backend(),
            sqlite_writer,
            poll_data_written: Mutex::new(HashMap::new()),
            task_cache: TaskCache::default(),
        })
    }

    fn conn(&self) -> StoreResult<PooledConnection<ConnectionManager<AnyConnection>>> {
        Ok(self.pool.get()?)
    }

    /// Runs `work` in one write transaction: its own on PostgreSQL, a savepoint of a shared
    /// group commit on SQLite. Either way it returns once the work is committed.
    fn write<T>(&self, work: impl FnOnce(&mut AnyConnection) -> StoreResult<T>) -> StoreResult<T> {
        if let Some(group) = &self.sqlite_writer {
            return group.write(work);
        }
        let mut pooled = self.conn()?;
        let conn: &mut AnyConnection = &mut pooled;
        conn.transaction(work)
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = workflows)]
// A `None` clears the column (a restart clears `end_time`, a finished workflow `next_check_at`).
#[diesel(treat_none_as_null = true)]
struct WorkflowRow<'a> {
    workflow_id: &'a str,
    workflow_name: &'a str,
    workflow_version: i32,
    status: &'a str,
    correlation_id: Option<&'a str>,
    priority: i32,
    start_time: i64,
    update_time: i64,
    end_time: Option<i64>,
    body: String,
    /// When the sweeper should look at the workflow next (its next timeout), if ever.
    next_check_at: Option<i64>,
    idempotency_key: Option<&'a str>,
    parent_workflow_id: Option<&'a str>,
}

impl<'a> WorkflowRow<'a> {
    /// The row for `workflow`, with `body` from [`workflow_body`].
    fn from_workflow(workflow: &'a Workflow, body: String) -> Self {
        WorkflowRow {
            workflow_id: &workflow.workflow_id,
            workflow_name: workflow.workflow_name().unwrap_or_default(),
            workflow_version: workflow.workflow_version().unwrap_or_default(),
            status: workflow.status.as_str(),
            correlation_id: workflow.correlation_id.as_deref(),
            priority: workflow.priority,
            start_time: workflow.create_time,
            update_time: workflow.update_time,
            end_time: (workflow.end_time > 0).then_some(workflow.end_time),
            body,
            next_check_at: baton_engine::next_check_at(workflow),
            idempotency_key: workflow.idempotency_key.as_deref(),
            parent_workflow_id: workflow.parent_workflow_id.as_deref(),
        }
    }
}

/// The workflow document without its tasks, which live in their own rows. The tasks are set
/// aside while serializing, so a workflow with a thousand tasks costs no more than one with
/// three.
fn workflow_body(workflow: &mut Workflow) -> StoreResult<String> {
    let tasks = std::mem::take(&mut workflow.tasks);
    let body = serde_json::to_string(workflow);
    workflow.tasks = tasks;
    Ok(body?)
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = tasks)]
struct TaskRow<'a> {
    task_id: &'a str,
    workflow_id: &'a str,
    seq: i32,
    task_type: &'a str,
    reference_task_name: &'a str,
    status: &'a str,
    update_time: i64,
    body: String,
}

impl<'a> TaskRow<'a> {
    fn from_task(task: &'a Task) -> StoreResult<Self> {
        Ok(TaskRow {
            task_id: &task.task_id,
            workflow_id: &task.workflow_instance_id,
            seq: task.seq,
            task_type: &task.task_type,
            reference_task_name: &task.reference_task_name,
            status: task.status.as_str(),
            update_time: task.update_time,
            body: serde_json::to_string(task)?,
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> StoreResult<T> {
    Ok(serde_json::from_str(body)?)
}

/// Writes every task the decision touched: an update for the ones in `existing`, an insert
/// for the rest.
fn save_tasks(
    conn: &mut AnyConnection,
    decision: &Decision,
    existing: &HashSet<String>,
) -> StoreResult<()> {
    for task in decision.changed() {
        let row = TaskRow::from_task(task)?;
        if existing.contains(&task.task_id) {
            per_backend!(conn, c => SameSql(
                diesel::update(tasks::table.find(task.task_id.as_str()))
                    .set((&row, tasks::revision.eq(tasks::revision + 1))),
            )
            .execute(c))?;
        } else {
            per_backend!(conn, c => diesel::insert_into(tasks::table)
                .values(&row)
                .execute(c))?;
        }
    }
    Ok(())
}

fn apply_queue_ops(conn: &mut AnyConnection, ops: &[QueueOp]) -> StoreResult<()> {
    for op in ops {
        match op {
            QueueOp::Push {
                queue_name,
                task_id,
                priority,
                visible_at,
                lease_ms,
            } => {
                let entry = (
                    queue_entries::task_id.eq(task_id),
                    queue_entries::queue_name.eq(queue_name),
                    queue_entries::priority.eq(priority),
                    queue_entries::visible_at.eq(visible_at),
                    queue_entries::lease_ms.eq(lease_ms),
                );
                let replace = (
                    queue_entries::queue_name.eq(queue_name),
                    queue_entries::priority.eq(priority),
                    queue_entries::visible_at.eq(visible_at),
                    queue_entries::lease_ms.eq(lease_ms),
                    queue_entries::leased_until.eq(None::<i64>),
                );
                per_backend!(conn, c => SameSql(diesel::insert_into(queue_entries::table)
                    .values(entry)
                    .on_conflict(queue_entries::task_id)
                    .do_update()
                    .set(replace))
                    .execute(c))?;
            }
            QueueOp::Remove { task_id } => {
                per_backend!(conn, c => diesel::delete(
                    queue_entries::table.filter(queue_entries::task_id.eq(task_id)),
                )
                .execute(c))?;
            }
            QueueOp::ExtendLease {
                task_id,
                leased_until,
            } => {
                SameSql(
                    diesel::update(queue_entries::table.filter(queue_entries::task_id.eq(task_id)))
                        .filter(queue_entries::leased_until.is_not_null())
                        .set(queue_entries::leased_until.eq(leased_until)),
                )
                .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Claims up to `count` visible entries of a queue with one statement, leasing each for its
/// `lease_ms`, then marks their tasks IN_PROGRESS. Runs inside the caller's transaction.
fn claim(conn: &mut AnyConnection, request: &PollSpec, now: i64) -> StoreResult<PolledTasks> {
    let admission = task_limits::admit(conn, request.task_type(), request.count, now)?;
    if admission.allowed == 0 {
        return Ok(Vec::new());
    }
    let limit = admission.allowed as i64;
    // Built with diesel's DSL rather than as SQL text so the statement is prepared once per
    // connection and cached (diesel never caches `sql_query`).
    let waiting = diesel::alias!(queue_entries as waiting);
    let candidates = waiting
        .filter(
            waiting
                .field(queue_entries::queue_name)
                .eq(&request.queue_name),
        )
        .filter(waiting.field(queue_entries::leased_until).is_null())
        .filter(waiting.field(queue_entries::visible_at).le(now))
        .order((
            waiting.field(queue_entries::priority).desc(),
            waiting.field(queue_entries::id).asc(),
        ))
        .limit(limit)
        .select(waiting.field(queue_entries::id));
    let lease = queue_entries::leased_until.eq((queue_entries::lease_ms + now).nullable());
    let returned = (queue_entries::id, queue_entries::task_id);
    let claimed: Vec<(i64, String)> = match conn {
        AnyConnection::Postgresql(c) => SameSql(
            diesel::update(
                queue_entries::table
                    .filter(queue_entries::id.eq_any(candidates.for_update().skip_locked())),
            )
            .set(lease)
            .returning(returned),
        )
        .get_results(c)?,
        AnyConnection::Sqlite(c) => SameSql(
            diesel::update(queue_entries::table.filter(queue_entries::id.eq_any(candidates)))
                .set(lease)
                .returning(returned),
        )
        .get_results(c)?,
    };
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let bodies: Vec<(String, String)> = match claimed.as_slice() {
        // One task (update-v2's next task, a single poll): a cached statement.
        [(_, task_id)] => per_backend!(conn, c => tasks::table
            .find(task_id)
            .select((tasks::task_id, tasks::body))
            .load(c))?,
        _ => {
            let ids: Vec<&str> = claimed
                .iter()
                .map(|(_, task_id)| task_id.as_str())
                .collect();
            tasks::table
                .filter(tasks::task_id.eq_any(&ids))
                .select((tasks::task_id, tasks::body))
                .load(conn)?
        }
    };
    let mut bodies: HashMap<String, String> = bodies.into_iter().collect();
    let mut polled = Vec::with_capacity(claimed.len());
    for (entry_id, task_id) in claimed {
        let task: Option<Task> = bodies.remove(&task_id).as_deref().map(parse).transpose()?;
        // Queued tasks are SCHEDULED, except timed WAITs, which are IN_PROGRESS all along.
        let Some(mut task) = task.filter(|t| !t.status.is_terminal()) else {
            // The task finished or vanished while queued: the entry is stale.
            diesel::delete(queue_entries::table.find(entry_id)).execute(conn)?;
            continue;
        };
        baton_engine::start_polled_task(
            &mut task,
            request.worker_id.as_deref(),
            request.domain.as_deref(),
            now,
        );
        let row = TaskRow::from_task(&task)?;
        per_backend!(conn, c => SameSql(
            diesel::update(tasks::table.find(&task_id))
                .set((&row, tasks::revision.eq(tasks::revision + 1))),
        )
        .execute(c))?;
        polled.push(task);
    }
    // Hand tasks out in queue order (RETURNING does not promise one).
    polled.sort_by_key(|task| std::cmp::Reverse(task.workflow_priority));
    task_limits::record_claims(conn, request.task_type(), &admission, polled.len())?;
    Ok(polled)
}

/// Loads a workflow with its tasks, locking its row on PostgreSQL (SQLite's writers are
/// already serialized).
fn lock_workflow(conn: &mut AnyConnection, workflow_id: &str) -> StoreResult<Option<Workflow>> {
    Ok(lock_workflow_with_revisions(conn, workflow_id, None)?.map(|(workflow, _)| workflow))
}

/// Like [`lock_workflow`], reusing the `cached` tasks whose revision is unchanged, and
/// returning each task's revision.
fn lock_workflow_with_revisions(
    conn: &mut AnyConnection,
    workflow_id: &str,
    cached: Option<CachedTasks>,
) -> StoreResult<Option<(Workflow, HashMap<String, i64>)>> {
    let query = workflows::table.find(workflow_id).select(workflows::body);
    let body: Option<String> = match conn {
        AnyConnection::Postgresql(c) => query.for_update().first(c).optional()?,
        AnyConnection::Sqlite(c) => query.first(c).optional()?,
    };
    let Some(body) = body else { return Ok(None) };
    let mut workflow: Workflow = parse(&body)?;
    let (tasks, revisions) = match cached {
        Some(cached) => load_changed_tasks(conn, workflow_id, cached)?,
        None => load_tasks_with_revisions(conn, workflow_id)?,
    };
    workflow.tasks = tasks;
    Ok(Some((workflow, revisions)))
}

fn load_tasks_with_revisions(
    conn: &mut AnyConnection,
    workflow_id: &str,
) -> StoreResult<(Vec<Task>, HashMap<String, i64>)> {
    let rows: Vec<(String, String, i64)> = per_backend!(conn, c => tasks::table
        .filter(tasks::workflow_id.eq(workflow_id))
        .order(tasks::seq.asc())
        .select((tasks::task_id, tasks::body, tasks::revision))
        .load(c))?;
    let mut revisions = HashMap::with_capacity(rows.len());
    let mut tasks = Vec::with_capacity(rows.len());
    for (task_id, body, revision) in rows {
        tasks.push(parse(&body)?);
        revisions.insert(task_id, revision);
    }
    Ok((tasks, revisions))
}

/// The workflow's tasks in order: cached ones whose revision still matches, the others
/// (changed or new since) loaded from their rows.
fn load_changed_tasks(
    conn: &mut AnyConnection,
    workflow_id: &str,
    mut cached: CachedTasks,
) -> StoreResult<(Vec<Task>, HashMap<String, i64>)> {
    let current: Vec<(String, i64)> = per_backend!(conn, c => tasks::table
        .filter(tasks::workflow_id.eq(workflow_id))
        .order(tasks::seq.asc())
        .select((tasks::task_id, tasks::revision))
        .load(c))?;
    let stale: Vec<&str> = current
        .iter()
        .filter(|(id, revision)| cached.tasks.get(id).is_none_or(|(_, r)| r != revision))
        .map(|(id, _)| id.as_str())
        .collect();
    let mut reloaded: HashMap<String, Task> = HashMap::with_capacity(stale.len());
    for chunk in stale.chunks(500) {
        let bodies: Vec<(String, String)> = tasks::table
            .filter(tasks::task_id.eq_any(chunk))
            .select((tasks::task_id, tasks::body))
            .load(conn)?;
        for (id, body) in bodies {
            reloaded.insert(id, parse(&body)?);
        }
    }
    let mut tasks = Vec::with_capacity(current.len());
    let mut revisions = HashMap::with_capacity(current.len());
    for (id, revision) in current {
        let task = match reloaded.remove(&id) {
            Some(task) => task,
            None => match cached.tasks.remove(&id) {
                Some((task, _)) => task,
                // Deleted between the two reads: it is gone.
                None => continue,
            },
        };
        tasks.push(task);
        revisions.insert(id, revision);
    }
    Ok((tasks, revisions))
}

/// Writes a decision: the workflow row (inserted when `existing` is `None`, a new workflow),
/// its tasks and queue operations, the workflows it starts, and, when it finishes a
/// sub-workflow, the parent's resulting decision (locks are taken child first, then parent).
fn save_decision(
    conn: &mut AnyConnection,
    decision: &mut Decision,
    existing: Option<&HashSet<String>>,
    cascade: ParentCascade<'_>,
) -> StoreResult<()> {
    let body = workflow_body(&mut decision.workflow)?;
    let row = WorkflowRow::from_workflow(&decision.workflow, body);
    match existing {
        Some(_) => {
            // Every column is set (`treat_none_as_null`), so the SQL never varies.
            per_backend!(conn, c => SameSql(
                diesel::update(workflows::table.find(&decision.workflow.workflow_id)).set(&row),
            )
            .execute(c))?;
        }
        None => {
            per_backend!(conn, c => diesel::insert_into(workflows::table)
                .values(&row)
                .execute(c))?;
        }
    }
    save_tasks(conn, decision, existing.unwrap_or(&HashSet::new()))?;
    apply_queue_ops(conn, &decision.queue)?;
    delete_tasks(conn, &decision.removed_tasks)?;
    publish_messages(conn, decision)?;
    for child in &mut decision.children {
        save_decision(conn, child, None, cascade)?;
    }
    if let Some(update) = &decision.parent_update {
        // A parent removed meanwhile has nobody left to tell.
        if let Some(parent) = lock_workflow(conn, &update.parent_workflow_id)? {
            let existing: HashSet<String> =
                parent.tasks.iter().map(|t| t.task_id.clone()).collect();
            let parent_decision = cascade(parent, update)?;
            let mut parent_decision = parent_decision;
            save_decision(conn, &mut parent_decision, Some(&existing), cascade)?;
        }
    }
    Ok(())
}

/// Deletes tasks a decision dropped (old loop iterations), with their queue entries and logs.
fn delete_tasks(conn: &mut AnyConnection, task_ids: &[String]) -> StoreResult<()> {
    if task_ids.is_empty() {
        return Ok(());
    }
    diesel::delete(queue_entries::table.filter(queue_entries::task_id.eq_any(task_ids)))
        .execute(conn)?;
    diesel::delete(task_logs::table.filter(task_logs::task_id.eq_any(task_ids))).execute(conn)?;
    diesel::delete(tasks::table.filter(tasks::task_id.eq_any(task_ids))).execute(conn)?;
    Ok(())
}

/// Appends the messages EVENT tasks published to the event outbox.
fn publish_messages(conn: &mut AnyConnection, decision: &Decision) -> StoreResult<()> {
    for message in &decision.messages {
        diesel::insert_into(event_messages::table)
            .values((
                event_messages::queue_name.eq(&message.queue_name),
                event_messages::message_id.eq(&message.message_id),
                event_messages::payload.eq(serde_json::to_string(&message.payload)?),
                event_messages::created_time.eq(decision.workflow.update_time),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn load_tasks(conn: &mut AnyConnection, workflow_id: &str) -> StoreResult<Vec<Task>> {
    let bodies: Vec<String> = tasks::table
        .filter(tasks::workflow_id.eq(workflow_id))
        .order(tasks::seq.asc())
        .select(tasks::body)
        .load(conn)?;
    bodies.iter().map(|body| parse(body)).collect()
}

impl Store for DieselStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn upsert_task_defs(&self, defs: &[TaskDef], now: i64) -> StoreResult<()> {
        self.write(|conn| {
            for def in defs {
                let mut def = def.clone();
                let existing: Option<i64> = task_defs::table
                    .find(&def.name)
                    .select(task_defs::create_time)
                    .first(conn)
                    .optional()?;
                let create_time = existing.unwrap_or(now);
                def.create_time = create_time;
                def.update_time = now;
                let body = serde_json::to_string(&def)?;
                task_limits::save_limits(conn, &def)?;
                if existing.is_some() {
                    diesel::update(task_defs::table.find(&def.name))
                        .set((task_defs::body.eq(&body), task_defs::update_time.eq(now)))
                        .execute(conn)?;
                } else {
                    diesel::insert_into(task_defs::table)
                        .values((
                            task_defs::name.eq(&def.name),
                            task_defs::body.eq(&body),
                            task_defs::create_time.eq(create_time),
                            task_defs::update_time.eq(now),
                        ))
                        .execute(conn)?;
                }
            }
            Ok(())
        })
    }

    fn task_def(&self, name: &str) -> StoreResult<Option<TaskDef>> {
        let body: Option<String> = task_defs::table
            .find(name)
            .select(task_defs::body)
            .first(&mut *self.conn()?)
            .optional()?;
        body.as_deref().map(parse).transpose()
    }

    fn task_defs(&self) -> StoreResult<Vec<TaskDef>> {
        let bodies: Vec<String> = task_defs::table
            .order(task_defs::name.asc())
            .select(task_defs::body)
            .load(&mut *self.conn()?)?;
        bodies.iter().map(|body| parse(body)).collect()
    }

    fn task_defs_named(&self, names: &[String]) -> StoreResult<Vec<TaskDef>> {
        let bodies: Vec<String> = task_defs::table
            .filter(task_defs::name.eq_any(names))
            .select(task_defs::body)
            .load(&mut *self.conn()?)?;
        bodies.iter().map(|body| parse(body)).collect()
    }

    fn delete_task_def(&self, name: &str) -> StoreResult<bool> {
        self.write(|conn| {
            task_limits::delete_limits(conn, name)?;
            Ok(diesel::delete(task_defs::table.find(name)).execute(conn)? > 0)
        })
    }

    fn put_workflow_def(&self, def: &WorkflowDef, overwrite: bool, now: i64) -> StoreResult<()> {
        self.write(|conn| {
            let key = (def.name.as_str(), def.version);
            let existing: Option<i64> = workflow_defs::table
                .find(key)
                .select(workflow_defs::create_time)
                .first(conn)
                .optional()?;
            if existing.is_some() && !overwrite {
                return Err(StoreError::Conflict(format!(
                    "Workflow with {}.{}",
                    def.name, def.version
                )));
            }
            let mut def = def.clone();
            let create_time = existing.unwrap_or(now);
            if def.create_time == 0 {
                def.create_time = create_time;
            }
            if existing.is_some() {
                def.update_time = now;
            }
            let body = serde_json::to_string(&def)?;
            if existing.is_some() {
                diesel::update(workflow_defs::table.find(key))
                    .set((
                        workflow_defs::body.eq(&body),
                        workflow_defs::update_time.eq(now),
                    ))
                    .execute(conn)?;
            } else {
                diesel::insert_into(workflow_defs::table)
                    .values((
                        workflow_defs::name.eq(&def.name),
                        workflow_defs::version.eq(def.version),
                        workflow_defs::body.eq(&body),
                        workflow_defs::create_time.eq(create_time),
                        workflow_defs::update_time.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    fn workflow_def(&self, name: &str, version: Option<i32>) -> StoreResult<Option<WorkflowDef>> {
        let mut conn = self.conn()?;
        let query = workflow_defs::table
            .filter(workflow_defs::name.eq(name))
            .select(workflow_defs::body)
            .order(workflow_defs::version.desc())
            .into_boxed();
        let query = match version {
            Some(version) => query.filter(workflow_defs::version.eq(version)),
            None => query,
        };
        let body: Option<String> = query.first(&mut *conn).optional()?;
        body.as_deref().map(parse).transpose()
    }

    fn workflow_defs(&self) -> StoreResult<Vec<WorkflowDef>> {
        let bodies: Vec<String> = workflow_defs::table
            .order((workflow_defs::name.asc(), workflow_defs::version.asc()))
            .select(workflow_defs::body)
            .load(&mut *self.conn()?)?;
        bodies.iter().map(|body| parse(body)).collect()
    }

    fn delete_workflow_def(&self, name: &str, version: i32) -> StoreResult<bool> {
        self.write(|conn| {
            Ok(diesel::delete(workflow_defs::table.find((name, version))).execute(conn)? > 0)
        })
    }

    fn create_workflow(
        &self,
        decision: &mut Decision,
        cascade: ParentCascade<'_>,
    ) -> StoreResult<()> {
        self.write(|conn| save_decision(conn, decision, None, cascade))
    }

    fn create_workflow_once(
        &self,
        decision: &mut Decision,
        cascade: ParentCascade<'_>,
        strategy: IdempotencyStrategy,
    ) -> StoreResult<Option<String>> {
        let name = decision
            .workflow
            .workflow_name()
            .unwrap_or_default()
            .to_owned();
        let key = decision.workflow.idempotency_key.clone();
        let Some(key) = key.filter(|key| !key.is_empty()) else {
            self.create_workflow(decision, cascade)?;
            return Ok(None);
        };
        self.write(
            |conn| match idempotency::check(conn, &name, &key, strategy)? {
                Verdict::Existing(id) => Ok(Some(id)),
                Verdict::Create => {
                    save_decision(conn, decision, None, cascade)?;
                    Ok(None)
                }
            },
        )
    }

    fn workflow(&self, workflow_id: &str, include_tasks: bool) -> StoreResult<Option<Workflow>> {
        let mut conn = self.conn()?;
        // One read transaction, so the tasks match the workflow row.
        conn.transaction(|conn| {
            let body: Option<String> = workflows::table
                .find(workflow_id)
                .select(workflows::body)
                .first(conn)
                .optional()?;
            let Some(body) = body else { return Ok(None) };
            let mut workflow: Workflow = parse(&body)?;
            if include_tasks {
                workflow.tasks = load_tasks(conn, workflow_id)?;
            }
            Ok(Some(workflow))
        })
    }

    fn running_workflow_ids(
        &self,
        name: &str,
        version: i32,
        started: Option<(i64, i64)>,
    ) -> StoreResult<Vec<String>> {
        let mut conn = self.conn()?;
        // A boxed query belongs to one backend, so it is built inside each arm.
        let ids = per_backend!(&mut *conn, c => {
            let mut query = workflows::table
                .filter(workflows::workflow_name.eq(name))
                .filter(workflows::workflow_version.eq(version))
                .filter(workflows::status.eq_any(["RUNNING", "PAUSED"]))
                .order((workflows::start_time.asc(), workflows::workflow_id.asc()))
                .select(workflows::workflow_id)
                .into_boxed();
            if let Some((from, to)) = started {
                query = query
                    .filter(workflows::start_time.ge(from))
                    .filter(workflows::start_time.le(to));
            }
            query.load(c)?
        });
        Ok(ids)
    }

    fn workflows_by_correlation_id(
        &self,
        name: &str,
        correlation_id: &str,
        include_closed: bool,
        include_tasks: bool,
    ) -> StoreResult<Vec<Workflow>> {
        let rows: Vec<(String, String, String)> = workflows::table
            .filter(workflows::workflow_name.eq(name))
            .filter(workflows::correlation_id.eq(correlation_id))
            .order((workflows::start_time.asc(), workflows::workflow_id.asc()))
            .select((workflows::workflow_id, workflows::status, workflows::body))
            .load(&mut *self.conn()?)?;
        let open = ["RUNNING", "PAUSED"];
        let mut found = Vec::new();
        for (workflow_id, status, body) in rows {
            if !include_closed && !open.contains(&status.as_str()) {
                continue;
            }
            let mut workflow: Workflow = parse(&body)?;
            if include_tasks {
                workflow.tasks = load_tasks(&mut *self.conn()?, &workflow_id)?;
            }
            found.push(workflow);
        }
        Ok(found)
    }

    fn due_workflows(&self, now: i64, limit: usize) -> StoreResult<Vec<String>> {
        let limit = limit as i64;
        let mut conn = self.conn()?;
        let mut due: Vec<String> = workflows::table
            .filter(workflows::next_check_at.le(now))
            .order(workflows::next_check_at.asc())
            .limit(limit)
            .select(workflows::workflow_id)
            .load(&mut *conn)?;
        let expired: Vec<String> = queue_entries::table
            .inner_join(tasks::table.on(tasks::task_id.eq(queue_entries::task_id)))
            .filter(queue_entries::leased_until.le(now))
            .order(queue_entries::leased_until.asc())
            .limit(limit)
            .select(tasks::workflow_id)
            .load(&mut *conn)?;
        for workflow_id in expired {
            if !due.contains(&workflow_id) {
                due.push(workflow_id);
            }
        }
        Ok(due)
    }

    fn orphaned_workflows(&self, limit: usize) -> StoreResult<Vec<(String, WorkflowStatus)>> {
        let (children, parents) = diesel::alias!(workflows as children, workflows as parents);
        let rows: Vec<(String, String)> = children
            .inner_join(
                parents.on(parents
                    .field(workflows::workflow_id)
                    .nullable()
                    .eq(children.field(workflows::parent_workflow_id))),
            )
            .filter(children.field(workflows::parent_workflow_id).is_not_null())
            .filter(
                children
                    .field(workflows::status)
                    .eq_any(["RUNNING", "PAUSED"]),
            )
            .filter(
                parents
                    .field(workflows::status)
                    .ne_all(["RUNNING", "PAUSED"]),
            )
            .limit(limit as i64)
            .select((
                children.field(workflows::workflow_id),
                parents.field(workflows::status),
            ))
            .load(&mut *self.conn()?)?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, status)| Some((id, status.parse().ok()?)))
            .collect())
    }

    fn update_workflow(
        &self,
        workflow_id: &str,
        change: WorkflowChange<'_>,
        cascade: ParentCascade<'_>,
    ) -> StoreResult<Decision> {
        let (decision, _) =
            self.update_workflow_and_poll(workflow_id, change, &mut |_| None, cascade, 0)?;
        Ok(decision)
    }

    fn update_workflow_and_poll(
        &self,
        workflow_id: &str,
        change: WorkflowChange<'_>,
        then_poll: &mut dyn FnMut(&Decision) -> Option<PollSpec>,
        cascade: ParentCascade<'_>,
        now: i64,
    ) -> StoreResult<(Decision, PolledTasks)> {
        let outcome = self.write(|conn| {
            let cached = self.task_cache.take(workflow_id);
            let Some((workflow, mut revisions)) =
                lock_workflow_with_revisions(conn, workflow_id, cached)?
            else {
                return Err(StoreError::NotFound(format!("workflow {workflow_id}")));
            };
            let existing: HashSet<String> = revisions.keys().cloned().collect();
            let mut decision = change(workflow)?;
            save_decision(conn, &mut decision, Some(&existing), cascade)?;
            for task_id in &decision.changed_tasks {
                // The revision each written row now has: one more, or 0 for a new row.
                let revision = revisions.get(task_id).map_or(0, |r| r + 1);
                revisions.insert(task_id.clone(), revision);
            }
            let spec = then_poll(&decision);
            let polled = match &spec {
                Some(spec) => claim(conn, spec, now)?,
                None => Vec::new(),
            };
            // Cached before the commit: with SQLite's group commit, the next decision on this
            // workflow may run before this one's commit returns. Should the commit fail, the
            // entry is dropped below, and until then its revisions are ahead of the rows', so
            // it would only cause reloads.
            self.remember_tasks(&mut decision, &polled, revisions);
            Ok((decision, polled, spec))
        });
        let (decision, polled, spec) = match outcome {
            Ok(done) => done,
            Err(error) => {
                self.task_cache.forget(workflow_id);
                return Err(error);
            }
        };
        if let Some(spec) = spec {
            self.record_poll(&spec, now)?;
        }
        Ok((decision, polled))
    }

    fn remove_workflow(&self, workflow_id: &str) -> StoreResult<bool> {
        self.task_cache.forget(workflow_id);
        self.write(|conn| {
            let task_ids = tasks::table
                .filter(tasks::workflow_id.eq(workflow_id))
                .select(tasks::task_id);
            diesel::delete(queue_entries::table.filter(queue_entries::task_id.eq_any(task_ids)))
                .execute(conn)?;
            let task_ids = tasks::table
                .filter(tasks::workflow_id.eq(workflow_id))
                .select(tasks::task_id);
            diesel::delete(task_logs::table.filter(task_logs::task_id.eq_any(task_ids)))
                .execute(conn)?;
            diesel::delete(tasks::table.filter(tasks::workflow_id.eq(workflow_id)))
                .execute(conn)?;
            Ok(diesel::delete(workflows::table.find(workflow_id)).execute(conn)? > 0)
        })
    }

    fn task(&self, task_id: &str) -> StoreResult<Option<Task>> {
        let body: Option<String> = tasks::table
            .find(task_id)
            .select(tasks::body)
            .first(&mut *self.conn()?)
            .optional()?;
        body.as_deref().map(parse).transpose()
    }

    fn poll(&self, request: &PollSpec, now: i64) -> StoreResult<PolledTasks> {
        let polled = self.write(|conn| claim(conn, request, now))?;
        self.record_poll(request, now)?;
        Ok(polled)
    }

    fn next_visible_at(&self, queue_name: &str) -> StoreResult<Option<i64>> {
        let next: Option<i64> = queue_entries::table
            .filter(queue_entries::queue_name.eq(queue_name))
            .filter(queue_entries::leased_until.is_null())
            .select(diesel::dsl::min(queue_entries::visible_at))
            .first(&mut *self.conn()?)?;
        Ok(next)
    }

    fn queue_sizes(&self) -> StoreResult<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> = queue_entries::table
            .filter(queue_entries::leased_until.is_null())
            .group_by(queue_entries::queue_name)
            .select((queue_entries::queue_name, count_star()))
            .load(&mut *self.conn()?)?;
        Ok(rows.into_iter().collect())
    }

    fn queue_size(&self, queue_name: &str) -> StoreResult<i64> {
        Ok(queue_entries::table
            .filter(queue_entries::queue_name.eq(queue_name))
            .filter(queue_entries::leased_until.is_null())
            .select(count_star())
            .first(&mut *self.conn()?)?)
    }

    fn poll_data(&self, task_type: Option<&str>) -> StoreResult<Vec<PollData>> {
        let mut conn = self.conn()?;
        let rows: Vec<(String, String, Option<String>, i64)> = poll_data::table
            .order((poll_data::queue_name.asc(), poll_data::domain.asc()))
            .select((
                poll_data::queue_name,
                poll_data::domain,
                poll_data::worker_id,
                poll_data::last_poll_time,
            ))
            .load(&mut *conn)?;
        Ok(rows
            .into_iter()
            .map(|(queue_name, domain, worker_id, last_poll_time)| PollData {
                // The queue name is `domain:type` when a domain is set; PollData names the type.
                queue_name: Some(
                    queue_name
                        .rsplit_once(':')
                        .map(|(_, task_type)| task_type.to_owned())
                        .unwrap_or(queue_name),
                ),
                domain: (!domain.is_empty()).then_some(domain),
                worker_id,
                last_poll_time,
            })
            .filter(|data| {
                task_type.is_none_or(|wanted| data.queue_name.as_deref() == Some(wanted))
            })
            .collect())
    }

    fn add_task_log(&self, task_id: &str, log: &str, now: i64) -> StoreResult<()> {
        self.write(|conn| {
            diesel::insert_into(task_logs::table)
                .values((
                    task_logs::task_id.eq(task_id),
                    task_logs::log.eq(log),
                    task_logs::created_time.eq(now),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    fn task_logs(&self, task_id: &str) -> StoreResult<Vec<TaskExecLog>> {
        let rows: Vec<(String, i64)> = task_logs::table
            .filter(task_logs::task_id.eq(task_id))
            .order(task_logs::id.asc())
            .select((task_logs::log, task_logs::created_time))
            .load(&mut *self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(|(log, created_time)| TaskExecLog {
                log: Some(log),
                task_id: Some(task_id.to_owned()),
                created_time,
            })
            .collect())
    }

    fn event_messages(&self, queue_name: &str) -> StoreResult<Vec<EventMessage>> {
        let rows: Vec<(String, String)> = event_messages::table
            .filter(event_messages::queue_name.eq(queue_name))
            .order(event_messages::id.asc())
            .select((event_messages::message_id, event_messages::payload))
            .load(&mut *self.conn()?)?;
        rows.into_iter()
            .map(|(message_id, payload)| {
                Ok(EventMessage {
                    queue_name: queue_name.to_owned(),
                    message_id,
                    payload: parse(&payload)?,
                })
            })
            .collect()
    }
}

impl DieselStore {
    /// Caches a large workflow's tasks as committed, moving them out of the decision, which
    /// keeps only the tasks it changed. Tasks the same transaction claimed (update-v2) changed
    /// after the decision, so they are left to be reloaded.
    fn remember_tasks(
        &self,
        decision: &mut Decision,
        polled: &[Task],
        mut revisions: HashMap<String, i64>,
    ) {
        let workflow = &mut decision.workflow;
        if workflow.tasks.len() < MIN_CACHED_TASKS || workflow.status.is_terminal() {
            return;
        }
        for task in polled {
            revisions.remove(&task.task_id);
        }
        let changed: HashSet<&String> = decision.changed_tasks.iter().collect();
        let mut cached = HashMap::with_capacity(workflow.tasks.len());
        for task in std::mem::take(&mut workflow.tasks) {
            if changed.contains(&task.task_id) {
                workflow.tasks.push(task.clone());
            }
            if let Some(revision) = revisions.get(&task.task_id) {
                cached.insert(task.task_id.clone(), (task, *revision));
            }
        }
        self.task_cache
            .put(&workflow.workflow_id, CachedTasks { tasks: cached });
    }

    /// Records the last poll of a queue by a worker. Writes go out at most once per
    /// [`POLL_DATA_FLUSH_MS`] for the same queue and domain (as Conductor's SQL poll-data
    /// DAOs cache them), so busy pollers do not turn every poll into a write.
    fn record_poll(&self, request: &PollSpec, now: i64) -> StoreResult<()> {
        let domain = request.domain.clone().unwrap_or_default();
        let key = (request.queue_name.clone(), domain.clone());
        {
            let mut recorded = self
                .poll_data_written
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // At most one write a second per queue and domain, whichever worker polls: many
            // workers taking turns on one queue would otherwise write on every poll. The
            // stored worker is then at most a second out of date.
            match recorded.get(&key) {
                Some(at) if now - at < POLL_DATA_FLUSH_MS => return Ok(()),
                _ => recorded.insert(key, now),
            };
        }
        let (queue_name, worker_id) = (&request.queue_name, &request.worker_id);
        self.write(|conn| {
            per_backend!(conn, c => diesel::insert_into(poll_data::table)
            .values((
                poll_data::queue_name.eq(queue_name),
                poll_data::domain.eq(&domain),
                poll_data::worker_id.eq(worker_id),
                poll_data::last_poll_time.eq(now),
            ))
            .on_conflict((poll_data::queue_name, poll_data::domain))
            .do_update()
            .set((poll_data::worker_id.eq(worker_id), poll_data::last_poll_time.eq(now)))
            .execute(c))?;
            Ok(())
        })
    }
}
