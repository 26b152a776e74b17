//! A definition's `failureWorkflow`, started when a workflow fails or times out on its own:
//! a task failed for good, a timeout with TIME_OUT_WF, or a TERMINATE task ending it FAILED
//! or TERMINATED. An operator's terminate, and a parent cancelling its child, start nothing,
//! as in Conductor.
//!
//! The failure workflow's definition was embedded when the workflow started
//! (`failureWorkflowDefinition`), so it starts in the decision that ends the workflow and the
//! two commit together. Its id goes in the ended workflow's `output["conductor.failure_workflow"]`.

use baton_model::{JsonMap, Workflow, WorkflowStatus};
use serde_json::{json, Value};

use crate::decider::{finish_workflow, start_workflow, StartParams};
use crate::{Decision, IdSource};

/// The output key that records the failure workflow's id (or why it did not start).
pub const FAILURE_WORKFLOW_OUTPUT: &str = "conductor.failure_workflow";

/// How a workflow ends in failure.
pub(crate) struct Failure<'a> {
    /// FAILED, TIMED_OUT or TERMINATED.
    pub status: WorkflowStatus,
    pub reason: Option<String>,
    /// The task that caused it, if one did.
    pub failed_task_id: Option<&'a str>,
    /// Replaces the workflow's output (a TERMINATE task's `workflowOutput`).
    pub output: Option<JsonMap>,
}

/// Ends the workflow as `failure` says and starts its failure workflow, if the definition
/// names one.
pub(crate) fn end_in_failure(
    decision: &mut Decision,
    failure: Failure<'_>,
    now: i64,
    ids: &mut dyn IdSource,
) {
    finish_workflow(decision, failure.status, failure.reason, now);
    if let Some(output) = failure.output {
        decision.workflow.output = output;
    }
    let failed_task_id = failure.failed_task_id;
    let Some(definition) = decision.workflow.workflow_definition.as_ref() else {
        return;
    };
    let Some(name) = definition
        .failure_workflow
        .clone()
        .filter(|name| !name.is_empty())
    else {
        return;
    };
    let recorded = match definition.failure_workflow_definition.clone() {
        Some(failure_definition) => {
            let params = StartParams {
                workflow_id: ids.next_id(),
                input: failure_input(&decision.workflow, failed_task_id),
                correlation_id: decision.workflow.correlation_id.clone(),
                priority: 0,
                task_to_domain: decision.workflow.task_to_domain.clone(),
                idempotency_key: None,
                parent_workflow_id: None,
                parent_workflow_task_id: None,
            };
            match start_workflow(*failure_definition, params, now, ids) {
                Ok(started) => {
                    let id = started.workflow.workflow_id.clone();
                    decision.children.push(started);
                    id
                }
                Err(error) => format!("Error workflow {name} failed to start.  reason: {error}"),
            }
        }
        None => format!(
            "Error workflow {name} failed to start.  reason: No such workflow defined. name={name}, version={}",
            definition
                .failure_workflow_version
                .map_or("null".to_owned(), |version| version.to_string())
        ),
    };
    decision
        .workflow
        .output
        .insert(FAILURE_WORKFLOW_OUTPUT.into(), Value::String(recorded));
}

/// Conductor's input for a failure workflow: the failed workflow's input, plus who failed,
/// why, and the whole failed workflow.
fn failure_input(workflow: &Workflow, failed_task_id: Option<&str>) -> JsonMap {
    let mut input = workflow.input.clone();
    input.insert("workflowId".into(), json!(workflow.workflow_id));
    input.insert(
        "reason".into(),
        json!(workflow.reason_for_incompletion.clone().unwrap_or_default()),
    );
    input.insert("failureStatus".into(), json!(workflow.status.as_str()));
    if let Some(task_id) = failed_task_id {
        input.insert("failureTaskId".into(), json!(task_id));
    }
    let mut failed = workflow.clone();
    if let Some(definition) = failed
        .workflow_definition
        .as_mut()
        .map(std::sync::Arc::make_mut)
    {
        // The failure workflow's own definition is not part of the story.
        definition.failure_workflow_definition = None;
    }
    input.insert(
        "failedWorkflow".into(),
        serde_json::to_value(&failed).unwrap_or(Value::Null),
    );
    input
}
