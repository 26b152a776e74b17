//! The documents `${...}` expressions read: `workflow`, each task reference, and the new task's id.

use baton_model::{Task, Workflow};
use serde_json::{json, Map, Value};

use crate::expression::Roots;

/// Roots over a workflow's current state, for resolving a new task's input (`new_task_id`)
/// or the workflow's output (no new task).
pub struct WorkflowRoots<'w> {
    pub workflow: &'w Workflow,
    pub new_task_id: Option<&'w str>,
}

impl Roots for WorkflowRoots<'_> {
    fn root(&self, name: &str) -> Option<Value> {
        match name {
            "workflow" => Some(workflow_document(self.workflow)),
            "CPEWF_TASK_ID" => self.new_task_id.map(Value::from),
            // Inside a loop, `${task.output}` names the latest iteration of `task__N`.
            reference => {
                self.workflow
                    .task_by_ref_name(reference)
                    .or_else(|| {
                        self.workflow.tasks.iter().rev().find(|t| {
                            crate::graph::base_reference(&t.reference_task_name) == reference
                        })
                    })
                    .map(task_document)
            }
        }
    }
}

/// What `${workflow.*}` sees (Conductor's workflow parameter document).
fn workflow_document(workflow: &Workflow) -> Value {
    let definition = workflow.workflow_definition.as_ref();
    let mut doc = Map::new();
    doc.insert("input".into(), Value::Object(workflow.input.clone()));
    doc.insert("output".into(), Value::Object(workflow.output.clone()));
    doc.insert("status".into(), json!(workflow.status));
    doc.insert("workflowId".into(), json!(workflow.workflow_id));
    doc.insert(
        "parentWorkflowId".into(),
        json!(workflow.parent_workflow_id),
    );
    doc.insert(
        "parentWorkflowTaskId".into(),
        json!(workflow.parent_workflow_task_id),
    );
    doc.insert("workflowType".into(), json!(workflow.workflow_name()));
    doc.insert("version".into(), json!(workflow.workflow_version()));
    doc.insert("correlationId".into(), json!(workflow.correlation_id));
    doc.insert(
        "reasonForIncompletion".into(),
        json!(workflow.reason_for_incompletion),
    );
    doc.insert(
        "schemaVersion".into(),
        json!(definition.map(|d| d.schema_version)),
    );
    doc.insert(
        "variables".into(),
        Value::Object(workflow.variables.clone()),
    );
    doc.insert("taskToDomain".into(), json!(workflow.task_to_domain));
    doc.insert("createTime".into(), json!(workflow.create_time));
    doc.insert("startTime".into(), json!(workflow.start_time()));
    doc.insert("priority".into(), json!(workflow.priority));
    Value::Object(doc)
}

/// What `${ref.*}` sees: the task's fields, with `input` and `output` for its data.
fn task_document(task: &Task) -> Value {
    let mut doc = match serde_json::to_value(task) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    if let Some(input) = doc.remove("inputData") {
        doc.insert("input".into(), input);
    }
    if let Some(output) = doc.remove("outputData") {
        doc.insert("output".into(), output);
    }
    Value::Object(doc)
}
