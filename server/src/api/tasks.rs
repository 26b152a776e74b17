//! `/api/tasks`: polling, results, logs, and queue inspection.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use baton_model::{JsonMap, TaskResult, TaskResultStatus, ValidationError};

use super::params::Params;
use super::text;
use crate::error::ApiError;
use crate::runtime::{now_ms, Completion, PollRequest, Runtime, MAX_POLL_TIMEOUT_MS};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/tasks")
            .route("", web::post().to(update_task))
            .route("/update-v2", web::post().to(update_task_v2))
            .route("/poll/batch/{task_type}", web::get().to(batch_poll))
            .route("/poll/{task_type}", web::get().to(poll))
            .route("/queue/sizes", web::get().to(queue_sizes))
            .route("/queue/size", web::get().to(queue_size))
            .route("/queue/all", web::get().to(all_queue_sizes))
            .route("/queue/polldata", web::get().to(poll_data))
            .route("/queue/polldata/all", web::get().to(all_poll_data))
            .route("/{workflow_id}/{status}/signal", web::post().to(signal))
            .route(
                "/{workflow_id}/{reference}/{status}",
                web::post().to(complete_by_reference),
            )
            .route("/{task_id}", web::get().to(get_task))
            .route("/{task_id}/log", web::post().to(add_log))
            .route("/{task_id}/log", web::get().to(get_logs)),
    );
}

/// Default wait of a single poll and of a batch poll without `timeout`, as in Conductor.
const DEFAULT_POLL_TIMEOUT_MS: u64 = 100;
/// The most tasks one batch poll hands out.
const MAX_BATCH_COUNT: usize = 1000;

fn poll_request(task_type: String, params: &Params, count: usize, timeout_ms: u64) -> PollRequest {
    PollRequest {
        task_type,
        count,
        worker_id: params.get("workerid").map(str::to_owned),
        domain: params.non_empty("domain").map(str::to_owned),
        timeout: Duration::from_millis(timeout_ms),
    }
}

async fn poll(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    task_type: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let request = poll_request(task_type.into_inner(), &params, 1, DEFAULT_POLL_TIMEOUT_MS);
    let mut tasks = runtime.poll(request).await?;
    Ok(match tasks.pop() {
        Some(task) => HttpResponse::Ok().json(task),
        None => HttpResponse::NoContent().finish(),
    })
}

async fn batch_poll(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    task_type: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let count: i64 = params.int("count")?.unwrap_or(1);
    let timeout: i64 = params
        .int("timeout")?
        .unwrap_or(DEFAULT_POLL_TIMEOUT_MS as i64);
    if timeout > MAX_POLL_TIMEOUT_MS as i64 {
        return Err(ApiError::BadRequest(
            "Long Poll Timeout value cannot be more than 5 seconds".into(),
        ));
    }
    if timeout < 0 {
        return Err(ApiError::BadRequest(format!(
            "Long Poll Timeout value cannot be negative: {timeout}"
        )));
    }
    if count < 1 {
        return Err(ApiError::BadRequest(format!(
            "count must be at least 1, not {count}"
        )));
    }
    let count = (count as usize).min(MAX_BATCH_COUNT);
    let request = poll_request(task_type.into_inner(), &params, count, timeout as u64);
    Ok(HttpResponse::Ok().json(runtime.poll(request).await?))
}

/// Conductor's bean validation of a TaskResult: both ids are required.
fn check_result(result: &TaskResult) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if result.workflow_instance_id.trim().is_empty() {
        errors.push(ValidationError {
            path: Some("updateTask.arg0.workflowInstanceId".into()),
            message: Some("Workflow Id cannot be null or empty".into()),
            invalid_value: None,
        });
    }
    if result.task_id.trim().is_empty() {
        errors.push(ValidationError {
            path: Some("updateTask.arg0.taskId".into()),
            message: Some("Task ID cannot be null or empty".into()),
            invalid_value: None,
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

async fn update_task(
    runtime: web::Data<Runtime>,
    result: web::Json<TaskResult>,
) -> Result<HttpResponse, ApiError> {
    let result = result.into_inner();
    check_result(&result)?;
    let task_id = result.task_id.clone();
    runtime.update_task(result, false).await?;
    Ok(text(task_id))
}

/// Updates a task, then hands the same worker its next task of the same type (or 204),
/// claimed in the same transaction as the update.
async fn update_task_v2(
    runtime: web::Data<Runtime>,
    result: web::Json<TaskResult>,
) -> Result<HttpResponse, ApiError> {
    let result = result.into_inner();
    check_result(&result)?;
    let (_, mut next) = runtime.update_task(result, true).await?;
    Ok(match next.pop() {
        Some(task) => HttpResponse::Ok().json(task),
        None => HttpResponse::NoContent().finish(),
    })
}

/// A task output from a request body: a JSON object, or nothing at all.
fn output_from(body: &[u8]) -> Result<JsonMap, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(JsonMap::new());
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::BadRequest(format!("JSON parse error: {error}")))
}

fn parse_status(status: &str) -> Result<TaskResultStatus, ApiError> {
    status.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "Invalid task status: {status} (use COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS)"
        ))
    })
}

/// Completes the pending task with a reference name from outside (WAIT, HUMAN, or any task).
/// Answers its id, or an empty 200 when no such task is pending, as Conductor does.
async fn complete_by_reference(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (workflow_id, reference, status) = path.into_inner();
    let completion = Completion::ByReference {
        reference,
        status: parse_status(&status)?,
        output: output_from(&body)?,
        worker_id: Params::of(&req)?.get("workerid").map(str::to_owned),
    };
    let task_id = runtime
        .complete_from_outside(workflow_id, completion)
        .await?;
    Ok(text(task_id.unwrap_or_default()))
}

/// Finishes the workflow's waiting WAIT or HUMAN task with the body as its output.
async fn signal(
    runtime: web::Data<Runtime>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (workflow_id, status) = path.into_inner();
    let completion = Completion::Signal {
        status: parse_status(&status)?,
        output: output_from(&body)?,
    };
    match runtime
        .complete_from_outside(workflow_id.clone(), completion)
        .await?
    {
        Some(_) => Ok(HttpResponse::Ok().finish()),
        None => Err(ApiError::NotFound(format!(
            "Workflow {workflow_id} has no WAIT or HUMAN task waiting for a signal"
        ))),
    }
}

async fn get_task(
    runtime: web::Data<Runtime>,
    task_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task_id = task_id.into_inner();
    let lookup = task_id.clone();
    match runtime.blocking(move |store| store.task(&lookup)).await? {
        Some(task) => Ok(HttpResponse::Ok().json(task)),
        None => Err(ApiError::NotFound(format!(
            "Task not found for taskId: {task_id}"
        ))),
    }
}

/// The log line of a request body: a JSON string is unwrapped, anything else is taken verbatim.
fn log_line(body: &[u8]) -> Result<String, ApiError> {
    let raw = std::str::from_utf8(body)
        .map_err(|_| ApiError::BadRequest("Task log must be UTF-8 text".into()))?;
    if raw.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "Required request body is missing: task log".into(),
        ));
    }
    Ok(match serde_json::from_str::<String>(raw) {
        Ok(decoded) => decoded,
        Err(_) => raw.to_owned(),
    })
}

async fn add_log(
    runtime: web::Data<Runtime>,
    task_id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let log = log_line(&body)?;
    let task_id = task_id.into_inner();
    runtime
        .blocking(move |store| store.add_task_log(&task_id, &log, now_ms()))
        .await?;
    Ok(HttpResponse::Ok().finish())
}

async fn get_logs(
    runtime: web::Data<Runtime>,
    task_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task_id = task_id.into_inner();
    let logs = runtime
        .blocking(move |store| store.task_logs(&task_id))
        .await?;
    Ok(if logs.is_empty() {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::Ok().json(logs)
    })
}

fn required_task_types(params: &Params) -> Result<Vec<String>, ApiError> {
    let types = params.list("taskType");
    if types.is_empty() {
        return Err(ApiError::BadRequest(
            "Required request parameter 'taskType' is not present".into(),
        ));
    }
    Ok(types)
}

async fn queue_sizes(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let task_types = required_task_types(&Params::of(&req)?)?;
    let sizes = runtime
        .blocking(move |store| {
            task_types
                .into_iter()
                .map(|task_type| store.queue_size(&task_type).map(|size| (task_type, size)))
                .collect::<Result<std::collections::BTreeMap<_, _>, _>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(sizes))
}

async fn queue_size(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let task_type = required_task_types(&params)?.remove(0);
    let queue = baton_engine::queue_name(&task_type, params.non_empty("domain"));
    let size = runtime
        .blocking(move |store| store.queue_size(&queue))
        .await?;
    Ok(HttpResponse::Ok().json(size))
}

async fn all_queue_sizes(runtime: web::Data<Runtime>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(runtime.blocking(|store| store.queue_sizes()).await?))
}

async fn poll_data(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let task_type = required_task_types(&Params::of(&req)?)?.remove(0);
    let data = runtime
        .blocking(move |store| store.poll_data(Some(&task_type)))
        .await?;
    Ok(HttpResponse::Ok().json(data))
}

async fn all_poll_data(runtime: web::Data<Runtime>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(runtime.blocking(|store| store.poll_data(None)).await?))
}
