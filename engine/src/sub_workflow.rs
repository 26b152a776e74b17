//! SUB_WORKFLOW and START_WORKFLOW: workflows that start workflows.
//!
//! The child's definition is in the task's definition by the time the engine sees it: inline
//! (`subWorkflowParam.workflowDefinition`, `startWorkflow.workflowDef`) or embedded by the runtime
//! from the registry when the parent started. The child starts in the parent's decision, and a
//! finished child settles its parent's task in the child's decision ([`ParentUpdate`]), so both
//! commit together and neither can be stranded.

use baton_model::{
    JsonMap, StartWorkflowRequest, SubWorkflowDefinition, Task, TaskStatus, Workflow, WorkflowDef,
    WorkflowStatus,
};
use serde_json::{json, Value};

use crate::decider::{decide_into, start_workflow, StartParams};
use crate::decision::ParentUpdate;
use crate::{Decision, EngineError, IdSource};

/// Starts the child of a SUB_WORKFLOW task. The task waits IN_PROGRESS for the child, or
/// takes the child's outcome at once when the child finished inside its first decision.
/// Returns the child's decision (to commit with the parent's) or the reason the task fails.
pub fn start_child(
    parent: &Workflow,
    task: &mut Task,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, String> {
    let params = task
        .workflow_task
        .as_ref()
        .and_then(|t| t.sub_workflow_param.clone())
        .ok_or("SUB_WORKFLOW task has no subWorkflowParam")?;
    let definition = match params.workflow_definition {
        Some(SubWorkflowDefinition::Definition(definition)) => *definition,
        _ => {
            return Err(format!(
                "No definition for sub-workflow {} version {}",
                params.name.as_deref().unwrap_or("?"),
                params
                    .version
                    .map_or("latest".to_owned(), |v| v.to_string())
            ))
        }
    };
    let start = StartParams {
        workflow_id: ids.next_id(),
        input: task.input_data.clone(),
        correlation_id: parent.correlation_id.clone(),
        priority: parent.priority,
        task_to_domain: params
            .task_to_domain
            .unwrap_or_else(|| parent.task_to_domain.clone()),
        idempotency_key: None,
        parent_workflow_id: Some(parent.workflow_id.clone()),
        parent_workflow_task_id: Some(task.task_id.clone()),
    };
    let mut child = start_workflow(definition, start, now, ids).map_err(|e| e.to_string())?;
    task.sub_workflow_id = Some(child.workflow.workflow_id.clone());
    task.output_data
        .insert("subWorkflowId".into(), json!(child.workflow.workflow_id));
    task.start_time = now;
    match child.parent_update.take() {
        // Finished already: settle the task here rather than through a parent update.
        Some(outcome) => settle(task, &outcome, now),
        None => task.status = TaskStatus::InProgress,
    }
    Ok(child)
}

/// Starts the workflow a START_WORKFLOW task asks for (`startWorkflow` input, a
/// StartWorkflowRequest) and completes the task with its id. Fire and forget: the started
/// workflow has no parent.
pub fn start_detached(
    parent: &Workflow,
    task: &mut Task,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, String> {
    let request: StartWorkflowRequest = task
        .input_data
        .get("startWorkflow")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| format!("startWorkflow is not a valid start request: {e}"))?
        .ok_or("START_WORKFLOW needs a startWorkflow input")?;
    // Inline in the request, or embedded from the registry when the parent started.
    let embedded = task
        .workflow_task
        .as_ref()
        .and_then(|t| t.sub_workflow_param.as_ref())
        .and_then(|params| match &params.workflow_definition {
            Some(SubWorkflowDefinition::Definition(definition)) => Some((**definition).clone()),
            _ => None,
        });
    let definition: WorkflowDef = request.workflow_def.clone().or(embedded).ok_or_else(|| {
        format!(
            "No definition for workflow {} version {:?}",
            request.name, request.version
        )
    })?;
    let start = StartParams {
        workflow_id: ids.next_id(),
        input: request.input.clone(),
        correlation_id: request
            .correlation_id
            .clone()
            .or_else(|| parent.correlation_id.clone()),
        priority: request.priority,
        task_to_domain: request.task_to_domain.clone(),
        idempotency_key: None,
        parent_workflow_id: None,
        parent_workflow_task_id: None,
    };
    let started = start_workflow(definition, start, now, ids).map_err(|e| e.to_string())?;
    task.status = TaskStatus::Completed;
    task.start_time = now;
    task.end_time = now;
    task.output_data
        .insert("workflowId".into(), json!(started.workflow.workflow_id));
    Ok(started)
}

/// A task's status and output from its finished child.
fn settle(task: &mut Task, outcome: &ParentUpdate, now: i64) {
    task.status = match outcome.child_status {
        WorkflowStatus::Completed => TaskStatus::Completed,
        WorkflowStatus::TimedOut => TaskStatus::TimedOut,
        WorkflowStatus::Terminated => TaskStatus::Canceled,
        _ => TaskStatus::Failed,
    };
    let mut output: JsonMap = outcome.child_output.clone();
    output.insert(
        "subWorkflowId".into(),
        Value::String(outcome.child_workflow_id.clone()),
    );
    task.output_data = output;
    if task.status != TaskStatus::Completed {
        task.reason_for_incompletion = Some(format!(
            "Sub workflow {} {}: {}",
            outcome.child_workflow_id,
            outcome.child_status,
            outcome.child_reason.as_deref().unwrap_or("no reason given")
        ));
    }
    task.end_time = now;
    task.update_time = now;
}

/// Settles a parent's SUB_WORKFLOW task from its finished child, and decides what follows.
/// A child that runs again (it was retried) puts the task back IN_PROGRESS instead.
pub fn apply_child_outcome(
    parent: Workflow,
    outcome: &ParentUpdate,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    if !outcome.child_status.is_terminal() {
        return crate::operator::resume_sub_workflow_task(parent, outcome, now, ids);
    }
    let mut decision = Decision::unchanged(parent);
    let Some(task) = decision
        .workflow
        .tasks
        .iter_mut()
        .find(|t| t.task_id == outcome.parent_task_id)
    else {
        return Err(EngineError::TaskNotFound(outcome.parent_task_id.clone()));
    };
    if task.status.is_terminal() || decision.workflow.status.is_terminal() {
        return Ok(decision);
    }
    settle(task, outcome, now);
    let task_id = task.task_id.clone();
    decision.touch(&task_id);
    decide_into(&mut decision, now, ids)?;
    decision.workflow.update_time = now;
    Ok(decision)
}
