//! `BatonClient` against a canned local HTTP responder: the requests it sends and how it
//! reads answers and errors.

mod support;

use baton_client::{BatonClient, ClientError, PollRequest};
use baton_model::{
    JsonMap, StartWorkflowRequest, TaskDef, TaskResult, TaskResultStatus, WorkflowDef,
    WorkflowStatus,
};
use serde_json::json;
use support::{FakeServer, Reply};

fn client(server: &FakeServer) -> BatonClient {
    BatonClient::new(&server.base).expect("valid base URL")
}

#[tokio::test]
async fn register_task_defs_posts_the_definitions_as_a_json_list() {
    let mut server = FakeServer::always(Reply::text(200, "")).await;
    let defs = [
        TaskDef {
            name: "a".into(),
            ..TaskDef::default()
        },
        TaskDef {
            name: "b".into(),
            ..TaskDef::default()
        },
    ];
    client(&server).register_task_defs(&defs).await.unwrap();

    let request = server.next_request().await;
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/metadata/taskdefs");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body[0]["name"], "a");
    assert_eq!(body[1]["name"], "b");
}

#[tokio::test]
async fn a_404_with_a_conductor_error_body_is_an_api_error_with_status_404() {
    let mut server = FakeServer::always(Reply::json(
        404,
        json!({"status": 404, "message": "No such taskType found by name: nope", "retryable": false}),
    ))
    .await;
    let err = client(&server).get_task_def("nope").await.unwrap_err();

    assert_eq!(err.status(), Some(404));
    let ClientError::Api { status, error } = &err else {
        panic!("expected an Api error, got {err:?}");
    };
    assert_eq!(*status, 404);
    assert_eq!(
        error.message.as_deref(),
        Some("No such taskType found by name: nope")
    );
    assert!(!err.is_retryable());
    assert_eq!(
        server.next_request().await.path,
        "/api/metadata/taskdefs/nope"
    );
}

#[tokio::test]
async fn a_500_with_a_plain_text_body_keeps_the_text_as_message() {
    let server = FakeServer::always(Reply::text(500, "database on fire")).await;
    let err = client(&server).list_task_defs().await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(
        err.error_response().unwrap().message.as_deref(),
        Some("database on fire")
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn path_segments_are_percent_encoded() {
    let mut server = FakeServer::always(Reply::json(200, json!({"name": "a b/c"}))).await;
    let def = client(&server).get_task_def("a b/c").await.unwrap();
    assert_eq!(def.name, "a b/c");
    assert_eq!(
        server.next_request().await.path,
        "/api/metadata/taskdefs/a%20b%2Fc"
    );
}

#[tokio::test]
async fn a_path_in_the_base_url_is_kept_as_a_prefix() {
    let mut server = FakeServer::always(Reply::json(200, json!([]))).await;
    let client = BatonClient::new(format!("{}/conductor/", server.base)).unwrap();
    assert!(client.list_workflow_defs().await.unwrap().is_empty());
    assert_eq!(
        server.next_request().await.path,
        "/conductor/api/metadata/workflow"
    );
}

#[tokio::test]
async fn workflow_definitions_use_the_overwrite_version_and_list_conventions() {
    let mut server = FakeServer::start(|request| match request.method.as_str() {
        "GET" => Reply::json(200, json!({"name": "flow", "version": 3})),
        _ => Reply::text(200, ""),
    })
    .await;
    let client = client(&server);
    let def = WorkflowDef {
        name: "flow".into(),
        ..WorkflowDef::default()
    };

    client.register_workflow_def(&def, true).await.unwrap();
    let request = server.next_request().await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/api/metadata/workflow")
    );
    assert_eq!(request.query_values("overwrite"), ["true"]);
    assert_eq!(request.json()["name"], "flow");

    client.update_workflow_defs(&[def]).await.unwrap();
    let request = server.next_request().await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("PUT", "/api/metadata/workflow")
    );
    assert_eq!(request.json()[0]["name"], "flow");

    let fetched = client.get_workflow_def("flow", Some(3)).await.unwrap();
    assert_eq!(fetched.version, 3);
    let request = server.next_request().await;
    assert_eq!(request.path, "/api/metadata/workflow/flow");
    assert_eq!(request.query_values("version"), ["3"]);

    client.get_workflow_def("flow", None).await.unwrap();
    assert!(server.next_request().await.query.is_empty());

    client.delete_workflow_def("flow", 3).await.unwrap();
    let request = server.next_request().await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("DELETE", "/api/metadata/workflow/flow/3")
    );
}

#[tokio::test]
async fn start_workflow_returns_the_plain_text_id() {
    let mut server = FakeServer::always(Reply::text(200, "wf-123")).await;
    let mut request = StartWorkflowRequest::new("flow");
    request.correlation_id = Some("corr".into());
    let id = client(&server).start_workflow(&request).await.unwrap();

    assert_eq!(id, "wf-123");
    let recorded = server.next_request().await;
    assert_eq!(
        (recorded.method.as_str(), recorded.path.as_str()),
        ("POST", "/api/workflow")
    );
    assert_eq!(recorded.json()["name"], "flow");
    assert_eq!(recorded.json()["correlationId"], "corr");
}

#[tokio::test]
async fn start_workflow_by_name_sends_only_the_given_parameters_and_the_input() {
    let mut server = FakeServer::always(Reply::text(200, "wf-9")).await;
    let client = client(&server);
    let mut input = JsonMap::new();
    input.insert("x".into(), json!(1));

    let id = client
        .start_workflow_by_name("flow", Some(2), Some("c 1"), Some(7), &input)
        .await
        .unwrap();
    assert_eq!(id, "wf-9");
    let request = server.next_request().await;
    assert_eq!(request.path, "/api/workflow/flow");
    assert_eq!(request.query_values("version"), ["2"]);
    assert_eq!(request.query_values("correlationId"), ["c 1"]);
    assert_eq!(request.query_values("priority"), ["7"]);
    assert_eq!(request.json(), json!({"x": 1}));

    client
        .start_workflow_by_name("flow", None, None, None, &JsonMap::new())
        .await
        .unwrap();
    let request = server.next_request().await;
    assert!(request.query.is_empty(), "query: {:?}", request.query);
    assert_eq!(request.json(), json!({}));
}

#[tokio::test]
async fn get_workflow_sends_include_tasks_and_decodes_the_workflow() {
    let mut server = FakeServer::always(Reply::json(
        200,
        json!({"workflowId": "wf-1", "status": "RUNNING", "tasks": []}),
    ))
    .await;
    let workflow = client(&server).get_workflow("wf-1", false).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Running);
    let request = server.next_request().await;
    assert_eq!(request.path, "/api/workflow/wf-1");
    assert_eq!(request.query_values("includeTasks"), ["false"]);
}

#[tokio::test]
async fn remove_workflow_sends_archive_workflow() {
    let mut server = FakeServer::always(Reply::text(200, "")).await;
    client(&server).remove_workflow("wf-1", true).await.unwrap();
    let request = server.next_request().await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("DELETE", "/api/workflow/wf-1/remove")
    );
    assert_eq!(request.query_values("archiveWorkflow"), ["true"]);
}

#[tokio::test]
async fn poll_is_none_on_204_and_sends_worker_id_and_domain() {
    let mut server = FakeServer::always(Reply::no_content()).await;
    let task = client(&server)
        .poll("encode", Some("w-1"), Some("blue"))
        .await
        .unwrap();
    assert_eq!(task, None);
    let request = server.next_request().await;
    assert_eq!(request.path, "/api/tasks/poll/encode");
    assert_eq!(request.query_values("workerid"), ["w-1"]);
    assert_eq!(request.query_values("domain"), ["blue"]);
}

#[tokio::test]
async fn poll_decodes_a_task() {
    let server = FakeServer::always(Reply::json(
        200,
        json!({"taskId": "t-1", "taskType": "encode", "status": "IN_PROGRESS"}),
    ))
    .await;
    let task = client(&server).poll("encode", None, None).await.unwrap();
    assert_eq!(task.map(|t| t.task_id), Some("t-1".to_owned()));
}

#[tokio::test]
async fn batch_poll_sends_count_timeout_worker_and_domain_and_is_empty_on_204() {
    let mut server = FakeServer::always(Reply::no_content()).await;
    let poll = PollRequest {
        count: 3,
        timeout_ms: 250,
        worker_id: Some("w-1".into()),
        domain: None,
    };
    let tasks = client(&server).batch_poll("encode", &poll).await.unwrap();
    assert!(tasks.is_empty());
    let request = server.next_request().await;
    assert_eq!(request.path, "/api/tasks/poll/batch/encode");
    assert_eq!(request.query_values("count"), ["3"]);
    assert_eq!(request.query_values("timeout"), ["250"]);
    assert_eq!(request.query_values("workerid"), ["w-1"]);
    assert!(request.query_values("domain").is_empty());
}

#[tokio::test]
async fn update_task_posts_the_result_and_returns_the_text_answer() {
    let mut server = FakeServer::always(Reply::text(200, "t-1")).await;
    let result = TaskResult::new("wf-1", "t-1", TaskResultStatus::Completed);
    assert_eq!(client(&server).update_task(&result).await.unwrap(), "t-1");
    let request = server.next_request().await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/api/tasks")
    );
    assert_eq!(request.json()["status"], "COMPLETED");
    assert_eq!(request.json()["taskId"], "t-1");
}

#[tokio::test]
async fn update_task_v2_is_none_on_204_and_the_next_task_on_200() {
    let mut server = FakeServer::start(|request| {
        if request.json()["taskId"] == "last" {
            Reply::no_content()
        } else {
            Reply::json(200, json!({"taskId": "next", "taskType": "encode"}))
        }
    })
    .await;
    let client = client(&server);

    let last = TaskResult::new("wf-1", "last", TaskResultStatus::Completed);
    assert_eq!(client.update_task_v2(&last).await.unwrap(), None);
    assert_eq!(server.next_request().await.path, "/api/tasks/update-v2");

    let first = TaskResult::new("wf-1", "first", TaskResultStatus::Completed);
    let next = client.update_task_v2(&first).await.unwrap();
    assert_eq!(next.map(|t| t.task_id), Some("next".to_owned()));
}

#[tokio::test]
async fn add_task_log_sends_the_message_as_a_json_string() {
    let mut server = FakeServer::always(Reply::text(200, "")).await;
    client(&server)
        .add_task_log("t-1", "said \"hi\"")
        .await
        .unwrap();
    let request = server.next_request().await;
    assert_eq!(request.path, "/api/tasks/t-1/log");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.body, br#""said \"hi\"""#);
}

#[tokio::test]
async fn get_task_logs_is_empty_on_204() {
    let server = FakeServer::always(Reply::no_content()).await;
    assert!(client(&server)
        .get_task_logs("t-1")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn get_task_logs_decodes_the_log_lines() {
    let server = FakeServer::always(Reply::json(
        200,
        json!([{"log": "one", "taskId": "t-1", "createdTime": 5}]),
    ))
    .await;
    let logs = client(&server).get_task_logs("t-1").await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].log.as_deref(), Some("one"));
    assert_eq!(logs[0].created_time, 5);
}

#[tokio::test]
async fn queue_sizes_repeats_the_task_type_parameter() {
    let mut server = FakeServer::always(Reply::json(200, json!({"a": 1, "b": 0}))).await;
    let sizes = client(&server).queue_sizes(&["a", "b"]).await.unwrap();
    assert_eq!(sizes.get("a"), Some(&1));
    assert_eq!(sizes.get("b"), Some(&0));
    let request = server.next_request().await;
    assert_eq!(request.path, "/api/tasks/queue/sizes");
    assert_eq!(request.query_values("taskType"), ["a", "b"]);
}

#[tokio::test]
async fn queue_size_decodes_a_bare_number() {
    let mut server = FakeServer::always(Reply::json(200, json!(42))).await;
    let size = client(&server).queue_size("a", Some("blue")).await.unwrap();
    assert_eq!(size, 42);
    let request = server.next_request().await;
    assert_eq!(request.path, "/api/tasks/queue/size");
    assert_eq!(request.query_values("taskType"), ["a"]);
    assert_eq!(request.query_values("domain"), ["blue"]);
}

#[tokio::test]
async fn poll_data_and_queue_listings_use_their_paths() {
    let mut server = FakeServer::start(|request| match request.path.as_str() {
        "/api/tasks/queue/all" => Reply::json(200, json!({"a": 3})),
        _ => Reply::json(
            200,
            json!([{"queueName": "a", "workerId": "w", "lastPollTime": 9}]),
        ),
    })
    .await;
    let client = client(&server);

    assert_eq!(client.all_queue_sizes().await.unwrap().get("a"), Some(&3));
    assert_eq!(server.next_request().await.path, "/api/tasks/queue/all");

    let data = client.poll_data("a").await.unwrap();
    assert_eq!(data[0].worker_id.as_deref(), Some("w"));
    let request = server.next_request().await;
    assert_eq!(request.path, "/api/tasks/queue/polldata");
    assert_eq!(request.query_values("taskType"), ["a"]);

    assert_eq!(client.all_poll_data().await.unwrap()[0].last_poll_time, 9);
    assert_eq!(
        server.next_request().await.path,
        "/api/tasks/queue/polldata/all"
    );
}

#[tokio::test]
async fn health_is_served_outside_api() {
    let mut server = FakeServer::always(Reply::json(200, json!({"healthy": true}))).await;
    let health = client(&server).health().await.unwrap();
    assert_eq!(health, json!({"healthy": true}));
    assert_eq!(server.next_request().await.path, "/health");
}

#[tokio::test]
async fn an_undecodable_success_body_is_a_decode_error() {
    let server = FakeServer::always(Reply::text(200, "not json")).await;
    let err = client(&server).get_task("t-1").await.unwrap_err();
    assert!(matches!(err, ClientError::Decode(_)), "{err:?}");
    assert_eq!(err.status(), None);
    assert!(err.to_string().contains("not json"), "{err}");
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_http_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = BatonClient::new(base).unwrap().health().await.unwrap_err();
    assert!(matches!(err, ClientError::Http(_)), "{err:?}");
    assert_eq!(err.status(), None);
    assert!(err.is_retryable());
}

#[test]
fn a_base_url_that_is_not_http_is_rejected() {
    for bad in ["not a url", "ftp://host", "mailto:x@y", "http://host/?q=1"] {
        let err = BatonClient::new(bad).unwrap_err();
        assert!(matches!(err, ClientError::InvalidUrl(_)), "{bad}: {err:?}");
    }
}

#[test]
fn url_appends_the_path_verbatim_and_api_url_adds_api() {
    let client = BatonClient::new("http://127.0.0.1:8080/").unwrap();
    assert_eq!(client.url("/health"), "http://127.0.0.1:8080/health");
    assert_eq!(
        client.url("/api/workflow"),
        "http://127.0.0.1:8080/api/workflow"
    );
    assert_eq!(
        client.api_url("/workflow"),
        "http://127.0.0.1:8080/api/workflow"
    );
}
