//! Operator actions on a whole workflow: pause, resume, terminate.

use baton_model::{Workflow, WorkflowStatus};

use crate::decider::{decide_into, finish_workflow};
use crate::{Decision, EngineError, IdSource};

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
