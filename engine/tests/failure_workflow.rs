//! A definition's `failureWorkflow`: started in the decision that fails the workflow, with
//! Conductor's input, and recorded in the failed workflow's output.

mod support;

use baton_engine::{operator, sweep, Decision, FAILURE_WORKFLOW_OUTPUT};
use baton_model::{TaskResultStatus, WorkflowDef, WorkflowStatus};
use serde_json::{json, Value};
use support::*;

fn cleanup() -> WorkflowDef {
    definition(json!({"name": "cleanup", "tasks": [
        {"name": "undo", "taskReferenceName": "undo", "inputParameters": {"id": "${workflow.input.workflowId}"}}]}))
}

/// A workflow of `tasks` whose failure workflow is `cleanup`, embedded as the runtime does.
fn guarded(tasks: Value, extra: Value) -> WorkflowDef {
    let mut def = json!({"name": "guarded", "failureWorkflow": "cleanup", "tasks": tasks});
    for (key, value) in extra.as_object().unwrap() {
        def[key] = value.clone();
    }
    let mut def = definition(def);
    def.failure_workflow_definition = Some(Box::new(cleanup()));
    def
}

fn one_worker() -> Value {
    json!([{"name": "work", "taskReferenceName": "work",
            "taskDefinition": {"name": "work", "retryCount": 0}}])
}

fn start(def: WorkflowDef) -> Run {
    let params = baton_engine::StartParams {
        workflow_id: "wf-1".into(),
        input: map(json!({"order": 42})),
        correlation_id: Some("c-9".into()),
        ..Default::default()
    };
    Run::start_with(def, params).0
}

/// The one workflow `decision` started, and the id the failed workflow recorded.
fn started(decision: &Decision) -> (&baton_model::Workflow, String) {
    assert_eq!(decision.children.len(), 1, "one failure workflow started");
    let child = &decision.children[0].workflow;
    let recorded = decision.workflow.output[FAILURE_WORKFLOW_OUTPUT]
        .as_str()
        .unwrap()
        .to_owned();
    (child, recorded)
}

#[test]
fn a_failed_task_starts_the_failure_workflow_with_conductors_input() {
    let mut run = start(guarded(one_worker(), json!({})));
    let decision = run.report_with("work", |result| {
        result.status = Some(TaskResultStatus::Failed);
        result.reason_for_incompletion = Some("card declined".into());
    });
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    let (child, recorded) = started(&decision);
    assert_eq!(child.workflow_id, recorded);
    assert_eq!(child.workflow_name(), Some("cleanup"));
    assert_eq!(child.correlation_id.as_deref(), Some("c-9"));
    assert_eq!(child.parent_workflow_id, None, "not a sub-workflow");
    let failed_task = &decision.workflow.tasks[0];
    assert_eq!(
        child.input["order"],
        json!(42),
        "the failed workflow's input"
    );
    assert_eq!(child.input["workflowId"], json!("wf-1"));
    assert_eq!(child.input["reason"], json!("card declined"));
    assert_eq!(child.input["failureStatus"], json!("FAILED"));
    assert_eq!(child.input["failureTaskId"], json!(failed_task.task_id));
    assert_eq!(child.input["failedWorkflow"]["workflowId"], json!("wf-1"));
    assert_eq!(child.input["failedWorkflow"]["status"], json!("FAILED"));
    // Its first task runs with the failed workflow's id.
    assert_eq!(child.tasks[0].input_data["id"], json!("wf-1"));
}

#[test]
fn a_workflow_timeout_starts_it_with_no_failed_task() {
    let def = guarded(
        one_worker(),
        json!({"timeoutSeconds": 60, "timeoutPolicy": "TIME_OUT_WF"}),
    );
    let mut run = start(def);
    let decision = sweep(run.workflow.clone(), T0 + 60_000, &mut run.ids).unwrap();
    assert_eq!(decision.workflow.status, WorkflowStatus::TimedOut);
    let (child, _) = started(&decision);
    assert_eq!(child.input["failureStatus"], json!("TIMED_OUT"));
    assert!(child.input.get("failureTaskId").is_none());
}

#[test]
fn a_terminate_task_starts_it_unless_it_completes_the_workflow() {
    let terminate = |status: &str| {
        json!([{"name": "stop", "taskReferenceName": "stop", "type": "TERMINATE",
                "inputParameters": {"terminationStatus": status, "terminationReason": "no stock",
                                    "workflowOutput": {"why": "stock"}}}])
    };
    let run = start(guarded(terminate("TERMINATED"), json!({})));
    assert_eq!(run.workflow.status, WorkflowStatus::Terminated);
    assert_eq!(run.workflow.output["why"], json!("stock"));
    assert!(run.workflow.output[FAILURE_WORKFLOW_OUTPUT].is_string());

    let (_, first) = Run::start_with(
        guarded(terminate("FAILED"), json!({})),
        baton_engine::StartParams::default(),
    );
    let (child, _) = started(&first);
    assert_eq!(child.input["failureStatus"], json!("FAILED"));
    assert_eq!(child.input["reason"], json!("no stock"));

    let (_, first) = Run::start_with(
        guarded(terminate("COMPLETED"), json!({})),
        baton_engine::StartParams::default(),
    );
    assert_eq!(first.workflow.status, WorkflowStatus::Completed);
    assert!(first.children.is_empty());
    assert!(first.workflow.output.get(FAILURE_WORKFLOW_OUTPUT).is_none());
}

#[test]
fn an_operator_terminate_starts_nothing() {
    let run = start(guarded(one_worker(), json!({})));
    let decision = operator::terminate(run.workflow, Some("by hand".into()), T0 + 1000).unwrap();
    assert_eq!(decision.workflow.status, WorkflowStatus::Terminated);
    assert!(decision.children.is_empty());
    assert!(decision
        .workflow
        .output
        .get(FAILURE_WORKFLOW_OUTPUT)
        .is_none());
}

#[test]
fn a_failure_workflow_that_was_not_found_is_recorded_as_not_started() {
    let mut def = guarded(one_worker(), json!({"failureWorkflowVersion": 3}));
    def.failure_workflow_definition = None;
    let mut run = start(def);
    let decision = run.report("work", TaskResultStatus::Failed, json!({}));
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert!(decision.children.is_empty());
    assert_eq!(
        decision.workflow.output[FAILURE_WORKFLOW_OUTPUT],
        json!("Error workflow cleanup failed to start.  reason: No such workflow defined. name=cleanup, version=3")
    );
}
