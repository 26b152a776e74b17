//! Before a workflow starts, its definition gets everything the engine will need embedded:
//! each task's registered TaskDef (as Conductor does), and the definitions of the workflows
//! its SUB_WORKFLOW and START_WORKFLOW tasks name, recursively. The engine then never looks
//! anything up, and a running workflow keeps the definitions it started with.

use baton_model::{
    task_type, JsonMap, SubWorkflowDefinition, SubWorkflowParams, WorkflowDef, WorkflowTask,
};

use crate::store::{Store, StoreResult};

/// How deep sub-workflows may nest.
pub const MAX_NESTING: usize = 16;

/// Why a definition cannot be prepared.
#[derive(Debug, PartialEq, Eq)]
pub enum EmbedError {
    /// A workflow contains itself, directly or through others.
    Cycle(String),
    TooDeep(String),
}

/// Embeds task definitions, sub-workflow definitions and failure workflow definitions into
/// `definition`. `input` is the workflow's input, which may name its failure workflow
/// (`$workflow.input.<key>`).
pub fn embed_definitions(
    store: &dyn Store,
    definition: WorkflowDef,
    input: Option<&JsonMap>,
) -> StoreResult<Result<WorkflowDef, EmbedError>> {
    embed(store, definition, &mut Vec::new(), input)
}

fn embed(
    store: &dyn Store,
    mut definition: WorkflowDef,
    path: &mut Vec<String>,
    input: Option<&JsonMap>,
) -> StoreResult<Result<WorkflowDef, EmbedError>> {
    if path.contains(&definition.name) {
        return Ok(Err(EmbedError::Cycle(format!(
            "{} -> {}",
            path.join(" -> "),
            definition.name
        ))));
    }
    if path.len() >= MAX_NESTING {
        return Ok(Err(EmbedError::TooDeep(path.join(" -> "))));
    }
    path.push(definition.name.clone());

    let mut names: Vec<String> = definition
        .all_tasks()
        .iter()
        .map(|task| task.name.clone())
        .collect();
    names.sort();
    names.dedup();
    let task_defs = store.task_defs_named(&names)?;

    let mut failure = None;
    let mut outcome: StoreResult<()> = Ok(());
    for_each_task_mut(&mut definition.tasks, &mut |task| {
        if failure.is_some() || outcome.is_err() {
            return;
        }
        if task.task_definition.is_none() {
            task.task_definition = task_defs.iter().find(|d| d.name == task.name).cloned();
        }
        let embedded = match task.r#type.as_str() {
            task_type::SUB_WORKFLOW => embed_sub_workflow(store, task, path),
            task_type::START_WORKFLOW => embed_started_workflow(store, task, path),
            task_type::FORK_JOIN_DYNAMIC => embed_forked_workflow(store, task, path),
            _ => Ok(Ok(())),
        };
        match embedded {
            Ok(Ok(())) => {}
            Ok(Err(error)) => failure = Some(error),
            Err(error) => outcome = Err(error),
        }
    });
    outcome?;
    if failure.is_none() {
        embed_failure_workflow(store, &mut definition, path, input)?;
    }
    path.pop();
    Ok(match failure {
        Some(error) => Err(error),
        None => Ok(definition),
    })
}

/// Loads and embeds the definition a workflow task names (`None` when it is not registered:
/// the task then fails when scheduled, naming what is missing).
fn load(
    store: &dyn Store,
    name: &str,
    version: Option<i32>,
    path: &mut Vec<String>,
) -> StoreResult<Result<Option<WorkflowDef>, EmbedError>> {
    match store.workflow_def(name, version)? {
        Some(child) => Ok(embed(store, child, path, None)?.map(Some)),
        None => Ok(Ok(None)),
    }
}

fn embed_sub_workflow(
    store: &dyn Store,
    task: &mut WorkflowTask,
    path: &mut Vec<String>,
) -> StoreResult<Result<(), EmbedError>> {
    let Some(params) = task.sub_workflow_param.as_mut() else {
        return Ok(Ok(()));
    };
    match params.workflow_definition.take() {
        Some(SubWorkflowDefinition::Definition(inline)) => {
            // Inline definitions get their own tasks' definitions embedded too.
            match embed(store, *inline, path, None)? {
                Ok(child) => {
                    params.workflow_definition =
                        Some(SubWorkflowDefinition::Definition(Box::new(child)))
                }
                Err(error) => return Ok(Err(error)),
            }
        }
        other => {
            params.workflow_definition = other;
            let Some(name) = params.name.clone().filter(|n| !n.is_empty()) else {
                return Ok(Ok(()));
            };
            match load(store, &name, params.version, path)? {
                Ok(Some(child)) => {
                    params.workflow_definition =
                        Some(SubWorkflowDefinition::Definition(Box::new(child)))
                }
                Ok(None) => {}
                Err(error) => return Ok(Err(error)),
            }
        }
    }
    Ok(Ok(()))
}

fn embed_started_workflow(
    store: &dyn Store,
    task: &mut WorkflowTask,
    path: &mut Vec<String>,
) -> StoreResult<Result<(), EmbedError>> {
    let Some(request) = task
        .input_parameters
        .get_mut("startWorkflow")
        .and_then(|r| r.as_object_mut())
    else {
        return Ok(Ok(()));
    };
    if request.get("workflowDef").is_some_and(|d| d.is_object()) {
        return Ok(Ok(()));
    }
    let Some(name) = request
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_owned)
    else {
        return Ok(Ok(()));
    };
    let version = request
        .get("version")
        .and_then(|v| v.as_i64())
        .map(|v| v as i32);
    embed_as_sub_workflow_param(store, task, name, version, path)
}

/// Embeds the workflow a dynamic fork's `forkTaskWorkflow` names (each branch runs it as a
/// sub-workflow).
fn embed_forked_workflow(
    store: &dyn Store,
    task: &mut WorkflowTask,
    path: &mut Vec<String>,
) -> StoreResult<Result<(), EmbedError>> {
    let Some(name) = task
        .input_parameters
        .get("forkTaskWorkflow")
        .and_then(|n| n.as_str())
        .filter(|n| !n.is_empty() && !n.contains("${"))
        .map(str::to_owned)
    else {
        return Ok(Ok(()));
    };
    let version = match task.input_parameters.get("forkTaskWorkflowVersion") {
        Some(serde_json::Value::String(text)) => text.parse().ok(),
        Some(serde_json::Value::Number(number)) => number.as_i64().map(|v| v as i32),
        _ => None,
    };
    embed_as_sub_workflow_param(store, task, name, version, path)
}

/// Keeps the definition a task starts in its `subWorkflowParam`, which, unlike its input, is
/// never resolved against the running workflow (the child's own `${...}` stay as they are).
fn embed_as_sub_workflow_param(
    store: &dyn Store,
    task: &mut WorkflowTask,
    name: String,
    version: Option<i32>,
    path: &mut Vec<String>,
) -> StoreResult<Result<(), EmbedError>> {
    match load(store, &name, version, path)? {
        Ok(Some(child)) => {
            task.sub_workflow_param = Some(SubWorkflowParams {
                name: Some(name),
                version,
                workflow_definition: Some(SubWorkflowDefinition::Definition(Box::new(child))),
                ..SubWorkflowParams::default()
            });
            Ok(Ok(()))
        }
        Ok(None) => Ok(Ok(())),
        Err(error) => Ok(Err(error)),
    }
}

/// Embeds the definition's `failureWorkflow` (any value sent in is dropped). One that is not
/// registered, or that leads back to a workflow being embedded, is left out: the workflow
/// still runs, and should it fail, its output says the failure workflow did not start.
fn embed_failure_workflow(
    store: &dyn Store,
    definition: &mut WorkflowDef,
    path: &mut Vec<String>,
    input: Option<&JsonMap>,
) -> StoreResult<()> {
    definition.failure_workflow_definition = None;
    let Some(name) = definition.failure_workflow.as_deref() else {
        return Ok(());
    };
    // Conductor's parameterised form: `$workflow.input.<key>` (no braces).
    let name = if name.starts_with('$') {
        let key = name.split('.').nth(2).unwrap_or_default();
        match input
            .and_then(|input| input.get(key))
            .and_then(|v| v.as_str())
        {
            Some(name) => name.to_owned(),
            None => return Ok(()),
        }
    } else {
        name.to_owned()
    };
    if name.is_empty() || path.contains(&name) {
        return Ok(());
    }
    if let Ok(Some(failure)) = load(store, &name, definition.failure_workflow_version, path)? {
        definition.failure_workflow_definition = Some(Box::new(failure));
    }
    Ok(())
}

/// Calls `visit` on every task of a definition, nested ones included.
fn for_each_task_mut(tasks: &mut [WorkflowTask], visit: &mut dyn FnMut(&mut WorkflowTask)) {
    for task in tasks {
        visit(task);
        for list in task.decision_cases.values_mut() {
            for_each_task_mut(list, visit);
        }
        for_each_task_mut(&mut task.default_case, visit);
        for branch in &mut task.fork_tasks {
            for_each_task_mut(branch, visit);
        }
        for_each_task_mut(&mut task.loop_over, visit);
    }
}
