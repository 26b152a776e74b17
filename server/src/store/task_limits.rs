//! Per task type limits, honoured at poll time across servers: `concurrentExecLimit` (how many
//! tasks of the type may be IN_PROGRESS at once) and `rateLimitPerFrequency` per
//! `rateLimitFrequencyInSeconds` (how many may be handed out per window).
//!
//! Only definitions with a limit have a `task_limits` row. A claim reads the row under a lock
//! (`FOR UPDATE` on PostgreSQL; SQLite has a single writer), so two servers polling the same
//! type take turns and never over-claim together. The rate is counted in fixed windows that
//! start with the first claim after the previous window ended. Tasks over a limit simply stay
//! in their queue, as in Conductor.

use baton_model::TaskDef;
use diesel::prelude::*;

use super::connection::AnyConnection;
use super::same_sql::SameSql;
use super::schema::{task_limits, tasks};
use super::StoreResult;

/// A task type's limits and its current rate window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct TaskLimits {
    concurrent_exec_limit: i32,
    rate_per_frequency: i32,
    frequency_ms: i64,
    window_start: i64,
    window_count: i32,
}

/// How many tasks of a type a claim may take, and what to record once it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub allowed: usize,
    limits: Option<TaskLimits>,
}

impl Admission {
    /// Everything asked for, for a type known to have no limits.
    pub fn unlimited(wanted: usize) -> Admission {
        Admission {
            allowed: wanted,
            limits: None,
        }
    }

    /// Whether the type had no limits row.
    pub fn is_unlimited(&self) -> bool {
        self.limits.is_none()
    }
}

/// Writes (or removes) the limits row of a task definition that was just saved. A changed
/// limit keeps the current rate window.
pub fn save_limits(conn: &mut AnyConnection, def: &TaskDef) -> StoreResult<()> {
    let concurrent = def.concurrency_limit().max(0);
    let rate = def.rate_limit_per_frequency.max(0);
    if concurrent == 0 && rate == 0 {
        return delete_limits(conn, &def.name);
    }
    let frequency_ms = 1000 * i64::from(def.rate_limit_frequency_in_seconds.max(1));
    let row = (
        task_limits::name.eq(&def.name),
        task_limits::concurrent_exec_limit.eq(concurrent),
        task_limits::rate_per_frequency.eq(rate),
        task_limits::frequency_ms.eq(frequency_ms),
    );
    let change = (
        task_limits::concurrent_exec_limit.eq(concurrent),
        task_limits::rate_per_frequency.eq(rate),
        task_limits::frequency_ms.eq(frequency_ms),
    );
    match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(task_limits::table)
            .values(row)
            .on_conflict(task_limits::name)
            .do_update()
            .set(change)
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(task_limits::table)
            .values(row)
            .on_conflict(task_limits::name)
            .do_update()
            .set(change)
            .execute(c)?,
    };
    Ok(())
}

pub fn delete_limits(conn: &mut AnyConnection, name: &str) -> StoreResult<()> {
    diesel::delete(task_limits::table.find(name)).execute(conn)?;
    Ok(())
}

/// How many of `wanted` tasks of `task_type` may be claimed at `now`. Locks the type's limits
/// row until the transaction ends; call [`record_claims`] after claiming.
pub fn admit(
    conn: &mut AnyConnection,
    task_type: &str,
    wanted: usize,
    now: i64,
) -> StoreResult<Admission> {
    let query = task_limits::table.find(task_type).select((
        task_limits::concurrent_exec_limit,
        task_limits::rate_per_frequency,
        task_limits::frequency_ms,
        task_limits::window_start,
        task_limits::window_count,
    ));
    let limits: Option<TaskLimits> = match conn {
        AnyConnection::Postgresql(c) => query.for_update().first(c).optional()?,
        AnyConnection::Sqlite(c) => query.first(c).optional()?,
    };
    let Some(mut limits) = limits else {
        return Ok(Admission {
            allowed: wanted,
            limits: None,
        });
    };
    let mut allowed = wanted;
    if limits.rate_per_frequency > 0 {
        if now >= limits.window_start + limits.frequency_ms {
            limits.window_start = now;
            limits.window_count = 0;
        }
        let room = (limits.rate_per_frequency - limits.window_count).max(0) as usize;
        allowed = allowed.min(room);
    }
    if limits.concurrent_exec_limit > 0 && allowed > 0 {
        let in_progress: i64 = tasks::table
            .filter(tasks::task_type.eq(task_type))
            .filter(tasks::status.eq("IN_PROGRESS"))
            .count()
            .get_result(conn)?;
        let room = (i64::from(limits.concurrent_exec_limit) - in_progress).max(0) as usize;
        allowed = allowed.min(room);
    }
    Ok(Admission {
        allowed,
        limits: Some(limits),
    })
}

/// Counts `claimed` tasks against the rate window the admission saw.
pub fn record_claims(
    conn: &mut AnyConnection,
    task_type: &str,
    admission: &Admission,
    claimed: usize,
) -> StoreResult<()> {
    let Some(limits) = admission.limits.filter(|l| l.rate_per_frequency > 0) else {
        return Ok(());
    };
    let _: Vec<i32> = SameSql(
        diesel::update(task_limits::table.find(task_type))
            .set((
                task_limits::window_start.eq(limits.window_start),
                task_limits::window_count.eq(limits.window_count + claimed as i32),
            ))
            .returning(task_limits::window_count),
    )
    .get_results(conn)?;
    Ok(())
}
