//! Baton's pure workflow engine: state and an event in, a [`Decision`] out.
//!
//! Architecture invariant: nothing here does I/O, reads the clock or draws random
//! numbers. The current time (`now`, epoch ms) and fresh ids ([`IdSource`]) are passed in,
//! so every decision is reproducible from its inputs, and tests are data in, data out.
//!
//! The runtime calls:
//! - [`start_workflow`] to create a workflow and schedule its first tasks;
//! - [`apply_task_result`] when a worker reports on a task;
//! - [`decide`] whenever a workflow may have work to do (after any change);
//! - [`start_polled_task`] and [`lease_deadline`] when a worker polls a task.

mod decider;
mod decision;
pub mod expression;
mod failure_workflow;
mod graph;
mod ids;
pub mod operator;
mod roots;
mod schedule;
pub mod script;
mod sub_workflow;
mod task_result;
mod timeouts;
pub mod validate;
mod wait;

use baton_model::Task;

pub use decider::{decide, start_workflow, StartParams};
pub use decision::{Decision, EventMessage, ParentUpdate, QueueOp};
pub use failure_workflow::FAILURE_WORKFLOW_OUTPUT;
pub use ids::{IdSource, SequentialIds};
pub use sub_workflow::apply_child_outcome;
pub use task_result::{apply_task_result, complete_pending_task, signal_waiting_task};
pub use timeouts::{next_check_at, sweep};

/// Why the engine refused an event. Each variant is a client error, not a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("No such task found by id: {0}")]
    TaskNotFound(String),
    #[error("workflow {0} has no definition attached")]
    MissingDefinition(String),
    #[error("task {task_id} belongs to workflow {actual}, not {claimed}")]
    WrongWorkflow {
        task_id: String,
        claimed: String,
        actual: String,
    },
    #[error("Task status is required to update a task")]
    MissingStatus,
    /// The action does not fit the workflow's state (e.g. resuming a running workflow).
    #[error("{0}")]
    Conflict(String),
    /// The request names something the workflow does not have (a 400, as Conductor's
    /// `IllegalArgumentException`).
    #[error("{0}")]
    InvalidArgument(String),
}

/// The queue timed WAIT tasks sit in until their deadline; the server's system worker for
/// WAIT completes each one it claims.
pub const WAIT_QUEUE: &str = baton_model::task_type::WAIT;

/// The response timeout used when a task's definition sets none (Conductor's default).
pub const DEFAULT_RESPONSE_TIMEOUT_SECONDS: i64 = 3600;

/// The name of the queue holding tasks of `task_type` for `domain` (Conductor's `domain:type`).
pub fn queue_name(task_type: &str, domain: Option<&str>) -> String {
    match domain {
        Some(domain) if !domain.is_empty() => format!("{domain}:{task_type}"),
        _ => task_type.to_owned(),
    }
}

/// Marks a task as handed to a worker by a poll.
pub fn start_polled_task(task: &mut Task, worker_id: Option<&str>, domain: Option<&str>, now: i64) {
    if task.first_start_time == 0 {
        task.first_start_time = now;
    }
    // A task already in progress (a timed WAIT reaching its deadline) keeps its start.
    if task.status != baton_model::TaskStatus::InProgress || task.start_time == 0 {
        task.start_time = now;
    }
    task.status = baton_model::TaskStatus::InProgress;
    task.update_time = now;
    task.poll_count += 1;
    task.callback_after_seconds = 0;
    task.worker_id = worker_id.map(str::to_owned);
    if let Some(domain) = domain.filter(|d| !d.is_empty()) {
        task.domain = Some(domain.to_owned());
    }
}

/// How long a poll leases a task: its response timeout, in milliseconds.
pub fn lease_ms(task: &Task) -> i64 {
    let seconds = if task.response_timeout_seconds > 0 {
        task.response_timeout_seconds
    } else {
        DEFAULT_RESPONSE_TIMEOUT_SECONDS
    };
    seconds.saturating_mul(1000)
}

/// When a polled task's lease runs out: its response timeout after `now`.
pub fn lease_deadline(task: &Task, now: i64) -> i64 {
    now.saturating_add(lease_ms(task))
}
