//! The rows a batch of decisions writes, gathered so each row is written once, then flushed.
//!
//! An update names the revision it was decided on and fails as [`StoreError::Stale`] when the
//! row moved on (another writer got there first): a stale copy never overwrites newer state.

use std::collections::HashMap;

use baton_engine::QueueOp;
use diesel::prelude::*;

use super::connection::AnyConnection;
use super::pg_batch::{BatchWrite, PushColumns};
use super::rows::{TaskRow, WorkflowRow};
use super::same_sql::SameSql;
use super::schema::{event_messages, queue_entries, task_logs, tasks, workflows};
use super::snapshots::{self, Snapshot};
use super::{StoreError, StoreResult};

/// A row to write: an insert when `expected` is `None`, else an update of the row at that
/// revision.
#[derive(Debug)]
struct Write<R> {
    row: R,
    expected: Option<i64>,
    /// Updates only: whether every indexed column keeps its value.
    same_keys: bool,
}

/// A queue change with the workflow of its task.
#[derive(Debug)]
struct QueueWrite {
    op: QueueOp,
    workflow_id: String,
}

#[derive(Debug)]
struct MessageRow {
    queue_name: String,
    message_id: String,
    payload: String,
    created_time: i64,
}

/// Writes waiting to be flushed, in the order they must happen.
#[derive(Debug, Default)]
pub struct Writes {
    workflows: Vec<Write<WorkflowRow>>,
    workflow_index: HashMap<String, usize>,
    tasks: Vec<Write<TaskRow>>,
    task_index: HashMap<String, usize>,
    queue: Vec<QueueWrite>,
    removed_tasks: Vec<String>,
    messages: Vec<MessageRow>,
    /// Definitions to store before the rows that name them.
    snapshots: Vec<Snapshot>,
}

impl Writes {
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
            && self.workflows.is_empty()
            && self.tasks.is_empty()
            && self.queue.is_empty()
            && self.removed_tasks.is_empty()
            && self.messages.is_empty()
    }

    /// Writes a workflow row; a second write of the same row in a batch replaces the first
    /// (keeping what the first expected). `same_keys`: no indexed column changes.
    pub fn workflow(&mut self, row: WorkflowRow, expected: Option<i64>, same_keys: bool) {
        match self.workflow_index.get(&row.workflow_id) {
            Some(&at) => {
                let write = &mut self.workflows[at];
                write.row = row;
                write.same_keys &= same_keys;
            }
            None => {
                self.workflow_index
                    .insert(row.workflow_id.clone(), self.workflows.len());
                self.workflows.push(Write {
                    row,
                    expected,
                    same_keys,
                });
            }
        }
    }

    pub fn task(&mut self, row: TaskRow, expected: Option<i64>) {
        match self.task_index.get(&row.task_id) {
            Some(&at) => self.tasks[at].row = row,
            None => {
                self.task_index
                    .insert(row.task_id.clone(), self.tasks.len());
                self.tasks.push(Write {
                    row,
                    expected,
                    same_keys: true,
                });
            }
        }
    }

    /// Stores a definition snapshot (once per batch, whoever names it).
    pub fn snapshot(&mut self, snapshot: Snapshot) {
        if !self.snapshots.iter().any(|s| s.id == snapshot.id) {
            self.snapshots.push(snapshot);
        }
    }

    pub fn queue(&mut self, op: QueueOp, workflow_id: &str) {
        self.queue.push(QueueWrite {
            op,
            workflow_id: workflow_id.to_owned(),
        });
    }

    pub fn remove_tasks(&mut self, task_ids: &[String]) {
        self.removed_tasks.extend(task_ids.iter().cloned());
    }

    pub fn message(
        &mut self,
        message: &baton_engine::EventMessage,
        created_time: i64,
    ) -> StoreResult<()> {
        self.messages.push(MessageRow {
            queue_name: message.queue_name.clone(),
            message_id: message.message_id.clone(),
            payload: serde_json::to_string(&message.payload)?,
            created_time,
        });
        Ok(())
    }

    /// Adds `other`'s writes after these.
    pub fn append(&mut self, other: Writes) {
        for write in other.workflows {
            match self.workflow_index.get(&write.row.workflow_id) {
                Some(&at) => {
                    let earlier = &mut self.workflows[at];
                    earlier.row = write.row;
                    earlier.same_keys &= write.same_keys;
                }
                None => {
                    self.workflow_index
                        .insert(write.row.workflow_id.clone(), self.workflows.len());
                    self.workflows.push(write);
                }
            }
        }
        for write in other.tasks {
            match self.task_index.get(&write.row.task_id) {
                Some(&at) => self.tasks[at].row = write.row,
                None => {
                    self.task_index
                        .insert(write.row.task_id.clone(), self.tasks.len());
                    self.tasks.push(write);
                }
            }
        }
        self.queue.extend(other.queue);
        self.removed_tasks.extend(other.removed_tasks);
        self.messages.extend(other.messages);
        for snapshot in other.snapshots {
            self.snapshot(snapshot);
        }
    }

    /// Executes every write, leaving `self` empty.
    pub fn flush(&mut self, conn: &mut AnyConnection) -> StoreResult<()> {
        let writes = std::mem::take(self);
        match conn {
            AnyConnection::Postgresql(_) => writes.flush_postgres(conn),
            AnyConnection::Sqlite(_) => writes.flush_rows(conn),
        }
    }

    /// Row by row, in order (SQLite: no round trips, and every statement is prepared once).
    fn flush_rows(self, conn: &mut AnyConnection) -> StoreResult<()> {
        for snapshot in &self.snapshots {
            snapshots::store(conn, snapshot)?;
        }
        for write in &self.workflows {
            write_workflow(conn, write)?;
        }
        for write in &self.tasks {
            write_task(conn, write)?;
        }
        for write in &self.queue {
            apply_queue_op(conn, &write.op, &write.workflow_id)?;
        }
        finish(conn, &self.removed_tasks, &self.messages)
    }

    /// PostgreSQL: the rows and queue changes in one statement ([`BatchWrite`]).
    fn flush_postgres(self, conn: &mut AnyConnection) -> StoreResult<()> {
        let mut batch = BatchWrite::default();
        for snapshot in self.snapshots {
            batch.snapshot_ids.push(snapshot.id);
            batch.snapshot_bodies.push(snapshot.body);
        }
        for write in self.workflows {
            match write.expected {
                None => batch.new_workflows.push(write.row, None),
                Some(_) => batch.changed_workflows.push(write.row, write.expected),
            }
        }
        for write in self.tasks {
            match write.expected {
                None => batch.new_tasks.push(write.row, None),
                Some(_) => batch.changed_tasks.push(write.row, write.expected),
            }
        }
        let queue = NetQueue::of(self.queue);
        batch.dequeued = queue.removed;
        batch.pushed = queue.pushed;
        let AnyConnection::Postgresql(pg) = &mut *conn else {
            unreachable!("flush_postgres runs on PostgreSQL");
        };
        let expected = (batch.changed_workflows.len(), batch.changed_tasks.len());
        let (workflows, tasks): (i64, i64) = batch.get_result(pg)?;
        if workflows as usize != expected.0 {
            return Err(StoreError::Stale("a workflow".into()));
        }
        if tasks as usize != expected.1 {
            return Err(StoreError::Stale("a task".into()));
        }
        for (op, workflow_id) in &queue.extended {
            apply_queue_op(conn, op, workflow_id)?;
        }
        finish(conn, &self.removed_tasks, &self.messages)
    }
}

/// The net effect of a batch's queue changes on each task's entry: the last push or removal
/// wins, and a lease extension counts only when nothing replaced the entry after it.
#[derive(Debug, Default)]
struct NetQueue {
    removed: Vec<String>,
    pushed: PushColumns,
    extended: Vec<(QueueOp, String)>,
}

impl NetQueue {
    fn of(ops: Vec<QueueWrite>) -> NetQueue {
        let mut last: HashMap<String, usize> = HashMap::new();
        let mut extension: HashMap<String, usize> = HashMap::new();
        for (at, write) in ops.iter().enumerate() {
            match &write.op {
                QueueOp::Push { task_id, .. } | QueueOp::Remove { task_id } => {
                    last.insert(task_id.clone(), at);
                    extension.remove(task_id);
                }
                QueueOp::ExtendLease { task_id, .. } => {
                    extension.insert(task_id.clone(), at);
                }
            }
        }
        let mut net = NetQueue::default();
        for (at, write) in ops.into_iter().enumerate() {
            let QueueWrite { op, workflow_id } = write;
            match op {
                QueueOp::Remove { task_id } if last.get(&task_id) == Some(&at) => {
                    net.removed.push(task_id);
                }
                QueueOp::Push {
                    queue_name,
                    task_id,
                    priority,
                    visible_at,
                    lease_ms,
                } if last.get(&task_id) == Some(&at) => {
                    let pushed = &mut net.pushed;
                    pushed.task_id.push(task_id);
                    pushed.queue_name.push(queue_name);
                    pushed.priority.push(priority);
                    pushed.visible_at.push(visible_at);
                    pushed.lease_ms.push(lease_ms);
                    pushed.workflow_id.push(workflow_id);
                }
                QueueOp::ExtendLease { ref task_id, .. } if extension.get(task_id) == Some(&at) => {
                    net.extended.push((op, workflow_id));
                }
                _ => {}
            }
        }
        net
    }
}

/// Deletes the tasks decisions dropped and appends the events they published.
fn finish(
    conn: &mut AnyConnection,
    removed_tasks: &[String],
    messages: &[MessageRow],
) -> StoreResult<()> {
    delete_tasks(conn, removed_tasks)?;
    for message in messages {
        diesel::insert_into(event_messages::table)
            .values((
                event_messages::queue_name.eq(&message.queue_name),
                event_messages::message_id.eq(&message.message_id),
                event_messages::payload.eq(&message.payload),
                event_messages::created_time.eq(message.created_time),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn write_workflow(conn: &mut AnyConnection, write: &Write<WorkflowRow>) -> StoreResult<()> {
    let row = &write.row;
    match write.expected {
        None => {
            per_backend!(conn, c => diesel::insert_into(workflows::table)
                .values(row)
                .execute(c))?;
        }
        Some(expected) => {
            // Every column of the changeset is set (`treat_none_as_null`), so the SQL never
            // varies. Keys unchanged: leave the indexed columns (and so the indexes) alone.
            let target = workflows::table
                .find(&row.workflow_id)
                .filter(workflows::revision.eq(expected));
            let changed: Vec<i64> = if write.same_keys {
                per_backend!(conn, c => SameSql(
                    diesel::update(target).set(row.state()).returning(workflows::revision),
                )
                .get_results(c))?
            } else {
                per_backend!(conn, c => SameSql(
                    diesel::update(target).set(row).returning(workflows::revision),
                )
                .get_results(c))?
            };
            if changed.is_empty() {
                return Err(StoreError::Stale(format!("workflow {}", row.workflow_id)));
            }
        }
    }
    Ok(())
}

fn write_task(conn: &mut AnyConnection, write: &Write<TaskRow>) -> StoreResult<()> {
    let row = &write.row;
    match write.expected {
        None => {
            per_backend!(conn, c => diesel::insert_into(tasks::table)
                .values(row)
                .execute(c))?;
        }
        Some(expected) => {
            if !update_task_row(conn, row, expected)? {
                return Err(StoreError::Stale(format!("task {}", row.task_id)));
            }
        }
    }
    Ok(())
}

/// Updates a task row that is at revision `expected`; false when it is not (or is gone).
pub fn update_task_row(
    conn: &mut AnyConnection,
    row: &TaskRow,
    expected: i64,
) -> StoreResult<bool> {
    let changed: Vec<i64> = per_backend!(conn, c => SameSql(
        diesel::update(
            tasks::table
                .find(&row.task_id)
                .filter(tasks::revision.eq(expected)),
        )
        .set(row.state())
        .returning(tasks::revision),
    )
    .get_results(c))?;
    Ok(!changed.is_empty())
}

fn apply_queue_op(conn: &mut AnyConnection, op: &QueueOp, workflow_id: &str) -> StoreResult<()> {
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
                queue_entries::workflow_id.eq(workflow_id),
            );
            let replace = (
                queue_entries::queue_name.eq(queue_name),
                queue_entries::priority.eq(priority),
                queue_entries::visible_at.eq(visible_at),
                queue_entries::lease_ms.eq(lease_ms),
                queue_entries::leased_until.eq(None::<i64>),
                queue_entries::workflow_id.eq(workflow_id),
            );
            let _: Vec<i64> = per_backend!(conn, c => SameSql(diesel::insert_into(queue_entries::table)
                .values(entry)
                .on_conflict(queue_entries::task_id)
                .do_update()
                .set(replace)
                .returning(queue_entries::id))
                .get_results(c))?;
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
            let _: Vec<i64> = per_backend!(conn, c => SameSql(
                diesel::update(queue_entries::table.filter(queue_entries::task_id.eq(task_id)))
                    .filter(queue_entries::leased_until.is_not_null())
                    .set(queue_entries::leased_until.eq(leased_until))
                    .returning(queue_entries::id),
            )
            .get_results(c))?;
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
