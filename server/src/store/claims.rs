//! Queue claims, made by the writer at the end of a batch: lease visible entries, mark their
//! tasks IN_PROGRESS, and record who polled.

use std::collections::{HashMap, HashSet};

use baton_model::Task;
use diesel::prelude::*;

use super::connection::AnyConnection;
use super::pg_batch::{LeaseEntries, TaskUpdates};
use super::rows::TaskRow;
use super::same_sql::SameSql;
use super::schema::{poll_data, queue_entries, tasks};
use super::task_limits::{self, Admission};
use super::writer::Batch;
use super::writes::update_task_row;
use super::{PollSpec, StoreError, StoreResult};

/// How often poll data is written for the same queue and domain.
pub const POLL_DATA_FLUSH_MS: i64 = 1000;

/// When poll data was last written per (queue, domain): at most once a second each, as
/// Conductor's SQL poll-data DAOs cache them, whichever worker polls (many workers taking
/// turns on one queue would otherwise write on every poll; the stored worker is then at most
/// a second out of date).
#[derive(Debug, Default)]
pub struct PollDataThrottle {
    written: HashMap<(String, String), i64>,
}

impl PollDataThrottle {
    /// Whether a poll at `now` should be written, remembering it if so.
    fn due(&mut self, spec: &PollSpec, now: i64) -> bool {
        let key = (
            spec.queue_name.clone(),
            spec.domain.clone().unwrap_or_default(),
        );
        match self.written.get(&key) {
            Some(at) if now - at < POLL_DATA_FLUSH_MS => false,
            _ => {
                self.written.insert(key, now);
                true
            }
        }
    }
}

/// How long the writer trusts that a task type has no limits row without looking again.
const UNLIMITED_FOR_MS: i64 = 1000;

/// Task types seen without limits lately, so most claims skip the limits lookup (a round trip
/// on PostgreSQL). This server's own task definition writes forget them at once; another
/// server's new limit is honoured within [`UNLIMITED_FOR_MS`] (Conductor's SQL backends cache
/// task definitions for a minute).
#[derive(Debug, Default)]
pub struct UnlimitedTypes {
    seen_at: HashMap<String, i64>,
}

impl UnlimitedTypes {
    fn knows(&self, task_type: &str, now: i64) -> bool {
        self.seen_at
            .get(task_type)
            .is_some_and(|at| now - at < UNLIMITED_FOR_MS)
    }

    pub fn forget_all(&mut self) {
        self.seen_at.clear();
    }
}

/// Carries out the batch's claims. Claims on the same queue are made together: one limits
/// check, one statement leasing what they all asked for, and one update of the tasks handed
/// out, dealt to the claims in the order they came.
pub fn claim_all(batch: &mut Batch<'_>) -> StoreResult<()> {
    let mut queues: Vec<(String, Vec<usize>)> = Vec::new();
    for at in 0..batch.claims_len() {
        let queue_name = &batch.claim_slot(at).spec.queue_name;
        match queues.iter_mut().find(|(name, _)| name == queue_name) {
            Some((_, slots)) => slots.push(at),
            None => queues.push((queue_name.clone(), vec![at])),
        }
    }
    for (queue_name, slots) in queues {
        claim_queue(batch, &queue_name, &slots)?;
    }
    Ok(())
}

/// A task on its way to a claim: the claim it goes to, its workflow, and the revision its row
/// must be at.
struct Handout {
    slot: usize,
    entry_id: i64,
    workflow_id: String,
    task: Task,
    expected: i64,
}

fn claim_queue(batch: &mut Batch<'_>, queue_name: &str, slots: &[usize]) -> StoreResult<()> {
    let first = batch.claim_slot(slots[0]).spec.clone();
    let now = slots
        .iter()
        .map(|&at| batch.claim_slot(at).now)
        .max()
        .unwrap_or_default();
    let wanted: usize = slots
        .iter()
        .map(|&at| batch.claim_slot(at).spec.count)
        .sum();
    let admission = if batch.unlimited().knows(first.task_type(), now) {
        Admission::unlimited(wanted)
    } else {
        let admission = task_limits::admit(batch.conn, first.task_type(), wanted, now)?;
        if admission.is_unlimited() {
            batch
                .unlimited()
                .seen_at
                .insert(first.task_type().to_owned(), now);
        }
        admission
    };
    let mut handed_out = 0;
    if admission.allowed > 0 {
        let entries = lease_entries(batch.conn, queue_name, admission.allowed as i64, now)?;
        // Deal the entries (in queue order) to the claims, each up to its count.
        let mut room: Vec<(usize, usize)> = slots
            .iter()
            .map(|&at| (at, batch.claim_slot(at).spec.count))
            .collect();
        let mut handouts = Vec::with_capacity(entries.len());
        for entry in entries {
            let Some(slot) = room.iter_mut().find(|(_, left)| *left > 0) else {
                break;
            };
            let spec = batch.claim_slot(slot.0).spec.clone();
            if let Some(handout) = prepare(batch, &spec, slot.0, &entry, now, false)? {
                slot.1 -= 1;
                handouts.push(handout);
            }
        }
        handed_out = hand_out(batch, handouts, now)?;
        task_limits::record_claims(batch.conn, first.task_type(), &admission, handed_out)?;
    }
    for &at in slots {
        let slot = batch.claim_slot(at);
        // Hand tasks out in queue order (RETURNING does not promise one).
        slot.tasks
            .sort_by_key(|task| std::cmp::Reverse(task.workflow_priority));
        let spec = slot.spec.clone();
        if batch.poll_data().due(&spec, now) {
            record_poll(batch.conn, &spec, now)?;
        }
    }
    if handed_out == 0 {
        let next = next_visible_at(batch.conn, queue_name)?;
        for &at in slots {
            batch.claim_slot(at).next_visible_at = next;
        }
    }
    Ok(())
}

/// Writes the handed-out tasks' rows, keeps them in the batch's state of their workflows, and
/// gives them to their claims. A row that moved on under the writer's memory (another server
/// changed the task) is read again and retried alone. Returns how many were handed out.
fn hand_out(batch: &mut Batch<'_>, handouts: Vec<Handout>, now: i64) -> StoreResult<usize> {
    let rows: Vec<(TaskRow, i64)> = handouts
        .iter()
        .map(|h| Ok((TaskRow::of(&h.task, h.expected + 1)?, h.expected)))
        .collect::<StoreResult<_>>()?;
    let updated = update_task_rows(batch.conn, rows)?;
    let mut count = 0;
    for handout in handouts {
        let handout = if updated.contains(&handout.task.task_id) {
            Some(handout)
        } else {
            retry_alone(batch, handout, now)?
        };
        let Some(handout) = handout else { continue };
        if let Some(held) = batch.held_mut(&handout.workflow_id)? {
            if let Some(slot) = held
                .workflow
                .tasks
                .iter_mut()
                .find(|t| t.task_id == handout.task.task_id)
            {
                *slot = handout.task.clone();
            }
            held.task_revisions
                .insert(handout.task.task_id.clone(), handout.expected + 1);
        }
        batch.claim_slot(handout.slot).tasks.push(handout.task);
        count += 1;
    }
    Ok(count)
}

/// A handout whose row had moved on: the workflow is read again and the task started anew.
fn retry_alone(batch: &mut Batch<'_>, stale: Handout, now: i64) -> StoreResult<Option<Handout>> {
    let spec = batch.claim_slot(stale.slot).spec.clone();
    let entry = Leased {
        entry_id: stale.entry_id,
        task_id: stale.task.task_id.clone(),
        workflow_id: Some(stale.workflow_id.clone()),
    };
    let Some(handout) = prepare(batch, &spec, stale.slot, &entry, now, true)? else {
        return Ok(None);
    };
    let row = TaskRow::of(&handout.task, handout.expected + 1)?;
    if update_task_row(batch.conn, &row, handout.expected)? {
        Ok(Some(handout))
    } else {
        Err(StoreError::Stale(format!("task {}", entry.task_id)))
    }
}

/// Task rows updated at the revisions they expect; the ids of those that were.
fn update_task_rows(
    conn: &mut AnyConnection,
    rows: Vec<(TaskRow, i64)>,
) -> StoreResult<HashSet<String>> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    if let AnyConnection::Postgresql(pg) = conn {
        let mut update = TaskUpdates::default();
        for (row, expected) in rows {
            update.rows.push(row, Some(expected));
        }
        let ids: Vec<String> = update.load(pg)?;
        return Ok(ids.into_iter().collect());
    }
    let mut updated = HashSet::with_capacity(rows.len());
    for (row, expected) in rows {
        if update_task_row(conn, &row, expected)? {
            updated.insert(row.task_id);
        }
    }
    Ok(updated)
}

/// A leased queue entry.
struct Leased {
    entry_id: i64,
    task_id: String,
    workflow_id: Option<String>,
}

/// Leases up to `limit` visible entries of a queue with one statement, each for its own
/// `lease_ms` (SQLite runs the `IN (SELECT ... LIMIT n)` once; PostgreSQL needs
/// [`LeaseEntries`]).
fn lease_entries(
    conn: &mut AnyConnection,
    queue_name: &str,
    limit: i64,
    now: i64,
) -> StoreResult<Vec<Leased>> {
    // Built with diesel's DSL rather than as SQL text so the statement is prepared once per
    // connection and cached (diesel never caches `sql_query`).
    let waiting = diesel::alias!(queue_entries as waiting);
    let candidates = waiting
        .filter(waiting.field(queue_entries::queue_name).eq(queue_name))
        .filter(waiting.field(queue_entries::leased_until).is_null())
        .filter(waiting.field(queue_entries::visible_at).le(now))
        .order((
            waiting.field(queue_entries::priority).desc(),
            waiting.field(queue_entries::id).asc(),
        ))
        .limit(limit)
        .select(waiting.field(queue_entries::id));
    let lease = queue_entries::leased_until.eq((queue_entries::lease_ms + now).nullable());
    let returned = (
        queue_entries::id,
        queue_entries::task_id,
        queue_entries::workflow_id,
        queue_entries::priority,
    );
    let mut rows: Vec<(i64, String, Option<String>, i32)> = match conn {
        AnyConnection::Postgresql(c) => LeaseEntries {
            queue_name,
            now,
            limit,
        }
        .load(c)?,
        AnyConnection::Sqlite(c) => SameSql(
            diesel::update(queue_entries::table.filter(queue_entries::id.eq_any(candidates)))
                .set(lease)
                .returning(returned),
        )
        .get_results(c)?,
    };
    // Queue order: RETURNING does not keep the candidates' order.
    rows.sort_by_key(|(id, _, _, priority)| (std::cmp::Reverse(*priority), *id));
    Ok(rows
        .into_iter()
        .map(|(entry_id, task_id, workflow_id, _)| Leased {
            entry_id,
            task_id,
            workflow_id,
        })
        .collect())
}

/// The leased entry's task, started for the claim in `slot` (not yet written). `None` when
/// the entry was stale (its task finished or vanished while queued): the entry is dropped.
/// With `fresh`, the workflow is read again first (memory was behind the rows).
fn prepare(
    batch: &mut Batch<'_>,
    spec: &PollSpec,
    slot: usize,
    entry: &Leased,
    now: i64,
    fresh: bool,
) -> StoreResult<Option<Handout>> {
    let workflow_id = match &entry.workflow_id {
        Some(id) => Some(id.clone()),
        // Queued before entries named their workflow.
        None => per_backend!(batch.conn, c => tasks::table
            .find(&entry.task_id)
            .select(tasks::workflow_id)
            .first::<String>(c)
            .optional())?,
    };
    let Some(workflow_id) = workflow_id else {
        return drop_entry(batch.conn, entry.entry_id);
    };
    for fresh in [fresh, true] {
        let held = if fresh {
            batch.reload(&workflow_id)?
        } else {
            batch.held_mut(&workflow_id)?
        };
        let Some(held) = held else {
            return drop_entry(batch.conn, entry.entry_id);
        };
        let found = held
            .workflow
            .tasks
            .iter()
            .find(|task| task.task_id == entry.task_id)
            .cloned()
            .zip(held.task_revisions.get(&entry.task_id).copied());
        // Queued tasks are SCHEDULED, except timed WAITs, which are IN_PROGRESS all along.
        let Some((mut task, expected)) = found.filter(|(task, _)| !task.status.is_terminal())
        else {
            if fresh {
                return drop_entry(batch.conn, entry.entry_id);
            }
            // Memory may lack a task another server created: read the workflow again.
            continue;
        };
        baton_engine::start_polled_task(
            &mut task,
            spec.worker_id.as_deref(),
            spec.domain.as_deref(),
            now,
        );
        return Ok(Some(Handout {
            slot,
            entry_id: entry.entry_id,
            workflow_id,
            task,
            expected,
        }));
    }
    drop_entry(batch.conn, entry.entry_id)
}

fn drop_entry<T>(conn: &mut AnyConnection, entry_id: i64) -> StoreResult<Option<T>> {
    per_backend!(conn, c => diesel::delete(queue_entries::table.find(entry_id)).execute(c))?;
    Ok(None)
}

/// When the next not-yet-visible entry of a queue becomes visible, if any.
fn next_visible_at(conn: &mut AnyConnection, queue_name: &str) -> StoreResult<Option<i64>> {
    Ok(per_backend!(conn, c => queue_entries::table
        .filter(queue_entries::queue_name.eq(queue_name))
        .filter(queue_entries::leased_until.is_null())
        .select(diesel::dsl::min(queue_entries::visible_at))
        .first(c))?)
}

/// Records the last poll of a queue (by domain) and who made it.
fn record_poll(conn: &mut AnyConnection, spec: &PollSpec, now: i64) -> StoreResult<()> {
    let domain = spec.domain.clone().unwrap_or_default();
    let (queue_name, worker_id) = (&spec.queue_name, &spec.worker_id);
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
}
