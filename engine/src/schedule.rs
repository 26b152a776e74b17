//! Turning a definition's task into a scheduled task: input resolved, and either queued for a
//! worker or, for the system tasks that run inside the decision, carried out at once.

use baton_model::{task_type, JsonMap, Task, TaskDef, TaskStatus, Workflow, WorkflowTask};
use serde_json::{json, Value};

use crate::expression::resolve_map;
use crate::graph::following_sibling;
use crate::roots::WorkflowRoots;
use crate::script::{self, ScriptLimits};
use crate::sub_workflow::{start_child, start_detached};
use crate::wait::{wait_for, WaitFor};
use crate::{lease_ms, queue_name, Decision, EventMessage, IdSource, QueueOp};

/// The definition that governs a task: the one embedded at start, else Conductor's defaults.
pub fn task_def_of(workflow_task: &WorkflowTask) -> TaskDef {
    workflow_task
        .task_definition
        .clone()
        .unwrap_or_else(|| TaskDef {
            name: workflow_task.name.clone(),
            ..TaskDef::default()
        })
}

/// What `schedule_task` is asked to schedule.
pub struct Schedule<'a> {
    pub workflow_task: &'a WorkflowTask,
    /// The failed task this one retries, if it is a retry.
    pub retry_of: Option<&'a Task>,
    /// Extra delay before a worker may poll it (retry backoff).
    pub delay_seconds: i64,
    /// The DO_WHILE iteration this task belongs to (0 outside loops); its reference name
    /// gets the suffix `__<iteration>`.
    pub iteration: i32,
}

impl<'a> Schedule<'a> {
    pub fn first(workflow_task: &'a WorkflowTask) -> Self {
        Schedule {
            workflow_task,
            retry_of: None,
            delay_seconds: 0,
            iteration: 0,
        }
    }

    pub fn in_iteration(workflow_task: &'a WorkflowTask, iteration: i32) -> Self {
        Schedule {
            iteration,
            ..Schedule::first(workflow_task)
        }
    }
}

/// Adds the task for `request.workflow_task` to the workflow: queued for a worker, or carried
/// out now for system tasks. A reference that already has a task is not scheduled again
/// (a JOIN reached from each of its branches), unless this is a retry.
pub fn schedule_task(
    decision: &mut Decision,
    request: Schedule<'_>,
    now: i64,
    ids: &mut dyn IdSource,
) {
    let workflow_task = request.workflow_task;
    let reference = reference_in_iteration(&workflow_task.task_reference_name, request.iteration);
    let already_scheduled = decision
        .workflow
        .tasks
        .iter()
        .any(|task| task.reference_task_name == reference);
    if already_scheduled && request.retry_of.is_none() {
        // A task skipped ahead of time (`skip_task`) is reached now: it counts as finished
        // here, so the decider moves the flow past it.
        if let Some(skipped) = decision.workflow.tasks.iter_mut().find(|task| {
            task.reference_task_name == reference
                && task.status == TaskStatus::Skipped
                && task.scheduled_time == 0
        }) {
            skipped.scheduled_time = now;
            skipped.executed = false;
            let task_id = skipped.task_id.clone();
            decision.touch(&task_id);
        }
        return;
    }
    let mut task = new_task(&decision.workflow, &request, now, ids);
    match workflow_task.r#type.as_str() {
        task_type::SWITCH | task_type::DECISION => {
            let case = match selected_case(workflow_task, &task.input_data) {
                Ok(case) => case,
                Err(reason) => {
                    fail_task(&mut task, now, reason);
                    add(decision, task);
                    return;
                }
            };
            let branch = branch_for(workflow_task, &case);
            // Conductor's mappers: DECISION reports `caseOutput`, SWITCH `evaluationResult` and
            // `selectedCase`; both record the case as input `case`.
            let output = if workflow_task.r#type == task_type::DECISION {
                json!({"caseOutput": [case]})
            } else {
                json!({"evaluationResult": [case], "selectedCase": case})
            };
            task.input_data.insert("case".into(), json!(case));
            complete(&mut task, now, output);
            // With tasks in the branch, the flow goes through them and on from the branch's
            // end; an empty branch continues straight after the switch.
            task.executed = !branch.is_empty();
            add(decision, task);
            if let Some(first) = branch.first() {
                schedule_task(
                    decision,
                    Schedule::in_iteration(first, request.iteration),
                    now,
                    ids,
                );
            }
        }
        task_type::FORK_JOIN => {
            task.task_type = "FORK".into();
            complete(&mut task, now, json!({}));
            task.executed = true;
            add(decision, task);
            for branch in &workflow_task.fork_tasks {
                if let Some(first) = branch.first() {
                    schedule_task(
                        decision,
                        Schedule::in_iteration(first, request.iteration),
                        now,
                        ids,
                    );
                }
            }
            schedule_join(decision, workflow_task, request.iteration, now, ids);
        }
        task_type::FORK_JOIN_DYNAMIC => {
            task.task_type = "FORK".into();
            let branches = match dynamic_branches(
                workflow_task,
                &task.reference_task_name,
                &task.input_data,
            ) {
                Ok(branches) => branches,
                Err(reason) => {
                    fail_task(&mut task, now, reason);
                    add(decision, task);
                    return;
                }
            };
            complete(&mut task, now, json!({}));
            task.executed = true;
            add(decision, task);
            let refs: Vec<String> = branches
                .iter()
                .map(|b| reference_in_iteration(&b.task_reference_name, request.iteration))
                .collect();
            for branch in &branches {
                schedule_task(
                    decision,
                    Schedule::in_iteration(branch, request.iteration),
                    now,
                    ids,
                );
            }
            if let Some(join_ref) =
                schedule_join(decision, workflow_task, request.iteration, now, ids)
            {
                if let Some(join_task) = decision
                    .workflow
                    .tasks
                    .iter_mut()
                    .rev()
                    .find(|t| t.reference_task_name == join_ref)
                {
                    join_task.input_data.insert("joinOn".into(), json!(refs));
                }
            }
        }
        task_type::DO_WHILE => {
            task.status = TaskStatus::InProgress;
            task.start_time = now;
            let items = match loop_items(workflow_task, &decision.workflow, &task) {
                Ok(items) => items,
                Err(reason) => {
                    fail_task(&mut task, now, reason);
                    add(decision, task);
                    return;
                }
            };
            if items.as_ref().is_some_and(Vec::is_empty) {
                // Nothing to iterate over: done without running the body.
                complete(&mut task, now, json!({"iteration": 0}));
                add(decision, task);
                return;
            }
            task.iteration = 1;
            task.output_data.insert("iteration".into(), json!(1));
            if let Some(items) = items {
                task.output_data.insert("loopIndex".into(), json!(0));
                task.output_data.insert("loopItem".into(), items[0].clone());
                task.input_data.insert("items".into(), Value::Array(items));
            }
            add(decision, task);
            if let Some(first) = workflow_task.loop_over.first() {
                schedule_task(decision, Schedule::in_iteration(first, 1), now, ids);
            }
        }
        task_type::JOIN => {
            task.status = TaskStatus::InProgress;
            task.start_time = now;
            let join_on: Vec<String> = workflow_task
                .join_on
                .iter()
                .map(|reference| reference_in_iteration(reference, request.iteration))
                .collect();
            task.input_data.insert("joinOn".into(), json!(join_on));
            add(decision, task);
        }
        task_type::EXCLUSIVE_JOIN => {
            // Completes (in `complete_ready_joins`) with the output of whichever joined task ran.
            task.status = TaskStatus::InProgress;
            task.start_time = now;
            let in_iteration = |refs: &[String]| -> Vec<String> {
                refs.iter()
                    .map(|reference| reference_in_iteration(reference, request.iteration))
                    .collect()
            };
            task.input_data
                .insert("joinOn".into(), json!(in_iteration(&workflow_task.join_on)));
            task.input_data.insert(
                "defaultExclusiveJoinTask".into(),
                json!(in_iteration(&workflow_task.default_exclusive_join_task)),
            );
            add(decision, task);
        }
        task_type::SET_VARIABLE => {
            for (key, value) in &task.input_data {
                decision
                    .workflow
                    .variables
                    .insert(key.clone(), value.clone());
            }
            complete(&mut task, now, json!({}));
            add(decision, task);
        }
        task_type::TERMINATE => {
            let output = task
                .input_data
                .get("workflowOutput")
                .cloned()
                .unwrap_or(json!({}));
            complete(&mut task, now, json!({"output": output}));
            add(decision, task);
        }
        task_type::WAIT => {
            task.status = TaskStatus::InProgress;
            task.start_time = now;
            match wait_for(&task.input_data, now) {
                // Waits for a signal or an external update; no worker polls it.
                Ok(WaitFor::Signal) => add(decision, task),
                // Sits in the WAIT queue until the deadline; the server completes it then.
                Ok(WaitFor::Deadline(deadline)) => {
                    task.callback_after_seconds = (deadline - now).max(0) / 1000;
                    decision.queue.push(QueueOp::Push {
                        queue_name: crate::WAIT_QUEUE.into(),
                        task_id: task.task_id.clone(),
                        priority: decision.workflow.priority,
                        visible_at: deadline,
                        lease_ms: lease_ms(&task),
                    });
                    add(decision, task);
                }
                Err(reason) => {
                    fail_task(&mut task, now, reason);
                    task.status = TaskStatus::FailedWithTerminalError;
                    add(decision, task);
                }
            }
        }
        task_type::HUMAN => {
            // Waits for an external update; no worker polls it.
            task.status = TaskStatus::InProgress;
            task.start_time = now;
            add(decision, task);
        }
        task_type::EVENT => {
            // As Conductor's mapper does, the definition's sink and asyncComplete become input.
            let sink = workflow_task.sink.clone().unwrap_or_default();
            let sink = resolve_map(
                &JsonMap::from_iter([("sink".to_owned(), json!(sink))]),
                &WorkflowRoots {
                    workflow: &decision.workflow,
                    new_task_id: Some(&task.task_id),
                },
            );
            task.input_data.extend(sink);
            task.input_data
                .insert("asyncComplete".into(), json!(workflow_task.async_complete));
            match publish_event(&decision.workflow, &task) {
                Ok(message) => {
                    let mut output = message.payload.clone();
                    output.insert("event_produced".into(), json!(message.queue_name));
                    complete(&mut task, now, Value::Object(output));
                    if workflow_task.async_complete {
                        // Published; the task waits for an external update to finish it.
                        task.status = TaskStatus::InProgress;
                        task.end_time = 0;
                    }
                    decision.messages.push(message);
                }
                Err(reason) => fail_task(&mut task, now, reason),
            }
            add(decision, task);
        }
        task_type::INLINE => {
            let evaluator = task
                .input_data
                .get("evaluatorType")
                .and_then(Value::as_str)
                .unwrap_or("javascript");
            let expression = task
                .input_data
                .get("expression")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match evaluate(evaluator, expression, &task.input_data) {
                Ok(result) => complete(&mut task, now, json!({"result": result})),
                Err(reason) => {
                    fail_task(&mut task, now, reason.clone());
                    task.output_data
                        .insert("error".into(), Value::String(reason));
                }
            }
            add(decision, task);
        }
        task_type::NOOP => {
            complete(&mut task, now, json!({}));
            add(decision, task);
        }
        task_type::SUB_WORKFLOW | task_type::START_WORKFLOW => {
            let started = if workflow_task.r#type == task_type::SUB_WORKFLOW {
                start_child(&decision.workflow, &mut task, now, ids)
            } else {
                start_detached(&decision.workflow, &mut task, now, ids)
            };
            match started {
                Ok(child) => decision.children.push(child),
                Err(reason) => fail_task(&mut task, now, reason),
            }
            add(decision, task);
        }
        task_type::DYNAMIC => {
            let param = workflow_task
                .dynamic_task_name_param
                .as_deref()
                .unwrap_or_default();
            match task
                .input_data
                .get(param)
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
            {
                Some(name) => {
                    // A worker task named by the input: it runs as that task type.
                    let name = name.to_owned();
                    let mut resolved = workflow_task.clone();
                    resolved.name = name.clone();
                    resolved.r#type = task_type::SIMPLE.into();
                    task.task_type = name.clone();
                    task.task_def_name = name;
                    task.domain = domain_for(&decision.workflow, &task.task_type);
                    task.workflow_task = Some(Box::new(resolved));
                    queue_for_worker(decision, task, &request, now);
                }
                None => {
                    let reason = format!(
                        "Cannot map a dynamic task based on the parameter and input. Parameter= {param}, input= {}",
                        Value::Object(task.input_data.clone())
                    );
                    fail_task(&mut task, now, reason);
                    add(decision, task);
                }
            }
        }
        _ => queue_for_worker(decision, task, &request, now),
    }
}

/// The task as scheduled, before any type-specific handling.
fn new_task(workflow: &Workflow, request: &Schedule<'_>, now: i64, ids: &mut dyn IdSource) -> Task {
    let workflow_task = request.workflow_task;
    let task_id = ids.next_id();
    let task_def = task_def_of(workflow_task);
    let mut input = task_def.input_template.clone();
    input.extend(resolve_map(
        &workflow_task.input_parameters,
        &WorkflowRoots {
            workflow,
            new_task_id: Some(&task_id),
        },
    ));
    let is_worker_task =
        workflow_task.r#type == task_type::SIMPLE || workflow_task.r#type.is_empty();
    let task_type = if is_worker_task {
        workflow_task.name.clone()
    } else {
        workflow_task.r#type.clone()
    };
    let domain = if is_worker_task {
        domain_for(workflow, &task_type)
    } else {
        None
    };
    Task {
        task_id,
        task_type,
        status: TaskStatus::Scheduled,
        input_data: input,
        reference_task_name: reference_in_iteration(
            &workflow_task.task_reference_name,
            request.iteration,
        ),
        iteration: request.iteration,
        retry_count: request
            .retry_of
            .map_or(0, |previous| previous.retry_count + 1),
        retried_task_id: request.retry_of.map(|previous| previous.task_id.clone()),
        seq: next_seq(workflow),
        correlation_id: workflow.correlation_id.clone(),
        task_def_name: workflow_task.name.clone(),
        scheduled_time: now,
        update_time: now,
        start_delay_in_seconds: workflow_task.start_delay,
        response_timeout_seconds: task_def.response_timeout_seconds,
        workflow_instance_id: workflow.workflow_id.clone(),
        workflow_type: workflow.workflow_name().map(str::to_owned),
        workflow_task: Some(Box::new(workflow_task.clone())),
        domain,
        rate_limit_per_frequency: task_def.rate_limit_per_frequency,
        rate_limit_frequency_in_seconds: task_def.rate_limit_frequency_in_seconds,
        workflow_priority: workflow.priority,
        isolation_group_id: task_def.isolation_group_id.clone(),
        execution_name_space: task_def.execution_name_space.clone(),
        ..Task::default()
    }
}

/// Schedules the JOIN that follows a fork (in the same iteration). Returns its reference.
fn schedule_join(
    decision: &mut Decision,
    fork: &WorkflowTask,
    iteration: i32,
    now: i64,
    ids: &mut dyn IdSource,
) -> Option<String> {
    let definition = decision.workflow.workflow_definition.clone()?;
    let join = following_sibling(&definition, &fork.task_reference_name)?;
    schedule_task(decision, Schedule::in_iteration(join, iteration), now, ids);
    Some(reference_in_iteration(&join.task_reference_name, iteration))
}

fn queue_for_worker(decision: &mut Decision, task: Task, request: &Schedule<'_>, now: i64) {
    let start_delay = i64::from(request.workflow_task.start_delay);
    let visible_at = now + request.delay_seconds.max(start_delay).max(0) * 1000;
    decision.queue.push(QueueOp::Push {
        queue_name: queue_name(&task.task_type, task.domain.as_deref()),
        task_id: task.task_id.clone(),
        priority: decision.workflow.priority,
        visible_at,
        lease_ms: lease_ms(&task),
    });
    add(decision, task);
}

fn add(decision: &mut Decision, task: Task) {
    let task_id = task.task_id.clone();
    decision.workflow.tasks.push(task);
    decision.touch(&task_id);
}

/// Marks a system task done at `now` with `output`.
fn complete(task: &mut Task, now: i64, output: Value) {
    task.status = TaskStatus::Completed;
    task.start_time = now;
    task.end_time = now;
    if let Value::Object(output) = output {
        task.output_data = output;
    }
}

/// Marks a system task failed at `now`.
pub fn fail_task(task: &mut Task, now: i64, reason: String) {
    task.status = TaskStatus::Failed;
    task.start_time = now;
    task.end_time = now;
    task.reason_for_incompletion = Some(reason);
}

/// Evaluates an expression as Conductor's evaluators do: `value-param` names an input
/// parameter; `javascript` (and `graaljs`) runs a script with `$` bound to the input.
fn evaluate(evaluator: &str, expression: &str, input: &JsonMap) -> Result<Value, String> {
    match evaluator {
        "value-param" => Ok(input.get(expression).cloned().unwrap_or(Value::Null)),
        "javascript" | "graaljs" => script::evaluate(expression, input, ScriptLimits::default()),
        other => Err(format!("unknown evaluatorType: {other}")),
    }
}

/// The case a SWITCH or DECISION selects, as text (Conductor compares case names as strings).
fn selected_case(workflow_task: &WorkflowTask, input: &JsonMap) -> Result<String, String> {
    let value = match workflow_task.r#type.as_str() {
        task_type::DECISION => match (
            &workflow_task.case_value_param,
            &workflow_task.case_expression,
        ) {
            (Some(param), _) if !param.is_empty() => evaluate("value-param", param, input)?,
            (_, Some(script)) => evaluate("javascript", script, input)?,
            _ => Value::Null,
        },
        _ => {
            let evaluator = workflow_task
                .evaluator_type
                .as_deref()
                .unwrap_or("value-param");
            evaluate(
                evaluator,
                workflow_task.expression.as_deref().unwrap_or_default(),
                input,
            )?
        }
    };
    Ok(match value {
        Value::String(text) => text,
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    })
}

fn branch_for<'d>(workflow_task: &'d WorkflowTask, case: &str) -> &'d [WorkflowTask] {
    workflow_task
        .decision_cases
        .get(case)
        .map_or(workflow_task.default_case.as_slice(), Vec::as_slice)
}

/// The tasks a FORK_JOIN_DYNAMIC fans out to, each with its input as literal parameters.
/// Either `forkTaskName`/`forkTaskType` + `forkTaskInputs` (one task per input, references
/// `_<name>_<i>`, each input gets `__index`), or a list of WorkflowTasks under
/// `dynamicForkTasksParam` with their inputs by reference under
/// `dynamicForkTasksInputParamName`.
fn dynamic_branches(
    fork: &WorkflowTask,
    fork_ref: &str,
    input: &JsonMap,
) -> Result<Vec<WorkflowTask>, String> {
    if let Some(items) = input.get("forkTaskInputs") {
        let items = items.as_array().ok_or("forkTaskInputs must be a list")?;
        let sub_workflow = input
            .get("forkTaskWorkflow")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty());
        let kind = input
            .get("forkTaskType")
            .and_then(Value::as_str)
            .unwrap_or(task_type::SIMPLE);
        let name = input
            .get("forkTaskName")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if kind == task_type::SIMPLE {
                    fork_ref.to_owned()
                } else {
                    kind.to_owned()
                }
            });
        return Ok(items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                // A map is the branch's input; anything else is under `input`, as in Conductor.
                let mut parameters = match item {
                    Value::Object(map) => map.clone(),
                    other => JsonMap::from_iter([("input".to_owned(), other.clone())]),
                };
                parameters.insert("__index".into(), json!(index));
                let mut branch = WorkflowTask {
                    name: name.clone(),
                    task_reference_name: format!("_{name}_{index}"),
                    r#type: kind.to_owned(),
                    input_parameters: parameters,
                    optional: fork.optional,
                    ..WorkflowTask::default()
                };
                if let Some(workflow_name) = sub_workflow {
                    // Each branch runs the named workflow (embedded at start) as a sub-workflow.
                    branch.name = workflow_name.to_owned();
                    branch.r#type = task_type::SUB_WORKFLOW.into();
                    let mut params = fork.sub_workflow_param.clone().unwrap_or_default();
                    params.name = Some(workflow_name.to_owned());
                    if let Some(Value::Object(domains)) = item.get("taskToDomain") {
                        params.task_to_domain = Some(
                            domains
                                .iter()
                                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                                .collect(),
                        );
                    }
                    branch.sub_workflow_param = Some(params);
                }
                branch
            })
            .collect());
    }
    let tasks_param = fork.dynamic_fork_tasks_param.as_deref().unwrap_or_default();
    let tasks = input
        .get(tasks_param)
        .cloned()
        .ok_or_else(|| format!("Input to the dynamically forked tasks is not a map -> expecting a list at {tasks_param}"))?;
    let mut branches: Vec<WorkflowTask> = serde_json::from_value(tasks)
        .map_err(|e| format!("{tasks_param} is not a list of workflow tasks: {e}"))?;
    let inputs_param = fork
        .dynamic_fork_tasks_input_param_name
        .as_deref()
        .unwrap_or_default();
    let inputs = match input.get(inputs_param) {
        Some(Value::Object(inputs)) => inputs.clone(),
        None | Some(Value::Null) => JsonMap::new(),
        Some(other) => return Err(format!("Input to the dynamically forked tasks is not a map -> expecting a map of K,V  but found {other}")),
    };
    for branch in &mut branches {
        if let Some(Value::Object(branch_input)) = inputs.get(&branch.task_reference_name) {
            branch.input_parameters = branch_input.clone();
        }
    }
    Ok(branches)
}

/// The message an EVENT task publishes, as Conductor builds it: the task's input plus the
/// workflow's identity, to the queue its `sink` names. Only `conductor` sinks (the server's
/// own event queues) are published here; other sinks need an event queue provider.
fn publish_event(workflow: &Workflow, task: &Task) -> Result<EventMessage, String> {
    let sink = task
        .input_data
        .get("sink")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let workflow_name = workflow.workflow_name().unwrap_or_default();
    let queue_name = match sink.strip_prefix("conductor") {
        Some("") => format!("conductor:{workflow_name}:{}", task.reference_task_name),
        Some(rest) if rest.starts_with(':') && rest.len() > 1 => {
            format!("conductor:{workflow_name}:{}", &rest[1..])
        }
        _ if sink.is_empty() => return Err("EVENT task needs a sink (e.g. \"conductor\")".into()),
        _ => {
            return Err(format!(
                "Invalid / Unsupported sink specified: {sink} (this version of Baton publishes to conductor sinks only)"
            ))
        }
    };
    let mut payload = task.input_data.clone();
    payload.insert("workflowInstanceId".into(), json!(workflow.workflow_id));
    payload.insert("workflowType".into(), json!(workflow_name));
    payload.insert("workflowVersion".into(), json!(workflow.workflow_version()));
    payload.insert("correlationId".into(), json!(workflow.correlation_id));
    payload.insert("taskToDomain".into(), json!(workflow.task_to_domain));
    Ok(EventMessage {
        queue_name,
        message_id: task.task_id.clone(),
        payload,
    })
}

/// The list a DO_WHILE iterates over, if it iterates over one: its `items` expression, or
/// `_items` in its input (Orkes's form), evaluated when the loop starts.
fn loop_items(
    workflow_task: &WorkflowTask,
    workflow: &Workflow,
    task: &Task,
) -> Result<Option<Vec<Value>>, String> {
    let value = match workflow_task
        .items
        .as_deref()
        .filter(|i| !i.trim().is_empty())
    {
        Some(items) => resolve_map(
            &JsonMap::from_iter([("items".to_owned(), json!(items))]),
            &WorkflowRoots {
                workflow,
                new_task_id: Some(&task.task_id),
            },
        )
        .remove("items")
        .unwrap_or(Value::Null),
        None => match task.input_data.get("_items") {
            Some(items) => items.clone(),
            None => return Ok(None),
        },
    };
    match value {
        Value::Array(items) => Ok(Some(items)),
        Value::Null => Ok(Some(Vec::new())),
        other => Err(format!(
            "DO_WHILE items must be a list, but evaluated to {other}"
        )),
    }
}

/// A loop body task's reference in an iteration: `step__3`.
pub fn reference_in_iteration(reference: &str, iteration: i32) -> String {
    if iteration > 0 {
        format!("{reference}__{iteration}")
    } else {
        reference.to_owned()
    }
}

fn next_seq(workflow: &Workflow) -> i32 {
    workflow
        .tasks
        .iter()
        .map(|task| task.seq)
        .max()
        .unwrap_or(0)
        + 1
}

/// The domain a task type is routed to: its own entry in `taskToDomain`, else `"*"`.
fn domain_for(workflow: &Workflow, task_type: &str) -> Option<String> {
    workflow
        .task_to_domain
        .get(task_type)
        .or_else(|| workflow.task_to_domain.get("*"))
        .filter(|domain| !domain.is_empty())
        .cloned()
}
