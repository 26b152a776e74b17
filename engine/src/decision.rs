//! What the decider hands back: the workflow's new state and the effects to commit with it.

use baton_model::{Task, Workflow};

/// The outcome of one decision. The runtime commits all of it in one transaction:
/// the workflow row, every task in `changed_tasks`, and every queue operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The workflow after the decision, with every task (changed or not) in `tasks`.
    pub workflow: Workflow,
    /// Ids of the tasks this decision created or modified, in the order they were touched.
    pub changed_tasks: Vec<String>,
    /// Queue changes to commit with the state.
    pub queue: Vec<QueueOp>,
}

impl Decision {
    /// A decision that changes nothing yet, over the given state.
    pub fn unchanged(workflow: Workflow) -> Self {
        Decision {
            workflow,
            changed_tasks: Vec::new(),
            queue: Vec::new(),
        }
    }

    /// The tasks named in `changed_tasks`, as they are after the decision.
    pub fn changed(&self) -> impl Iterator<Item = &Task> {
        self.workflow
            .tasks
            .iter()
            .filter(|task| self.changed_tasks.contains(&task.task_id))
    }

    pub(crate) fn touch(&mut self, task_id: &str) {
        if !self.changed_tasks.iter().any(|id| id == task_id) {
            self.changed_tasks.push(task_id.to_owned());
        }
    }

    pub fn is_noop(&self) -> bool {
        self.changed_tasks.is_empty() && self.queue.is_empty()
    }
}

/// A change to a task queue, committed with the decision that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOp {
    /// Make `task_id` pollable from `queue_name` from `visible_at` (epoch ms) on; a poll
    /// leases it for `lease_ms`. Pushing a task that is already queued replaces its entry
    /// (new time, lease cleared).
    Push {
        queue_name: String,
        task_id: String,
        priority: i32,
        visible_at: i64,
        lease_ms: i64,
    },
    /// Take `task_id` out of its queue (it finished, or was cancelled).
    Remove { task_id: String },
    /// Keep a polled task's lease until `leased_until` (epoch ms).
    ExtendLease { task_id: String, leased_until: i64 },
}
