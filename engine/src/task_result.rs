//! Applying a worker's [`TaskResult`] to its task, then deciding what follows.

use baton_model::{task_type, JsonMap, Task, TaskResult, TaskResultStatus, TaskStatus, Workflow};

use crate::decider::decide_into;
use crate::validate::is_system_task;
use crate::{lease_deadline, lease_ms, queue_name, Decision, EngineError, IdSource, QueueOp};

/// Records a worker's result on its task and moves the workflow on.
///
/// As in Conductor, a result for a task that already finished, or for a workflow that
/// already ended, changes nothing (the task's queue entry is dropped). `IN_PROGRESS`
/// with `extendLease` only refreshes the lease; plain `IN_PROGRESS` hands the task back
/// to its queue, visible again after `callbackAfterSeconds`.
pub fn apply_task_result(
    workflow: Workflow,
    result: &TaskResult,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let status = result.status.ok_or(EngineError::MissingStatus)?;
    let mut decision = Decision::unchanged(workflow);
    let Some(position) = decision
        .workflow
        .tasks
        .iter()
        .position(|t| t.task_id == result.task_id)
    else {
        return Err(EngineError::TaskNotFound(result.task_id.clone()));
    };
    let task_id = result.task_id.clone();
    let task_finished = decision.workflow.tasks[position].status.is_terminal();
    if task_finished || decision.workflow.status.is_terminal() {
        decision.queue.push(QueueOp::Remove { task_id });
        return Ok(decision);
    }

    let task = &mut decision.workflow.tasks[position];
    if status == TaskResultStatus::InProgress && result.extend_lease {
        // The response timeout counts from the last update, as the lease does.
        task.update_time = now;
        let leased_until = lease_deadline(task, now);
        decision.touch(&task_id);
        decision.queue.push(QueueOp::ExtendLease {
            task_id,
            leased_until,
        });
        return Ok(decision);
    }
    // As in Conductor, the result replaces these fields rather than merging into them.
    task.output_data = result.output_data.clone();
    task.worker_id = result.worker_id.clone();
    task.reason_for_incompletion = result.reason_for_incompletion.clone();
    if result.sub_workflow_id.is_some() {
        task.sub_workflow_id = result.sub_workflow_id.clone();
    }
    task.update_time = now;
    let waits_for_a_worker = is_worker_task(task);
    match status {
        TaskResultStatus::InProgress if !waits_for_a_worker => {
            // A system task stays in progress: only its output changes. One the server was
            // carrying out (an HTTP call with asyncComplete) now waits for an outside update,
            // so it leaves its queue; a timed WAIT keeps its deadline entry.
            if task.task_type != task_type::WAIT {
                decision.queue.push(QueueOp::Remove {
                    task_id: task_id.clone(),
                });
            }
        }
        TaskResultStatus::InProgress => {
            // Back to the queue: a worker polls it again once the callback delay passes.
            task.status = TaskStatus::Scheduled;
            task.callback_after_seconds = result.callback_after_seconds.max(0);
            let push = QueueOp::Push {
                queue_name: queue_name(&task.task_type, task.domain.as_deref()),
                task_id: task_id.clone(),
                priority: task.workflow_priority,
                visible_at: now + task.callback_after_seconds * 1000,
                lease_ms: lease_ms(task),
            };
            decision.queue.push(push);
        }
        finished => {
            task.status = TaskStatus::from(finished);
            task.end_time = now;
            decision.queue.push(QueueOp::Remove {
                task_id: task_id.clone(),
            });
        }
    }
    decision.touch(&task_id);
    decide_into(&mut decision, now, ids)?;
    decision.workflow.update_time = now;
    Ok(decision)
}

/// Whether a task is worked by a polling worker (SIMPLE or a custom type), rather than by
/// the server.
fn is_worker_task(task: &Task) -> bool {
    !is_system_task(
        task.workflow_task
            .as_ref()
            .map_or("", |t| t.r#type.as_str()),
    )
}

/// Completes (or fails) the pending task with reference `reference` from outside, as
/// `POST /api/tasks/{workflowId}/{taskRefName}/{status}` does. Without such a task, nothing
/// changes and the decision names no task.
pub fn complete_pending_task(
    workflow: Workflow,
    reference: &str,
    status: TaskResultStatus,
    output: JsonMap,
    worker_id: Option<String>,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let pending = workflow
        .tasks
        .iter()
        .rev()
        .find(|t| t.reference_task_name == reference && !t.status.is_terminal())
        .map(|t| t.task_id.clone());
    finish_from_outside(workflow, pending, status, output, worker_id, now, ids)
}

/// Completes (or fails) the workflow's first pending WAIT or HUMAN task, as the signal
/// endpoint does. Without one, nothing changes.
pub fn signal_waiting_task(
    workflow: Workflow,
    status: TaskResultStatus,
    output: JsonMap,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let waiting = workflow
        .tasks
        .iter()
        .find(|t| {
            (t.task_type == task_type::WAIT || t.task_type == task_type::HUMAN)
                && !t.status.is_terminal()
        })
        .map(|t| t.task_id.clone());
    finish_from_outside(workflow, waiting, status, output, None, now, ids)
}

fn finish_from_outside(
    workflow: Workflow,
    task_id: Option<String>,
    status: TaskResultStatus,
    output: JsonMap,
    worker_id: Option<String>,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let Some(task_id) = task_id else {
        return Ok(Decision::unchanged(workflow));
    };
    let result = TaskResult {
        workflow_instance_id: workflow.workflow_id.clone(),
        task_id,
        status: Some(status),
        output_data: output,
        worker_id,
        ..TaskResult::default()
    };
    apply_task_result(workflow, &result, now, ids)
}
