//! Timeouts end to end: the sweeper driven step by step with a clock set ahead, and the
//! background sweeper timing out a workflow by itself.

mod support;

use std::time::Duration;

use baton_model::{TaskDef, TaskResultStatus, TaskStatus, WorkflowDef, WorkflowStatus};
use baton_server::runtime::now_ms;
use serde_json::json;
use support::work::{map, poll_one, result};
use support::{eventually, spawn_app, TestDb};

async fn a_worker_that_goes_silent_is_timed_out_and_its_task_retried(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let task_def: TaskDef = serde_json::from_value(json!({"name": "flaky_worker",
        "responseTimeoutSeconds": 2, "retryCount": 1, "retryDelaySeconds": 0}))
    .unwrap();
    client.register_task_defs(&[task_def]).await.unwrap();
    let def: WorkflowDef = serde_json::from_value(json!({"name": "flaky", "tasks": [
        {"name": "flaky_worker", "taskReferenceName": "work"}]}))
    .unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
    let id = client
        .start_workflow_by_name("flaky", None, None, None, &map(json!({})))
        .await
        .unwrap();
    let lost = poll_one(client, "flaky_worker").await;

    // Not yet: the response timeout has not passed.
    app.runtime.sweep(now_ms()).await.unwrap();
    assert_eq!(client.get_workflow(&id, true).await.unwrap().tasks.len(), 1);

    let looked_at = app.runtime.sweep(now_ms() + 2_500).await.unwrap();
    assert_eq!(looked_at, 1);
    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.tasks[0].status, TaskStatus::TimedOut);
    assert!(workflow.tasks[0]
        .reason_for_incompletion
        .as_deref()
        .unwrap()
        .starts_with("responseTimeout: 2 exceeded"));
    assert_eq!(workflow.tasks[1].status, TaskStatus::Scheduled);

    // The silent worker's late answer changes nothing; the retry completes the workflow.
    client
        .update_task(&result(
            &lost,
            TaskResultStatus::Completed,
            json!({"late": true}),
        ))
        .await
        .unwrap();
    let retry = poll_one(client, "flaky_worker").await;
    assert_eq!(retry.retry_count, 1);
    assert_eq!(
        retry.retried_task_id.as_deref(),
        Some(lost.task_id.as_str())
    );
    client
        .update_task(&result(
            &retry,
            TaskResultStatus::Completed,
            json!({"on_time": true}),
        ))
        .await
        .unwrap();
    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(workflow.output, map(json!({"on_time": true})));
    assert_eq!(
        app.runtime.sweep(now_ms() + 10_000).await.unwrap(),
        0,
        "nothing left to sweep"
    );
}

async fn the_background_sweeper_times_out_a_workflow_past_its_timeout(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "hurry", "timeoutSeconds": 1,
        "timeoutPolicy": "TIME_OUT_WF", "tasks": [{"name": "hurry_step", "taskReferenceName": "step"}]}))
    .unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
    let id = client
        .start_workflow_by_name("hurry", None, None, None, &map(json!({})))
        .await
        .unwrap();
    let workflow = eventually(Duration::from_secs(10), || async {
        let workflow = client.get_workflow(&id, true).await.unwrap();
        (workflow.status == WorkflowStatus::TimedOut).then_some(workflow)
    })
    .await;
    assert!(workflow
        .reason_for_incompletion
        .as_deref()
        .unwrap()
        .starts_with("Workflow timed out after"));
    assert_eq!(workflow.tasks[0].status, TaskStatus::Canceled);
    let sizes = client.all_queue_sizes().await.unwrap();
    assert_eq!(
        sizes.get("hurry_step").copied().unwrap_or(0),
        0,
        "its queue entry is gone"
    );
}

on_both_backends!(
    a_worker_that_goes_silent_is_timed_out_and_its_task_retried,
    the_background_sweeper_times_out_a_workflow_past_its_timeout,
);
