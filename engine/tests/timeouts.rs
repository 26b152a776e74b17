//! Timeouts on an injected clock: response, run and poll timeouts with each policy, and the
//! workflow's own timeout.

mod support;

use baton_engine::{next_check_at, sweep};
use baton_model::{TaskResultStatus, TaskStatus, WorkflowStatus};
use serde_json::{json, Value};
use support::*;

/// One worker task with the given task definition fields, in a workflow with `workflow`.
fn timed(task_def: Value, workflow: Value) -> baton_model::WorkflowDef {
    let mut def = json!({"name": "timed", "tasks": [
        {"name": "slow", "taskReferenceName": "slow",
         "taskDefinition": {"name": "slow", "retryCount": 1, "retryDelaySeconds": 0}}]});
    for (key, value) in task_def.as_object().unwrap() {
        def["tasks"][0]["taskDefinition"][key] = value.clone();
    }
    for (key, value) in workflow.as_object().unwrap() {
        def[key] = value.clone();
    }
    definition(def)
}

/// Starts the workflow and has a worker poll `slow` at T0 + 1 s.
fn polled(def: baton_model::WorkflowDef) -> Run {
    let (mut run, _) = Run::start(def, json!({}));
    run.now = T0 + 1000;
    let position = run.workflow.tasks.len() - 1;
    baton_engine::start_polled_task(&mut run.workflow.tasks[position], Some("w"), None, run.now);
    run
}

#[test]
fn a_silent_worker_times_out_after_its_response_timeout_and_the_task_is_retried() {
    let mut run = polled(timed(json!({"responseTimeoutSeconds": 10}), json!({})));
    let early = sweep(run.workflow.clone(), T0 + 1000 + 9_999, &mut run.ids).unwrap();
    assert!(early.is_noop());
    let decision = sweep(run.workflow.clone(), T0 + 1000 + 10_000, &mut run.ids).unwrap();
    let first = &decision.workflow.tasks[0];
    assert_eq!(first.status, TaskStatus::TimedOut);
    assert_eq!(
        first.reason_for_incompletion.as_deref(),
        Some(format!("responseTimeout: 10 exceeded for taskId: {}", first.task_id).as_str())
    );
    let retry = &decision.workflow.tasks[1];
    assert_eq!(
        (retry.status, retry.retry_count),
        (TaskStatus::Scheduled, 1)
    );
    assert_eq!(decision.workflow.status, WorkflowStatus::Running);
}

#[test]
fn an_update_or_a_lease_extension_restarts_the_response_clock() {
    let mut run = polled(timed(json!({"responseTimeoutSeconds": 10}), json!({})));
    run.now = T0 + 8000;
    run.report_with("slow", |result| {
        result.status = Some(TaskResultStatus::InProgress);
        result.extend_lease = true;
    });
    // report_with polls again at +1 s: the clock restarts from that update.
    let at = run.task("slow").update_time;
    assert!(sweep(run.workflow.clone(), at + 9_000, &mut run.ids)
        .unwrap()
        .is_noop());
    let decision = sweep(run.workflow.clone(), at + 10_000, &mut run.ids).unwrap();
    assert_eq!(decision.workflow.tasks[0].status, TaskStatus::TimedOut);
}

#[test]
fn a_task_past_its_timeout_seconds_follows_its_timeout_policy() {
    // RETRY: the task times out and runs again.
    let mut run = polled(timed(
        json!({"timeoutSeconds": 30, "timeoutPolicy": "RETRY"}),
        json!({}),
    ));
    assert_eq!(next_check_at(&run.workflow), Some(T0 + 1000 + 30_000));
    let decision = sweep(run.workflow.clone(), T0 + 31_000, &mut run.ids).unwrap();
    assert_eq!(decision.workflow.tasks[0].status, TaskStatus::TimedOut);
    assert!(decision.workflow.tasks[0]
        .reason_for_incompletion
        .as_deref()
        .unwrap()
        .starts_with("Task timed out after 30 seconds. Timeout configured as 30 seconds. Timeout policy configured to RETRY"));
    assert_eq!(decision.workflow.tasks[1].status, TaskStatus::Scheduled);

    // TIME_OUT_WF: the workflow times out.
    let mut run = polled(timed(
        json!({"timeoutSeconds": 30, "timeoutPolicy": "TIME_OUT_WF"}),
        json!({}),
    ));
    let decision = sweep(run.workflow.clone(), T0 + 31_000, &mut run.ids).unwrap();
    assert_eq!(decision.workflow.status, WorkflowStatus::TimedOut);
    assert_eq!(decision.workflow.tasks.len(), 1);

    // ALERT_ONLY: nothing changes and nothing is scheduled to look again.
    let mut run = polled(timed(
        json!({"timeoutSeconds": 30, "timeoutPolicy": "ALERT_ONLY"}),
        json!({}),
    ));
    assert_eq!(next_check_at(&run.workflow), None);
    let decision = sweep(run.workflow.clone(), T0 + 31_000, &mut run.ids).unwrap();
    assert!(decision.is_noop());
}

#[test]
fn a_task_nobody_polls_times_out_after_its_poll_timeout() {
    let def = timed(
        json!({"pollTimeoutSeconds": 5, "timeoutPolicy": "RETRY"}),
        json!({}),
    );
    let (mut run, _) = Run::start(def, json!({}));
    assert_eq!(next_check_at(&run.workflow), Some(T0 + 5000));
    let decision = sweep(run.workflow.clone(), T0 + 5000, &mut run.ids).unwrap();
    assert_eq!(decision.workflow.tasks[0].status, TaskStatus::TimedOut);
    assert!(decision.workflow.tasks[0]
        .reason_for_incompletion
        .as_deref()
        .unwrap()
        .starts_with("Task poll timed out after 5 seconds"));
    assert_eq!(decision.workflow.tasks[1].retry_count, 1);
}

#[test]
fn a_workflow_past_its_timeout_times_out_with_its_tasks_cancelled() {
    let def = timed(
        json!({}),
        json!({"timeoutSeconds": 60, "timeoutPolicy": "TIME_OUT_WF"}),
    );
    let mut run = polled(def);
    assert_eq!(next_check_at(&run.workflow), Some(T0 + 60_000));
    assert!(sweep(run.workflow.clone(), T0 + 59_999, &mut run.ids)
        .unwrap()
        .is_noop());
    let decision = sweep(run.workflow.clone(), T0 + 60_000, &mut run.ids).unwrap();
    assert_eq!(decision.workflow.status, WorkflowStatus::TimedOut);
    assert_eq!(
        decision.workflow.reason_for_incompletion.as_deref(),
        Some("Workflow timed out after 60 seconds. Timeout configured as 60 seconds. Timeout policy configured to TIME_OUT_WF")
    );
    assert_eq!(decision.workflow.tasks[0].status, TaskStatus::Canceled);
    assert_eq!(next_check_at(&decision.workflow), None);

    // The default policy, ALERT_ONLY, only records it (nothing to do here).
    let def = timed(json!({}), json!({"timeoutSeconds": 60}));
    let mut run = polled(def);
    assert_eq!(next_check_at(&run.workflow), None);
    assert!(sweep(run.workflow.clone(), T0 + 600_000, &mut run.ids)
        .unwrap()
        .queue
        .iter()
        .all(|op| !matches!(op, baton_engine::QueueOp::Remove { .. })));
}

#[test]
fn waits_and_finished_workflows_never_time_out() {
    let def = definition(json!({"name": "waits", "tasks": [
        {"name": "w", "taskReferenceName": "w", "type": "WAIT"}]}));
    let (mut run, _) = Run::start(def, json!({}));
    assert_eq!(next_check_at(&run.workflow), None);
    assert!(sweep(run.workflow.clone(), T0 + 86_400_000, &mut run.ids)
        .unwrap()
        .is_noop());
}

#[test]
fn total_timeout_spans_every_attempt_and_retry_delay_then_stops_retrying() {
    let def = timed(
        json!({"totalTimeoutSeconds": 30, "retryCount": 5, "retryDelaySeconds": 10,
               "timeoutPolicy": "RETRY"}),
        json!({}),
    );
    let (mut run, _) = Run::start(def, json!({}));
    assert_eq!(next_check_at(&run.workflow), Some(T0 + 30_000));

    // The first attempt fails at T0 + 1 s; the retry waits 10 s and keeps the first clock.
    run.report("slow", TaskResultStatus::Failed, json!({}));
    let retry = run.task("slow").clone();
    assert_eq!(retry.retry_count, 1);
    assert_eq!(next_check_at(&run.workflow), Some(T0 + 30_000));
    assert!(sweep(run.workflow.clone(), T0 + 29_999, &mut run.ids)
        .unwrap()
        .is_noop());

    // At T0 + 31 s the retry, still waiting, has used up the budget: timed out, not retried.
    let decision = sweep(run.workflow.clone(), T0 + 31_000, &mut run.ids).unwrap();
    let timed_out = decision.workflow.task_by_ref_name("slow").unwrap();
    assert_eq!(timed_out.task_id, retry.task_id);
    assert_eq!(timed_out.status, TaskStatus::TimedOut);
    assert_eq!(
        timed_out.reason_for_incompletion.as_deref(),
        Some(format!("Task slow/{} exceeded total timeout of 30 seconds (elapsed 31 seconds across all attempts including retry delays). Timeout policy: RETRY", retry.task_id).as_str())
    );
    assert_eq!(decision.workflow.tasks.len(), 2, "no third attempt");
    assert_eq!(decision.workflow.status, WorkflowStatus::TimedOut);
    assert_eq!(
        decision.workflow.reason_for_incompletion.as_deref(),
        Some(format!("Task {}/slow exceeded total timeout of 30 seconds (elapsed 31 seconds across all attempts). No further retries will be attempted.", retry.task_id).as_str())
    );
}

#[test]
fn a_failure_after_the_total_timeout_fails_the_workflow_without_a_retry() {
    let def = timed(
        json!({"totalTimeoutSeconds": 5, "retryCount": 3, "retryDelaySeconds": 0}),
        json!({}),
    );
    let (mut run, _) = Run::start(def, json!({}));
    run.now = T0 + 9_000;
    let decision = run.report("slow", TaskResultStatus::Failed, json!({}));
    assert_eq!(decision.workflow.tasks.len(), 1);
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert!(decision
        .workflow
        .reason_for_incompletion
        .as_deref()
        .unwrap()
        .ends_with("exceeded total timeout of 5 seconds (elapsed 10 seconds across all attempts). No further retries will be attempted."));
}

#[test]
fn a_task_that_times_out_for_good_times_the_workflow_out() {
    let mut run = polled(timed(
        json!({"responseTimeoutSeconds": 10, "retryCount": 0}),
        json!({}),
    ));
    let decision = sweep(run.workflow.clone(), T0 + 11_000, &mut run.ids).unwrap();
    assert_eq!(decision.workflow.tasks.len(), 1);
    assert_eq!(decision.workflow.status, WorkflowStatus::TimedOut);
}
