//! `POST /api/workflow/execute/{name}/{version}`: start a workflow and answer once it has
//! finished, reached one of the `waitUntilTaskRef` tasks or a WAIT for a signal, or
//! `waitForSeconds` (default 10) passed, whichever comes first. The answer is Conductor's
//! `WorkflowRun` for the started workflow, with `status` telling whether it finished.
//!
//! The wait is woken by the commits that change the workflow on this server; a change made on
//! another server is seen within [`RECHECK`].

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use baton_model::{task_type, StartWorkflowRequest, Task, Workflow};
use serde_json::json;
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio::time::Instant;

use super::metadata::not_found_by_name;
use super::params::Params;
use super::workflow::{check_priority, start_request};
use crate::error::ApiError;
use crate::runtime::Runtime;

/// Conductor's default wait.
const DEFAULT_WAIT_SECONDS: u64 = 10;
/// The longest wait a request may ask for.
const MAX_WAIT_SECONDS: u64 = 300;
/// How often the workflow is read again without news from this server.
const RECHECK: Duration = Duration::from_millis(250);

pub async fn execute_workflow(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    path: web::Path<(String, i32)>,
    body: web::Json<StartWorkflowRequest>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let (name, version) = path.into_inner();
    let request_id = params
        .non_empty("requestId")
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let wait_until: Vec<String> = params
        .get("waitUntilTaskRef")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|reference| !reference.is_empty())
        .map(str::to_owned)
        .collect();
    let wait_seconds = params
        .int::<u64>("waitForSeconds")?
        .filter(|seconds| *seconds > 0)
        .unwrap_or(DEFAULT_WAIT_SECONDS)
        .min(MAX_WAIT_SECONDS);
    if let Some(strategy) = params
        .non_empty("returnStrategy")
        .filter(|s| *s != "TARGET_WORKFLOW")
    {
        return Err(ApiError::BadRequest(format!(
            "returnStrategy {strategy} is not supported; use TARGET_WORKFLOW"
        )));
    }

    let mut request = body.into_inner();
    request.name = name;
    // Version 0 means the latest, as in Conductor.
    request.version = (version > 0).then_some(version);
    check_priority(request.priority, "executeWorkflow.arg2.priority")?;
    let (lookup, wanted) = (request.name.clone(), request.version);
    let definition = runtime
        .blocking(move |store| store.workflow_def(&lookup, wanted))
        .await?
        .ok_or_else(|| not_found_by_name(&request.name, request.version))?;

    // Listen before starting, so no change is missed.
    let mut changes = runtime.workflow_changes();
    let workflow_id = start_request(&runtime, definition, &request).await?;
    let deadline = Instant::now() + Duration::from_secs(wait_seconds);
    let workflow = loop {
        let lookup = workflow_id.clone();
        let workflow = runtime
            .blocking(move |store| store.workflow(&lookup, true))
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(format!("No such workflow found by id: {workflow_id}"))
            })?;
        if reached(&workflow, &wait_until) || Instant::now() >= deadline {
            break workflow;
        }
        let recheck_at = deadline.min(Instant::now() + RECHECK);
        tokio::select! {
            _ = next_change_of(&mut changes, &workflow_id) => {}
            _ = tokio::time::sleep_until(recheck_at) => {}
        }
    };
    Ok(HttpResponse::Ok().json(workflow_run(&workflow, &request_id)))
}

/// Whether the caller has waited long enough: the workflow ended, a task it waits for
/// finished, or it waits for a signal.
fn reached(workflow: &Workflow, wait_until: &[String]) -> bool {
    workflow.status.is_terminal()
        || workflow.tasks.iter().any(|task| {
            (task.status.is_terminal() && wait_until.contains(&task.reference_task_name))
                || waits_for_a_signal(task)
        })
}

/// A WAIT with neither `duration` nor `until`: it waits for someone to signal it.
fn waits_for_a_signal(task: &Task) -> bool {
    task.task_type == task_type::WAIT
        && !task.status.is_terminal()
        && !task.input_data.contains_key("duration")
        && !task.input_data.contains_key("until")
}

/// Returns when a commit on this server changed `workflow_id` (or announcements were lost).
async fn next_change_of(changes: &mut Receiver<String>, workflow_id: &str) {
    loop {
        match changes.recv().await {
            Ok(changed) if changed == workflow_id => return,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return,
            // No sender: only the recheck timer can end the wait.
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// Conductor's `WorkflowRun` (a `SignalResponse` of type TARGET_WORKFLOW).
fn workflow_run(workflow: &Workflow, request_id: &str) -> serde_json::Value {
    let mut run = json!({
        "responseType": "TARGET_WORKFLOW",
        "requestId": request_id,
        "workflowId": workflow.workflow_id,
        "targetWorkflowId": workflow.workflow_id,
        "targetWorkflowStatus": workflow.status,
        "status": workflow.status,
        "correlationId": workflow.correlation_id,
        "input": workflow.input,
        "output": workflow.output,
        "variables": workflow.variables,
        "priority": workflow.priority,
        "tasks": workflow.tasks,
        "createTime": workflow.create_time,
        "updateTime": workflow.update_time,
    });
    if let Some(created_by) = &workflow.created_by {
        run["createdBy"] = json!(created_by);
    }
    run
}
