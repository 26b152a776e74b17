//! The rows of the execution tables, built from model documents, and the reads that turn them
//! back into a workflow the engine can decide on.

use std::collections::HashMap;

use baton_model::{Task, Workflow};
use diesel::prelude::*;

use super::connection::AnyConnection;
use super::schema::{tasks, workflows};
use super::snapshots::SnapshotCache;
use super::workflow_cache::Held;
use super::StoreResult;

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = workflows)]
// A `None` clears the column (a restart clears `end_time`, a finished workflow `next_check_at`).
#[diesel(treat_none_as_null = true)]
pub struct WorkflowRow {
    pub workflow_id: String,
    pub workflow_name: String,
    pub workflow_version: i32,
    pub status: &'static str,
    pub correlation_id: Option<String>,
    pub priority: i32,
    pub start_time: i64,
    pub update_time: i64,
    pub end_time: Option<i64>,
    pub body: String,
    /// When the sweeper should look at the workflow next (its next timeout), if ever.
    pub next_check_at: Option<i64>,
    pub idempotency_key: Option<String>,
    pub parent_workflow_id: Option<String>,
    pub revision: i64,
    pub definition_id: Option<String>,
}

impl WorkflowRow {
    /// The row for `workflow` at `revision`. The body is the workflow document without its
    /// tasks, which live in their own rows, and, when `definition_id` names its snapshot,
    /// without its definition: they are set aside while serializing, so a workflow with a
    /// thousand tasks or a large definition costs no more than a small one.
    pub fn of(
        workflow: &mut Workflow,
        revision: i64,
        definition_id: Option<String>,
    ) -> StoreResult<Self> {
        let tasks = std::mem::take(&mut workflow.tasks);
        let definition = match definition_id {
            Some(_) => workflow.workflow_definition.take(),
            None => None,
        };
        let name = definition
            .as_ref()
            .or(workflow.workflow_definition.as_ref())
            .map(|d| (d.name.clone(), d.version))
            .unwrap_or_default();
        let body = serde_json::to_string(workflow);
        workflow.tasks = tasks;
        if definition.is_some() {
            workflow.workflow_definition = definition;
        }
        Ok(WorkflowRow {
            workflow_id: workflow.workflow_id.clone(),
            workflow_name: name.0,
            workflow_version: name.1,
            status: workflow.status.as_str(),
            correlation_id: workflow.correlation_id.clone(),
            priority: workflow.priority,
            start_time: workflow.create_time,
            update_time: workflow.update_time,
            end_time: (workflow.end_time > 0).then_some(workflow.end_time),
            body: body?,
            next_check_at: baton_engine::next_check_at(workflow),
            idempotency_key: workflow.idempotency_key.clone(),
            parent_workflow_id: workflow.parent_workflow_id.clone(),
            revision,
            definition_id,
        })
    }
}

/// The columns an index covers, as a workflow row had them: when a decision leaves them as
/// they were, SQLite's update sets only the others ([`WorkflowRow::state`]), since it rewrites
/// the entry of every index that names a column in the `SET` list, changed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedColumns {
    workflow_name: String,
    workflow_version: i32,
    status: &'static str,
    correlation_id: Option<String>,
    start_time: i64,
    next_check_at: Option<i64>,
    idempotency_key: Option<String>,
    parent_workflow_id: Option<String>,
}

impl IndexedColumns {
    pub fn of(workflow: &Workflow) -> Self {
        IndexedColumns {
            workflow_name: workflow.workflow_name().unwrap_or_default().to_owned(),
            workflow_version: workflow.workflow_version().unwrap_or_default(),
            status: workflow.status.as_str(),
            correlation_id: workflow.correlation_id.clone(),
            start_time: workflow.create_time,
            next_check_at: baton_engine::next_check_at(workflow),
            idempotency_key: workflow.idempotency_key.clone(),
            parent_workflow_id: workflow.parent_workflow_id.clone(),
        }
    }

    /// Whether `row` has these values in every indexed column.
    pub fn matches(&self, row: &WorkflowRow) -> bool {
        self.workflow_name == row.workflow_name
            && self.workflow_version == row.workflow_version
            && self.status == row.status
            && self.correlation_id == row.correlation_id
            && self.start_time == row.start_time
            && self.next_check_at == row.next_check_at
            && self.idempotency_key == row.idempotency_key
            && self.parent_workflow_id == row.parent_workflow_id
    }
}

/// The columns of a workflow row that no index covers.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = workflows)]
#[diesel(treat_none_as_null = true)]
pub struct WorkflowState<'a> {
    pub priority: i32,
    pub update_time: i64,
    pub end_time: Option<i64>,
    pub body: &'a str,
    pub revision: i64,
    pub definition_id: Option<&'a str>,
}

impl WorkflowRow {
    pub fn state(&self) -> WorkflowState<'_> {
        WorkflowState {
            priority: self.priority,
            update_time: self.update_time,
            end_time: self.end_time,
            body: &self.body,
            revision: self.revision,
            definition_id: self.definition_id.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = tasks)]
pub struct TaskRow {
    pub task_id: String,
    pub workflow_id: String,
    pub seq: i32,
    pub task_type: String,
    pub reference_task_name: String,
    pub status: &'static str,
    pub update_time: i64,
    pub body: String,
    pub revision: i64,
}

impl TaskRow {
    pub fn of(task: &Task, revision: i64) -> StoreResult<Self> {
        Ok(TaskRow {
            task_id: task.task_id.clone(),
            workflow_id: task.workflow_instance_id.clone(),
            seq: task.seq,
            task_type: task.task_type.clone(),
            reference_task_name: task.reference_task_name.clone(),
            status: task.status.as_str(),
            update_time: task.update_time,
            body: serde_json::to_string(task)?,
            revision,
        })
    }
}

/// What a task row's update sets: never its id, workflow or sequence, which a task keeps for
/// life, so SQLite leaves the indexes on them alone.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = tasks)]
pub struct TaskState<'a> {
    pub task_type: &'a str,
    pub reference_task_name: &'a str,
    pub status: &'a str,
    pub update_time: i64,
    pub body: &'a str,
    pub revision: i64,
}

impl TaskRow {
    pub fn state(&self) -> TaskState<'_> {
        TaskState {
            task_type: &self.task_type,
            reference_task_name: &self.reference_task_name,
            status: self.status,
            update_time: self.update_time,
            body: &self.body,
            revision: self.revision,
        }
    }
}

pub fn parse<T: serde::de::DeserializeOwned>(body: &str) -> StoreResult<T> {
    Ok(serde_json::from_str(body)?)
}

/// A workflow row's document, with its definition put back from its snapshot.
pub fn parse_workflow(
    conn: &mut AnyConnection,
    snapshots: &SnapshotCache,
    body: &str,
    definition_id: Option<&str>,
) -> StoreResult<Workflow> {
    let mut workflow: Workflow = parse(body)?;
    if let Some(id) = definition_id {
        workflow.workflow_definition = Some(snapshots.get(conn, id)?);
    }
    Ok(workflow)
}

/// Reads a workflow with its tasks and their revisions, as the writer holds it.
pub fn load_held(
    conn: &mut AnyConnection,
    snapshots: &SnapshotCache,
    workflow_id: &str,
) -> StoreResult<Option<Held>> {
    let row: Option<(String, i64, Option<String>)> = per_backend!(conn, c => workflows::table
        .find(workflow_id)
        .select((workflows::body, workflows::revision, workflows::definition_id))
        .first(c)
        .optional())?;
    let Some((body, revision, definition_id)) = row else {
        return Ok(None);
    };
    let mut workflow = parse_workflow(conn, snapshots, &body, definition_id.as_deref())?;
    let rows: Vec<(String, i64)> = per_backend!(conn, c => tasks::table
        .filter(tasks::workflow_id.eq(workflow_id))
        .order(tasks::seq.asc())
        .select((tasks::body, tasks::revision))
        .load(c))?;
    let mut task_revisions = HashMap::with_capacity(rows.len());
    workflow.tasks = Vec::with_capacity(rows.len());
    for (body, revision) in rows {
        let task: Task = parse(&body)?;
        task_revisions.insert(task.task_id.clone(), revision);
        workflow.tasks.push(task);
    }
    Ok(Some(Held {
        workflow,
        revision,
        task_revisions,
        definition_id,
    }))
}

/// Loads a workflow's tasks in sequence order (for readers).
pub fn load_tasks(conn: &mut AnyConnection, workflow_id: &str) -> StoreResult<Vec<Task>> {
    let bodies: Vec<String> = tasks::table
        .filter(tasks::workflow_id.eq(workflow_id))
        .order(tasks::seq.asc())
        .select(tasks::body)
        .load(conn)?;
    bodies.iter().map(|body| parse(body)).collect()
}
