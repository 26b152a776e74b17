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

// ---------------------------------------------------------------------------------------
// Many workflows under load, servers killed mid-run.
// ---------------------------------------------------------------------------------------

/// The steps of every load workflow, in order; each is a worker task type of its own.
const STEPS: [&str; 3] = ["load_s1", "load_s2", "load_s3"];
const LOAD_WORKFLOWS: i64 = 60;

/// What the in-process workers saw, shared by them and the test.
#[derive(Default)]
struct LoadRecord {
    /// The servers workers talk to; worker `i` uses entry `i % len`.
    servers: std::sync::RwLock<Vec<BatonClient>>,
    /// How many times each task id was handed to a worker.
    deliveries: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// Task ids whose COMPLETED update the server acknowledged.
    acknowledged: std::sync::Mutex<Vec<String>>,
    stop: std::sync::atomic::AtomicBool,
}

impl LoadRecord {
    fn acknowledged_count(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    fn server_for(&self, worker: usize) -> BatonClient {
        let servers = self.servers.read().unwrap();
        servers[worker % servers.len()].clone()
    }
}

/// A worker that adds one to its input `v`. A server that does not answer is simply tried
/// again (the next poll may go to another server); an update that fails is dropped, as a
/// crashed worker's would be, and the task's lease runs out.
async fn load_worker(record: std::sync::Arc<LoadRecord>, worker: usize, task_type: &'static str) {
    use std::sync::atomic::Ordering;
    let poll = PollRequest {
        count: 4,
        timeout_ms: 200,
        worker_id: Some(format!("load-worker-{worker}")),
        domain: None,
    };
    while !record.stop.load(Ordering::Relaxed) {
        let client = record.server_for(worker);
        let Ok(tasks) = client.batch_poll(task_type, &poll).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        for task in tasks {
            *record
                .deliveries
                .lock()
                .unwrap()
                .entry(task.task_id.clone())
                .or_default() += 1;
            let v = task.input_data["v"].as_i64().expect("an integer input");
            let result = TaskResult {
                workflow_instance_id: task.workflow_instance_id.clone(),
                task_id: task.task_id.clone(),
                worker_id: poll.worker_id.clone(),
                status: Some(TaskResultStatus::Completed),
                output_data: json!({"v": v + 1}).as_object().unwrap().clone(),
                ..TaskResult::default()
            };
            if client.update_task(&result).await.is_ok() {
                record.acknowledged.lock().unwrap().push(task.task_id);
            }
        }
    }
}

/// Registers the load workflow, starts [`LOAD_WORKFLOWS`] of them and the workers. Short
/// response timeouts let the leases of tasks lost with a server run out quickly.
async fn start_load(
    client: &BatonClient,
    record: &std::sync::Arc<LoadRecord>,
) -> (Vec<String>, Vec<tokio::task::JoinHandle<()>>) {
    let task_defs: Vec<baton_model::TaskDef> = STEPS
        .iter()
        .map(|name| {
            serde_json::from_value(json!({"name": name, "responseTimeoutSeconds": 3,
                "retryCount": 20, "retryDelaySeconds": 0}))
            .unwrap()
        })
        .collect();
    client.register_task_defs(&task_defs).await.unwrap();
    let def: WorkflowDef = serde_json::from_value(json!({
        "name": "load_wf",
        "tasks": [
            {"name": "load_s1", "taskReferenceName": "s1", "inputParameters": {"v": "${workflow.input.v}"}},
            {"name": "load_s2", "taskReferenceName": "s2", "inputParameters": {"v": "${s1.output.v}"}},
            {"name": "load_s3", "taskReferenceName": "s3", "inputParameters": {"v": "${s2.output.v}"}}
        ],
        "outputParameters": {"v": "${s3.output.v}"}
    }))
    .unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..LOAD_WORKFLOWS {
        let input = json!({"v": n * 10}).as_object().unwrap().clone();
        ids.push(
            client
                .start_workflow_by_name("load_wf", None, None, None, &input)
                .await
                .unwrap(),
        );
    }
    let mut workers = Vec::new();
    for (index, task_type) in STEPS.iter().cycle().take(2 * STEPS.len()).enumerate() {
        workers.push(tokio::spawn(load_worker(record.clone(), index, task_type)));
    }
    (ids, workers)
}

/// Waits until the workers have had `count` completions acknowledged.
async fn wait_for_acknowledged(record: &LoadRecord, count: usize) {
    eventually(Duration::from_secs(60), || async {
        (record.acknowledged_count() >= count).then_some(())
    })
    .await;
}

/// Every workflow completed with the right output, each step completed exactly once, no
/// task handed to two workers, and every acknowledged completion kept (unless the task's
/// lease had already run out, as Conductor also ignores a late update).
async fn assert_load_completed_exactly_once(
    client: &BatonClient,
    record: &LoadRecord,
    ids: &[String],
) {
    let mut pending: Vec<String> = ids.to_vec();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !pending.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} workflows still running, e.g. {}",
            pending.len(),
            pending[0]
        );
        let mut running = Vec::new();
        for id in pending {
            let workflow = client.get_workflow(&id, false).await.ok();
            if workflow.is_none_or(|w| !w.status.is_terminal()) {
                running.push(id);
            }
        }
        pending = running;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    record
        .stop
        .store(true, std::sync::atomic::Ordering::Relaxed);

    let acknowledged: std::collections::HashSet<String> = record
        .acknowledged
        .lock()
        .unwrap()
        .iter()
        .cloned()
        .collect();
    let deliveries = record.deliveries.lock().unwrap().clone();
    for (task_id, times) in &deliveries {
        assert_eq!(*times, 1, "task {task_id} was handed out {times} times");
    }
    let mut retried = 0;
    for (n, id) in ids.iter().enumerate() {
        let workflow = client.get_workflow(id, true).await.unwrap();
        assert_eq!(workflow.status, WorkflowStatus::Completed, "workflow {id}");
        assert_eq!(
            workflow.output["v"],
            json!(n as i64 * 10 + 3),
            "workflow {id}"
        );
        for reference in ["s1", "s2", "s3"] {
            let attempts: Vec<_> = workflow
                .tasks
                .iter()
                .filter(|task| task.reference_task_name == reference)
                .collect();
            let completed = attempts
                .iter()
                .filter(|task| task.status == TaskStatus::Completed)
                .count();
            assert_eq!(completed, 1, "{id}/{reference}: {attempts:?}");
            for attempt in attempts {
                match attempt.status {
                    TaskStatus::Completed => assert!(
                        deliveries.contains_key(&attempt.task_id),
                        "{id}/{reference} completed without being polled"
                    ),
                    TaskStatus::TimedOut => retried += 1,
                    other => panic!("{id}/{reference} attempt ended {other:?}"),
                }
                if acknowledged.contains(&attempt.task_id) {
                    assert!(
                        matches!(attempt.status, TaskStatus::Completed | TaskStatus::TimedOut),
                        "an acknowledged completion was lost: {attempt:?}"
                    );
                }
            }
        }
    }
    // Not asserted (it depends on timing), but shows the kills caught tasks in flight.
    eprintln!(
        "{} tasks handed out, {retried} lost with a server and retried",
        deliveries.len()
    );
}

async fn many_workflows_complete_exactly_once_across_two_sigkills(db: TestDb) {
    let record = std::sync::Arc::new(LoadRecord::default());
    let server = ServerProcess::start(&db).await;
    *record.servers.write().unwrap() = vec![server.client.clone()];
    let (ids, workers) = start_load(&server.client, &record).await;
    let total = ids.len() * STEPS.len();

    wait_for_acknowledged(&record, total / 3).await;
    server.kill();
    let server = ServerProcess::start(&db).await;
    *record.servers.write().unwrap() = vec![server.client.clone()];

    wait_for_acknowledged(&record, 2 * total / 3).await;
    server.kill();
    let server = ServerProcess::start(&db).await;
    *record.servers.write().unwrap() = vec![server.client.clone()];

    assert_load_completed_exactly_once(&server.client, &record, &ids).await;
    for worker in workers {
        worker.await.unwrap();
    }
}

on_both_backends!(
    a_task_queued_before_a_sigkill_is_polled_after_restart,
    many_workflows_complete_exactly_once_across_two_sigkills
);

/// Two servers share one PostgreSQL database and the workers; one is killed mid-run and the
/// other finishes everything, including the tasks the dead one had handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_the_load_and_one_survives_the_others_sigkill() {
    let Some(db) = TestDb::postgres() else { return };
    let record = std::sync::Arc::new(LoadRecord::default());
    let first = ServerProcess::start(&db).await;
    let second = ServerProcess::start(&db).await;
    *record.servers.write().unwrap() = vec![first.client.clone(), second.client.clone()];
    let (ids, workers) = start_load(&first.client, &record).await;
    let total = ids.len() * STEPS.len();

    wait_for_acknowledged(&record, total / 3).await;
    first.kill();
    *record.servers.write().unwrap() = vec![second.client.clone()];

    assert_load_completed_exactly_once(&second.client, &record, &ids).await;
    for worker in workers {
        worker.await.unwrap();
    }
}
