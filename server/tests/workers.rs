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

fn one_step(name: &str, task: &str) -> WorkflowDef {
    serde_json::from_value(json!({"name": name, "tasks": [
        {"name": task, "taskReferenceName": "only"}]}))
    .unwrap()
}

async fn start_many(client: &baton_client::BatonClient, name: &str, count: usize) {
    for _ in 0..count {
        client
            .start_workflow_by_name(name, None, None, None, &JsonMap::new())
            .await
            .unwrap();
    }
}

fn poll(count: u32, timeout_ms: u64, domain: Option<&str>) -> baton_client::PollRequest {
    baton_client::PollRequest {
        count,
        timeout_ms,
        worker_id: Some("limits-test".into()),
        domain: domain.map(str::to_owned),
    }
}

async fn limits_hold_tasks_back_and_a_long_poll_waits_for_room(db: TestDb) {
    let app = spawn_app(db).await;
    let client = app.client.clone();
    let defs: Vec<baton_model::TaskDef> = vec![
        serde_json::from_value(json!({"name": "one_at_a_time", "concurrentExecLimit": 1})).unwrap(),
        serde_json::from_value(json!({"name": "one_per_second", "rateLimitPerFrequency": 1,
            "rateLimitFrequencyInSeconds": 1}))
        .unwrap(),
    ];
    client.register_task_defs(&defs).await.unwrap();
    for task in ["one_at_a_time", "one_per_second"] {
        client
            .register_workflow_def(&one_step(task, task), true)
            .await
            .unwrap();
        start_many(&client, task, 2).await;
    }

    // One task in progress at a time: the second waits until the first is done.
    let first = client
        .batch_poll("one_at_a_time", &poll(2, 0, None))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let waiting = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .batch_poll("one_at_a_time", &poll(2, 5000, None))
                .await
                .unwrap()
        })
    };
    assert_eq!(client.queue_size("one_at_a_time", None).await.unwrap(), 1);
    client
        .update_task(&support::work::result(
            &first[0],
            baton_model::TaskResultStatus::Completed,
            json!({}),
        ))
        .await
        .unwrap();
    let second = waiting.await.unwrap();
    assert_eq!(second.len(), 1, "the long poll got the freed slot");
    assert_ne!(second[0].task_id, first[0].task_id);

    // One per second: a long poll hands out the second task once the next window opens.
    let now = client
        .batch_poll("one_per_second", &poll(2, 0, None))
        .await
        .unwrap();
    assert_eq!(now.len(), 1);
    let later = client
        .batch_poll("one_per_second", &poll(2, 3000, None))
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert!(later[0].start_time >= now[0].start_time + 1000);
}

async fn task_to_domain_routes_tasks_to_the_pollers_of_that_domain(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "routed", "tasks": [
        {"name": "paint", "taskReferenceName": "paint"},
        {"name": "dry", "taskReferenceName": "dry"}]}))
    .unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
    let request: baton_model::StartWorkflowRequest = serde_json::from_value(json!({
        "name": "routed", "input": {},
        "taskToDomain": {"paint": "blue", "*": "green"}}))
    .unwrap();
    let id = client.start_workflow(&request).await.unwrap();

    // Only a poller of the task's domain gets it.
    assert_eq!(client.queue_size("paint", Some("blue")).await.unwrap(), 1);
    assert!(client
        .batch_poll("paint", &poll(1, 0, None))
        .await
        .unwrap()
        .is_empty());
    assert!(client
        .batch_poll("paint", &poll(1, 0, Some("green")))
        .await
        .unwrap()
        .is_empty());
    let paint = client
        .batch_poll("paint", &poll(1, 0, Some("blue")))
        .await
        .unwrap();
    assert_eq!(paint.len(), 1);
    assert_eq!(paint[0].domain.as_deref(), Some("blue"));
    client
        .update_task(&support::work::result(
            &paint[0],
            baton_model::TaskResultStatus::Completed,
            json!({}),
        ))
        .await
        .unwrap();

    // "*" routes every other type.
    let dry = client
        .batch_poll("dry", &poll(1, 2000, Some("green")))
        .await
        .unwrap();
    assert_eq!(dry.len(), 1);
    assert_eq!(dry[0].domain.as_deref(), Some("green"));
    let data = client.poll_data("paint").await.unwrap();
    assert!(data
        .iter()
        .any(|d| d.domain.as_deref() == Some("blue")
            && d.worker_id.as_deref() == Some("limits-test")));
    let workflow = client.get_workflow(&id, false).await.unwrap();
    assert_eq!(workflow.task_to_domain["*"], "green");
}

on_both_backends!(
    the_worker_runner_completes_every_workflow_each_step_once,
    limits_hold_tasks_back_and_a_long_poll_waits_for_room,
    task_to_domain_routes_tasks_to_the_pollers_of_that_domain,
);
