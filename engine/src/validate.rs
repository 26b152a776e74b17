//! Definition validation: what makes a workflow or task definition unacceptable, as
//! Conductor's `validationErrors` entries (`path`, `message`, `invalidValue`).

use std::collections::HashSet;

use baton_model::{task_type, TaskDef, ValidationError, WorkflowDef};

/// System task types this build of the engine can run. Others are rejected at
/// registration so a workflow never starts only to stall on a task nobody executes.
const RUNNABLE_SYSTEM_TYPES: &[&str] = &[task_type::SIMPLE];

/// Every Conductor system task type, runnable here or not.
const SYSTEM_TYPES: &[&str] = &[
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
        let kind = task.r#type.as_str();
        if SYSTEM_TYPES.contains(&kind) && !RUNNABLE_SYSTEM_TYPES.contains(&kind) {
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
            json!({"name": "w", "tasks": [{"name": "s", "taskReferenceName": "s1", "type": "SWITCH"}]}),
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
