//! `baton-client`'s worker runner drives many workflows to completion against a real server.

mod support;

use std::time::Duration;

use baton_client::{worker_fn, TaskOutcome, TaskRunnerConfig, WorkerRunner};
use baton_model::{JsonMap, TaskStatus, WorkflowDef, WorkflowStatus};
use serde_json::json;
use support::{eventually, spawn_app, TestDb};

fn definition() -> WorkflowDef {
    serde_json::from_value(json!({
        "name": "pipeline",
        "tasks": [
            {"name": "add_one", "taskReferenceName": "first", "inputParameters": {"n": "${workflow.input.n}"}},
            {"name": "add_one", "taskReferenceName": "second", "inputParameters": {"n": "${first.output.n}"}},
            {"name": "double", "taskReferenceName": "third", "inputParameters": {"n": "${second.output.n}"}}
        ],
        "outputParameters": {"n": "${third.output.n}"}
    }))
    .unwrap()
}

fn number(task: &baton_model::Task) -> i64 {
    task.input_data
        .get("n")
        .and_then(|n| n.as_i64())
        .unwrap_or_default()
}

fn output(n: i64) -> TaskOutcome {
    let mut output = JsonMap::new();
    output.insert("n".into(), n.into());
    TaskOutcome::completed(output)
}

async fn the_worker_runner_completes_every_workflow_each_step_once(db: TestDb) {
    let app = spawn_app(db).await;
    let client = app.client.clone();
    client
        .register_workflow_def(&definition(), false)
        .await
        .unwrap();
    let config = TaskRunnerConfig {
        concurrency: 8,
        poll_timeout_ms: 500,
        ..TaskRunnerConfig::default()
    };
    let handle = WorkerRunner::new(client.clone(), config)
        .with_worker(worker_fn("add_one", |task| async move {
            output(number(&task) + 1)
        }))
        .with_worker(worker_fn("double", |task| async move {
            output(number(&task) * 2)
        }))
        .start();

    let mut ids = Vec::new();
    for n in 0..25 {
        let input = json!({"n": n}).as_object().unwrap().clone();
        ids.push((
            n,
            client
                .start_workflow_by_name("pipeline", None, None, None, &input)
                .await
                .unwrap(),
        ));
    }
    for (n, id) in &ids {
        let workflow = eventually(Duration::from_secs(30), || {
            let client = client.clone();
            let id = id.clone();
            async move {
                let workflow = client.get_workflow(&id, true).await.ok()?;
                workflow.status.is_terminal().then_some(workflow)
            }
        })
        .await;
        assert_eq!(workflow.status, WorkflowStatus::Completed, "workflow {id}");
        assert_eq!(workflow.output["n"], json!((n + 2) * 2));
        assert_eq!(workflow.tasks.len(), 3, "each step ran exactly once");
        assert!(workflow
            .tasks
            .iter()
            .all(|t| t.status == TaskStatus::Completed && t.poll_count == 1));
    }
    handle.stop().await;
    let sizes = client.all_queue_sizes().await.unwrap();
    assert!(
        sizes.values().all(|size| *size == 0),
        "queues drained: {sizes:?}"
    );
}

on_both_backends!(the_worker_runner_completes_every_workflow_each_step_once);
