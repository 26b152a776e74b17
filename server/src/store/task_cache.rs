//! The tasks of large workflows, kept in memory between decisions, so a decision on a
//! workflow with a thousand tasks (a wide fork) does not reload and parse all of them.
//!
//! Each task row has a revision that every write bumps. Under the workflow's lock, the store
//! reads just the (id, revision) pairs and reloads only the tasks whose revision differs from
//! the cached one: those a poll or another server changed since. A stale entry can only
//! cause a reload, never a stale read. Small workflows are not cached: loading them is cheap.

use std::collections::HashMap;
use std::sync::Mutex;

use baton_model::Task;

/// Workflows with fewer tasks are loaded in full each time.
pub const MIN_CACHED_TASKS: usize = 64;
/// The most tasks held across all cached workflows.
const MAX_CACHED_TASKS: usize = 50_000;

/// A workflow's tasks with the revision each was read or written at.
#[derive(Debug, Default)]
pub struct CachedTasks {
    pub tasks: HashMap<String, (Task, i64)>,
}

#[derive(Debug, Default)]
pub struct TaskCache {
    entries: Mutex<HashMap<String, CachedTasks>>,
}

impl TaskCache {
    /// Takes a workflow's cached tasks out (the caller holds its lock and puts back the new
    /// state after committing).
    pub fn take(&self, workflow_id: &str) -> Option<CachedTasks> {
        self.lock().remove(workflow_id)
    }

    /// Keeps a workflow's tasks after a committed decision.
    pub fn put(&self, workflow_id: &str, cached: CachedTasks) {
        if cached.tasks.len() < MIN_CACHED_TASKS {
            return;
        }
        let mut entries = self.lock();
        let held: usize = entries.values().map(|e| e.tasks.len()).sum();
        if held + cached.tasks.len() > MAX_CACHED_TASKS {
            // Rare (many huge workflows at once): start over rather than track recency.
            entries.clear();
        }
        if cached.tasks.len() <= MAX_CACHED_TASKS {
            entries.insert(workflow_id.to_owned(), cached);
        }
    }

    pub fn forget(&self, workflow_id: &str) {
        self.lock().remove(workflow_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedTasks>> {
        // A panic while holding the lock leaves nothing half-done worth refusing.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
