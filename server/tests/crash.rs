//! Crash safety: a server killed with SIGKILL loses nothing that it acknowledged.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use baton_client::{BatonClient, PollRequest};
use baton_model::{TaskResult, TaskResultStatus, TaskStatus, WorkflowDef, WorkflowStatus};
use serde_json::json;
use support::{eventually, TestDb};

/// The `baton` binary running as a child process.
struct ServerProcess {
    child: Child,
    client: BatonClient,
}

impl ServerProcess {
    async fn start(db: &TestDb) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .env("BATON_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("BATON_DATABASE_URL", db.url())
            .env("BATON_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the baton binary starts");
        let client = BatonClient::new(format!("http://127.0.0.1:{port}")).unwrap();
        let probe = client.clone();
        eventually(Duration::from_secs(30), || {
            let probe = probe.clone();
            async move { probe.health().await.ok() }
        })
        .await;
        ServerProcess { child, client }
    }

    /// SIGKILL: no shutdown hooks, no flushing.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn definition() -> WorkflowDef {
    serde_json::from_value(json!({
        "name": "crash_wf",
        "tasks": [
            {"name": "crash_a", "taskReferenceName": "a", "inputParameters": {"n": "${workflow.input.n}"}},
            {"name": "crash_b", "taskReferenceName": "b", "inputParameters": {"m": "${a.output.m}"}}
        ]
    }))
    .unwrap()
}

async fn a_task_queued_before_a_sigkill_is_polled_after_restart(db: TestDb) {
    let server = ServerProcess::start(&db).await;
    server
        .client
        .register_workflow_def(&definition(), false)
        .await
        .unwrap();
    let input = json!({"n": 7}).as_object().unwrap().clone();
    let workflow_id = server
        .client
        .start_workflow_by_name("crash_wf", None, None, None, &input)
        .await
        .unwrap();
    server.kill();

    let server = ServerProcess::start(&db).await;
    let poll = PollRequest {
        count: 1,
        timeout_ms: 1000,
        worker_id: Some("w".into()),
        domain: None,
    };
    let tasks = server.client.batch_poll("crash_a", &poll).await.unwrap();
    assert_eq!(tasks.len(), 1, "the task survived the crash");
    assert_eq!(tasks[0].workflow_instance_id, workflow_id);
    assert_eq!(tasks[0].input_data["n"], json!(7));

    // The workflow carries on from there.
    let result = TaskResult {
        workflow_instance_id: workflow_id.clone(),
        task_id: tasks[0].task_id.clone(),
        status: Some(TaskResultStatus::Completed),
        output_data: json!({"m": 8}).as_object().unwrap().clone(),
        ..TaskResult::default()
    };
    server.client.update_task(&result).await.unwrap();
    server.kill();

    let server = ServerProcess::start(&db).await;
    let tasks = server.client.batch_poll("crash_b", &poll).await.unwrap();
    assert_eq!(
        tasks.len(),
        1,
        "the next task, committed with the update, survived too"
    );
    assert_eq!(tasks[0].input_data["m"], json!(8));
    let workflow = server
        .client
        .get_workflow(&workflow_id, true)
        .await
        .unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Running);
    assert_eq!(workflow.tasks[0].status, TaskStatus::Completed);
}

on_both_backends!(a_task_queued_before_a_sigkill_is_polled_after_restart);
