//! The decider: given a workflow's state, schedule what comes next and settle its status.
//!
//! A task that reached a terminal status and is not yet `executed` is an unprocessed
//! event. Each decision processes those in sequence order: a success schedules the next
//! task, a failure retries or fails the workflow. When nothing is left running and nothing
//! was scheduled, the workflow is complete.

use baton_model::{
    JsonMap, RetryLogic, StartWorkflowRequest, Task, TaskStatus, Workflow, WorkflowDef,
    WorkflowStatus, WorkflowTask,
};

use crate::expression::resolve_map;
use crate::graph::next_task;
use crate::roots::WorkflowRoots;
use crate::schedule::{schedule_task, task_def_of};
use crate::{Decision, EngineError, IdSource, QueueOp};

/// What a new workflow starts from, besides its definition.
#[derive(Debug, Clone, Default)]
pub struct StartParams {
    pub workflow_id: String,
    pub input: JsonMap,
    pub correlation_id: Option<String>,
    pub priority: i32,
    pub task_to_domain: std::collections::BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
    pub parent_workflow_id: Option<String>,
    pub parent_workflow_task_id: Option<String>,
}

impl StartParams {
    /// The parameters of a start request, with the id chosen by the caller.
    pub fn from_request(request: &StartWorkflowRequest, workflow_id: String) -> Self {
        StartParams {
            workflow_id,
            input: request.input.clone(),
            correlation_id: request.correlation_id.clone(),
            priority: request.priority,
            task_to_domain: request.task_to_domain.clone(),
            idempotency_key: request.idempotency_key.clone(),
            parent_workflow_id: None,
            parent_workflow_task_id: None,
        }
    }
}

/// Creates a RUNNING workflow from `definition` (with its task definitions embedded)
/// and decides its first step.
pub fn start_workflow(
    definition: WorkflowDef,
    params: StartParams,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let workflow = Workflow {
        workflow_id: params.workflow_id,
        status: WorkflowStatus::Running,
        input: params.input,
        correlation_id: params.correlation_id,
        priority: params.priority,
        task_to_domain: params.task_to_domain,
        idempotency_key: params.idempotency_key,
        parent_workflow_id: params.parent_workflow_id,
        parent_workflow_task_id: params.parent_workflow_task_id,
        variables: definition.variables.clone(),
        workflow_definition: Some(definition),
        create_time: now,
        update_time: now,
        ..Workflow::default()
    };
    decide(workflow, now, ids)
}

/// Moves a workflow forward as far as its current state allows.
pub fn decide(
    workflow: Workflow,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(workflow);
    decide_into(&mut decision, now, ids)?;
    Ok(decision)
}

/// Decides on top of changes already made (such as a task result just applied).
pub(crate) fn decide_into(
    decision: &mut Decision,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<(), EngineError> {
    if decision.workflow.status != WorkflowStatus::Running {
        return Ok(());
    }
    let Some(definition) = decision.workflow.workflow_definition.clone() else {
        return Err(EngineError::MissingDefinition(
            decision.workflow.workflow_id.clone(),
        ));
    };
    if decision.workflow.tasks.is_empty() {
        if let Some(first) = definition.tasks.first() {
            schedule_task(decision, first, None, 0, now, ids);
        }
    }

    let mut index = 0;
    while index < decision.workflow.tasks.len() {
        let task = &decision.workflow.tasks[index];
        index += 1;
        if !task.status.is_terminal() || task.executed {
            continue;
        }
        let task_id = task.task_id.clone();
        let position = index - 1;
        decision.workflow.tasks[position].executed = true;
        decision.touch(&task_id);
        let task = decision.workflow.tasks[position].clone();
        if task.status.is_successful() {
            schedule_next(decision, &definition, &task, now, ids);
            continue;
        }
        let workflow_task = task.workflow_task.clone().unwrap_or_default();
        if let Some(delay_seconds) = retry_delay(&task, &workflow_task) {
            decision.workflow.tasks[position].retried = true;
            schedule_task(
                decision,
                &workflow_task,
                Some(&task),
                delay_seconds,
                now,
                ids,
            );
            continue;
        }
        if workflow_task.optional {
            decision.workflow.tasks[position].status = TaskStatus::CompletedWithErrors;
            schedule_next(decision, &definition, &task, now, ids);
            continue;
        }
        fail_workflow(decision, &task, now);
        return Ok(());
    }

    let all_done = decision
        .workflow
        .tasks
        .iter()
        .all(|task| task.status.is_terminal());
    if all_done {
        finish_workflow(decision, WorkflowStatus::Completed, None, now);
    }
    if !decision.is_noop() {
        decision.workflow.update_time = now;
    }
    Ok(())
}

fn schedule_next(
    decision: &mut Decision,
    definition: &WorkflowDef,
    task: &Task,
    now: i64,
    ids: &mut dyn IdSource,
) {
    if let Some(next) = next_task(definition, &task.reference_task_name) {
        schedule_task(decision, next, None, 0, now, ids);
    }
}

/// The delay before the next attempt of a failed task, or `None` when it may not retry.
fn retry_delay(task: &Task, workflow_task: &WorkflowTask) -> Option<i64> {
    if !task.status.is_retriable() {
        return None;
    }
    let task_def = task_def_of(workflow_task);
    let allowed = workflow_task.retry_count.unwrap_or(task_def.retry_count);
    if task.retry_count >= allowed {
        return None;
    }
    let base = i64::from(task_def.retry_delay_seconds.max(0));
    let attempt = i64::from(task.retry_count) + 1;
    let delay = match task_def.retry_logic {
        RetryLogic::Fixed => base,
        RetryLogic::LinearBackoff => base
            .saturating_mul(i64::from(task_def.backoff_scale_factor.max(1)))
            .saturating_mul(attempt),
        RetryLogic::ExponentialBackoff => base.saturating_mul(
            1_i64
                .checked_shl(task.retry_count.clamp(0, 62) as u32)
                .unwrap_or(i64::MAX),
        ),
    };
    let cap = i64::from(task_def.max_retry_delay_seconds);
    Some(if cap > 0 { delay.min(cap) } else { delay })
}

/// Fails the workflow because `task` failed for good, and cancels what still runs.
fn fail_workflow(decision: &mut Decision, task: &Task, now: i64) {
    let reason = task
        .reason_for_incompletion
        .clone()
        .filter(|reason| !reason.is_empty())
        .unwrap_or_else(|| format!("Task {} failed with status: {}", task.task_id, task.status));
    decision
        .workflow
        .failed_reference_task_names
        .insert(task.reference_task_name.clone());
    decision
        .workflow
        .failed_task_names
        .insert(task.task_def_name.clone());
    finish_workflow(decision, WorkflowStatus::Failed, Some(reason), now);
}

/// Ends the workflow: cancels tasks still running, sets status, output and end time.
pub(crate) fn finish_workflow(
    decision: &mut Decision,
    status: WorkflowStatus,
    reason: Option<String>,
    now: i64,
) {
    let mut cancelled = Vec::new();
    for task in decision.workflow.tasks.iter_mut() {
        if !task.status.is_terminal() {
            task.status = TaskStatus::Canceled;
            task.end_time = now;
            task.update_time = now;
            task.executed = true;
            cancelled.push(task.task_id.clone());
        }
    }
    for task_id in cancelled {
        decision.touch(&task_id);
        decision.queue.push(QueueOp::Remove { task_id });
    }
    decision.workflow.output = workflow_output(&decision.workflow);
    decision.workflow.status = status;
    decision.workflow.reason_for_incompletion = reason;
    decision.workflow.end_time = now;
    decision.workflow.update_time = now;
}

/// The definition's `outputParameters` resolved, or else the last task's output.
fn workflow_output(workflow: &Workflow) -> JsonMap {
    let output_parameters = workflow
        .workflow_definition
        .as_ref()
        .map(|definition| &definition.output_parameters)
        .filter(|parameters| !parameters.is_empty());
    match output_parameters {
        Some(parameters) => resolve_map(
            parameters,
            &WorkflowRoots {
                workflow,
                new_task_id: None,
            },
        ),
        None => workflow
            .tasks
            .iter()
            .rev()
            .find(|task| task.status != TaskStatus::Canceled)
            .map(|task| task.output_data.clone())
            .unwrap_or_default(),
    }
}
