//! Acting as a worker in tests: poll one task, report a result.

use baton_client::{BatonClient, PollRequest};
use baton_model::{JsonMap, Task, TaskResult, TaskResultStatus};
use serde_json::Value;

/// A JSON object literal as a map.
pub fn map(value: Value) -> JsonMap {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// One poll by `test-worker`, waiting up to `timeout_ms`.
pub fn poll_once(timeout_ms: u64) -> PollRequest {
    PollRequest {
        count: 1,
        timeout_ms,
        worker_id: Some("test-worker".into()),
        domain: None,
    }
}

/// Polls exactly one task of `task_type` (waiting up to 5 s for it).
pub async fn poll_one(client: &BatonClient, task_type: &str) -> Task {
    let mut tasks = client
        .batch_poll(task_type, &poll_once(5000))
        .await
        .expect("poll");
    assert_eq!(tasks.len(), 1, "expected one {task_type} task");
    tasks.remove(0)
}

/// `test-worker`'s result for `task`.
pub fn result(task: &Task, status: TaskResultStatus, output: Value) -> TaskResult {
    TaskResult {
        workflow_instance_id: task.workflow_instance_id.clone(),
        task_id: task.task_id.clone(),
        status: Some(status),
        output_data: map(output),
        worker_id: Some("test-worker".into()),
        ..TaskResult::default()
    }
}

/// Polls one task of `task_type` and completes it with `output`.
pub async fn complete_one(client: &BatonClient, task_type: &str, output: Value) {
    let task = poll_one(client, task_type).await;
    client
        .update_task(&result(&task, TaskResultStatus::Completed, output))
        .await
        .expect("update");
}
