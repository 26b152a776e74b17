//! Operator actions on a whole workflow: pause, resume, terminate, retry, restart, rerun,
//! reset callbacks.

use baton_model::{JsonMap, TaskStatus, Workflow, WorkflowDef, WorkflowStatus};

use crate::decider::{decide_into, finish_workflow};
use crate::graph::{base_reference, loop_around};
use crate::schedule::{schedule_task, Schedule};
use crate::{Decision, EngineError, IdSource, ParentUpdate, QueueOp};

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
/// A sub-workflow that is retried reopens its parent too (in the same transaction, through
/// its parent update): the parent's SUB_WORKFLOW task waits for it again.
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
    retry_failed_tasks(&mut decision, None, now, ids);
    decide_into(&mut decision, now, ids)?;
    tell_parent_it_runs_again(&mut decision);
    Ok(decision)
}

/// Reopens the workflow and gives each reference whose latest task failed or was cancelled a
/// new attempt, except the task `resumed` (a SUB_WORKFLOW task whose child was retried in place).
fn retry_failed_tasks(
    decision: &mut Decision,
    resumed: Option<&str>,
    now: i64,
    ids: &mut dyn IdSource,
) {
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
            let task = &decision.workflow.tasks[p];
            Some(task.task_id.as_str()) != resumed && !task.status.is_successful()
        })
        .collect();
    reopen(&mut decision.workflow, now);
    decision.workflow.last_retried_time = now;
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
        schedule_task(decision, attempt, now, ids);
    }
}

/// A retried sub-workflow that runs again tells its parent, whose SUB_WORKFLOW task then waits
/// for it once more ([`resume_sub_workflow_task`]).
fn tell_parent_it_runs_again(decision: &mut Decision) {
    if !decision.workflow.status.is_terminal() {
        decision.parent_update = ParentUpdate::of(&decision.workflow);
    }
}

/// The parent's side of a retried sub-workflow: its SUB_WORKFLOW task goes back to
/// IN_PROGRESS, and a parent that had ended is retried around it (its other failed or
/// cancelled tasks get new attempts). A task that was already retried with a new child, or
/// that finished well, is left alone, as in Conductor.
pub(crate) fn resume_sub_workflow_task(
    parent: Workflow,
    child: &ParentUpdate,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(parent);
    let Some(position) = decision
        .workflow
        .tasks
        .iter()
        .position(|t| t.task_id == child.parent_task_id)
    else {
        return Err(EngineError::TaskNotFound(child.parent_task_id.clone()));
    };
    let task = &decision.workflow.tasks[position];
    if task.retried || task.status.is_successful() {
        return Ok(decision);
    }
    if decision.workflow.status.is_terminal() {
        retry_failed_tasks(&mut decision, Some(&child.parent_task_id), now, ids);
    }
    let task = &mut decision.workflow.tasks[position];
    task.status = TaskStatus::InProgress;
    task.reason_for_incompletion = None;
    task.end_time = 0;
    task.executed = false;
    task.update_time = now;
    task.sub_workflow_id = Some(child.child_workflow_id.clone());
    task.output_data = JsonMap::from_iter([(
        "subWorkflowId".to_owned(),
        serde_json::Value::String(child.child_workflow_id.clone()),
    )]);
    decision.touch(&child.parent_task_id);
    decide_into(&mut decision, now, ids)?;
    decision.workflow.update_time = now;
    tell_parent_it_runs_again(&mut decision);
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

/// Starts an ended workflow over, under the same id: every task is deleted, the workflow runs
/// again from its first task with its input (`POST /api/workflow/{id}/restart`). With
/// `definition` (`useLatestDefinitions`), it runs that definition from now on.
pub fn restart(
    workflow: Workflow,
    definition: Option<WorkflowDef>,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(ended(workflow, "restart")?);
    if let Some(definition) = definition {
        decision.workflow.workflow_definition = Some(std::sync::Arc::new(definition));
    }
    run_again_from_the_start(&mut decision, now);
    decision.workflow.create_time = now;
    decide_into(&mut decision, now, ids)?;
    Ok(decision)
}

/// What `POST /api/workflow/{id}/rerun` asks for (`RerunWorkflowRequest`).
#[derive(Debug, Clone, Default)]
pub struct Rerun {
    /// Rerun from this task (kept tasks before it); `None` reruns the whole workflow.
    pub from_task_id: Option<String>,
    /// New input for the rerun task.
    pub task_input: Option<JsonMap>,
    /// New input for the workflow.
    pub workflow_input: Option<JsonMap>,
    pub correlation_id: Option<String>,
}

/// Reruns an ended workflow, whole or from one of its tasks: that task and every task
/// scheduled after it are deleted, the task runs again (with `task_input` when given) and the
/// flow continues from it. A task inside a fork branch or a loop body cannot be the starting
/// point (its parallel siblings or its loop's count would be lost): rerun from the fork or the
/// loop instead.
pub fn rerun(
    workflow: Workflow,
    request: &Rerun,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(ended(workflow, "rerun")?);
    if let Some(correlation_id) = &request.correlation_id {
        decision.workflow.correlation_id = Some(correlation_id.clone());
    }
    if let Some(input) = &request.workflow_input {
        decision.workflow.input = input.clone();
    }
    let Some(task_id) = &request.from_task_id else {
        run_again_from_the_start(&mut decision, now);
        decide_into(&mut decision, now, ids)?;
        return Ok(decision);
    };
    let Some(from) = decision
        .workflow
        .tasks
        .iter()
        .find(|task| &task.task_id == task_id)
        .cloned()
    else {
        return Err(EngineError::InvalidArgument(format!(
            "Task {task_id} not found"
        )));
    };
    let mut workflow_task = from
        .workflow_task
        .clone()
        .ok_or_else(|| EngineError::Conflict(format!("Task {task_id} has no definition")))?;
    let definition = decision
        .workflow
        .workflow_definition
        .clone()
        .ok_or_else(|| EngineError::MissingDefinition(decision.workflow.workflow_id.clone()))?;
    let base = base_reference(&from.reference_task_name);
    if from.iteration > 0
        || loop_around(&definition, base).is_some()
        || in_fork_branch(&definition, base)
    {
        return Err(EngineError::Conflict(format!(
            "Task {task_id} ({}) is inside a fork branch or a loop body; rerun from the fork or the loop instead",
            from.reference_task_name
        )));
    }
    let later: Vec<String> = decision
        .workflow
        .tasks
        .iter()
        .filter(|task| task.seq >= from.seq)
        .map(|task| task.task_id.clone())
        .collect();
    decision
        .workflow
        .tasks
        .retain(|task| !later.contains(&task.task_id));
    decision.removed_tasks.extend(later);
    reopen(&mut decision.workflow, now);
    if let Some(input) = &request.task_input {
        // The new input replaces the definition's parameters for this run of the task.
        workflow_task.input_parameters = input.clone();
    }
    schedule_task(&mut decision, Schedule::first(&workflow_task), now, ids);
    decide_into(&mut decision, now, ids)?;
    Ok(decision)
}

/// The workflow, if it has ended; else Conductor's conflict for `action`.
fn ended(workflow: Workflow, action: &str) -> Result<Workflow, EngineError> {
    if workflow.status.is_terminal() {
        return Ok(workflow);
    }
    Err(EngineError::Conflict(format!(
        "Workflow: {} is not in terminal state, unable to {action}.",
        workflow.workflow_id
    )))
}

/// Deletes every task and reopens the workflow, so the next decision starts it afresh.
fn run_again_from_the_start(decision: &mut Decision, now: i64) {
    let all: Vec<String> = decision
        .workflow
        .tasks
        .drain(..)
        .map(|task| task.task_id)
        .collect();
    decision.removed_tasks.extend(all);
    reopen(&mut decision.workflow, now);
    decision.workflow.variables = decision
        .workflow
        .workflow_definition
        .as_ref()
        .map(|definition| definition.variables.clone())
        .unwrap_or_default();
}

/// An ended workflow back to RUNNING, with what its end recorded cleared.
fn reopen(workflow: &mut Workflow, now: i64) {
    workflow.status = WorkflowStatus::Running;
    workflow.reason_for_incompletion = None;
    workflow.end_time = 0;
    workflow.output.clear();
    workflow.failed_reference_task_names.clear();
    workflow.failed_task_names.clear();
    workflow.update_time = now;
}

/// Whether `reference` is inside a FORK_JOIN branch of the definition.
fn in_fork_branch(definition: &WorkflowDef, reference: &str) -> bool {
    definition.all_tasks().into_iter().any(|task| {
        task.r#type == baton_model::task_type::FORK_JOIN
            && task
                .fork_tasks
                .iter()
                .flatten()
                .any(|inner| inner.has(reference))
    }) || definition.task_by_ref_name(reference).is_none()
}

/// Records the task `reference` of the definition as SKIPPED, with the given input and output,
/// before the flow reaches it (`PUT /api/workflow/{id}/skiptask/{ref}`). When the flow gets
/// there, it passes the task by as if it had completed. Only a running workflow, a reference
/// of its definition, and a task not yet scheduled can be skipped.
pub fn skip_task(
    workflow: Workflow,
    reference: &str,
    input: JsonMap,
    output: JsonMap,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(workflow);
    let workflow = &decision.workflow;
    if workflow.status != WorkflowStatus::Running {
        return Err(EngineError::Conflict(format!(
            "The workflow {} is not running so the task referenced by {reference} cannot be skipped",
            workflow.workflow_id
        )));
    }
    let Some(workflow_task) = workflow
        .workflow_definition
        .as_ref()
        .and_then(|def| def.task_by_ref_name(reference))
        .cloned()
    else {
        return Err(EngineError::Conflict(format!(
            "The task referenced by {reference} does not exist in the WorkflowDefinition {}",
            workflow.workflow_name().unwrap_or_default()
        )));
    };
    if workflow
        .tasks
        .iter()
        .any(|task| task.reference_task_name == reference)
    {
        return Err(EngineError::Conflict(format!(
            "The task referenced {reference} has already been processed, cannot be skipped"
        )));
    }
    let skipped = baton_model::Task {
        task_id: ids.next_id(),
        task_type: workflow_task.name.clone(),
        task_def_name: workflow_task.name.clone(),
        reference_task_name: reference.to_owned(),
        status: TaskStatus::Skipped,
        input_data: input,
        output_data: output,
        // Not reached yet: `schedule_task` lets the flow pass it when it gets here.
        scheduled_time: 0,
        executed: true,
        end_time: now,
        update_time: now,
        seq: workflow.tasks.iter().map(|t| t.seq).max().unwrap_or(0) + 1,
        workflow_instance_id: workflow.workflow_id.clone(),
        workflow_type: workflow.workflow_name().map(str::to_owned),
        correlation_id: workflow.correlation_id.clone(),
        workflow_priority: workflow.priority,
        workflow_task: Some(Box::new(workflow_task)),
        ..baton_model::Task::default()
    };
    let task_id = skipped.task_id.clone();
    decision.workflow.tasks.push(skipped);
    decision.touch(&task_id);
    decision.workflow.update_time = now;
    decide_into(&mut decision, now, ids)?;
    Ok(decision)
}
