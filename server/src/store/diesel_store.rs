//! The diesel implementation of [`Store`], for SQLite and PostgreSQL alike.
//!
//! Documents are kept as Conductor JSON in `body` columns; the other columns exist for
//! filtering and ordering. Every write goes through the store's writer thread (`writer.rs`),
//! which owns the one write connection on SQLite (SQLite has one writer at a time) and commits
//! concurrent requests together on both backends. Reads use the pool; on SQLite (WAL) they
//! run beside the writer.

use std::collections::BTreeMap;
use std::sync::Arc;

use baton_engine::{Decision, EventMessage};
use baton_model::{
    IdempotencyStrategy, PollData, Task, TaskDef, TaskExecLog, Workflow, WorkflowDef,
    WorkflowStatus,
};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, PooledConnection};
use tokio::sync::oneshot;

use super::connection::{open_pool, AnyConnection, AnyPool, Backend, DatabaseUrl};
use super::rows::{load_tasks, parse, parse_workflow};
use super::schema::{
    event_messages, poll_data, queue_entries, task_defs, task_logs, tasks, workflow_defs, workflows,
};
use super::snapshots::SnapshotCache;
use super::task_limits;
use super::writer::{Job, WriterHandle};
use super::{
    Cascade, Change, Committed, Created, Pending, PollSpec, Polled, PolledTasks, Store, StoreError,
    StoreResult, ThenPoll,
};

pub struct DieselStore {
    pool: AnyPool,
    backend: Backend,
    writer: WriterHandle,
    snapshots: Arc<SnapshotCache>,
}

impl DieselStore {
    /// Opens (and migrates) the database at `url` with `pool_size` connections for readers,
    /// plus the writer's own (and, on SQLite, the checkpointer's).
    pub fn open(url: &DatabaseUrl, pool_size: u32) -> StoreResult<Self> {
        let reserved = match url.backend() {
            Backend::Sqlite => 2,
            Backend::Postgres => 1,
        };
        let pool = open_pool(url, pool_size + reserved)?;
        let snapshots = Arc::new(SnapshotCache::default());
        let writer = WriterHandle::start(&pool, url.backend(), snapshots.clone())?;
        Ok(DieselStore {
            pool,
            backend: url.backend(),
            writer,
            snapshots,
        })
    }

    fn conn(&self) -> StoreResult<PooledConnection<ConnectionManager<AnyConnection>>> {
        Ok(self.pool.get()?)
    }

    /// Runs `work` in the writer's transaction (its own savepoint) and returns once it is
    /// committed. Blocking: call it from a blocking thread.
    fn write<T: Send + 'static>(
        &self,
        work: impl FnMut(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.writer.write(Vec::new(), work)
    }

    /// Sends a job to the writer; its reply comes through the returned [`Pending`].
    fn submit<T>(&self, job: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> Job) -> Pending<T> {
        let (reply, receiver) = oneshot::channel();
        self.writer.submit(job(reply), receiver)
    }
}

impl Store for DieselStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn upsert_task_defs(&self, defs: &[TaskDef], now: i64) -> StoreResult<()> {
        let defs = defs.to_vec();
        self.write(move |conn| {
            for def in &defs {
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
        let name = name.to_owned();
        self.write(move |conn| {
            task_limits::delete_limits(conn, &name)?;
            Ok(diesel::delete(task_defs::table.find(&name)).execute(conn)? > 0)
        })
    }

    fn put_workflow_def(&self, def: &WorkflowDef, overwrite: bool, now: i64) -> StoreResult<()> {
        let def = def.clone();
        self.write(move |conn| {
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
        let name = name.to_owned();
        self.write(move |conn| {
            Ok(diesel::delete(workflow_defs::table.find((&name, version))).execute(conn)? > 0)
        })
    }

    fn create_workflow(
        &self,
        decision: Decision,
        cascade: Cascade,
        strategy: IdempotencyStrategy,
    ) -> Pending<Created> {
        self.submit(|reply| Job::Create {
            decision: Some(Box::new(decision)),
            backup: None,
            strategy,
            cascade,
            reply: Some(reply),
        })
    }

    fn workflow(&self, workflow_id: &str, include_tasks: bool) -> StoreResult<Option<Workflow>> {
        let mut conn = self.conn()?;
        // One read transaction, so the tasks match the workflow row.
        conn.transaction(|conn| {
            let row: Option<(String, Option<String>)> = workflows::table
                .find(workflow_id)
                .select((workflows::body, workflows::definition_id))
                .first(conn)
                .optional()?;
            let Some((body, definition_id)) = row else {
                return Ok(None);
            };
            let mut workflow =
                parse_workflow(conn, &self.snapshots, &body, definition_id.as_deref())?;
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
        let mut conn = self.conn()?;
        let rows: Vec<(String, String, String, Option<String>)> = workflows::table
            .filter(workflows::workflow_name.eq(name))
            .filter(workflows::correlation_id.eq(correlation_id))
            .order((workflows::start_time.asc(), workflows::workflow_id.asc()))
            .select((
                workflows::workflow_id,
                workflows::status,
                workflows::body,
                workflows::definition_id,
            ))
            .load(&mut *conn)?;
        let open = ["RUNNING", "PAUSED"];
        let mut found = Vec::new();
        for (workflow_id, status, body, definition_id) in rows {
            if !include_closed && !open.contains(&status.as_str()) {
                continue;
            }
            let mut workflow =
                parse_workflow(&mut conn, &self.snapshots, &body, definition_id.as_deref())?;
            if include_tasks {
                workflow.tasks = load_tasks(&mut conn, &workflow_id)?;
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
        change: Change,
        cascade: Cascade,
    ) -> Pending<(Committed, PolledTasks)> {
        self.submit(|reply| Job::Change {
            workflow_id: workflow_id.to_owned(),
            change,
            then_poll: None,
            cascade,
            now: 0,
            reply: Some(reply),
        })
    }

    fn update_workflow_and_poll(
        &self,
        workflow_id: &str,
        change: Change,
        then_poll: ThenPoll,
        cascade: Cascade,
        now: i64,
    ) -> Pending<(Committed, PolledTasks)> {
        self.submit(|reply| Job::Change {
            workflow_id: workflow_id.to_owned(),
            change,
            then_poll: Some(then_poll),
            cascade,
            now,
            reply: Some(reply),
        })
    }

    fn remove_workflow(&self, workflow_id: &str) -> StoreResult<bool> {
        let id = workflow_id.to_owned();
        self.writer.write(vec![id.clone()], move |conn| {
            let task_ids = tasks::table
                .filter(tasks::workflow_id.eq(&id))
                .select(tasks::task_id);
            diesel::delete(queue_entries::table.filter(queue_entries::task_id.eq_any(task_ids)))
                .execute(conn)?;
            let task_ids = tasks::table
                .filter(tasks::workflow_id.eq(&id))
                .select(tasks::task_id);
            diesel::delete(task_logs::table.filter(task_logs::task_id.eq_any(task_ids)))
                .execute(conn)?;
            diesel::delete(tasks::table.filter(tasks::workflow_id.eq(&id))).execute(conn)?;
            Ok(diesel::delete(workflows::table.find(&id)).execute(conn)? > 0)
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

    fn poll(&self, request: &PollSpec, now: i64) -> Pending<Polled> {
        self.submit(|reply| Job::Poll {
            spec: request.clone(),
            now,
            reply: Some(reply),
        })
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
        let (task_id, log) = (task_id.to_owned(), log.to_owned());
        self.write(move |conn| {
            diesel::insert_into(task_logs::table)
                .values((
                    task_logs::task_id.eq(&task_id),
                    task_logs::log.eq(&log),
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
