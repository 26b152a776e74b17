//! The load: register a K-step workflow, start N of them, and work them with W HTTP workers.
//!
//! Handoff is measured per workflow: from the moment a worker is done with step k (just before
//! it sends the result) to the moment a worker holds step k+1. It includes the result's HTTP
//! round trip, the decision and its commit, and the delivery of the next task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_client::{BatonClient, PollRequest};
use baton_model::{JsonMap, StartWorkflowRequest, Task, TaskResult, TaskResultStatus, WorkflowDef};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::stats::{round3, Samples};
use crate::{Args, UpdateApi};

const TASK_TYPE: &str = "bench_task";

/// What a run measured.
pub struct Report {
    elapsed: Duration,
    handoffs: Samples,
    latencies: Samples,
    workflows: usize,
    tasks: usize,
    errors: usize,
}

impl Report {
    pub fn into_json(mut self, args: &Args, server_peak_rss_mb: Option<f64>) -> Value {
        let seconds = self.elapsed.as_secs_f64().max(f64::EPSILON);
        json!({
            "db": format!("{:?}", args.db).to_lowercase(),
            "workflows": self.workflows,
            "tasks_per_workflow": args.fork.unwrap_or(args.tasks_per_workflow),
            "fork": args.fork,
            "workers": args.workers,
            "update": format!("{:?}", args.update).to_lowercase(),
            "rate": args.rate,
            "elapsed_s": round3(seconds),
            "workflows_per_s": round3(self.workflows as f64 / seconds),
            "tasks_per_s": round3(self.tasks as f64 / seconds),
            "handoff_ms": self.handoffs.summary(&[("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)]),
            "handoffs": self.handoffs.len(),
            "workflow_latency_ms": self.latencies.summary(&[("p50", 50.0), ("p99", 99.0)]),
            "server_peak_rss_mb": server_peak_rss_mb.map(round3),
            "errors": self.errors,
        })
    }
}

struct Shared {
    client: BatonClient,
    /// Tasks per workflow: sequential steps, or the fork's width.
    steps: usize,
    fork: Option<usize>,
    /// Fan-out mode: tasks finished so far per workflow.
    fork_done: Mutex<HashMap<String, usize>>,
    update: UpdateApi,
    /// When each workflow's latest step was finished by its worker.
    finished_step_at: Mutex<HashMap<String, Instant>>,
    /// When each workflow was started, by correlation id.
    started_at: Mutex<HashMap<String, Instant>>,
    handoffs: Mutex<Samples>,
    latencies: Mutex<Samples>,
    completed: AtomicUsize,
    tasks: AtomicUsize,
    errors: AtomicUsize,
    target: usize,
    last_completion: Mutex<Option<Instant>>,
    all_done: Notify,
    stop: AtomicBool,
}

/// A fan-out: one task per input item, then a join.
fn fork_definition(name: &str) -> WorkflowDef {
    serde_json::from_value(json!({"name": name, "tasks": [
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
         "inputParameters": {"forkTaskName": TASK_TYPE, "forkTaskInputs": "${workflow.input.items}"}},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
    ]}))
    .expect("a valid definition")
}

fn definition(name: &str, steps: usize) -> WorkflowDef {
    let tasks: Vec<Value> = (1..=steps)
        .map(|step| json!({"name": TASK_TYPE, "taskReferenceName": format!("step{step}"), "inputParameters": {"step": step}}))
        .collect();
    serde_json::from_value(json!({"name": name, "tasks": tasks})).expect("a valid definition")
}

pub async fn run(args: &Args, client: &BatonClient) -> anyhow::Result<Report> {
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let def = match args.fork {
        Some(_) => fork_definition(&name),
        None => definition(&name, args.tasks_per_workflow),
    };
    client.register_workflow_def(&def, false).await?;
    let shared = Arc::new(Shared {
        client: client.clone(),
        steps: args.fork.unwrap_or(args.tasks_per_workflow),
        fork: args.fork,
        fork_done: Mutex::new(HashMap::new()),
        update: args.update,
        finished_step_at: Mutex::new(HashMap::new()),
        started_at: Mutex::new(HashMap::new()),
        handoffs: Mutex::new(Samples::default()),
        latencies: Mutex::new(Samples::default()),
        completed: AtomicUsize::new(0),
        tasks: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
        target: args.workflows,
        last_completion: Mutex::new(None),
        all_done: Notify::new(),
        stop: AtomicBool::new(false),
    });
    let workers: Vec<_> = (0..args.workers)
        .map(|i| tokio::spawn(work(shared.clone(), i)))
        .collect();

    let begin = Instant::now();
    let done = shared.all_done.notified();
    tokio::pin!(done);
    done.as_mut().enable();
    start_all(&shared, &name, args).await;
    done.await;
    shared.stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await?;
    }

    let end = shared
        .last_completion
        .lock()
        .unwrap()
        .unwrap_or_else(Instant::now);
    let handoffs = std::mem::take(&mut *shared.handoffs.lock().unwrap());
    let latencies = std::mem::take(&mut *shared.latencies.lock().unwrap());
    Ok(Report {
        elapsed: end - begin,
        handoffs,
        latencies,
        workflows: shared.completed.load(Ordering::SeqCst),
        tasks: shared.tasks.load(Ordering::SeqCst),
        errors: shared.errors.load(Ordering::SeqCst),
    })
}

/// Starts every workflow: paced at `--rate`, or with `--starters` requests in flight.
async fn start_all(shared: &Arc<Shared>, name: &str, args: &Args) {
    let next = Arc::new(AtomicUsize::new(0));
    if args.rate > 0.0 {
        let begin = tokio::time::Instant::now();
        let mut handles = Vec::with_capacity(args.workflows);
        for i in 0..args.workflows {
            tokio::time::sleep_until(begin + Duration::from_secs_f64(i as f64 / args.rate)).await;
            let (shared, name) = (shared.clone(), name.to_owned());
            handles.push(tokio::spawn(
                async move { start_one(&shared, &name, i).await },
            ));
        }
        for handle in handles {
            let _ = handle.await;
        }
        return;
    }
    let starters: Vec<_> = (0..args.starters.max(1))
        .map(|_| {
            let (shared, name, next, total) = (
                shared.clone(),
                name.to_owned(),
                next.clone(),
                args.workflows,
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        return;
                    }
                    start_one(&shared, &name, i).await;
                }
            })
        })
        .collect();
    for starter in starters {
        let _ = starter.await;
    }
}

async fn start_one(shared: &Shared, name: &str, i: usize) {
    let correlation_id = format!("bench-{i}");
    shared
        .started_at
        .lock()
        .unwrap()
        .insert(correlation_id.clone(), Instant::now());
    let mut request = StartWorkflowRequest {
        name: name.to_owned(),
        correlation_id: Some(correlation_id),
        ..StartWorkflowRequest::default()
    };
    if let Some(width) = shared.fork {
        request
            .input
            .insert("items".into(), json!(vec![json!({"step": 0}); width]));
    }
    if shared.client.start_workflow(&request).await.is_err() {
        shared.errors.fetch_add(1, Ordering::SeqCst);
    }
}

async fn work(shared: Arc<Shared>, index: usize) {
    let poll = PollRequest {
        count: 1,
        timeout_ms: 1000,
        worker_id: Some(format!("bench-worker-{index}")),
        domain: None,
    };
    while !shared.stop.load(Ordering::SeqCst) {
        let tasks = match shared.client.batch_poll(TASK_TYPE, &poll).await {
            Ok(tasks) => tasks,
            Err(_) => {
                shared.errors.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        for task in tasks {
            let mut next = Some(task);
            while let Some(task) = next {
                next = handle(&shared, task).await;
            }
        }
    }
}

/// Records the handoff, completes the task at once, and returns the next task if the server
/// handed one back (update-v2).
async fn handle(shared: &Shared, task: Task) -> Option<Task> {
    let received = Instant::now();
    if let Some(previous) = shared
        .finished_step_at
        .lock()
        .unwrap()
        .remove(&task.workflow_instance_id)
    {
        shared.handoffs.lock().unwrap().push(received - previous);
    }
    let step = task
        .input_data
        .get("step")
        .and_then(Value::as_u64)
        .unwrap_or_default() as usize;
    let mut output = JsonMap::new();
    output.insert("step".into(), step.into());
    let result = TaskResult {
        workflow_instance_id: task.workflow_instance_id.clone(),
        task_id: task.task_id.clone(),
        status: Some(TaskResultStatus::Completed),
        output_data: output,
        worker_id: task.worker_id.clone(),
        ..TaskResult::default()
    };
    let last_step = match shared.fork {
        // A branch has no successor; the workflow is done with its last branch.
        Some(width) => {
            let mut done = shared.fork_done.lock().unwrap();
            let count = done.entry(task.workflow_instance_id.clone()).or_default();
            *count += 1;
            *count == width
        }
        None => step >= shared.steps,
    };
    if !last_step && shared.fork.is_none() {
        shared
            .finished_step_at
            .lock()
            .unwrap()
            .insert(task.workflow_instance_id.clone(), Instant::now());
    }
    let next = match shared.update {
        UpdateApi::V1 => shared.client.update_task(&result).await.map(|_| None),
        UpdateApi::V2 => shared.client.update_task_v2(&result).await,
    };
    let next = match next {
        Ok(next) => next,
        Err(_) => {
            shared.errors.fetch_add(1, Ordering::SeqCst);
            return None;
        }
    };
    shared.tasks.fetch_add(1, Ordering::SeqCst);
    if last_step {
        let now = Instant::now();
        let started = task
            .correlation_id
            .as_deref()
            .and_then(|id| shared.started_at.lock().unwrap().remove(id));
        if let Some(started) = started {
            shared.latencies.lock().unwrap().push(now - started);
        }
        *shared.last_completion.lock().unwrap() = Some(now);
        if shared.completed.fetch_add(1, Ordering::SeqCst) + 1 == shared.target {
            shared.all_done.notify_waiters();
        }
    }
    next
}
