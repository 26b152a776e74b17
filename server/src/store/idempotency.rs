//! Start requests that repeat an `idempotencyKey`. Conductor OSS accepts the key and ignores
//! it; Baton enforces it, per workflow name, as the strategy says:
//! - FAIL (the default): any earlier workflow with the key refuses the start (409);
//! - RETURN_EXISTING: the start returns the earliest such workflow's id and creates nothing;
//! - FAIL_ON_RUNNING: refused only while such a workflow is RUNNING or PAUSED.
//!
//! The check and the insert share one transaction. On PostgreSQL an advisory lock on the
//! (name, key) pair makes concurrent starts on several servers take turns; SQLite's writes
//! are serialized already.

use baton_model::IdempotencyStrategy;
use diesel::prelude::*;

use super::connection::AnyConnection;
use super::schema::workflows;
use super::{StoreError, StoreResult};

/// What an earlier workflow with the same key means for a new start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing stands in the way: create the workflow.
    Create,
    /// Return this workflow's id instead.
    Existing(String),
}

/// Decides, under a lock held until the transaction ends, whether a workflow of `name` with
/// `key` may be created.
pub fn check(
    conn: &mut AnyConnection,
    name: &str,
    key: &str,
    strategy: IdempotencyStrategy,
) -> StoreResult<Verdict> {
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            // The name's length keeps ("a:b", "c") and ("a", "b:c") apart.
            .bind::<diesel::sql_types::Text, _>(format!("{}:{name}:{key}", name.len()))
            .execute(c)?;
    }
    let earlier: Vec<(String, String)> = workflows::table
        .filter(workflows::workflow_name.eq(name))
        .filter(workflows::idempotency_key.eq(key))
        .order((workflows::start_time.asc(), workflows::workflow_id.asc()))
        .select((workflows::workflow_id, workflows::status))
        .load(conn)?;
    let running = earlier
        .iter()
        .find(|(_, status)| status == "RUNNING" || status == "PAUSED");
    match (strategy, earlier.first(), running) {
        (IdempotencyStrategy::ReturnExisting, Some((id, _)), _) => {
            Ok(Verdict::Existing(id.clone()))
        }
        (IdempotencyStrategy::Fail, Some((id, _)), _) => Err(StoreError::Duplicate(format!(
            "Workflow {name} with idempotencyKey {key} already exists: {id}"
        ))),
        (IdempotencyStrategy::FailOnRunning, _, Some((id, status))) => Err(StoreError::Duplicate(
            format!("Workflow {name} with idempotencyKey {key} is already {status}: {id}"),
        )),
        _ => Ok(Verdict::Create),
    }
}
