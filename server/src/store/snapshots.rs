//! Workflow definition snapshots: each distinct definition a workflow runs on, stored once
//! under the hash of its JSON and shared in memory by every workflow that names it.
//!
//! A running workflow keeps the definition it started with (sub-workflows and task
//! definitions embedded). Stored in every workflow row, it was most of the row's bytes and was
//! rewritten with every decision. Snapshots never change once written, so the cache needs no
//! invalidation; it is only bounded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use baton_model::WorkflowDef;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::connection::AnyConnection;
use super::rows::parse;
use super::schema::definition_snapshots;
use super::StoreResult;

/// Most snapshots held in memory.
const CACHED_SNAPSHOTS: usize = 1024;

/// A definition ready to be stored: its id and JSON.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: String,
    pub body: String,
}

impl Snapshot {
    /// The snapshot of `definition`: the id is the SHA-256 of its JSON (the first 16 bytes, in
    /// hex), so servers storing the same definition agree on it.
    pub fn of(definition: &WorkflowDef) -> StoreResult<Snapshot> {
        let body = serde_json::to_string(definition)?;
        let digest = Sha256::digest(body.as_bytes());
        let id = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Snapshot { id, body })
    }
}

/// The snapshots read or written lately, by id.
#[derive(Debug, Default)]
pub struct SnapshotCache {
    entries: Mutex<HashMap<String, Arc<WorkflowDef>>>,
}

impl SnapshotCache {
    /// Remembers a snapshot this server holds already (one it just stored).
    pub fn keep(&self, id: &str, definition: &Arc<WorkflowDef>) {
        let mut entries = self.lock();
        if entries.len() >= CACHED_SNAPSHOTS {
            // Rare (more than a thousand definitions in use): start over rather than track
            // recency.
            entries.clear();
        }
        entries.insert(id.to_owned(), definition.clone());
    }

    /// The definition under `id` if this server holds it (it is stored, then).
    pub fn known(&self, id: &str) -> Option<Arc<WorkflowDef>> {
        self.lock().get(id).cloned()
    }

    /// The definition stored under `id`, from memory or from `conn`.
    pub fn get(&self, conn: &mut AnyConnection, id: &str) -> StoreResult<Arc<WorkflowDef>> {
        if let Some(definition) = self.lock().get(id) {
            return Ok(definition.clone());
        }
        let body: String = per_backend!(conn, c => definition_snapshots::table
            .find(id)
            .select(definition_snapshots::body)
            .first(c))?;
        let definition: Arc<WorkflowDef> = Arc::new(parse(&body)?);
        self.keep(id, &definition);
        Ok(definition)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<WorkflowDef>>> {
        // Entries are whole values; a panic elsewhere cannot leave one half-written.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stores a snapshot unless it is there already.
pub fn store(conn: &mut AnyConnection, snapshot: &Snapshot) -> StoreResult<()> {
    let row = (
        definition_snapshots::id.eq(&snapshot.id),
        definition_snapshots::body.eq(&snapshot.body),
    );
    per_backend!(conn, c => diesel::insert_into(definition_snapshots::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_definitions_share_an_id_and_different_ones_do_not() {
        let def: WorkflowDef = serde_json::from_str(
            r#"{"name": "w", "tasks": [{"name": "a", "taskReferenceName": "a"}]}"#,
        )
        .unwrap();
        let mut other = def.clone();
        other.version = 2;
        let (a, b, c) = (
            Snapshot::of(&def).unwrap(),
            Snapshot::of(&def.clone()).unwrap(),
            Snapshot::of(&other).unwrap(),
        );
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id.len(), 32);
        let back: WorkflowDef = parse(&a.body).unwrap();
        assert_eq!(back, def);
    }
}
