//! Definition validation: what makes a workflow or task definition unacceptable, as
//! Conductor's `validationErrors` entries (`path`, `message`, `invalidValue`).

use std::collections::HashSet;

use baton_model::{task_type, TaskDef, ValidationError, WorkflowDef, WorkflowTask};

/// System task types this build of the engine can run. Others are rejected at
/// registration so a workflow never starts only to stall on a task nobody executes.
const RUNNABLE_SYSTEM_TYPES: &[&str] = &[
    task_type::SIMPLE,
    task_type::SWITCH,
    task_type::DECISION,
    task_type::FORK_JOIN,
    task_type::JOIN,
    task_type::SET_VARIABLE,
    task_type::TERMINATE,
    task_type::NOOP,
    task_type::WAIT,
    task_type::HUMAN,
    task_type::INLINE,
    task_type::DYNAMIC,
    task_type::SUB_WORKFLOW,
    task_type::START_WORKFLOW,
    task_type::DO_WHILE,
    task_type::FORK_JOIN_DYNAMIC,
    task_type::EVENT,
    task_type::HTTP,
    task_type::JSON_JQ_TRANSFORM,
    task_type::EXCLUSIVE_JOIN,
];

/// Every Conductor system task type, runnable here or not.
const SYSTEM_TASK_TYPES: &[&str] = &[
    task_type::DYNAMIC,
    task_type::FORK_JOIN,
    task_type::FORK_JOIN_DYNAMIC,
    task_type::DECISION,
    task_type::SWITCH,
    task_type::JOIN,
    task_type::DO_WHILE,
    task_type::SUB_WORKFLOW,
    task_type::START_WORKFLOW,
    task_type::EVENT,
    task_type::WAIT,
    task_type::HUMAN,
    task_type::HTTP,
    task_type::INLINE,
    task_type::EXCLUSIVE_JOIN,
    task_type::TERMINATE,
    task_type::KAFKA_PUBLISH,
    task_type::JSON_JQ_TRANSFORM,
    task_type::SET_VARIABLE,
    task_type::NOOP,
];

/// Whether a task type is run by the server rather than by a polling worker.
pub fn is_system_task(kind: &str) -> bool {
    SYSTEM_TASK_TYPES.contains(&kind)
}

fn error(path: &str, message: impl Into<String>, invalid_value: Option<String>) -> ValidationError {
    ValidationError {
        path: Some(path.to_owned()),
        message: Some(message.into()),
        invalid_value,
    }
}

/// Checks a workflow definition. An empty list means it is valid.
pub fn validate_workflow_def(def: &WorkflowDef) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    if def.name.trim().is_empty() {
        errors.push(error(
            "name",
            "WorkflowDef name cannot be null or empty",
            None,
        ));
    }
    if def.tasks.is_empty() {
        errors.push(error("tasks", "WorkflowTask list cannot be empty", None));
    }
    if def.schema_version != 2 {
        errors.push(error(
            "schemaVersion",
            "workflowDef schemaVersion: 2 is only supported",
            Some(def.schema_version.to_string()),
        ));
    }
    if def.version < 1 {
        errors.push(error(
            "version",
            "WorkflowDef version must be 1 or more",
            Some(def.version.to_string()),
        ));
    }
    let mut seen = HashSet::new();
    for task in def.all_tasks() {
        if task.name.trim().is_empty() {
            errors.push(error(
                "tasks.name",
                format!(
                    "WorkflowTask name cannot be empty or null (taskReferenceName: {})",
                    task.task_reference_name
                ),
                None,
            ));
        }
        if task.task_reference_name.trim().is_empty() {
            errors.push(error(
                "tasks.taskReferenceName",
                format!(
                    "WorkflowTask taskReferenceName name cannot be empty or null (task name: {})",
                    task.name
                ),
                None,
            ));
        } else if !seen.insert(task.task_reference_name.as_str()) {
            errors.push(error(
                "tasks",
                format!(
                    "taskReferenceName: {} should be unique across tasks for a given workflowDefinition: {}",
                    task.task_reference_name, def.name
                ),
                Some(task.task_reference_name.clone()),
            ));
        }
        errors.extend(check_task_type(def, task));
        let kind = task.r#type.as_str();
        if SYSTEM_TASK_TYPES.contains(&kind) && !RUNNABLE_SYSTEM_TYPES.contains(&kind) {
            errors.push(error(
                "tasks.type",
                format!(
                    "task {}: type {kind} is not supported by this version of Baton yet",
                    task.task_reference_name
                ),
                Some(kind.to_string()),
            ));
        }
    }
    errors
}

/// A fork (static or dynamic) must be followed by the JOIN that ends it.
fn join_must_follow(def: &WorkflowDef, fork: &WorkflowTask) -> Option<ValidationError> {
    let followed_by_join = crate::graph::following_sibling(def, &fork.task_reference_name)
        .is_some_and(|next| next.r#type == task_type::JOIN);
    (!followed_by_join).then(|| {
        error(
            "tasks",
            format!(
                "task {}: a {} must be followed by a JOIN",
                fork.task_reference_name, fork.r#type
            ),
            None,
        )
    })
}

/// Whether the task's input parameters (or its embedded definition's input template) have
/// one of `keys`.
fn has_input(task: &WorkflowTask, keys: &[&str]) -> bool {
    keys.iter().any(|key| {
        task.input_parameters.contains_key(*key)
            || task
                .task_definition
                .as_ref()
                .is_some_and(|def| def.input_template.contains_key(*key))
    })
}

/// The fields each system task type needs, with Conductor's wording
/// (`<field> field is required for taskType: <type> taskName: <name>`).
fn check_task_type(def: &WorkflowDef, task: &WorkflowTask) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let name = &task.name;
    let kind = task.r#type.as_str();
    let required = |field: &str| {
        error(
            "tasks",
            format!("{field} field is required for taskType: {kind} taskName: {name}"),
            None,
        )
    };
    match kind {
        task_type::SWITCH => {
            match task.evaluator_type.as_deref() {
                None | Some("") => errors.push(required("evaluatorType")),
                Some("value-param" | "javascript" | "graaljs") => {}
                Some(other) => errors.push(error(
                    "tasks",
                    format!(
                        "task {}: unknown evaluatorType {other} (use value-param or javascript)",
                        task.task_reference_name
                    ),
                    Some(other.to_owned()),
                )),
            }
            if task.expression.as_deref().is_none_or(str::is_empty) {
                errors.push(required("expression"));
            }
        }
        task_type::DECISION
            if task.case_value_param.as_deref().is_none_or(str::is_empty)
                && task.case_expression.as_deref().is_none_or(str::is_empty) =>
        {
            errors.push(required("caseValueParam or caseExpression"));
        }
        task_type::FORK_JOIN => {
            if task.fork_tasks.iter().all(Vec::is_empty) {
                errors.push(error(
                    "tasks",
                    format!("forkTasks should have atleast one task for taskType: FORK_JOIN taskName: {name}"),
                    None,
                ));
            }
            errors.extend(join_must_follow(def, task));
        }
        task_type::FORK_JOIN_DYNAMIC => {
            let new_form = task.input_parameters.contains_key("forkTaskInputs");
            if !new_form
                && task
                    .dynamic_fork_tasks_param
                    .as_deref()
                    .is_none_or(str::is_empty)
            {
                errors.push(required(
                    "dynamicForkTasksParam or inputParameters.forkTaskInputs",
                ));
            }
            let dynamic_workflow = task
                .input_parameters
                .get("forkTaskWorkflow")
                .is_some_and(|name| name.as_str().is_none_or(|n| n.contains("${")));
            if dynamic_workflow {
                errors.push(error(
                    "tasks",
                    format!(
                        "task {}: forkTaskWorkflow needs a fixed workflow name",
                        task.task_reference_name
                    ),
                    None,
                ));
            }
            errors.extend(join_must_follow(def, task));
        }
        task_type::JOIN => {
            for reference in &task.join_on {
                if def.task_by_ref_name(reference).is_none() {
                    errors.push(error(
                        "tasks",
                        format!("task {}: joinOn names {reference}, which is not a task of this workflow", task.task_reference_name),
                        Some(reference.clone()),
                    ));
                }
            }
        }
        task_type::DYNAMIC
            if task
                .dynamic_task_name_param
                .as_deref()
                .is_none_or(str::is_empty) =>
        {
            errors.push(required("dynamicTaskNameParam"));
        }
        task_type::SUB_WORKFLOW => match &task.sub_workflow_param {
            None => errors.push(required("subWorkflowParam")),
            Some(params) => {
                let inline = matches!(
                    params.workflow_definition,
                    Some(baton_model::SubWorkflowDefinition::Definition(_))
                );
                let name = params.name.as_deref().unwrap_or_default();
                if !inline && (name.is_empty() || name.contains("${")) {
                    errors.push(error(
                        "tasks",
                        format!("task {}: subWorkflowParam needs a fixed name or an inline workflowDefinition", task.task_reference_name),
                        None,
                    ));
                }
            }
        },
        task_type::START_WORKFLOW => {
            let request = task.input_parameters.get("startWorkflow");
            let named = request
                .and_then(|r| r.get("name"))
                .and_then(|n| n.as_str())
                .is_some_and(|n| !n.is_empty() && !n.contains("${"));
            let inline =
                request.is_some_and(|r| r.get("workflowDef").is_some_and(|d| d.is_object()));
            if !named && !inline {
                errors.push(error(
                    "tasks",
                    format!("task {}: inputParameters.startWorkflow needs a fixed name or an inline workflowDef", task.task_reference_name),
                    None,
                ));
            }
        }
        task_type::DO_WHILE => {
            let iterates_a_list = task.items.as_deref().is_some_and(|i| !i.trim().is_empty())
                || task.input_parameters.contains_key("_items");
            if task.loop_condition.as_deref().is_none_or(str::is_empty) && !iterates_a_list {
                errors.push(required("loopCondition"));
            }
            if task.loop_over.is_empty() {
                errors.push(required("loopOver"));
            }
            let unsupported = task
                .loop_over
                .iter()
                .flat_map(|inner| inner.all_tasks_recursive())
                .find(|inner| inner.r#type == task_type::DO_WHILE);
            if let Some(inner) = unsupported {
                errors.push(error(
                    "tasks",
                    format!(
                        "task {}: a {} inside a DO_WHILE is not supported by this version of Baton yet",
                        task.task_reference_name, inner.r#type
                    ),
                    None,
                ));
            }
        }
        task_type::EVENT if task.sink.as_deref().is_none_or(str::is_empty) => {
            errors.push(required("sink"));
        }
        task_type::HTTP if !has_input(task, &["http_request", "uri"]) => {
            errors.push(required(
                "inputParameters.http_request or inputParameters.uri",
            ));
        }
        task_type::JSON_JQ_TRANSFORM if !has_input(task, &["queryExpression"]) => {
            errors.push(required("inputParameters.queryExpression"));
        }
        task_type::TERMINATE => {
            if task.optional {
                errors.push(error(
                    "tasks",
                    format!("terminate task cannot be optional, taskName: {name}"),
                    None,
                ));
            }
            let status = task
                .input_parameters
                .get("terminationStatus")
                .and_then(|v| v.as_str());
            let valid =
                status.is_some_and(|s| s == "COMPLETED" || s == "FAILED" || s.starts_with("${"));
            if !valid {
                errors.push(error(
                    "tasks",
                    format!("terminate task must have an terminationStatus parameter and must be set to COMPLETED or FAILED, taskName: {name}"),
                    None,
                ));
            }
        }
        _ => {}
    }
    errors
}

/// Checks a task definition. An empty list means it is valid.
pub fn validate_task_def(def: &TaskDef) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    if def.name.trim().is_empty() {
        errors.push(error("name", "TaskDef name cannot be null or empty", None));
    }
    if def.response_timeout_seconds < 1 {
        errors.push(error(
            "responseTimeoutSeconds",
            format!(
                "TaskDef responseTimeoutSeconds: {} must be greater than 0",
                def.response_timeout_seconds
            ),
            Some(def.response_timeout_seconds.to_string()),
        ));
    }
    if def.timeout_seconds > 0 && def.response_timeout_seconds > def.timeout_seconds {
        errors.push(error(
            "timeoutSeconds",
            format!(
                "TaskDef: {} responseTimeoutSeconds: {} must be less than timeoutSeconds: {}",
                def.name, def.response_timeout_seconds, def.timeout_seconds
            ),
            Some(def.timeout_seconds.to_string()),
        ));
    }
    if def.retry_count < 0 {
        errors.push(error(
            "retryCount",
            "TaskDef retryCount: must be >= 0",
            Some(def.retry_count.to_string()),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    fn messages(d: &WorkflowDef) -> Vec<String> {
        validate_workflow_def(d)
            .into_iter()
            .filter_map(|e| e.message)
            .collect()
    }

    #[test]
    fn a_switch_needs_an_evaluator_and_an_expression() {
        let d = def(
            json!({"name": "w", "tasks": [{"name": "s", "taskReferenceName": "s1", "type": "SWITCH"}]}),
        );
        let found = messages(&d);
        assert!(
            found
                .iter()
                .any(|m| m == "evaluatorType field is required for taskType: SWITCH taskName: s"),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m == "expression field is required for taskType: SWITCH taskName: s"),
            "{found:?}"
        );
    }

    #[test]
    fn a_join_naming_an_unknown_task_is_named_in_the_error() {
        let d = def(json!({"name": "w", "tasks": [
            {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[{"name": "a", "taskReferenceName": "a"}]]},
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["a", "ghost"]}]}));
        assert_eq!(
            messages(&d),
            vec!["task j: joinOn names ghost, which is not a task of this workflow"]
        );
    }

    #[test]
    fn a_fork_without_a_join_after_it_or_without_branches_is_rejected() {
        let d = def(
            json!({"name": "w", "tasks": [{"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": []}]}),
        );
        let found = messages(&d);
        assert!(
            found
                .iter()
                .any(|m| m.contains("forkTasks should have atleast one task")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m.contains("must be followed by a JOIN")),
            "{found:?}"
        );
    }

    #[test]
    fn a_terminate_needs_a_valid_status_and_cannot_be_optional() {
        let d = def(
            json!({"name": "w", "tasks": [{"name": "t", "taskReferenceName": "t", "type": "TERMINATE", "optional": true,
            "inputParameters": {"terminationStatus": "MAYBE"}}]}),
        );
        assert_eq!(messages(&d).len(), 2);
    }

    use super::*;
    use serde_json::json;

    fn def(value: serde_json::Value) -> WorkflowDef {
        serde_json::from_value(value).expect("valid json")
    }

    #[test]
    fn a_two_task_definition_is_valid() {
        let d = def(json!({"name": "w", "tasks": [
            {"name": "a", "taskReferenceName": "a1"}, {"name": "b", "taskReferenceName": "b1"}]}));
        assert_eq!(validate_workflow_def(&d), vec![]);
    }

    #[test]
    fn duplicate_reference_names_are_named_in_the_error() {
        let d = def(json!({"name": "w", "tasks": [
            {"name": "a", "taskReferenceName": "x"}, {"name": "b", "taskReferenceName": "x"}]}));
        let errors = validate_workflow_def(&d);
        assert_eq!(errors.len(), 1);
        assert!(errors[0]
            .message
            .as_deref()
            .unwrap()
            .contains("taskReferenceName: x should be unique"));
    }

    #[test]
    fn empty_tasks_missing_name_and_old_schema_are_each_reported() {
        let d = def(json!({"name": "", "tasks": [], "schemaVersion": 1}));
        let paths: Vec<_> = validate_workflow_def(&d)
            .into_iter()
            .filter_map(|e| e.path)
            .collect();
        assert_eq!(paths, vec!["name", "tasks", "schemaVersion"]);
    }

    #[test]
    fn a_system_task_this_build_cannot_run_is_rejected() {
        let d = def(
            json!({"name": "w", "tasks": [{"name": "s", "taskReferenceName": "s1", "type": "KAFKA_PUBLISH"}]}),
        );
        let errors = validate_workflow_def(&d);
        assert_eq!(errors[0].path.as_deref(), Some("tasks.type"));
        assert!(errors[0].message.as_deref().unwrap().contains("s1"));
    }

    #[test]
    fn a_task_def_needs_a_name_and_a_positive_response_timeout() {
        let d: TaskDef =
            serde_json::from_value(json!({"name": "", "responseTimeoutSeconds": 0})).unwrap();
        let paths: Vec<_> = validate_task_def(&d)
            .into_iter()
            .filter_map(|e| e.path)
            .collect();
        assert_eq!(paths, vec!["name", "responseTimeoutSeconds"]);
    }
}
