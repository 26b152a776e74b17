//! What the decider hands back: the workflow's new state and the effects to commit with it.

use baton_model::{JsonMap, Task, Workflow, WorkflowStatus};

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
    /// Workflows this decision starts (sub-workflows, START_WORKFLOW), each with its own
    /// first decision, committed in the same transaction.
    pub children: Vec<Decision>,
    /// When this workflow is a sub-workflow that just finished: the parent task to settle,
    /// in the same transaction.
    pub parent_update: Option<ParentUpdate>,
    /// Tasks this decision deletes (old DO_WHILE iterations under `keepLastN`).
    pub removed_tasks: Vec<String>,
    /// Messages EVENT tasks publish, written to the event outbox in the same transaction.
    pub messages: Vec<EventMessage>,
}

/// A message an EVENT task publishes to a sink's queue (`conductor:<workflow>:<name>`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventMessage {
    pub queue_name: String,
    /// Conductor uses the publishing task's id as the message id.
    pub message_id: String,
    pub payload: JsonMap,
}

/// A finished sub-workflow's outcome, for its parent's SUB_WORKFLOW task.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentUpdate {
    pub parent_workflow_id: String,
    pub parent_task_id: String,
    pub child_workflow_id: String,
    pub child_status: WorkflowStatus,
    pub child_output: JsonMap,
    pub child_reason: Option<String>,
}

impl ParentUpdate {
    /// What a sub-workflow tells its parent about its current state; `None` for a workflow
    /// without a parent.
    pub fn of(child: &baton_model::Workflow) -> Option<ParentUpdate> {
        Some(ParentUpdate {
            parent_workflow_id: child.parent_workflow_id.clone()?,
            parent_task_id: child.parent_workflow_task_id.clone()?,
            child_workflow_id: child.workflow_id.clone(),
            child_status: child.status,
            child_output: child.output.clone(),
            child_reason: child.reason_for_incompletion.clone(),
        })
    }
}

impl Decision {
    /// A decision that changes nothing yet, over the given state.
    pub fn unchanged(workflow: Workflow) -> Self {
        Decision {
            workflow,
            changed_tasks: Vec::new(),
            queue: Vec::new(),
            children: Vec::new(),
            parent_update: None,
            removed_tasks: Vec::new(),
            messages: Vec::new(),
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
        self.changed_tasks.is_empty()
            && self.queue.is_empty()
            && self.children.is_empty()
            && self.messages.is_empty()
            && self.removed_tasks.is_empty()
    }

    /// Every task this decision and the workflows it starts push, with its queue.
    pub fn pushes(&self) -> Vec<(&str, &str)> {
        let mut pushes: Vec<(&str, &str)> = self
            .queue
            .iter()
            .filter_map(|op| match op {
                QueueOp::Push {
                    queue_name,
                    task_id,
                    ..
                } => Some((queue_name.as_str(), task_id.as_str())),
                _ => None,
            })
            .collect();
        for child in &self.children {
            pushes.extend(child.pushes());
        }
        pushes
    }

    /// Every queue this decision and the workflows it starts push to.
    pub fn pushed_queues(&self) -> Vec<&str> {
        let mut queues: Vec<&str> = self
            .queue
            .iter()
            .filter_map(|op| match op {
                QueueOp::Push { queue_name, .. } => Some(queue_name.as_str()),
                _ => None,
            })
            .collect();
        for child in &self.children {
            queues.extend(child.pushed_queues());
        }
        queues
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
