//! Typed async client and worker runner for Baton and other servers speaking Conductor
//! OSS's REST API.
//!
//! * [`BatonClient`] sends one request per method to the API under `{base}/api`
//!   (metadata, workflows, tasks and queues) using the wire types of [`baton_model`],
//!   and maps error answers to [`ClientError::Api`] with Conductor's
//!   [`ErrorResponse`](baton_model::ErrorResponse) body.
//! * [`WorkerRunner`] polls for tasks on behalf of [`Worker`]s, runs them concurrently
//!   and reports each [`TaskOutcome`], with backoff, retries and graceful shutdown.
//!
//! # Example
//!
//! ```no_run
//! use baton_client::{worker_fn, BatonClient, TaskOutcome, TaskRunnerConfig, WorkerRunner};
//! use baton_model::{JsonMap, StartWorkflowRequest, TaskDef, WorkflowDef, WorkflowTask};
//!
//! # async fn run() -> Result<(), baton_client::ClientError> {
//! let client = BatonClient::new("http://127.0.0.1:8080")?;
//!
//! // Register a task type and a one-task workflow using it.
//! client
//!     .register_task_defs(&[TaskDef { name: "shout".into(), ..TaskDef::default() }])
//!     .await?;
//! let def = WorkflowDef {
//!     name: "shouting".into(),
//!     tasks: vec![WorkflowTask::new("shout", "shout_ref")],
//!     ..WorkflowDef::default()
//! };
//! client.register_workflow_def(&def, true).await?;
//!
//! // Run a worker for it.
//! let runner = WorkerRunner::new(client.clone(), TaskRunnerConfig::default()).with_worker(
//!     worker_fn("shout", |task| async move {
//!         let text = task.input_data.get("text").and_then(|v| v.as_str()).unwrap_or("");
//!         let mut output = JsonMap::new();
//!         output.insert("text".into(), text.to_uppercase().into());
//!         TaskOutcome::completed(output)
//!     }),
//! );
//! let handle = runner.start();
//!
//! // Start a workflow and look at it.
//! let mut request = StartWorkflowRequest::new("shouting");
//! request.input.insert("text".into(), "hello".into());
//! let id = client.start_workflow(&request).await?;
//! let workflow = client.get_workflow(&id, true).await?;
//! println!("{id}: {:?}", workflow.status);
//!
//! // Stop polling; wait for in-flight tasks to finish and be reported.
//! handle.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! Errors carry the server's answer:
//!
//! ```no_run
//! # async fn run(client: baton_client::BatonClient) {
//! match client.get_task_def("nope").await {
//!     Err(err) if err.status() == Some(404) => println!("not found: {err}"),
//!     other => println!("{other:?}"),
//! }
//! # }
//! ```

mod client;
mod error;
mod worker;

pub use client::{BatonClient, PollRequest, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use error::ClientError;
pub use worker::{
    default_worker_id, worker_fn, BoxFuture, FnWorker, RetryPolicy, RunnerHandle, TaskOutcome,
    TaskRunnerConfig, Worker, WorkerRunner, MAX_POLL_TIMEOUT_MS,
};

/// The wire types of [`baton_model`], re-exported for convenience.
pub use baton_model as model;
