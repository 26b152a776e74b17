//! System tasks the server carries out off the decide path (HTTP, timed WAIT) and EVENT,
//! end to end through the API.

mod support;

use std::time::Duration;

use baton_model::{TaskStatus, Workflow, WorkflowDef, WorkflowStatus};
use baton_server::store::{DatabaseUrl, DieselStore, Store};
use serde_json::json;
use support::work::map;
use support::{eventually, spawn_app, TestApp, TestDb};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn run_to_end(app: &TestApp, def: serde_json::Value, input: serde_json::Value) -> Workflow {
    let def: WorkflowDef = serde_json::from_value(def).unwrap();
    let client = &app.client;
    client.register_workflow_def(&def, true).await.unwrap();
    let id = client
        .start_workflow_by_name(&def.name, None, None, None, &map(input))
        .await
        .unwrap();
    eventually(Duration::from_secs(20), || async {
        let workflow = client.get_workflow(&id, true).await.unwrap();
        workflow.status.is_terminal().then_some(workflow)
    })
    .await
}

async fn an_http_task_calls_the_endpoint_and_its_response_feeds_the_next_task(db: TestDb) {
    let endpoint = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .and(header("x-tenant", "acme"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"sku": "A-1", "qty": 2})))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-order", "o-9")
                .set_body_json(json!({"id": "o-9", "total": 12.5})),
        )
        .expect(1)
        .mount(&endpoint)
        .await;
    let app = spawn_app(db).await;
    let workflow = run_to_end(
        &app,
        json!({"name": "http_flow", "tasks": [
            {"name": "order", "taskReferenceName": "order", "type": "HTTP", "inputParameters": {
                "http_request": {"uri": "${workflow.input.base}/orders", "method": "POST",
                    "headers": {"X-Tenant": "acme"}, "body": {"sku": "A-1", "qty": "${workflow.input.qty}"}}}},
            {"name": "echo", "taskReferenceName": "echo", "type": "INLINE", "inputParameters": {
                "evaluatorType": "javascript", "id": "${order.output.response.body.id}",
                "expression": "$.id + '!'"}}
        ]}),
        json!({"base": endpoint.uri(), "qty": 2}),
    )
    .await;
    assert_eq!(workflow.status, WorkflowStatus::Completed, "{workflow:?}");
    let order = workflow.task_by_ref_name("order").unwrap();
    let response = &order.output_data["response"];
    assert_eq!(response["statusCode"], json!(201));
    assert_eq!(response["reasonPhrase"], json!("Created"));
    assert_eq!(response["body"], json!({"id": "o-9", "total": 12.5}));
    assert_eq!(response["headers"]["x-order"], json!(["o-9"]));
    assert_eq!(order.worker_id.as_deref(), Some("baton-system"));
    assert_eq!(workflow.output["result"], json!("o-9!"));
}

async fn an_http_task_fails_on_an_error_status_or_no_connection(db: TestDb) {
    let endpoint = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down for maintenance"))
        .mount(&endpoint)
        .await;
    let app = spawn_app(db).await;
    let workflow = run_to_end(
        &app,
        json!({"name": "http_503", "tasks": [
            {"name": "get", "taskReferenceName": "get", "type": "HTTP",
             "inputParameters": {"uri": "${workflow.input.url}", "method": "GET"}}]}),
        json!({"url": format!("{}/status", endpoint.uri())}),
    )
    .await;
    assert_eq!(workflow.status, WorkflowStatus::Failed);
    let get = workflow.task_by_ref_name("get").unwrap();
    assert_eq!(get.status, TaskStatus::Failed);
    assert_eq!(
        get.reason_for_incompletion.as_deref(),
        Some("HTTP 503 Service Unavailable: down for maintenance")
    );
    assert_eq!(get.output_data["response"]["statusCode"], json!(503));

    // Nothing listens on a port we just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let workflow = run_to_end(
        &app,
        json!({"name": "http_refused", "tasks": [
            {"name": "get", "taskReferenceName": "get", "type": "HTTP",
             "inputParameters": {"uri": "${workflow.input.url}", "method": "GET", "connectionTimeOut": 500}}]}),
        json!({"url": url}),
    )
    .await;
    assert_eq!(workflow.status, WorkflowStatus::Failed);
    let reason = workflow.tasks[0].reason_for_incompletion.clone().unwrap();
    assert!(
        reason.starts_with("Failed to invoke HTTP task due to:"),
        "{reason}"
    );
}

async fn a_timed_wait_ends_by_itself_after_its_duration(db: TestDb) {
    let app = spawn_app(db).await;
    let started = std::time::Instant::now();
    let workflow = run_to_end(
        &app,
        json!({"name": "nap", "tasks": [
            {"name": "pause", "taskReferenceName": "pause", "type": "WAIT", "inputParameters": {"duration": "1s"}},
            {"name": "done", "taskReferenceName": "done", "type": "NOOP"}]}),
        json!({}),
    )
    .await;
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    let pause = workflow.task_by_ref_name("pause").unwrap();
    assert_eq!(pause.status, TaskStatus::Completed);
    assert!(
        pause.end_time - pause.start_time >= 1000,
        "waited {} ms",
        pause.end_time - pause.start_time
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
}

async fn an_event_task_publishes_its_message_with_the_workflow_state(db: TestDb) {
    let app = spawn_app(db).await;
    let workflow = run_to_end(
        &app,
        json!({"name": "announce", "tasks": [
            {"name": "tell", "taskReferenceName": "tell", "type": "EVENT", "sink": "conductor:news",
             "inputParameters": {"headline": "${workflow.input.headline}"}}]}),
        json!({"headline": "baton ships"}),
    )
    .await;
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    let tell = workflow.task_by_ref_name("tell").unwrap();
    assert_eq!(
        tell.output_data["event_produced"],
        json!("conductor:announce:news")
    );
    let url = DatabaseUrl::parse(&app.db.url()).unwrap();
    let store = DieselStore::open(&url, 2).unwrap();
    let messages = store.event_messages("conductor:announce:news").unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].message_id, tell.task_id);
    assert_eq!(messages[0].payload["headline"], json!("baton ships"));
    assert_eq!(
        messages[0].payload["workflowInstanceId"],
        json!(workflow.workflow_id)
    );
}

async fn a_jq_transform_runs_in_the_sandbox_and_a_runaway_filter_only_fails_its_task(db: TestDb) {
    let app = spawn_app(db).await;
    let def = |name: &str, query: &str| {
        json!({"name": name, "tasks": [
            {"name": "shape", "taskReferenceName": "shape", "type": "JSON_JQ_TRANSFORM",
             "inputParameters": {"queryExpression": query, "orders": "${workflow.input.orders}"}}]})
    };
    let input = json!({"orders": [{"id": "a", "qty": 2}, {"id": "b", "qty": 5}]});
    let workflow = run_to_end(
        &app,
        def(
            "jq_ok",
            "{total: ([.orders[].qty] | add), ids: [.orders[].id]}",
        ),
        input.clone(),
    )
    .await;
    assert_eq!(workflow.status, WorkflowStatus::Completed, "{workflow:?}");
    let shape = workflow.task_by_ref_name("shape").unwrap();
    assert_eq!(
        shape.output_data,
        map(
            json!({"result": {"total": 7, "ids": ["a", "b"]}, "resultList": [{"total": 7, "ids": ["a", "b"]}]})
        )
    );

    for (name, query, reason) in [
        ("jq_syntax", "{total: ", "jq syntax error"),
        ("jq_runaway", "def f: 1 + f; f", "crashed the sandbox"),
        ("jq_type", ".orders + 1", "jq error"),
    ] {
        let workflow = run_to_end(&app, def(name, query), input.clone()).await;
        assert_eq!(workflow.status, WorkflowStatus::Failed, "{name}");
        let shape = workflow.task_by_ref_name("shape").unwrap();
        let got = shape.reason_for_incompletion.clone().unwrap();
        assert!(got.contains(reason), "{name}: {got}");
        assert_eq!(shape.output_data["error"], json!(got));
    }
    // The server is still healthy and the sandbox was replaced.
    let workflow = run_to_end(&app, def("jq_after", ".orders | length"), input).await;
    assert_eq!(workflow.output["result"], json!(2));
}

on_both_backends!(
    a_jq_transform_runs_in_the_sandbox_and_a_runaway_filter_only_fails_its_task,
    an_http_task_calls_the_endpoint_and_its_response_feeds_the_next_task,
    an_http_task_fails_on_an_error_status_or_no_connection,
    a_timed_wait_ends_by_itself_after_its_duration,
    an_event_task_publishes_its_message_with_the_workflow_state,
);
