//! Applying a worker's [`TaskResult`] to its task, then deciding what follows.

use baton_model::{TaskResult, TaskResultStatus, TaskStatus, Workflow};

use crate::decider::decide_into;
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
        let leased_until = lease_deadline(task, now);
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
    match status {
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
