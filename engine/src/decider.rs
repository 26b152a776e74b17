//! The decider: given a workflow's state, schedule what comes next and settle its status.
//!
//! A task that reached a terminal status and is not yet `executed` is an unprocessed
//! event. Each decision processes those in sequence order: a success schedules the next
//! task, a failure retries or fails the workflow. When nothing is left running and nothing
//! was scheduled, the workflow is complete.

use baton_model::{
    task_type, JsonMap, RetryLogic, StartWorkflowRequest, Task, TaskStatus, Workflow, WorkflowDef,
    WorkflowStatus, WorkflowTask,
};

use std::collections::HashMap;

use serde_json::Value;

use crate::decision::ParentUpdate;
use crate::expression::resolve_map;
use crate::failure_workflow::{end_in_failure, Failure};
use crate::graph::{base_reference, loop_around, next_task};
use crate::roots::WorkflowRoots;
use crate::schedule::{fail_task, schedule_task, task_def_of, Schedule};
use crate::script::{self, ScriptLimits};
use crate::timeouts::total_timeout_spent;
use crate::validate::is_system_task;
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
        workflow_definition: Some(std::sync::Arc::new(definition)),
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
            schedule_task(decision, Schedule::first(first), now, ids);
        }
    }
    // System tasks finish inside the decision and JOINs complete when their branches do, so
    // keep going until a pass changes nothing.
    // (A loop's last iteration also completes its DO_WHILE behind the scan.)
    loop {
        process_finished_tasks(decision, &definition, now, ids);
        let joined = complete_ready_joins(decision, now);
        let unprocessed = decision
            .workflow
            .tasks
            .iter()
            .any(|t| t.status.is_terminal() && !t.executed);
        if decision.workflow.status != WorkflowStatus::Running || !(joined || unprocessed) {
            break;
        }
    }
    if decision.workflow.status == WorkflowStatus::Running
        && decision
            .workflow
            .tasks
            .iter()
            .all(|task| task.status.is_terminal())
    {
        match permissive_failures(&decision.workflow) {
            Some(reason) => {
                let failure = Failure {
                    status: WorkflowStatus::Failed,
                    reason: Some(reason),
                    failed_task_id: None,
                    output: None,
                };
                end_in_failure(decision, failure, now, ids);
            }
            None => finish_workflow(decision, WorkflowStatus::Completed, None, now),
        }
    }
    if !decision.removed_tasks.is_empty() {
        // Forgotten loop iterations (keepLastN) leave the workflow at the end of the decision,
        // so positions stay stable while it runs.
        let removed = &decision.removed_tasks;
        decision
            .workflow
            .tasks
            .retain(|task| !removed.contains(&task.task_id));
        decision.changed_tasks.retain(|id| !removed.contains(id));
    }
    if !decision.is_noop() {
        decision.workflow.update_time = now;
    }
    Ok(())
}

/// Handles each terminal task not yet `executed`, in sequence order: schedules what follows
/// a success (tasks scheduled on the way are handled in the same pass), retries or fails
/// after a failure.
fn process_finished_tasks(
    decision: &mut Decision,
    definition: &WorkflowDef,
    now: i64,
    ids: &mut dyn IdSource,
) {
    let mut position = 0;
    while position < decision.workflow.tasks.len() {
        let current = &decision.workflow.tasks[position];
        position += 1;
        if !current.status.is_terminal() || current.executed {
            continue;
        }
        decision.workflow.tasks[position - 1].executed = true;
        let task = decision.workflow.tasks[position - 1].clone();
        decision.touch(&task.task_id);
        if task.status.is_successful() {
            if task.task_type == task_type::TERMINATE {
                terminate_workflow(decision, &task, now, ids);
                return;
            }
            schedule_next(decision, definition, &task, now, ids);
            continue;
        }
        let workflow_task = task.workflow_task.clone().unwrap_or_default();
        // Once totalTimeoutSeconds has passed, no attempt follows.
        let total_timeout = total_timeout_spent(&decision.workflow.tasks, &task, now);
        if let Some(delay_seconds) =
            retry_delay(&task, &workflow_task).filter(|_| total_timeout.is_none())
        {
            decision.workflow.tasks[position - 1].retried = true;
            let retry = Schedule {
                workflow_task: &workflow_task,
                retry_of: Some(&task),
                delay_seconds,
                iteration: task.iteration,
            };
            schedule_task(decision, retry, now, ids);
            continue;
        }
        if workflow_task.optional {
            decision.workflow.tasks[position - 1].status = TaskStatus::CompletedWithErrors;
            schedule_next(decision, definition, &task, now, ids);
            continue;
        }
        if workflow_task.permissive {
            // The flow goes on; the failure fails the JOIN that waits for it, or the
            // workflow when it would otherwise complete.
            schedule_next(decision, definition, &task, now, ids);
            continue;
        }
        fail_workflow(decision, &task, total_timeout, now, ids);
        return;
    }
}

/// The references a join task lists under `key` in its input.
fn joined_references(join: &Task, key: &str) -> Vec<String> {
    join.input_data
        .get(key)
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// What an EXCLUSIVE_JOIN settles to, once the task it joins on has finished: the first of
/// its `joinOn` tasks that ran (else of its `defaultExclusiveJoinTask`), as in Conductor.
/// `None` while that task still runs. When none of them ran (an empty case), it completes
/// with no output rather than waiting for ever.
fn exclusive_join_outcome(
    workflow: &Workflow,
    join: &Task,
) -> Option<(TaskStatus, JsonMap, Option<String>)> {
    let ran = |key: &str| {
        joined_references(join, key)
            .iter()
            .find_map(|reference| workflow.task_by_ref_name(reference))
            .filter(|task| task.status != TaskStatus::Skipped)
            .cloned()
    };
    let Some(source) = ran("joinOn").or_else(|| ran("defaultExclusiveJoinTask")) else {
        return Some((TaskStatus::Completed, JsonMap::new(), None));
    };
    if !source.status.is_terminal() {
        return None;
    }
    Some(if source.status.is_successful() {
        (TaskStatus::Completed, source.output_data, None)
    } else {
        (
            TaskStatus::Failed,
            JsonMap::new(),
            source.reason_for_incompletion,
        )
    })
}

/// Conductor's reason for failing a workflow that would complete but for the failed latest
/// attempts of its `permissive` tasks; `None` when there are none.
fn permissive_failures(workflow: &Workflow) -> Option<String> {
    let mut latest: HashMap<&str, &Task> = HashMap::new();
    for task in &workflow.tasks {
        latest.insert(task.reference_task_name.as_str(), task);
    }
    let mut failed: Vec<&Task> = workflow
        .tasks
        .iter()
        .filter(|task| {
            let permissive = task
                .workflow_task
                .as_deref()
                .is_some_and(|t| t.permissive && !t.optional);
            permissive
                && std::ptr::eq(latest[task.reference_task_name.as_str()], *task)
                && !task.status.is_successful()
        })
        .collect();
    failed.sort_by_key(|task| task.seq);
    (!failed.is_empty()).then(|| {
        failed
            .iter()
            .map(|task| {
                format!(
                    "Task {} failed with status: {} and reason: '{}'",
                    task.task_id,
                    task.status,
                    task.reason_for_incompletion.as_deref().unwrap_or("null")
                )
            })
            .collect::<Vec<_>>()
            .join(". ")
    })
}

/// Completes every JOIN whose `joinOn` tasks have all finished, and every EXCLUSIVE_JOIN
/// whose joined task has. Returns whether any did.
fn complete_ready_joins(decision: &mut Decision, now: i64) -> bool {
    let pending_join = decision.workflow.tasks.iter().any(|task| {
        (task.task_type == task_type::JOIN || task.task_type == task_type::EXCLUSIVE_JOIN)
            && !task.status.is_terminal()
    });
    if !pending_join {
        return false;
    }
    let mut completed = Vec::new();
    let mut exclusive = Vec::new();
    let mut failed_joins = Vec::new();
    // The latest task of each reference, so a join of n branches is checked in O(n).
    let latest: HashMap<&str, usize> = decision
        .workflow
        .tasks
        .iter()
        .enumerate()
        .map(|(position, task)| (task.reference_task_name.as_str(), position))
        .collect();
    for (position, join) in decision.workflow.tasks.iter().enumerate() {
        if join.status.is_terminal() {
            continue;
        }
        if join.task_type == task_type::EXCLUSIVE_JOIN {
            if let Some(outcome) = exclusive_join_outcome(&decision.workflow, join) {
                exclusive.push((position, outcome));
            }
            continue;
        }
        if join.task_type != task_type::JOIN {
            continue;
        }
        // The references are on the task: the definition's `joinOn`, or those a dynamic fork made.
        let join_on = joined_references(join, "joinOn");
        let joined: Option<Vec<&Task>> = join_on
            .iter()
            .map(|reference| {
                latest
                    .get(reference.as_str())
                    .map(|&position| &decision.workflow.tasks[position])
                    .filter(|t| t.status.is_terminal())
            })
            .collect();
        let Some(joined) = joined else { continue };
        // Only a permissive task reaches a JOIN unsuccessful: the JOIN fails with its reason.
        let failures: Vec<&str> = joined
            .iter()
            .filter(|t| !t.status.is_successful())
            .map(|t| t.reason_for_incompletion.as_deref().unwrap_or_default())
            .collect();
        if !failures.is_empty() {
            failed_joins.push((position, failures.join(" ")));
            continue;
        }
        let with_errors = joined
            .iter()
            .any(|t| t.status == TaskStatus::CompletedWithErrors);
        let output: JsonMap = joined
            .iter()
            .map(|t| {
                (
                    t.reference_task_name.clone(),
                    Value::Object(t.output_data.clone()),
                )
            })
            .collect();
        completed.push((position, with_errors, output));
    }
    let any = !completed.is_empty() || !exclusive.is_empty() || !failed_joins.is_empty();
    for (position, reason) in failed_joins {
        let join = &mut decision.workflow.tasks[position];
        join.status = TaskStatus::Failed;
        join.reason_for_incompletion = Some(reason);
        join.end_time = now;
        join.update_time = now;
        let task_id = join.task_id.clone();
        decision.touch(&task_id);
    }
    for (position, (status, output, reason)) in exclusive {
        let join = &mut decision.workflow.tasks[position];
        join.status = status;
        join.output_data = output;
        join.reason_for_incompletion = reason;
        join.end_time = now;
        join.update_time = now;
        let task_id = join.task_id.clone();
        decision.touch(&task_id);
    }
    for (position, with_errors, output) in completed {
        let join = &mut decision.workflow.tasks[position];
        join.status = if with_errors {
            TaskStatus::CompletedWithErrors
        } else {
            TaskStatus::Completed
        };
        join.output_data = output;
        join.end_time = now;
        join.update_time = now;
        let task_id = join.task_id.clone();
        decision.touch(&task_id);
    }
    any
}

/// Ends the workflow as a TERMINATE task says: its status, reason and output. FAILED and
/// TERMINATED start the failure workflow.
fn terminate_workflow(decision: &mut Decision, task: &Task, now: i64, ids: &mut dyn IdSource) {
    let status = match task
        .input_data
        .get("terminationStatus")
        .and_then(Value::as_str)
    {
        Some("FAILED") => WorkflowStatus::Failed,
        Some("TERMINATED") => WorkflowStatus::Terminated,
        _ => WorkflowStatus::Completed,
    };
    let reason = task
        .input_data
        .get("terminationReason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let output = match task.input_data.get("workflowOutput") {
        Some(Value::Object(output)) if !output.is_empty() => Some(output.clone()),
        _ => None,
    };
    if status == WorkflowStatus::Completed {
        finish_workflow(decision, status, reason, now);
        if let Some(output) = output {
            decision.workflow.output = output;
        }
        return;
    }
    // The failure workflow's input sees the output the TERMINATE task set.
    let failure = Failure {
        status,
        reason,
        failed_task_id: Some(&task.task_id),
        output,
    };
    end_in_failure(decision, failure, now, ids);
}

fn schedule_next(
    decision: &mut Decision,
    definition: &WorkflowDef,
    task: &Task,
    now: i64,
    ids: &mut dyn IdSource,
) {
    let base = base_reference(&task.reference_task_name);
    let Some(next) = next_task(definition, base) else {
        return;
    };
    if next.r#type == task_type::DO_WHILE && next.loop_over.iter().any(|inner| inner.has(base)) {
        // The end of an iteration: the loop decides whether to go round again.
        next_iteration(decision, next, now, ids);
        return;
    }
    let iteration = if loop_around(definition, &next.task_reference_name).is_some() {
        task.iteration
    } else {
        0
    };
    schedule_task(decision, Schedule::in_iteration(next, iteration), now, ids);
}

/// Records an iteration's outputs on its DO_WHILE task and evaluates `loopCondition`, with `$`
/// holding the loop's input, each body task's output by reference, and the loop's own output:
/// true schedules the next iteration, false completes the loop.
fn next_iteration(
    decision: &mut Decision,
    do_while: &WorkflowTask,
    now: i64,
    ids: &mut dyn IdSource,
) {
    let Some(position) = decision
        .workflow
        .tasks
        .iter()
        .rposition(|t| t.reference_task_name == do_while.task_reference_name)
    else {
        return;
    };
    let iteration = decision.workflow.tasks[position].iteration;
    let iteration_output: JsonMap = decision
        .workflow
        .tasks
        .iter()
        .filter(|t| t.iteration == iteration)
        .filter(|t| {
            do_while
                .loop_over
                .iter()
                .any(|inner| inner.has(base_reference(&t.reference_task_name)))
        })
        .map(|t| {
            (
                base_reference(&t.reference_task_name).to_owned(),
                Value::Object(t.output_data.clone()),
            )
        })
        .collect();
    let loop_task = &mut decision.workflow.tasks[position];
    loop_task.output_data.insert(
        iteration.to_string(),
        Value::Object(iteration_output.clone()),
    );
    loop_task
        .output_data
        .insert("iteration".into(), Value::from(iteration));
    let keep_last = loop_task
        .input_data
        .get("keepLastN")
        .and_then(Value::as_i64)
        .filter(|keep| *keep > 0);
    if let Some(keep_last) = keep_last {
        forget_old_iterations(decision, position, do_while, keep_last);
    }
    let loop_task = &mut decision.workflow.tasks[position];
    let mut condition_input = loop_task.input_data.clone();
    condition_input.extend(iteration_output);
    // In list iteration, the loop goes on while items remain (and the condition, if any, holds).
    let items = loop_task
        .input_data
        .get("items")
        .and_then(Value::as_array)
        .cloned();
    let loop_index = i64::from(iteration) - 1;
    if let Some(items) = &items {
        condition_input.insert("loopIndex".into(), Value::from(loop_index));
        if let Some(item) = items.get(loop_index as usize) {
            condition_input.insert("loopItem".into(), item.clone());
        }
    }
    condition_input.insert(
        do_while.task_reference_name.clone(),
        Value::Object(loop_task.output_data.clone()),
    );
    let default_condition = if items.is_some() { "true" } else { "false" };
    let condition = do_while
        .loop_condition
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or(default_condition);
    let task_id = loop_task.task_id.clone();
    let more_items = items
        .as_ref()
        .is_none_or(|items| (loop_index + 1) < items.len() as i64);
    match script::evaluate(condition, &condition_input, ScriptLimits::default()) {
        Ok(value) if truthy(&value) && more_items => {
            let loop_task = &mut decision.workflow.tasks[position];
            loop_task.iteration = iteration + 1;
            loop_task
                .output_data
                .insert("iteration".into(), Value::from(iteration + 1));
            if let Some(items) = &items {
                let next_index = loop_index + 1;
                loop_task
                    .output_data
                    .insert("loopIndex".into(), Value::from(next_index));
                loop_task
                    .output_data
                    .insert("loopItem".into(), items[next_index as usize].clone());
            }
            loop_task.update_time = now;
            decision.touch(&task_id);
            if let Some(first) = do_while.loop_over.first() {
                schedule_task(
                    decision,
                    Schedule::in_iteration(first, iteration + 1),
                    now,
                    ids,
                );
            }
        }
        Ok(_) => {
            let loop_task = &mut decision.workflow.tasks[position];
            loop_task.status = TaskStatus::Completed;
            loop_task.end_time = now;
            loop_task.update_time = now;
            decision.touch(&task_id);
        }
        Err(reason) => {
            let loop_task = &mut decision.workflow.tasks[position];
            fail_task(
                loop_task,
                now,
                format!("Unable to evaluate condition {condition}, exception {reason}"),
            );
            loop_task.status = TaskStatus::FailedWithTerminalError;
            decision.touch(&task_id);
        }
    }
}

/// `keepLastN`: drops the outputs and the tasks of iterations older than the last
/// `keep_last`, so a long loop does not grow its workflow without bound. The tasks are
/// deleted when the decision commits.
fn forget_old_iterations(
    decision: &mut Decision,
    position: usize,
    do_while: &WorkflowTask,
    keep_last: i64,
) {
    let loop_task = &mut decision.workflow.tasks[position];
    let last_forgotten = i64::from(loop_task.iteration) - keep_last;
    if last_forgotten < 1 {
        return;
    }
    for old in 1..=last_forgotten {
        loop_task.output_data.remove(&old.to_string());
    }
    let loop_ref = loop_task.reference_task_name.clone();
    let forgotten: Vec<String> = decision
        .workflow
        .tasks
        .iter()
        .filter(|t| {
            t.reference_task_name != loop_ref
                && i64::from(t.iteration) <= last_forgotten
                && t.iteration > 0
                && do_while.has(base_reference(&t.reference_task_name))
        })
        .map(|t| t.task_id.clone())
        .collect();
    for task_id in forgotten {
        if !decision.removed_tasks.contains(&task_id) {
            decision.removed_tasks.push(task_id);
        }
    }
}

/// JavaScript truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The delay before the next attempt of a failed task, or `None` when it may not retry.
fn retry_delay(task: &Task, workflow_task: &WorkflowTask) -> Option<i64> {
    if !task.status.is_retriable() {
        return None;
    }
    let task_def = task_def_of(workflow_task);
    // System tasks without a registered definition are not retried (Conductor gives only
    // worker tasks a default definition).
    let default_retries =
        if workflow_task.task_definition.is_none() && is_system_task(&workflow_task.r#type) {
            0
        } else {
            task_def.retry_count
        };
    let allowed = workflow_task.retry_count.unwrap_or(default_retries);
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

/// Fails the workflow because `task` failed for good, and cancels what still runs. As in
/// Conductor, a task that timed out times the workflow out, and a cancelled one terminates it.
/// `total_timeout` is the task's spent `totalTimeoutSeconds` (limit, elapsed), if it is why.
fn fail_workflow(
    decision: &mut Decision,
    task: &Task,
    total_timeout: Option<(i64, i64)>,
    now: i64,
    ids: &mut dyn IdSource,
) {
    let reason = match total_timeout {
        Some((limit, elapsed)) => format!(
            "Task {}/{} exceeded total timeout of {limit} seconds (elapsed {elapsed} seconds across all attempts). No further retries will be attempted.",
            task.task_id, task.task_def_name
        ),
        None => task
            .reason_for_incompletion
            .clone()
            .filter(|reason| !reason.is_empty())
            .unwrap_or_else(|| format!("Task {} failed with status: {}", task.task_id, task.status)),
    };
    decision
        .workflow
        .failed_reference_task_names
        .insert(task.reference_task_name.clone());
    decision
        .workflow
        .failed_task_names
        .insert(task.task_def_name.clone());
    let status = match task.status {
        TaskStatus::TimedOut => WorkflowStatus::TimedOut,
        TaskStatus::Canceled => WorkflowStatus::Terminated,
        _ => WorkflowStatus::Failed,
    };
    let failure = Failure {
        status,
        reason: Some(reason),
        failed_task_id: Some(&task.task_id),
        output: None,
    };
    end_in_failure(decision, failure, now, ids);
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
    decision.parent_update = ParentUpdate::of(&decision.workflow);
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
