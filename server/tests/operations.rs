//! Operator endpoints beyond the single-workflow actions: bulk operations, decide, reset
//! callbacks, and the running and correlated queries, through the API on both backends.

mod support;

use baton_client::BatonClient;
use baton_model::{Task, TaskResultStatus, TaskStatus, WorkflowDef, WorkflowStatus};
use serde_json::{json, Value};
use support::work::{map, poll_once, poll_one, result};
use support::{spawn_app, TestDb};

async fn register_one_step(client: &BatonClient, name: &str, task: &str) {
    let def: WorkflowDef = serde_json::from_value(json!({"name": name, "tasks": [
        {"name": task, "taskReferenceName": "only"}]}))
    .unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
}

async fn start(client: &BatonClient, name: &str, correlation_id: Option<&str>) -> String {
    client
        .start_workflow_by_name(name, None, correlation_id, None, &map(json!({})))
        .await
        .unwrap()
}

/// Sends `method path` with an optional JSON body; returns the status and the JSON body.
async fn call(client: &BatonClient, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.http().request(method, client.api_url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Polls all `count` queued tasks of `task_type` and returns the one of `workflow_id` (the
/// others stay leased to the test worker).
async fn task_of(client: &BatonClient, task_type: &str, workflow_id: &str, count: usize) -> Task {
    let mut request = poll_once(1000);
    request.count = count as u32;
    let tasks = client.batch_poll(task_type, &request).await.unwrap();
    assert_eq!(tasks.len(), count);
    tasks
        .into_iter()
        .find(|task| task.workflow_instance_id == workflow_id)
        .expect("the workflow's task")
}

async fn status_of(client: &BatonClient, id: &str) -> WorkflowStatus {
    client.get_workflow(id, false).await.unwrap().status
}

async fn bulk_actions_report_each_id_and_go_on_after_a_failure(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register_one_step(client, "bulky", "bulky_step").await;
    let running = start(client, "bulky", None).await;
    let done = start(client, "bulky", None).await;
    let task = task_of(client, "bulky_step", &done, 2).await;
    client
        .update_task(&result(&task, TaskResultStatus::Completed, json!({})))
        .await
        .unwrap();

    let ids = json!([running, done, "nope"]);
    let (status, body) = call(client, "PUT", "/workflow/bulk/pause", Some(ids)).await;
    assert_eq!(status, 200);
    assert_eq!(body["bulkSuccessfulResults"], json!([running]));
    assert_eq!(body["message"], json!("Bulk Request has been processed."));
    let errors = body["bulkErrorResults"].as_object().unwrap();
    assert!(
        errors[&done].as_str().unwrap().contains("has ended"),
        "{errors:?}"
    );
    assert_eq!(errors["nope"], json!("No such workflow found by id: nope"));
    assert_eq!(status_of(client, &running).await, WorkflowStatus::Paused);

    let (_, body) = call(
        client,
        "PUT",
        "/workflow/bulk/resume",
        Some(json!([running])),
    )
    .await;
    assert_eq!(body["bulkSuccessfulResults"], json!([running]));
    assert_eq!(status_of(client, &running).await, WorkflowStatus::Running);

    let (_, body) = call(
        client,
        "POST",
        "/workflow/bulk/terminate?reason=cleanup",
        Some(json!([running])),
    )
    .await;
    assert_eq!(body["bulkSuccessfulResults"], json!([running]));
    let terminated = client.get_workflow(&running, false).await.unwrap();
    assert_eq!(terminated.status, WorkflowStatus::Terminated);
    assert_eq!(
        terminated.reason_for_incompletion.as_deref(),
        Some("cleanup")
    );

    let (_, body) = call(
        client,
        "POST",
        "/workflow/bulk/retry",
        Some(json!([running])),
    )
    .await;
    assert_eq!(body["bulkSuccessfulResults"], json!([running]));
    assert_eq!(status_of(client, &running).await, WorkflowStatus::Running);

    // Removing with archiving refuses a running workflow but removes a finished one.
    let (_, body) = call(
        client,
        "DELETE",
        "/workflow/bulk/remove",
        Some(json!([running, done])),
    )
    .await;
    assert_eq!(body["bulkSuccessfulResults"], json!([done]));
    assert!(body["bulkErrorResults"][&running]
        .as_str()
        .unwrap()
        .contains("Cannot archive workflow"));
    let (_, body) = call(
        client,
        "DELETE",
        "/workflow/bulk/terminate-remove",
        Some(json!([running])),
    )
    .await;
    assert_eq!(body["bulkSuccessfulResults"], json!([running]));
    assert!(client.get_workflow(&running, false).await.is_err());

    let (status, body) = call(client, "PUT", "/workflow/bulk/pause", Some(json!([]))).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["validationErrors"][0]["message"],
        json!("WorkflowIds list cannot be null.")
    );
    let many: Vec<String> = (0..1001).map(|i| format!("w{i}")).collect();
    let (status, body) = call(client, "POST", "/workflow/bulk/retry", Some(json!(many))).await;
    assert_eq!(status, 400);
    assert!(body["validationErrors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("Cannot process more than 1000 workflows"));
    let (status, _) = call(
        client,
        "PUT",
        "/workflow/bulk/pause",
        Some(json!({"not": "a list"})),
    )
    .await;
    assert_eq!(status, 400);
}

async fn running_and_correlated_queries_find_the_right_workflows(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register_one_step(client, "orders", "orders_step").await;
    register_one_step(client, "other", "other_step").await;
    let first = start(client, "orders", Some("order-1")).await;
    let second = start(client, "orders", Some("order-1")).await;
    let third = start(client, "orders", Some("order-2")).await;
    start(client, "other", Some("order-1")).await;

    let (status, ids) = call(client, "GET", "/workflow/running/orders", None).await;
    assert_eq!(status, 200);
    let mut ids: Vec<String> = serde_json::from_value(ids).unwrap();
    ids.sort();
    let mut expected = vec![first.clone(), second.clone(), third.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let (_, ids) = call(client, "GET", "/workflow/running/orders?version=2", None).await;
    assert_eq!(ids, json!([]));
    let (_, ids) = call(
        client,
        "GET",
        "/workflow/running/orders?startTime=0&endTime=1000",
        None,
    )
    .await;
    assert_eq!(ids, json!([]), "none started in 1970");

    // Finish the first: it leaves the running list and, unless asked, the correlated one.
    let task = task_of(client, "orders_step", &first, 3).await;
    client
        .update_task(&result(
            &task,
            TaskResultStatus::Completed,
            json!({"ok": 1}),
        ))
        .await
        .unwrap();
    let (_, ids) = call(client, "GET", "/workflow/running/orders", None).await;
    assert!(!ids.as_array().unwrap().contains(&json!(first)));

    let (status, open) = call(client, "GET", "/workflow/orders/correlated/order-1", None).await;
    assert_eq!(status, 200);
    let open = open.as_array().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["workflowId"], json!(second));
    assert!(open[0].get("tasks").is_none_or(|t| t == &json!([])));
    let (_, all) = call(
        client,
        "GET",
        "/workflow/orders/correlated/order-1?includeClosed=true&includeTasks=true",
        None,
    )
    .await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    let finished = all
        .iter()
        .find(|w| w["workflowId"] == json!(first))
        .unwrap();
    assert_eq!(finished["status"], json!("COMPLETED"));
    assert_eq!(finished["tasks"][0]["outputData"], json!({"ok": 1}));

    let (_, batch) = call(
        client,
        "POST",
        "/workflow/orders/correlated?includeClosed=true",
        Some(json!(["order-1", "order-2", "order-9"])),
    )
    .await;
    assert_eq!(batch["order-1"].as_array().unwrap().len(), 2);
    assert_eq!(batch["order-2"][0]["workflowId"], json!(third));
    assert_eq!(batch["order-9"], json!([]));
}

async fn reset_callbacks_makes_a_delayed_task_pollable_now_and_decide_is_safe(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register_one_step(client, "later", "later_step").await;
    let id = start(client, "later", None).await;
    let task = poll_one(client, "later_step").await;
    let mut again = result(&task, TaskResultStatus::InProgress, json!({}));
    again.callback_after_seconds = 3600;
    client.update_task(&again).await.unwrap();
    let none = client
        .batch_poll("later_step", &poll_once(100))
        .await
        .unwrap();
    assert!(none.is_empty(), "the callback delay holds it back");

    let (status, _) = call(
        client,
        "POST",
        &format!("/workflow/{id}/resetcallbacks"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let task = poll_one(client, "later_step").await;
    assert_eq!(task.callback_after_seconds, 0);

    let (status, _) = call(client, "PUT", &format!("/workflow/decide/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(status_of(client, &id).await, WorkflowStatus::Running);
    let (status, _) = call(client, "PUT", "/workflow/decide/missing", None).await;
    assert_eq!(status, 404);

    client
        .update_task(&result(&task, TaskResultStatus::Completed, json!({})))
        .await
        .unwrap();
    let (status, body) = call(
        client,
        "POST",
        &format!("/workflow/{id}/resetcallbacks"),
        None,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        body["message"],
        json!("Workflow is in terminal state. Status = COMPLETED")
    );
}

async fn restart_and_rerun_run_an_ended_workflow_again(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "again", "tasks": [
        {"name": "again_a", "taskReferenceName": "a", "inputParameters": {"x": "${workflow.input.x}"}},
        {"name": "again_b", "taskReferenceName": "b", "inputParameters": {"from_a": "${a.output.v}"}}]}))
    .unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
    let id = client
        .start_workflow_by_name("again", None, None, None, &map(json!({"x": 1})))
        .await
        .unwrap();
    let (status, body) = call(client, "POST", &format!("/workflow/{id}/restart"), None).await;
    assert_eq!(status, 409, "a running workflow cannot restart: {body}");

    let finish = |task_type: &'static str, output: Value| async move {
        let task = poll_one(client, task_type).await;
        client
            .update_task(&result(&task, TaskResultStatus::Completed, output))
            .await
            .unwrap();
        task
    };
    finish("again_a", json!({"v": "first"})).await;
    let first_b = finish("again_b", json!({})).await;
    assert_eq!(status_of(client, &id).await, WorkflowStatus::Completed);

    // Rerun from b with new input: a is kept, b runs again.
    let (status, body) = call(
        client,
        "POST",
        &format!("/workflow/{id}/rerun"),
        Some(json!({"reRunFromWorkflowId": id, "reRunFromTaskId": first_b.task_id, "taskInput": {"from_a": "by hand"}})),
    )
    .await;
    assert_eq!((status, body), (200, json!(id)));
    let again_b = poll_one(client, "again_b").await;
    assert_eq!(again_b.input_data, map(json!({"from_a": "by hand"})));
    assert_ne!(again_b.task_id, first_b.task_id);
    client
        .update_task(&result(&again_b, TaskResultStatus::Completed, json!({})))
        .await
        .unwrap();
    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(workflow.tasks.len(), 2, "the first b is gone");

    // Restart on the latest definition: version 2 has a different first task.
    let mut newer = def.clone();
    newer.version = 2;
    newer.tasks.truncate(1);
    newer.tasks[0].name = "again_v2".into();
    client.register_workflow_def(&newer, true).await.unwrap();
    let (status, _) = call(
        client,
        "POST",
        &format!("/workflow/{id}/restart?useLatestDefinitions=true"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let restarted = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(restarted.status, WorkflowStatus::Running);
    assert_eq!(restarted.tasks.len(), 1);
    assert_eq!(restarted.tasks[0].task_type, "again_v2");
    finish("again_v2", json!({})).await;
    assert_eq!(status_of(client, &id).await, WorkflowStatus::Completed);

    // The bulk form, and a plain restart, run the first task again.
    let (_, body) = call(client, "POST", "/workflow/bulk/restart", Some(json!([id]))).await;
    assert_eq!(body["bulkSuccessfulResults"], json!([id]));
    assert_eq!(status_of(client, &id).await, WorkflowStatus::Running);

    let (status, body) = call(
        client,
        "POST",
        &format!("/workflow/{id}/rerun"),
        Some(json!({"reRunFromTaskId": "no-such-task"})),
    )
    .await;
    assert_eq!(status, 409, "still running: {body}");
}

async fn a_skipped_branch_task_lets_its_join_complete(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "skippy", "tasks": [
        {"name": "first", "taskReferenceName": "first"},
        {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [
            [{"name": "skippy_left", "taskReferenceName": "left"}],
            [{"name": "skippy_right", "taskReferenceName": "right"}]]},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left", "right"]}]}))
    .unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
    let id = start(client, "skippy", None).await;

    let (status, body) = call(
        client,
        "PUT",
        &format!("/workflow/{id}/skiptask/right"),
        Some(json!({"taskOutput": {"note": "skipped by ops"}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        client,
        "PUT",
        &format!("/workflow/{id}/skiptask/first"),
        None,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        body["message"],
        json!("The task referenced first has already been processed, cannot be skipped")
    );
    let (status, _) = call(
        client,
        "PUT",
        &format!("/workflow/{id}/skiptask/nope"),
        None,
    )
    .await;
    assert_eq!(status, 409);

    let first = poll_one(client, "first").await;
    client
        .update_task(&result(&first, TaskResultStatus::Completed, json!({})))
        .await
        .unwrap();
    let none = client
        .batch_poll("skippy_right", &poll_once(100))
        .await
        .unwrap();
    assert!(none.is_empty(), "the skipped task is never queued");
    let left = poll_one(client, "skippy_left").await;
    client
        .update_task(&result(
            &left,
            TaskResultStatus::Completed,
            json!({"note": "ran"}),
        ))
        .await
        .unwrap();
    let done = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(done.status, WorkflowStatus::Completed, "{done:?}");
    let join = done.task_by_ref_name("join").unwrap();
    assert_eq!(
        join.output_data,
        map(json!({"left": {"note": "ran"}, "right": {"note": "skipped by ops"}}))
    );
    assert_eq!(
        done.task_by_ref_name("right").unwrap().status,
        TaskStatus::Skipped
    );
}

async fn a_parent_that_ends_takes_its_running_sub_workflows_with_it(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register_one_step(client, "kid", "kid_step").await;
    let parent: WorkflowDef = serde_json::from_value(json!({"name": "parent_of_kid", "tasks": [
        {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [
            [{"name": "kid", "taskReferenceName": "kid", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "kid"}}],
            [{"name": "sibling_step", "taskReferenceName": "sibling"}]]},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["kid", "sibling"]}]}))
    .unwrap();
    client.register_workflow_def(&parent, true).await.unwrap();
    let child_of = |workflow: &baton_model::Workflow| {
        workflow
            .task_by_ref_name("kid")
            .unwrap()
            .sub_workflow_id
            .clone()
            .unwrap()
    };

    // Terminated by an operator: the child is terminated too, and its task cancelled.
    let id = start(client, "parent_of_kid", None).await;
    let child = child_of(&client.get_workflow(&id, true).await.unwrap());
    client
        .terminate_workflow(&id, Some("operator stop"))
        .await
        .unwrap();
    let ended_child = client.get_workflow(&child, true).await.unwrap();
    assert_eq!(ended_child.status, WorkflowStatus::Terminated);
    assert_eq!(
        ended_child.reason_for_incompletion.as_deref(),
        Some("Parent workflow has been terminated with status TERMINATED")
    );
    assert_eq!(ended_child.tasks[0].status, TaskStatus::Canceled);

    // Failed by a sibling branch: the same.
    let id = start(client, "parent_of_kid", None).await;
    let child = child_of(&client.get_workflow(&id, true).await.unwrap());
    let sibling = poll_one(client, "sibling_step").await;
    let mut failed = result(
        &sibling,
        TaskResultStatus::FailedWithTerminalError,
        json!({}),
    );
    failed.reason_for_incompletion = Some("broken".into());
    client.update_task(&failed).await.unwrap();
    assert_eq!(status_of(client, &id).await, WorkflowStatus::Failed);
    let ended_child = client.get_workflow(&child, false).await.unwrap();
    assert_eq!(ended_child.status, WorkflowStatus::Terminated);
    assert_eq!(
        ended_child.reason_for_incompletion.as_deref(),
        Some("Parent workflow has been terminated with status FAILED")
    );
    let sizes = client.all_queue_sizes().await.unwrap();
    assert_eq!(
        sizes.get("kid_step").copied().unwrap_or(0),
        0,
        "no child task is left queued"
    );
}

async fn a_failed_workflow_starts_its_failure_workflow_and_records_its_id(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register_one_step(client, "on_failure_a", "cleanup_a").await;
    register_one_step(client, "on_failure_b", "cleanup_b").await;
    let task_def = serde_json::from_value(json!({"name": "charge", "retryCount": 0})).unwrap();
    client.register_task_defs(&[task_def]).await.unwrap();
    // The failure workflow is named by the start input, in Conductor's `$workflow.input.x`
    // form. A definition sent with an embedded failure definition has it dropped.
    let def: WorkflowDef = serde_json::from_value(json!({"name": "checkout",
        "failureWorkflow": "$workflow.input.onFailure",
        "failureWorkflowDefinition": {"name": "smuggled", "tasks": []},
        "tasks": [{"name": "charge", "taskReferenceName": "charge"}]}))
    .unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
    let registered = client.get_workflow_def("checkout", None).await.unwrap();
    assert!(registered.failure_workflow_definition.is_none());

    let input = map(json!({"onFailure": "on_failure_b", "cart": 7}));
    let id = client
        .start_workflow_by_name("checkout", None, Some("order-7"), None, &input)
        .await
        .unwrap();
    let charge = poll_one(client, "charge").await;
    client
        .update_task(&result(&charge, TaskResultStatus::Failed, json!({})))
        .await
        .unwrap();

    let failed = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(failed.status, WorkflowStatus::Failed);
    let failure_id = failed.output["conductor.failure_workflow"]
        .as_str()
        .expect("the failure workflow's id")
        .to_owned();
    let failure = client.get_workflow(&failure_id, true).await.unwrap();
    assert_eq!(failure.workflow_name(), Some("on_failure_b"));
    assert_eq!(failure.status, WorkflowStatus::Running);
    assert_eq!(failure.correlation_id.as_deref(), Some("order-7"));
    assert_eq!(failure.input["workflowId"], json!(id));
    assert_eq!(failure.input["cart"], json!(7));
    assert_eq!(failure.input["failureStatus"], json!("FAILED"));
    assert_eq!(failure.input["failureTaskId"], json!(charge.task_id));
    assert_eq!(failure.input["failedWorkflow"]["workflowId"], json!(id));
    // It was queued with the failure, in the same transaction.
    let cleanup = poll_one(client, "cleanup_b").await;
    assert_eq!(cleanup.workflow_instance_id, failure_id);

    // An operator's terminate starts nothing.
    let id = client
        .start_workflow_by_name("checkout", None, None, None, &input)
        .await
        .unwrap();
    client
        .terminate_workflow(&id, Some("by hand"))
        .await
        .unwrap();
    let terminated = client.get_workflow(&id, false).await.unwrap();
    assert!(terminated
        .output
        .get("conductor.failure_workflow")
        .is_none());
    assert_eq!(client.queue_size("cleanup_b", None).await.unwrap(), 0);
}

async fn a_child_left_running_by_a_dead_server_is_ended_by_the_sweeper(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register_one_step(client, "stray", "stray_step").await;
    let parent: WorkflowDef = serde_json::from_value(json!({"name": "parent_of_stray", "tasks": [
        {"name": "stray", "taskReferenceName": "stray", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "stray"}}]}))
    .unwrap();
    client.register_workflow_def(&parent, true).await.unwrap();
    let id = start(client, "parent_of_stray", None).await;
    let child = client.get_workflow(&id, true).await.unwrap().tasks[0]
        .sub_workflow_id
        .clone()
        .unwrap();

    // Another server terminates the parent and dies before it can end the child: only the
    // parent's commit happened.
    let other = baton_server::store::DieselStore::open(
        &baton_server::store::DatabaseUrl::parse(&app.db.url()).unwrap(),
        2,
    )
    .unwrap();
    let parent_id = id.clone();
    tokio::task::spawn_blocking(move || {
        use baton_server::store::Store;
        other
            .update_workflow(
                &parent_id,
                Box::new(|workflow| {
                    baton_engine::operator::terminate(
                        workflow,
                        None,
                        baton_server::runtime::now_ms(),
                    )
                }),
                Box::new(|_, _| unreachable!("the parent has no parent")),
            )
            .wait()
            .unwrap();
    })
    .await
    .unwrap();
    assert_eq!(status_of(client, &child).await, WorkflowStatus::Running);

    app.runtime
        .sweep(baton_server::runtime::now_ms())
        .await
        .unwrap();
    let ended = client.get_workflow(&child, true).await.unwrap();
    assert_eq!(ended.status, WorkflowStatus::Terminated);
    assert_eq!(
        ended.reason_for_incompletion.as_deref(),
        Some("Parent workflow has been terminated with status TERMINATED")
    );
    assert_eq!(client.queue_size("stray_step", None).await.unwrap(), 0);
}

async fn idempotency_keys_are_enforced_by_strategy(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register_one_step(client, "charge_once", "charge_step").await;
    register_one_step(client, "refund_once", "refund_step").await;
    let start_with = |name: &str, key: &str, strategy: &str| json!({"name": name, "input": {}, "idempotencyKey": key, "idempotencyStrategy": strategy});

    // RETURN_EXISTING: the same id, and nothing new.
    let (status, first) = call(
        client,
        "POST",
        "/workflow",
        Some(start_with("charge_once", "k1", "RETURN_EXISTING")),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = call(
        client,
        "POST",
        "/workflow",
        Some(start_with("charge_once", "k1", "RETURN_EXISTING")),
    )
    .await;
    assert_eq!((status, &again), (200, &first));
    assert_eq!(client.queue_size("charge_step", None).await.unwrap(), 1);

    // FAIL: a 409 naming the earlier workflow, in Conductor's error shape.
    let (status, body) = call(
        client,
        "POST",
        "/workflow",
        Some(start_with("charge_once", "k1", "FAIL")),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        body["message"],
        json!(format!(
            "Workflow charge_once with idempotencyKey k1 already exists: {}",
            first.as_str().unwrap()
        ))
    );
    // The key belongs to one workflow name.
    let (status, _) = call(
        client,
        "POST",
        "/workflow",
        Some(start_with("refund_once", "k1", "FAIL")),
    )
    .await;
    assert_eq!(status, 200);

    // FAIL_ON_RUNNING: refused while the first runs, allowed once it ended.
    let (status, body) = call(
        client,
        "POST",
        "/workflow",
        Some(start_with("charge_once", "k1", "FAIL_ON_RUNNING")),
    )
    .await;
    assert_eq!(status, 409);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("is already RUNNING"));
    client
        .terminate_workflow(first.as_str().unwrap(), None)
        .await
        .unwrap();
    let (status, third) = call(
        client,
        "POST",
        "/workflow",
        Some(start_with("charge_once", "k1", "FAIL_ON_RUNNING")),
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(third, first);

    // Concurrent starts with one key create one workflow.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let request = json!({"name": "charge_once", "input": {},
                    "idempotencyKey": "k2", "idempotencyStrategy": "RETURN_EXISTING"});
                call(&client, "POST", "/workflow", Some(request)).await
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for racer in racers {
        let (status, id) = racer.await.unwrap();
        assert_eq!(status, 200, "{id}");
        ids.insert(id.as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "every racer got the one workflow");
}

async fn execute_answers_when_the_workflow_finishes_or_reaches_a_task_or_time_runs_out(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "quote", "tasks": [
        {"name": "price", "taskReferenceName": "price", "inputParameters": {"sku": "${workflow.input.sku}"}},
        {"name": "tax", "taskReferenceName": "tax"}],
        "outputParameters": {"price": "${price.output.price}"}}))
    .unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
    let execute = |query: &'static str| {
        let client = client.clone();
        tokio::spawn(async move {
            call(
                &client,
                "POST",
                &format!("/workflow/execute/quote/1?{query}"),
                Some(json!({"input": {"sku": "a1"}, "correlationId": "q-1"})),
            )
            .await
        })
    };

    // Answers once the workflow completes.
    let waiting = execute("requestId=r-1&waitForSeconds=20");
    let price = poll_one(client, "price").await;
    assert_eq!(price.input_data["sku"], json!("a1"));
    client
        .update_task(&result(
            &price,
            TaskResultStatus::Completed,
            json!({"price": 12}),
        ))
        .await
        .unwrap();
    let tax = poll_one(client, "tax").await;
    client
        .update_task(&result(&tax, TaskResultStatus::Completed, json!({})))
        .await
        .unwrap();
    let (status, run) = waiting.await.unwrap();
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], json!("COMPLETED"));
    assert_eq!(run["requestId"], json!("r-1"));
    assert_eq!(run["workflowId"], json!(price.workflow_instance_id));
    assert_eq!(run["targetWorkflowId"], json!(price.workflow_instance_id));
    assert_eq!(run["correlationId"], json!("q-1"));
    assert_eq!(run["output"], json!({"price": 12}));
    assert_eq!(run["tasks"].as_array().unwrap().len(), 2);

    // Answers once the task it waits for is done, while the workflow runs on.
    let waiting = execute("waitUntilTaskRef=nothing,price&waitForSeconds=20");
    let price = poll_one(client, "price").await;
    client
        .update_task(&result(
            &price,
            TaskResultStatus::Completed,
            json!({"price": 3}),
        ))
        .await
        .unwrap();
    let (_, run) = waiting.await.unwrap();
    assert_eq!(run["status"], json!("RUNNING"));
    assert_eq!(run["tasks"][0]["status"], json!("COMPLETED"));
    assert!(
        !run["requestId"].as_str().unwrap().is_empty(),
        "a request id is made up"
    );

    // Time runs out: the current state.
    let (status, run) = execute("waitForSeconds=1").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(run["status"], json!("RUNNING"));
    assert_eq!(run["tasks"][0]["status"], json!("SCHEDULED"));

    // Bad requests.
    let (status, body) = call(client, "POST", "/workflow/execute/nope/0", Some(json!({}))).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["message"],
        json!("No such workflow found by name: nope, version: null")
    );
    let (status, _) = call(
        client,
        "POST",
        "/workflow/execute/quote/1?returnStrategy=BLOCKING_TASK",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400);
}

async fn retry_resumes_a_failed_sub_workflow_in_place_or_starts_it_over(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let task_def = serde_json::from_value(json!({"name": "kid_work", "retryCount": 0})).unwrap();
    client.register_task_defs(&[task_def]).await.unwrap();
    register_one_step(client, "resumable_kid", "kid_work").await;
    let parent: WorkflowDef = serde_json::from_value(json!({"name": "resumable_parent", "tasks": [
        {"name": "resumable_kid", "taskReferenceName": "kid", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "resumable_kid"}},
        {"name": "after_kid", "taskReferenceName": "after"}]}))
    .unwrap();
    client.register_workflow_def(&parent, true).await.unwrap();
    let fail_the_kid = || async {
        let work = poll_one(client, "kid_work").await;
        client
            .update_task(&result(&work, TaskResultStatus::Failed, json!({})))
            .await
            .unwrap();
        work.workflow_instance_id
    };

    // Resumed: the same child runs again, and the parent's task waits for it.
    let id = start(client, "resumable_parent", None).await;
    let child = fail_the_kid().await;
    assert_eq!(status_of(client, &id).await, WorkflowStatus::Failed);
    let (status, _) = call(
        client,
        "POST",
        &format!("/workflow/{id}/retry?resumeSubworkflowTasks=true"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let parent = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(parent.status, WorkflowStatus::Running);
    assert_eq!(parent.tasks.len(), 1, "no new SUB_WORKFLOW task");
    assert_eq!(parent.tasks[0].status, TaskStatus::InProgress);
    assert_eq!(
        parent.tasks[0].sub_workflow_id.as_deref(),
        Some(child.as_str())
    );
    let resumed = client.get_workflow(&child, true).await.unwrap();
    assert_eq!(resumed.status, WorkflowStatus::Running);
    assert_eq!(resumed.tasks.len(), 2);
    let work = poll_one(client, "kid_work").await;
    assert_eq!(work.workflow_instance_id, child);
    client
        .update_task(&result(
            &work,
            TaskResultStatus::Completed,
            json!({"ok": true}),
        ))
        .await
        .unwrap();
    let parent = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(parent.tasks[0].status, TaskStatus::Completed);
    assert_eq!(parent.tasks[0].output_data["ok"], json!(true));
    assert_eq!(parent.tasks[1].reference_task_name, "after");

    // A plain retry starts a new child for a new attempt of the task.
    let id = start(client, "resumable_parent", None).await;
    let first_child = fail_the_kid().await;
    client.retry_workflow(&id, false).await.unwrap();
    let parent = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(parent.tasks.len(), 2);
    let second_child = parent.tasks[1].sub_workflow_id.clone().unwrap();
    assert_ne!(second_child, first_child);
    assert_eq!(
        status_of(client, &first_child).await,
        WorkflowStatus::Failed
    );

    // Retrying the child itself reopens its parent as well.
    let id = start(client, "resumable_parent", None).await;
    let child = fail_the_kid().await;
    let (status, _) = call(client, "POST", &format!("/workflow/{child}/retry"), None).await;
    assert_eq!(status, 204);
    assert_eq!(status_of(client, &id).await, WorkflowStatus::Running);
}

on_both_backends!(
    retry_resumes_a_failed_sub_workflow_in_place_or_starts_it_over,
    execute_answers_when_the_workflow_finishes_or_reaches_a_task_or_time_runs_out,
    a_child_left_running_by_a_dead_server_is_ended_by_the_sweeper,
    idempotency_keys_are_enforced_by_strategy,
    a_failed_workflow_starts_its_failure_workflow_and_records_its_id,
    a_parent_that_ends_takes_its_running_sub_workflows_with_it,
    a_skipped_branch_task_lets_its_join_complete,
    restart_and_rerun_run_an_ended_workflow_again,
    bulk_actions_report_each_id_and_go_on_after_a_failure,
    running_and_correlated_queries_find_the_right_workflows,
    reset_callbacks_makes_a_delayed_task_pollable_now_and_decide_is_safe,
);
