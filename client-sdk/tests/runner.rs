//! `WorkerRunner` against a canned local HTTP responder: polling, reporting, retries and
//! graceful stop.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton_client::{
    worker_fn, BatonClient, RetryPolicy, TaskOutcome, TaskRunnerConfig, WorkerRunner,
};
use serde_json::json;
use support::{FakeServer, Recorded, Reply};
use tokio::sync::{mpsc, Notify};

const POLL: &str = "/api/tasks/poll/batch/echo";

fn config() -> TaskRunnerConfig {
    TaskRunnerConfig {
        worker_id: "test-worker".into(),
        concurrency: 2,
        update_retry: RetryPolicy {
            initial_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        },
        min_error_backoff: Duration::from_millis(1),
        ..TaskRunnerConfig::default()
    }
}

fn task(n: usize) -> serde_json::Value {
    json!({
        "taskId": format!("t-{n}"),
        "workflowInstanceId": "wf-1",
        "taskType": "echo",
        "status": "IN_PROGRESS",
        "inputData": {"n": n},
    })
}

/// A server whose polls hand out `tasks` one per poll, then nothing; task updates are
/// answered by `update`.
async fn server_with_tasks(
    tasks: usize,
    update: impl Fn(usize) -> Reply + Send + Sync + 'static,
) -> FakeServer {
    let polls = AtomicUsize::new(0);
    let updates = AtomicUsize::new(0);
    FakeServer::start(move |request| match request.path.as_str() {
        POLL => {
            let n = polls.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= tasks {
                Reply::json(200, json!([task(n)]))
            } else {
                Reply::no_content()
            }
        }
        "/api/tasks" => update(updates.fetch_add(1, Ordering::SeqCst) + 1),
        _ => Reply::text(404, "unexpected"),
    })
    .await
}

async fn next_matching(server: &mut FakeServer, pred: impl Fn(&Recorded) -> bool) -> Recorded {
    loop {
        let request = server.next_request().await;
        if pred(&request) {
            return request;
        }
    }
}

fn is_update(request: &Recorded) -> bool {
    request.method == "POST" && request.path == "/api/tasks"
}

fn echo_runner(server: &FakeServer, config: TaskRunnerConfig) -> WorkerRunner {
    WorkerRunner::new(BatonClient::new(&server.base).unwrap(), config)
        .with_worker(worker_fn("echo", |task| async move {
            TaskOutcome::completed(task.input_data)
        }))
}

#[tokio::test]
async fn a_polled_task_is_executed_and_its_outcome_reported_with_the_worker_id() {
    let mut server = server_with_tasks(1, |_| Reply::text(200, "t-1")).await;
    let handle = echo_runner(&server, config()).start();

    let poll = server.next_request().await;
    assert_eq!(poll.path, POLL);
    assert_eq!(poll.query_values("count"), ["2"]);
    assert_eq!(poll.query_values("timeout"), ["1000"]);
    assert_eq!(poll.query_values("workerid"), ["test-worker"]);

    let update = next_matching(&mut server, is_update).await.json();
    assert_eq!(update["taskId"], "t-1");
    assert_eq!(update["workflowInstanceId"], "wf-1");
    assert_eq!(update["status"], "COMPLETED");
    assert_eq!(update["outputData"], json!({"n": 1}));
    assert_eq!(update["workerId"], "test-worker");
    handle.stop().await;
}

#[tokio::test]
async fn the_poll_timeout_is_capped_at_five_seconds() {
    let mut server = server_with_tasks(0, |_| Reply::text(200, "")).await;
    let handle = echo_runner(
        &server,
        TaskRunnerConfig {
            poll_timeout_ms: 60_000,
            ..config()
        },
    )
    .start();
    assert_eq!(
        server.next_request().await.query_values("timeout"),
        ["5000"]
    );
    handle.stop().await;
}

#[tokio::test]
async fn each_poll_asks_only_for_the_free_slots() {
    let mut server = server_with_tasks(1, |_| Reply::text(200, "")).await;
    let release = Arc::new(Notify::new());
    let worker_release = Arc::clone(&release);
    let handle = WorkerRunner::new(BatonClient::new(&server.base).unwrap(), config())
        .with_worker(worker_fn("echo", move |_task| {
            let release = Arc::clone(&worker_release);
            async move {
                release.notified().await;
                TaskOutcome::completed(Default::default())
            }
        }))
        .start();

    assert_eq!(server.next_request().await.query_values("count"), ["2"]);
    // The first task holds one of the two slots until released.
    assert_eq!(server.next_request().await.query_values("count"), ["1"]);
    release.notify_one();
    handle.stop().await;
}

#[tokio::test]
async fn stop_waits_for_in_flight_tasks_to_finish_and_be_reported() {
    let mut server = server_with_tasks(1, |_| Reply::text(200, "t-1")).await;
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let worker_release = Arc::clone(&release);
    let handle = WorkerRunner::new(BatonClient::new(&server.base).unwrap(), config())
        .with_worker(worker_fn("echo", move |task| {
            let release = Arc::clone(&worker_release);
            let started = started_tx.clone();
            async move {
                let _ = started.send(task.task_id.clone());
                release.notified().await;
                TaskOutcome::completed(task.input_data)
            }
        }))
        .start();

    assert_eq!(started.recv().await.as_deref(), Some("t-1"));
    let stop = tokio::spawn(handle.stop());
    tokio::task::yield_now().await;
    assert!(
        !stop.is_finished(),
        "stop returned while a task was running"
    );
    release.notify_one();
    stop.await.unwrap();

    let updates: Vec<_> = server.received().into_iter().filter(is_update).collect();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].json()["status"], "COMPLETED");
}

#[tokio::test]
async fn a_task_update_answered_with_503_is_retried_until_accepted() {
    let mut server = server_with_tasks(1, |n| {
        if n < 3 {
            Reply::text(503, "busy")
        } else {
            Reply::text(200, "t-1")
        }
    })
    .await;
    let handle = echo_runner(&server, config()).start();
    for _ in 0..3 {
        let update = next_matching(&mut server, is_update).await;
        assert_eq!(update.json()["taskId"], "t-1");
    }
    handle.stop().await;
    assert!(
        !server.received().iter().any(is_update),
        "updated again after it was accepted"
    );
}

#[tokio::test]
async fn a_task_update_that_keeps_failing_is_given_up_after_the_last_attempt() {
    let mut server = server_with_tasks(1, |_| Reply::text(500, "down")).await;
    let handle = echo_runner(&server, config()).start();
    for _ in 0..5 {
        next_matching(&mut server, is_update).await;
    }
    handle.stop().await;
    assert!(
        !server.received().iter().any(is_update),
        "more than 5 attempts"
    );
}

#[tokio::test]
async fn a_task_update_rejected_with_400_is_not_retried() {
    let mut server = server_with_tasks(1, |_| Reply::text(400, "bad")).await;
    let handle = echo_runner(&server, config()).start();
    next_matching(&mut server, is_update).await;
    handle.stop().await;
    assert!(
        !server.received().iter().any(is_update),
        "a 400 was retried"
    );
}

#[tokio::test]
async fn a_panicking_worker_is_reported_as_failed() {
    let mut server = server_with_tasks(1, |_| Reply::text(200, "")).await;
    let handle = WorkerRunner::new(BatonClient::new(&server.base).unwrap(), config())
        .with_worker(worker_fn("echo", |_task| async move {
            if true {
                panic!("boom");
            }
            TaskOutcome::completed(Default::default())
        }))
        .start();
    let update = next_matching(&mut server, is_update).await.json();
    assert_eq!(update["status"], "FAILED");
    assert_eq!(update["reasonForIncompletion"], "worker panicked: boom");
    handle.stop().await;
}

#[tokio::test]
async fn polling_goes_on_after_a_failed_poll() {
    let polls = AtomicUsize::new(0);
    let mut server = FakeServer::start(move |_| {
        if polls.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::text(500, "down")
        } else {
            Reply::json(200, json!([task(1)]))
        }
    })
    .await;
    let handle = echo_runner(&server, config()).start();
    let update = next_matching(&mut server, is_update).await;
    assert_eq!(update.path, "/api/tasks");
    handle.stop().await;
}
