//! Running workflows held in the writer's memory between decisions, so a task result does not
//! reload and parse its workflow and tasks from the database.
//!
//! Only the writer thread touches the cache (it owns it), so there is no lock. Each entry
//! carries the revision of the workflow row and of every task row as last written or read.
//! Every update the writer makes names the revision it was decided on, so a stale entry (a
//! second server on PostgreSQL wrote in between) can cause a retry, never a lost write.
//! PostgreSQL batches also check the revisions before deciding (see `writer.rs`).

use std::collections::HashMap;

use baton_model::Workflow;

/// A workflow with its tasks, and the revision of each row as stored.
#[derive(Debug, Clone)]
pub struct Held {
    pub workflow: Workflow,
    pub revision: i64,
    /// Every task row's revision, by task id.
    pub task_revisions: HashMap<String, i64>,
    /// The snapshot the row names for its definition (`None`: the body holds it, or there is
    /// none).
    pub definition_id: Option<String>,
}

impl Held {
    pub fn workflow_id(&self) -> &str {
        &self.workflow.workflow_id
    }
}

/// The cache proper: a bounded map that forgets the least recently used entries first.
#[derive(Debug)]
pub struct WorkflowCache {
    /// Boxed: a `Held` is large, and most of the table is empty slots.
    entries: HashMap<String, (Box<Held>, u64)>,
    /// Bumped on every use, to order entries by recency.
    clock: u64,
    capacity: usize,
    /// Tasks held across all entries, and the most allowed (a few huge forks must not hold
    /// the memory of thousands of ordinary workflows).
    tasks: usize,
    max_tasks: usize,
}

impl WorkflowCache {
    pub fn new(capacity: usize, max_tasks: usize) -> Self {
        WorkflowCache {
            entries: HashMap::new(),
            clock: 0,
            capacity,
            tasks: 0,
            max_tasks,
        }
    }

    /// Takes a workflow out (the writer puts back its state after the commit).
    pub fn take(&mut self, workflow_id: &str) -> Option<Held> {
        let (held, _) = self.entries.remove(workflow_id)?;
        self.tasks -= held.workflow.tasks.len();
        Some(*held)
    }

    /// Keeps a workflow as committed. Ended workflows are not kept: few are changed again.
    pub fn put(&mut self, held: Held) {
        let id = held.workflow_id().to_owned();
        self.forget(&id);
        if held.workflow.status.is_terminal() || self.capacity == 0 {
            return;
        }
        let size = held.workflow.tasks.len();
        if size > self.max_tasks {
            return;
        }
        if self.entries.len() >= self.capacity || self.tasks + size > self.max_tasks {
            self.evict(size);
        }
        self.clock += 1;
        self.tasks += size;
        self.entries.insert(id, (Box::new(held), self.clock));
    }

    pub fn forget(&mut self, workflow_id: &str) {
        self.take(workflow_id);
    }

    /// Drops the least recently used eighth of the entries (at least enough to fit `room`
    /// more tasks): one scan pays for many insertions.
    fn evict(&mut self, room: usize) {
        let mut ages: Vec<u64> = self.entries.values().map(|(_, used)| *used).collect();
        let drop_count = (self.entries.len() / 8).max(1);
        ages.sort_unstable();
        let mut cutoff = ages.get(drop_count - 1).copied().unwrap_or(0);
        loop {
            let before = self.tasks;
            let mut freed = 0;
            self.entries.retain(|_, (held, used)| {
                let keep = *used > cutoff;
                if !keep {
                    freed += held.workflow.tasks.len();
                }
                keep
            });
            self.tasks = before - freed;
            let fits = self.tasks + room <= self.max_tasks && self.entries.len() < self.capacity;
            if fits || self.entries.is_empty() {
                return;
            }
            cutoff = self.clock;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_model::{Task, WorkflowStatus};

    fn held(id: &str, tasks: usize) -> Held {
        Held {
            workflow: Workflow {
                workflow_id: id.into(),
                tasks: (0..tasks)
                    .map(|i| Task {
                        task_id: format!("{id}-{i}"),
                        ..Task::default()
                    })
                    .collect(),
                ..Workflow::default()
            },
            revision: 0,
            task_revisions: HashMap::new(),
            definition_id: None,
        }
    }

    #[test]
    fn a_full_cache_forgets_the_least_recently_used_first() {
        let mut cache = WorkflowCache::new(8, 1000);
        for i in 0..8 {
            cache.put(held(&format!("w{i}"), 1));
        }
        // w0 is used again, so w1 is now the oldest.
        let w0 = cache.take("w0").unwrap();
        cache.put(w0);
        cache.put(held("w8", 1));
        assert!(cache.take("w1").is_none(), "the oldest entry was evicted");
        assert!(cache.take("w0").is_some(), "a recently used entry stays");
        assert!(cache.take("w8").is_some());
    }

    #[test]
    fn ended_and_oversized_workflows_are_not_kept_and_tasks_are_bounded() {
        let mut cache = WorkflowCache::new(100, 10);
        let mut ended = held("done", 1);
        ended.workflow.status = WorkflowStatus::Completed;
        cache.put(ended);
        assert!(cache.take("done").is_none());
        cache.put(held("huge", 11));
        assert!(cache.take("huge").is_none());
        cache.put(held("a", 6));
        cache.put(held("b", 6));
        assert!(cache.take("a").is_none(), "room was made for b's tasks");
        assert_eq!(cache.take("b").unwrap().workflow.tasks.len(), 6);
        assert_eq!(cache.tasks, 0);
    }
}
