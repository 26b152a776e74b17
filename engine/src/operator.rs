//! Operator actions on a whole workflow: pause, resume, terminate, retry, reset callbacks.

use baton_model::{TaskStatus, Workflow, WorkflowStatus};

use crate::decider::{decide_into, finish_workflow};
use crate::schedule::{schedule_task, Schedule};
use crate::{Decision, EngineError, IdSource, QueueOp};

/// Stops scheduling new tasks; running tasks finish and their results are recorded.
pub fn pause(workflow: Workflow, now: i64) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(workflow);
    match decision.workflow.status {
        WorkflowStatus::Paused => {}
        WorkflowStatus::Running => {
            decision.workflow.status = WorkflowStatus::Paused;
            decision.workflow.update_time = now;
        }
        ended => {
            return Err(EngineError::Conflict(format!(
                "Workflow {} has ended, status cannot be updated. Current status: {ended}",
                decision.workflow.workflow_id
            )))
        }
    }
    Ok(decision)
}

/// Resumes a paused workflow and schedules what it held back.
pub fn resume(
    workflow: Workflow,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(workflow);
    if decision.workflow.status != WorkflowStatus::Paused {
        return Err(EngineError::Conflict(format!(
            "The workflow {} is not PAUSED so cannot resume. Current status is {}",
            decision.workflow.workflow_id, decision.workflow.status
        )));
    }
    decision.workflow.status = WorkflowStatus::Running;
    decision.workflow.update_time = now;
    decide_into(&mut decision, now, ids)?;
    Ok(decision)
}

/// Ends a workflow as TERMINATED with `reason`, cancelling its unfinished tasks (a worker's
/// late result for one of them is then ignored). Terminating a terminated workflow changes
/// nothing; any other ended workflow is a conflict.
pub fn terminate(
    workflow: Workflow,
    reason: Option<String>,
    now: i64,
) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(workflow);
    match decision.workflow.status {
        WorkflowStatus::Terminated => Ok(decision),
        WorkflowStatus::Running | WorkflowStatus::Paused => {
            finish_workflow(&mut decision, WorkflowStatus::Terminated, reason, now);
            Ok(decision)
        }
        ended => Err(EngineError::Conflict(format!(
            "Cannot terminate a {ended} workflow."
        ))),
    }
}

/// Retries a failed, timed-out or terminated workflow from where it stopped: each reference
/// whose latest task failed or was cancelled gets a new attempt, and the workflow runs again.
pub fn retry(
    workflow: Workflow,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(workflow);
    let status = decision.workflow.status;
    if !matches!(
        status,
        WorkflowStatus::Failed | WorkflowStatus::TimedOut | WorkflowStatus::Terminated
    ) {
        return Err(EngineError::Conflict(format!(
            "Workflow {} cannot be retried: only failed, timed out or terminated workflows can. Current status: {status}",
            decision.workflow.workflow_id
        )));
    }
    let mut latest: Vec<usize> = Vec::new();
    for (position, task) in decision.workflow.tasks.iter().enumerate() {
        match latest.iter().position(|&p| {
            decision.workflow.tasks[p].reference_task_name == task.reference_task_name
        }) {
            Some(slot) => latest[slot] = position,
            None => latest.push(position),
        }
    }
    let to_retry: Vec<usize> = latest
        .into_iter()
        .filter(|&p| {
            matches!(
                decision.workflow.tasks[p].status,
                TaskStatus::Failed
                    | TaskStatus::FailedWithTerminalError
                    | TaskStatus::TimedOut
                    | TaskStatus::Canceled
            )
        })
        .collect();
    let workflow = &mut decision.workflow;
    workflow.status = WorkflowStatus::Running;
    workflow.reason_for_incompletion = None;
    workflow.end_time = 0;
    workflow.output.clear();
    workflow.failed_reference_task_names.clear();
    workflow.failed_task_names.clear();
    workflow.last_retried_time = now;
    workflow.update_time = now;
    for position in to_retry {
        decision.workflow.tasks[position].retried = true;
        let failed = decision.workflow.tasks[position].clone();
        decision.touch(&failed.task_id);
        let Some(workflow_task) = failed.workflow_task.clone() else {
            continue;
        };
        let attempt = Schedule {
            workflow_task: &workflow_task,
            retry_of: Some(&failed),
            delay_seconds: 0,
            iteration: failed.iteration,
        };
        schedule_task(&mut decision, attempt, now, ids);
    }
    decide_into(&mut decision, now, ids)?;
    Ok(decision)
}

/// Makes every scheduled task that waits out a `callbackAfterSeconds` pollable at once
/// (`POST /api/workflow/{id}/resetcallbacks`). A workflow that has ended is a conflict.
pub fn reset_callbacks(workflow: Workflow, now: i64) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(workflow);
    if decision.workflow.status.is_terminal() {
        return Err(EngineError::Conflict(format!(
            "Workflow is in terminal state. Status = {}",
            decision.workflow.status
        )));
    }
    let priority = decision.workflow.priority;
    let mut reset = Vec::new();
    for task in decision.workflow.tasks.iter_mut() {
        if task.status == TaskStatus::Scheduled && task.callback_after_seconds > 0 {
            task.callback_after_seconds = 0;
            task.update_time = now;
            reset.push(QueueOp::Push {
                queue_name: crate::queue_name(&task.task_type, task.domain.as_deref()),
                task_id: task.task_id.clone(),
                priority,
                visible_at: now,
                lease_ms: crate::lease_ms(task),
            });
        }
    }
    for push in reset {
        if let QueueOp::Push { task_id, .. } = &push {
            decision.touch(task_id);
        }
        decision.queue.push(push);
    }
    Ok(decision)
}
