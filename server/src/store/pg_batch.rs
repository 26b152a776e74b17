//! PostgreSQL: a batch's rows in one statement, one array per column.
//!
//! The writer's batches run one after another on one connection, so every round trip to the
//! database is time no other request gets. Written row by row, a batch of ten decisions was
//! about fifty statements; here the inserts and updates of workflows and tasks and the queue
//! changes are one statement of data-modifying CTEs over `UNNEST`ed arrays. Its SQL never
//! varies, so it is prepared once per connection.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};

use super::rows::{TaskRow, WorkflowRow};

/// Workflow rows as column arrays.
#[derive(Debug, Default)]
pub struct WorkflowColumns {
    workflow_id: Vec<String>,
    workflow_name: Vec<String>,
    workflow_version: Vec<i32>,
    status: Vec<&'static str>,
    correlation_id: Vec<Option<String>>,
    priority: Vec<i32>,
    start_time: Vec<i64>,
    update_time: Vec<i64>,
    end_time: Vec<Option<i64>>,
    body: Vec<String>,
    next_check_at: Vec<Option<i64>>,
    idempotency_key: Vec<Option<String>>,
    parent_workflow_id: Vec<Option<String>>,
    revision: Vec<i64>,
    definition_id: Vec<Option<String>>,
    /// Updates only: the revision the row must be at.
    expected: Vec<i64>,
}

impl WorkflowColumns {
    pub fn push(&mut self, row: WorkflowRow, expected: Option<i64>) {
        self.workflow_id.push(row.workflow_id);
        self.workflow_name.push(row.workflow_name);
        self.workflow_version.push(row.workflow_version);
        self.status.push(row.status);
        self.correlation_id.push(row.correlation_id);
        self.priority.push(row.priority);
        self.start_time.push(row.start_time);
        self.update_time.push(row.update_time);
        self.end_time.push(row.end_time);
        self.body.push(row.body);
        self.next_check_at.push(row.next_check_at);
        self.idempotency_key.push(row.idempotency_key);
        self.parent_workflow_id.push(row.parent_workflow_id);
        self.revision.push(row.revision);
        self.definition_id.push(row.definition_id);
        self.expected.extend(expected);
    }

    pub fn len(&self) -> usize {
        self.workflow_id.len()
    }

    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>, with_expected: bool) -> QueryResult<()> {
        out.push_sql("UNNEST(");
        out.push_bind_param::<Array<Text>, _>(&self.workflow_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.workflow_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.workflow_version)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.status)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.correlation_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.priority)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.start_time)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.update_time)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<BigInt>>, _>(&self.end_time)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.body)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<BigInt>>, _>(&self.next_check_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.idempotency_key)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.parent_workflow_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.revision)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.definition_id)?;
        if with_expected {
            out.push_sql(", ");
            out.push_bind_param::<Array<BigInt>, _>(&self.expected)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

/// Task rows as column arrays.
#[derive(Debug, Default)]
pub struct TaskColumns {
    task_id: Vec<String>,
    workflow_id: Vec<String>,
    seq: Vec<i32>,
    task_type: Vec<String>,
    reference_task_name: Vec<String>,
    status: Vec<&'static str>,
    update_time: Vec<i64>,
    body: Vec<String>,
    revision: Vec<i64>,
    expected: Vec<i64>,
}

impl TaskColumns {
    pub fn push(&mut self, row: TaskRow, expected: Option<i64>) {
        self.task_id.push(row.task_id);
        self.workflow_id.push(row.workflow_id);
        self.seq.push(row.seq);
        self.task_type.push(row.task_type);
        self.reference_task_name.push(row.reference_task_name);
        self.status.push(row.status);
        self.update_time.push(row.update_time);
        self.body.push(row.body);
        self.revision.push(row.revision);
        self.expected.extend(expected);
    }

    pub fn len(&self) -> usize {
        self.task_id.len()
    }

    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>, with_expected: bool) -> QueryResult<()> {
        out.push_sql("UNNEST(");
        out.push_bind_param::<Array<Text>, _>(&self.task_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.workflow_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.seq)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.task_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.reference_task_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.status)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.update_time)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.body)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.revision)?;
        if with_expected {
            out.push_sql(", ");
            out.push_bind_param::<Array<BigInt>, _>(&self.expected)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

/// Queue entries to upsert, as column arrays.
#[derive(Debug, Default)]
pub struct PushColumns {
    pub task_id: Vec<String>,
    pub queue_name: Vec<String>,
    pub priority: Vec<i32>,
    pub visible_at: Vec<i64>,
    pub lease_ms: Vec<i64>,
    pub workflow_id: Vec<String>,
}

const WORKFLOW_COLUMNS: &str = "workflow_id, workflow_name, workflow_version, status, \
     correlation_id, priority, start_time, update_time, end_time, body, next_check_at, \
     idempotency_key, parent_workflow_id, revision, definition_id";
const TASK_COLUMNS: &str =
    "task_id, workflow_id, seq, task_type, reference_task_name, status, update_time, body, revision";

/// `UPDATE <table> r SET <every column but the first> = v.<column> FROM <rows> AS v(<columns>,
/// expected) WHERE r.<first column> = v.<first column> AND r.revision = v.expected`: an
/// update of many rows, each only if still at the revision it expects.
fn push_guarded_update<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    table: &'static str,
    columns: &'static str,
    rows: impl FnOnce(&mut AstPass<'_, 'b, Pg>) -> QueryResult<()>,
) -> QueryResult<()> {
    let mut names = columns.split(", ").map(str::trim);
    let key = names.next().unwrap_or_default();
    out.push_sql("UPDATE ");
    out.push_sql(table);
    out.push_sql(" r SET ");
    for (i, column) in names.enumerate() {
        if i > 0 {
            out.push_sql(", ");
        }
        out.push_sql(column);
        out.push_sql(" = v.");
        out.push_sql(column);
    }
    out.push_sql(" FROM ");
    rows(out)?;
    out.push_sql(" AS v(");
    out.push_sql(columns);
    out.push_sql(", expected) WHERE r.");
    out.push_sql(key);
    out.push_sql(" = v.");
    out.push_sql(key);
    out.push_sql(" AND r.revision = v.expected");
    Ok(())
}

/// The batch's writes as one statement. Answers how many workflow and task updates matched
/// the revision they expected.
#[derive(Debug, Default)]
pub struct BatchWrite {
    pub snapshot_ids: Vec<String>,
    pub snapshot_bodies: Vec<String>,
    pub new_workflows: WorkflowColumns,
    pub changed_workflows: WorkflowColumns,
    pub new_tasks: TaskColumns,
    pub changed_tasks: TaskColumns,
    pub dequeued: Vec<String>,
    pub pushed: PushColumns,
}

impl QueryId for BatchWrite {
    type QueryId = BatchWrite;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for BatchWrite {
    type SqlType = (BigInt, BigInt);
}

impl RunQueryDsl<PgConnection> for BatchWrite {}

impl QueryFragment<Pg> for BatchWrite {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "WITH snapshots AS (INSERT INTO definition_snapshots (id, body) SELECT * FROM UNNEST(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.snapshot_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.snapshot_bodies)?;
        out.push_sql(
            ") ON CONFLICT DO NOTHING RETURNING 1), new_workflows AS (INSERT INTO workflows (",
        );
        out.push_sql(WORKFLOW_COLUMNS);
        out.push_sql(") SELECT * FROM ");
        self.new_workflows.walk(&mut out, false)?;
        out.push_sql(" RETURNING 1), changed_workflows AS (");
        push_guarded_update(&mut out, "workflows", WORKFLOW_COLUMNS, |out| {
            self.changed_workflows.walk(out, true)
        })?;
        out.push_sql(" RETURNING 1), new_tasks AS (INSERT INTO tasks (");
        out.push_sql(TASK_COLUMNS);
        out.push_sql(") SELECT * FROM ");
        self.new_tasks.walk(&mut out, false)?;
        out.push_sql(" RETURNING 1), changed_tasks AS (");
        push_guarded_update(&mut out, "tasks", TASK_COLUMNS, |out| {
            self.changed_tasks.walk(out, true)
        })?;
        out.push_sql(" RETURNING 1), dequeued AS (DELETE FROM queue_entries WHERE task_id = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.dequeued)?;
        out.push_sql(") RETURNING 1), pushed AS (INSERT INTO queue_entries ");
        out.push_sql("(task_id, queue_name, priority, visible_at, lease_ms, workflow_id) SELECT * FROM UNNEST(");
        out.push_bind_param::<Array<Text>, _>(&self.pushed.task_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.pushed.queue_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.pushed.priority)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.pushed.visible_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.pushed.lease_ms)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.pushed.workflow_id)?;
        out.push_sql(
            ") ON CONFLICT (task_id) DO UPDATE SET queue_name = EXCLUDED.queue_name, \
             priority = EXCLUDED.priority, visible_at = EXCLUDED.visible_at, \
             lease_ms = EXCLUDED.lease_ms, leased_until = NULL, workflow_id = EXCLUDED.workflow_id \
             RETURNING 1) SELECT (SELECT count(*) FROM changed_workflows), \
             (SELECT count(*) FROM changed_tasks)",
        );
        Ok(())
    }
}

/// Updates task rows at the revisions they expect; answers the ids that matched.
#[derive(Debug, Default)]
pub struct TaskUpdates {
    pub rows: TaskColumns,
}

impl QueryId for TaskUpdates {
    type QueryId = TaskUpdates;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for TaskUpdates {
    type SqlType = Text;
}

impl RunQueryDsl<PgConnection> for TaskUpdates {}

impl QueryFragment<Pg> for TaskUpdates {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_guarded_update(&mut out, "tasks", TASK_COLUMNS, |out| {
            self.rows.walk(out, true)
        })?;
        out.push_sql(" RETURNING r.task_id");
        Ok(())
    }
}

/// Leases up to `limit` visible entries of a queue. The candidates are picked in a
/// materialized CTE: written as `id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`,
/// PostgreSQL may run the subquery once per queue row when its statistics think the queue is
/// small, and lease every entry (`store_conformance::a_claim_leases_no_more_than_...`).
#[derive(Debug)]
pub struct LeaseEntries<'a> {
    pub queue_name: &'a str,
    pub now: i64,
    pub limit: i64,
}

impl QueryId for LeaseEntries<'_> {
    type QueryId = LeaseEntries<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for LeaseEntries<'_> {
    type SqlType = (BigInt, Text, Nullable<Text>, Integer);
}

impl RunQueryDsl<PgConnection> for LeaseEntries<'_> {}

impl QueryFragment<Pg> for LeaseEntries<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "WITH picked AS MATERIALIZED (SELECT id FROM queue_entries WHERE queue_name = ",
        );
        out.push_bind_param::<Text, _>(self.queue_name)?;
        out.push_sql(" AND leased_until IS NULL AND visible_at <= ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(" ORDER BY priority DESC, id LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(
            " FOR UPDATE SKIP LOCKED) UPDATE queue_entries q SET leased_until = q.lease_ms + ",
        );
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(
            " FROM picked WHERE q.id = picked.id \
             RETURNING q.id, q.task_id, q.workflow_id, q.priority",
        );
        Ok(())
    }
}
