//! Black-box API tests through `baton-client`, on SQLite and on PostgreSQL.

mod support;

use std::time::Duration;

use baton_client::{BatonClient, PollRequest};
use baton_model::{
    StartWorkflowRequest, TaskDef, TaskResult, TaskResultStatus, TaskStatus, WorkflowDef,
    WorkflowStatus,
};
use serde_json::{json, Value};
use support::work::{map, poll_once, poll_one, result};
use support::{spawn_app, TestDb};

/// `name`: task `{name}_a` then `{name}_b`, the second fed from the first's output.
fn two_task_def(name: &str) -> WorkflowDef {
    serde_json::from_value(json!({
        "name": name,
        "version": 1,
        "tasks": [
            {"name": format!("{name}_a"), "taskReferenceName": "a", "inputParameters": {"n": "${workflow.input.n}", "id": "${CPEWF_TASK_ID}"}},
            {"name": format!("{name}_b"), "taskReferenceName": "b", "inputParameters": {"doubled": "${a.output.doubled}", "text": "n is ${workflow.input.n}"}}
        ],
        "outputParameters": {"result": "${b.output.result}", "fromA": "${a.output.doubled}"}
    }))
    .expect("a valid definition")
}

async fn start(client: &BatonClient, name: &str, input: Value) -> String {
    client
        .start_workflow_by_name(name, None, None, None, &map(input))
        .await
        .expect("start")
}

async fn a_two_task_workflow_runs_to_completed_with_its_output(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("greet"), false)
        .await
        .unwrap();
    let id = start(client, "greet", json!({"n": 21})).await;

    let a = poll_one(client, "greet_a").await;
    assert_eq!(a.status, TaskStatus::InProgress);
    assert_eq!(
        a.input_data["n"],
        json!(21),
        "a single reference keeps its JSON type"
    );
    assert_eq!(
        a.input_data["id"],
        json!(a.task_id),
        "CPEWF_TASK_ID is the task's own id"
    );
    assert_eq!(a.worker_id.as_deref(), Some("test-worker"));
    client
        .update_task(&result(
            &a,
            TaskResultStatus::Completed,
            json!({"doubled": 42}),
        ))
        .await
        .unwrap();

    let b = poll_one(client, "greet_b").await;
    assert_eq!(b.input_data["doubled"], json!(42));
    assert_eq!(b.input_data["text"], json!("n is 21"));
    let next = client
        .update_task_v2(&result(
            &b,
            TaskResultStatus::Completed,
            json!({"result": "done"}),
        ))
        .await
        .unwrap();
    assert!(next.is_none(), "no more greet_b tasks to hand out");

    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(workflow.output, map(json!({"result": "done", "fromA": 42})));
    assert_eq!(workflow.tasks.len(), 2);
    assert!(workflow
        .tasks
        .iter()
        .all(|t| t.status == TaskStatus::Completed));
    assert!(workflow.end_time >= workflow.create_time);
}

async fn without_output_parameters_the_workflow_output_is_the_last_tasks_output(db: TestDb) {
    let app = spawn_app(db).await;
    let mut def = two_task_def("lastout");
    def.output_parameters.clear();
    app.client.register_workflow_def(&def, false).await.unwrap();
    let id = start(&app.client, "lastout", json!({"n": 1})).await;
    let a = poll_one(&app.client, "lastout_a").await;
    app.client
        .update_task(&result(
            &a,
            TaskResultStatus::Completed,
            json!({"doubled": 2}),
        ))
        .await
        .unwrap();
    let b = poll_one(&app.client, "lastout_b").await;
    app.client
        .update_task(&result(
            &b,
            TaskResultStatus::Completed,
            json!({"last": true}),
        ))
        .await
        .unwrap();
    let workflow = app.client.get_workflow(&id, false).await.unwrap();
    assert_eq!(workflow.output, map(json!({"last": true})));
    assert!(
        workflow.tasks.is_empty(),
        "includeTasks=false leaves tasks out"
    );
}

async fn a_failed_task_without_retries_fails_the_workflow_with_its_reason(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let task_def = TaskDef {
        name: "fragile_a".into(),
        retry_count: 0,
        ..TaskDef::default()
    };
    client.register_task_defs(&[task_def]).await.unwrap();
    client
        .register_workflow_def(&two_task_def("fragile"), false)
        .await
        .unwrap();
    let id = start(client, "fragile", json!({"n": 1})).await;
    let a = poll_one(client, "fragile_a").await;
    let mut failed = result(&a, TaskResultStatus::Failed, json!({}));
    failed.reason_for_incompletion = Some("disk on fire".into());
    client.update_task(&failed).await.unwrap();

    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Failed);
    assert_eq!(
        workflow.reason_for_incompletion.as_deref(),
        Some("disk on fire")
    );
    assert!(workflow.failed_reference_task_names.contains("a"));
    assert_eq!(
        workflow.tasks.len(),
        1,
        "nothing after the failed task was scheduled"
    );
    assert_eq!(client.queue_size("fragile_b", None).await.unwrap(), 0);
}

async fn a_failed_task_with_retries_left_is_scheduled_again(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let task_def = TaskDef {
        name: "flaky_a".into(),
        retry_count: 1,
        retry_delay_seconds: 0,
        ..TaskDef::default()
    };
    client.register_task_defs(&[task_def]).await.unwrap();
    client
        .register_workflow_def(&two_task_def("flaky"), false)
        .await
        .unwrap();
    let id = start(client, "flaky", json!({"n": 1})).await;
    let first = poll_one(client, "flaky_a").await;
    client
        .update_task(&result(&first, TaskResultStatus::Failed, json!({})))
        .await
        .unwrap();
    let retry = poll_one(client, "flaky_a").await;
    assert_ne!(retry.task_id, first.task_id);
    assert_eq!(retry.retry_count, 1);
    assert_eq!(
        retry.retried_task_id.as_deref(),
        Some(first.task_id.as_str())
    );
    client
        .update_task(&result(
            &retry,
            TaskResultStatus::Completed,
            json!({"doubled": 2}),
        ))
        .await
        .unwrap();
    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Running);
    assert_eq!(
        workflow.tasks.iter().map(|t| t.status).collect::<Vec<_>>(),
        vec![
            TaskStatus::Failed,
            TaskStatus::Completed,
            TaskStatus::Scheduled
        ]
    );
}

async fn in_progress_with_a_callback_hands_the_task_back_after_the_delay(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("later"), false)
        .await
        .unwrap();
    start(client, "later", json!({"n": 1})).await;
    let a = poll_one(client, "later_a").await;
    let mut in_progress = result(&a, TaskResultStatus::InProgress, json!({"step": 1}));
    in_progress.callback_after_seconds = 1;
    client.update_task(&in_progress).await.unwrap();

    let stored = client.get_task(&a.task_id).await.unwrap();
    assert_eq!(stored.status, TaskStatus::Scheduled);
    assert_eq!(stored.callback_after_seconds, 1);
    assert_eq!(
        client.queue_size("later_a", None).await.unwrap(),
        1,
        "queued again, not yet visible"
    );
    assert!(
        client
            .batch_poll("later_a", &poll_once(0))
            .await
            .unwrap()
            .is_empty(),
        "hidden until the callback time"
    );

    // A long poll wakes when the delayed entry becomes visible.
    let again = poll_one(client, "later_a").await;
    assert_eq!(again.task_id, a.task_id);
    assert_eq!(again.poll_count, 2);
    assert_eq!(again.output_data["step"], json!(1));
}

async fn extend_lease_keeps_the_task_in_progress(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("lease"), false)
        .await
        .unwrap();
    start(client, "lease", json!({"n": 1})).await;
    let a = poll_one(client, "lease_a").await;
    let mut extend = result(&a, TaskResultStatus::InProgress, json!({}));
    extend.extend_lease = true;
    assert!(client.update_task_v2(&extend).await.unwrap().is_none());
    let stored = client.get_task(&a.task_id).await.unwrap();
    assert_eq!(stored.status, TaskStatus::InProgress);
    assert!(client
        .batch_poll("lease_a", &poll_once(0))
        .await
        .unwrap()
        .is_empty());
}

async fn a_long_poll_wakes_as_soon_as_a_task_is_scheduled(db: TestDb) {
    let app = spawn_app(db).await;
    let client = app.client.clone();
    client
        .register_workflow_def(&two_task_def("wake"), false)
        .await
        .unwrap();
    let poller = {
        let client = client.clone();
        tokio::spawn(async move { client.batch_poll("wake_a", &poll_once(5000)).await })
    };
    // Give the poll time to park first; the assertion does not depend on it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let id = start(&client, "wake", json!({"n": 3})).await;
    let tasks = poller.await.unwrap().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].workflow_instance_id, id);
}

async fn higher_priority_workflows_are_polled_first(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("prio"), false)
        .await
        .unwrap();
    let low = client
        .start_workflow_by_name("prio", None, None, Some(1), &map(json!({"n": 1})))
        .await
        .unwrap();
    let high = client
        .start_workflow_by_name("prio", None, None, Some(90), &map(json!({"n": 2})))
        .await
        .unwrap();
    let first = poll_one(client, "prio_a").await;
    let second = poll_one(client, "prio_a").await;
    assert_eq!(
        (first.workflow_instance_id, second.workflow_instance_id),
        (high, low)
    );
}

async fn a_batch_poll_hands_each_task_to_one_worker_only(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("many"), false)
        .await
        .unwrap();
    for n in 0..6 {
        start(client, "many", json!({"n": n})).await;
    }
    let request = PollRequest {
        count: 4,
        ..poll_once(0)
    };
    let first = client.batch_poll("many_a", &request).await.unwrap();
    let second = client.batch_poll("many_a", &request).await.unwrap();
    let third = client.batch_poll("many_a", &request).await.unwrap();
    assert_eq!((first.len(), second.len(), third.len()), (4, 2, 0));
    let mut ids: Vec<_> = first
        .iter()
        .chain(&second)
        .map(|t| t.task_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert_eq!(client.queue_sizes(&["many_a"]).await.unwrap()["many_a"], 0);
}

async fn start_workflow_request_with_correlation_id_and_an_inline_definition_runs(db: TestDb) {
    let app = spawn_app(db).await;
    let request = StartWorkflowRequest {
        name: "inline".into(),
        correlation_id: Some("order-7".into()),
        input: map(json!({"n": 5})),
        workflow_def: Some(two_task_def("inline")),
        ..StartWorkflowRequest::default()
    };
    let id = app.client.start_workflow(&request).await.unwrap();
    let a = poll_one(&app.client, "inline_a").await;
    assert_eq!(a.workflow_instance_id, id);
    assert_eq!(a.correlation_id.as_deref(), Some("order-7"));
    let status = app.client.get_workflow_status(&id).await.unwrap();
    assert_eq!(
        status,
        json!({"workflowId": id, "correlationId": "order-7", "status": "RUNNING"})
    );
}

async fn task_logs_poll_data_and_queue_sizes_are_reported(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("obs"), false)
        .await
        .unwrap();
    start(client, "obs", json!({"n": 1})).await;
    start(client, "obs", json!({"n": 2})).await;
    assert_eq!(client.all_queue_sizes().await.unwrap()["obs_a"], 2);
    let a = poll_one(client, "obs_a").await;
    assert_eq!(client.queue_size("obs_a", None).await.unwrap(), 1);

    client
        .add_task_log(&a.task_id, "starting work")
        .await
        .unwrap();
    let mut done = result(&a, TaskResultStatus::Completed, json!({"doubled": 2}));
    done.logs = vec![baton_model::TaskExecLog {
        log: Some("finished".into()),
        ..Default::default()
    }];
    client.update_task(&done).await.unwrap();
    let logs: Vec<_> = client
        .get_task_logs(&a.task_id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|l| l.log)
        .collect();
    assert_eq!(logs, vec!["starting work", "finished"]);

    let poll_data = client.poll_data("obs_a").await.unwrap();
    assert_eq!(poll_data.len(), 1);
    assert_eq!(poll_data[0].worker_id.as_deref(), Some("test-worker"));
    assert!(poll_data[0].last_poll_time > 0);
    assert!(client
        .all_poll_data()
        .await
        .unwrap()
        .iter()
        .any(|p| p.queue_name.as_deref() == Some("obs_a")));
}

async fn removing_a_workflow_needs_archive_off_while_it_runs(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("gone"), false)
        .await
        .unwrap();
    let id = start(client, "gone", json!({"n": 1})).await;
    let error = client.remove_workflow(&id, true).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    client.remove_workflow(&id, false).await.unwrap();
    assert_eq!(
        client.get_workflow(&id, true).await.unwrap_err().status(),
        Some(404)
    );
    assert_eq!(
        client.queue_size("gone_a", None).await.unwrap(),
        0,
        "its queue entry went with it"
    );
}

async fn definitions_can_be_created_read_listed_and_deleted(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let task_def = TaskDef {
        name: "crud_task".into(),
        retry_count: 5,
        description: Some("first".into()),
        ..TaskDef::default()
    };
    client
        .register_task_defs(std::slice::from_ref(&task_def))
        .await
        .unwrap();
    let stored = client.get_task_def("crud_task").await.unwrap();
    assert_eq!(
        (stored.retry_count, stored.response_timeout_seconds),
        (5, 3600)
    );
    assert!(stored.create_time > 0);
    client
        .update_task_def(&TaskDef {
            description: Some("second".into()),
            ..task_def
        })
        .await
        .unwrap();
    assert_eq!(
        client
            .get_task_def("crud_task")
            .await
            .unwrap()
            .description
            .as_deref(),
        Some("second")
    );
    assert!(client
        .list_task_defs()
        .await
        .unwrap()
        .iter()
        .any(|d| d.name == "crud_task"));
    client.delete_task_def("crud_task").await.unwrap();
    assert_eq!(
        client.get_task_def("crud_task").await.unwrap_err().status(),
        Some(404)
    );

    let mut def = two_task_def("crud_wf");
    client.register_workflow_def(&def, false).await.unwrap();
    def.version = 2;
    def.description = Some("v2".into());
    client.update_workflow_defs(&[def]).await.unwrap();
    assert_eq!(
        client
            .get_workflow_def("crud_wf", None)
            .await
            .unwrap()
            .version,
        2,
        "latest by default"
    );
    assert_eq!(
        client
            .get_workflow_def("crud_wf", Some(1))
            .await
            .unwrap()
            .version,
        1
    );
    let versions: Vec<i32> = client
        .list_workflow_defs()
        .await
        .unwrap()
        .iter()
        .filter(|d| d.name == "crud_wf")
        .map(|d| d.version)
        .collect();
    assert_eq!(versions, vec![1, 2]);
    client.delete_workflow_def("crud_wf", 2).await.unwrap();
    assert_eq!(
        client
            .get_workflow_def("crud_wf", None)
            .await
            .unwrap()
            .version,
        1
    );
    assert_eq!(
        client
            .delete_workflow_def("crud_wf", 9)
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
}

async fn bad_requests_get_conductor_errors_and_never_a_5xx(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let http = client.http();
    client
        .register_workflow_def(&two_task_def("strict"), false)
        .await
        .unwrap();

    // Registering the same (name, version) again without overwrite.
    let conflict = client
        .register_workflow_def(&two_task_def("strict"), false)
        .await
        .unwrap_err();
    assert_eq!(conflict.status(), Some(409));
    client
        .register_workflow_def(&two_task_def("strict"), true)
        .await
        .expect("overwrite is allowed");

    // Malformed JSON, on several endpoints.
    for path in [
        "/api/tasks",
        "/api/tasks/update-v2",
        "/api/metadata/workflow",
        "/api/workflow",
        "/api/workflow/strict",
    ] {
        let response = http
            .post(client.url(path))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], json!(400), "{path}");
        assert_eq!(body["retryable"], json!(false), "{path}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("JSON parse error"),
            "{path}: {body}"
        );
    }

    // Invalid definitions name what is wrong.
    let mut duplicate = two_task_def("dupes");
    duplicate.tasks[1].task_reference_name = "a".into();
    let error = client
        .register_workflow_def(&duplicate, false)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    let messages: Vec<String> = error
        .error_response()
        .unwrap()
        .validation_errors
        .clone()
        .unwrap()
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("taskReferenceName: a should be unique")),
        "{messages:?}"
    );
    let mut empty = two_task_def("empty");
    empty.tasks.clear();
    assert_eq!(
        client
            .register_workflow_def(&empty, false)
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
    let mut old = two_task_def("old");
    old.schema_version = 1;
    assert_eq!(
        client
            .register_workflow_def(&old, false)
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );

    // Unknown things are 404s.
    assert_eq!(start_error(client, "no_such_workflow").await, 404);
    assert_eq!(
        client
            .get_workflow("no-such-id", true)
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
    assert_eq!(
        client.get_task("no-such-task").await.unwrap_err().status(),
        Some(404)
    );
    assert_eq!(
        client
            .get_workflow_def("no_such_def", None)
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
    let response = http.get(client.url("/api/token")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);

    // Poll limits.
    let too_long = client
        .batch_poll("strict_a", &poll_once(5001))
        .await
        .unwrap_err();
    assert_eq!(too_long.status(), Some(400));
    let response = http
        .get(client.url("/api/tasks/poll/batch/strict_a?count=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    // Task updates: missing ids, missing status, unknown task, wrong workflow.
    let id = start(client, "strict", json!({"n": 1})).await;
    let a = poll_one(client, "strict_a").await;
    let missing_ids = TaskResult {
        status: Some(TaskResultStatus::Completed),
        ..TaskResult::default()
    };
    assert_eq!(
        client.update_task(&missing_ids).await.unwrap_err().status(),
        Some(400)
    );
    let no_status = TaskResult {
        status: None,
        ..result(&a, TaskResultStatus::Completed, json!({}))
    };
    assert_eq!(
        client.update_task(&no_status).await.unwrap_err().status(),
        Some(400)
    );
    let unknown = TaskResult {
        task_id: "no-such-task".into(),
        ..result(&a, TaskResultStatus::Completed, json!({}))
    };
    assert_eq!(
        client.update_task(&unknown).await.unwrap_err().status(),
        Some(404)
    );
    let unknown_workflow = TaskResult {
        workflow_instance_id: "no-such-wf".into(),
        ..result(&a, TaskResultStatus::Completed, json!({}))
    };
    assert_eq!(
        client
            .update_task(&unknown_workflow)
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
    let other = start(client, "strict", json!({"n": 2})).await;
    let wrong = TaskResult {
        workflow_instance_id: other,
        ..result(&a, TaskResultStatus::Completed, json!({}))
    };
    assert_eq!(
        client.update_task(&wrong).await.unwrap_err().status(),
        Some(400)
    );

    // None of it disturbed the workflow.
    assert_eq!(
        client.get_task(&a.task_id).await.unwrap().status,
        TaskStatus::InProgress
    );
    assert_eq!(
        client.get_workflow(&id, true).await.unwrap().status,
        WorkflowStatus::Running
    );
}

async fn start_error(client: &BatonClient, name: &str) -> u16 {
    let request = StartWorkflowRequest {
        name: name.into(),
        ..StartWorkflowRequest::default()
    };
    client
        .start_workflow(&request)
        .await
        .unwrap_err()
        .status()
        .unwrap()
}

async fn a_late_update_to_a_finished_task_changes_nothing(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("late"), false)
        .await
        .unwrap();
    start(client, "late", json!({"n": 1})).await;
    let a = poll_one(client, "late_a").await;
    client
        .update_task(&result(
            &a,
            TaskResultStatus::Completed,
            json!({"doubled": 2}),
        ))
        .await
        .unwrap();
    let again = client
        .update_task(&result(
            &a,
            TaskResultStatus::Failed,
            json!({"doubled": 99}),
        ))
        .await
        .unwrap();
    assert_eq!(again, a.task_id, "Conductor echoes the task id");
    let stored = client.get_task(&a.task_id).await.unwrap();
    assert_eq!(stored.status, TaskStatus::Completed);
    assert_eq!(stored.output_data["doubled"], json!(2));
}

async fn health_and_version_answer(db: TestDb) {
    let app = spawn_app(db).await;
    assert_eq!(app.client.health().await.unwrap()["healthy"], json!(true));
    let api_health: Value = app
        .client
        .http()
        .get(app.client.url("/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api_health["healthy"], json!(true));
    let version = app
        .client
        .http()
        .get(app.client.url("/api/version"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

async fn a_single_poll_returns_one_task_or_204(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("single"), false)
        .await
        .unwrap();
    let empty = client
        .http()
        .get(client.url("/api/tasks/poll/single_a"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status().as_u16(), 204);
    let empty_batch = client
        .http()
        .get(client.url("/api/tasks/poll/batch/single_a?timeout=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty_batch.status().as_u16(), 200);
    assert_eq!(empty_batch.text().await.unwrap(), "[]");
    let id = start(client, "single", json!({"n": 1})).await;
    let task = client
        .poll("single_a", Some("solo"), None)
        .await
        .unwrap()
        .expect("a task");
    assert_eq!(
        (
            task.workflow_instance_id.as_str(),
            task.worker_id.as_deref()
        ),
        (id.as_str(), Some("solo"))
    );
    assert!(client.poll("single_a", None, None).await.unwrap().is_none());
}

async fn pause_resume_and_terminate_follow_conductors_rules(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&two_task_def("ops"), false)
        .await
        .unwrap();
    let id = start(client, "ops", json!({"n": 1})).await;

    client.pause_workflow(&id).await.unwrap();
    let a = poll_one(client, "ops_a").await;
    client
        .update_task(&result(
            &a,
            TaskResultStatus::Completed,
            json!({"doubled": 2}),
        ))
        .await
        .unwrap();
    assert!(
        client
            .batch_poll("ops_b", &poll_once(0))
            .await
            .unwrap()
            .is_empty(),
        "paused: b is not scheduled"
    );
    assert_eq!(
        client.get_workflow(&id, false).await.unwrap().status,
        WorkflowStatus::Paused
    );
    client.resume_workflow(&id).await.unwrap();
    assert_eq!(
        client.resume_workflow(&id).await.unwrap_err().status(),
        Some(409)
    );
    let b = poll_one(client, "ops_b").await;

    client
        .terminate_workflow(&id, Some("enough"))
        .await
        .unwrap();
    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Terminated);
    assert_eq!(workflow.reason_for_incompletion.as_deref(), Some("enough"));
    assert_eq!(workflow.tasks[1].status, TaskStatus::Canceled);
    // The worker holding b reports late: the update is accepted and changes nothing.
    client
        .update_task(&result(
            &b,
            TaskResultStatus::Completed,
            json!({"result": "late"}),
        ))
        .await
        .unwrap();
    assert_eq!(
        client.get_task(&b.task_id).await.unwrap().status,
        TaskStatus::Canceled
    );
    assert_eq!(
        client.get_workflow(&id, false).await.unwrap().status,
        WorkflowStatus::Terminated
    );

    client
        .terminate_workflow(&id, None)
        .await
        .expect("terminating again is a no-op");
    assert_eq!(
        client.pause_workflow(&id).await.unwrap_err().status(),
        Some(409)
    );
    assert_eq!(
        client
            .terminate_workflow("no-such-workflow", None)
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
    assert_eq!(
        client
            .pause_workflow("no-such-workflow")
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
}

on_both_backends!(
    pause_resume_and_terminate_follow_conductors_rules,
    a_single_poll_returns_one_task_or_204,
    a_two_task_workflow_runs_to_completed_with_its_output,
    without_output_parameters_the_workflow_output_is_the_last_tasks_output,
    a_failed_task_without_retries_fails_the_workflow_with_its_reason,
    a_failed_task_with_retries_left_is_scheduled_again,
    in_progress_with_a_callback_hands_the_task_back_after_the_delay,
    extend_lease_keeps_the_task_in_progress,
    a_long_poll_wakes_as_soon_as_a_task_is_scheduled,
    higher_priority_workflows_are_polled_first,
    a_batch_poll_hands_each_task_to_one_worker_only,
    start_workflow_request_with_correlation_id_and_an_inline_definition_runs,
    task_logs_poll_data_and_queue_sizes_are_reported,
    removing_a_workflow_needs_archive_off_while_it_runs,
    definitions_can_be_created_read_listed_and_deleted,
    bad_requests_get_conductor_errors_and_never_a_5xx,
    a_late_update_to_a_finished_task_changes_nothing,
    health_and_version_answer,
);
