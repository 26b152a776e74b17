//! `/api/workflow`: start, get, status, remove and operate on executions; running and
//! correlated queries; the `/api/workflow/bulk/*` operations.

use actix_web::{web, HttpRequest, HttpResponse};
use baton_engine::validate::validate_workflow_def;
use baton_engine::StartParams;
use baton_model::{
    JsonMap, RerunWorkflowRequest, SkipTaskRequest, StartWorkflowRequest, ValidationError,
    Workflow, WorkflowDef,
};
use serde_json::{json, Value};

use super::metadata::{not_found_by_name, prefixed};
use super::params::Params;
use super::text;
use crate::error::ApiError;
use crate::runtime::{Operation, Runtime, UuidIds};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/workflow")
            // Literal first segments before the `{workflow_id}/...` routes they could shadow.
            .service(
                web::scope("/bulk")
                    .route("/pause", web::put().to(bulk_pause))
                    .route("/resume", web::put().to(bulk_resume))
                    .route("/retry", web::post().to(bulk_retry))
                    .route("/restart", web::post().to(bulk_restart))
                    .route("/terminate", web::post().to(bulk_terminate))
                    .route("/remove", web::delete().to(bulk_remove))
                    .route("/terminate-remove", web::delete().to(bulk_terminate_remove)),
            )
            .route("/decide/{workflow_id}", web::put().to(decide_workflow))
            .route(
                "/execute/{name}/{version}",
                web::post().to(super::execute::execute_workflow),
            )
            .route("/running/{name}", web::get().to(running_workflows))
            .route("", web::post().to(start_workflow))
            .route("/{name}", web::post().to(start_workflow_by_name))
            .route("/{workflow_id}", web::get().to(get_workflow))
            .route("/{workflow_id}/status", web::get().to(get_workflow_status))
            .route("/{workflow_id}/remove", web::delete().to(remove_workflow))
            .route("/{workflow_id}/pause", web::put().to(pause_workflow))
            .route("/{workflow_id}/resume", web::put().to(resume_workflow))
            .route("/{workflow_id}/retry", web::post().to(retry_workflow))
            .route("/{workflow_id}/restart", web::post().to(restart_workflow))
            .route("/{workflow_id}/rerun", web::post().to(rerun_workflow))
            .route(
                "/{workflow_id}/skiptask/{task_reference_name}",
                web::put().to(skip_task),
            )
            .route(
                "/{workflow_id}/resetcallbacks",
                web::post().to(reset_callbacks),
            )
            .route(
                "/{name}/correlated/{correlation_id}",
                web::get().to(correlated_workflows),
            )
            .route("/{name}/correlated", web::post().to(correlated_batch))
            .route("/{workflow_id}", web::delete().to(terminate_workflow)),
    );
}

fn not_found(workflow_id: &str) -> ApiError {
    ApiError::NotFound(format!("No such workflow found by id: {workflow_id}"))
}

/// A workflow by id, or Conductor's 404.
async fn load(
    runtime: &Runtime,
    workflow_id: String,
    include_tasks: bool,
) -> Result<Workflow, ApiError> {
    let lookup = workflow_id.clone();
    runtime
        .blocking(move |store| store.workflow(&lookup, include_tasks))
        .await?
        .ok_or_else(|| not_found(&workflow_id))
}

pub(super) fn check_priority(priority: i32, path: &str) -> Result<(), ApiError> {
    let message = match priority {
        p if p < 0 => format!("priority: {p} should be minimum 0"),
        p if p > 99 => format!("priority: {p} should be maximum 99"),
        _ => return Ok(()),
    };
    Err(ApiError::Invalid(vec![ValidationError {
        path: Some(path.to_owned()),
        message: Some(message),
        invalid_value: Some(priority.to_string()),
    }]))
}

/// Applies the definition's `inputTemplate` to a non-empty input, as Conductor does.
fn with_input_template(definition: &WorkflowDef, mut input: JsonMap) -> JsonMap {
    if !input.is_empty() {
        for (key, value) in &definition.input_template {
            input.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    input
}

async fn start(
    runtime: &Runtime,
    definition: WorkflowDef,
    request: &StartWorkflowRequest,
) -> Result<HttpResponse, ApiError> {
    Ok(text(start_request(runtime, definition, request).await?))
}

/// Starts `request` on `definition`; returns the workflow's id (an earlier one's, when the
/// request's idempotency strategy says so).
pub(super) async fn start_request(
    runtime: &Runtime,
    definition: WorkflowDef,
    request: &StartWorkflowRequest,
) -> Result<String, ApiError> {
    use baton_engine::IdSource;
    let mut params = StartParams::from_request(request, UuidIds.next_id());
    params.input = with_input_template(&definition, params.input);
    runtime
        .start(definition, params, request.idempotency_strategy)
        .await
}

async fn start_workflow(
    runtime: web::Data<Runtime>,
    request: web::Json<StartWorkflowRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = request.into_inner();
    check_priority(request.priority, "startWorkflow.arg0.priority")?;
    let definition = match request.workflow_def.clone() {
        Some(inline) => {
            let errors = validate_workflow_def(&inline);
            if !errors.is_empty() {
                return Err(ApiError::Invalid(prefixed(
                    "startWorkflow.arg0.workflowDef",
                    errors,
                )));
            }
            inline
        }
        None => {
            if request.name.trim().is_empty() {
                return Err(ApiError::Invalid(vec![ValidationError {
                    path: Some("startWorkflow.arg0.name".into()),
                    message: Some("Workflow name cannot be null or empty".into()),
                    invalid_value: None,
                }]));
            }
            let (name, version) = (request.name.clone(), request.version);
            runtime
                .blocking(move |store| store.workflow_def(&name, version))
                .await?
                .ok_or_else(|| {
                    let version = request.version.map_or("null".to_owned(), |v| v.to_string());
                    ApiError::NotFound(format!(
                        "No such workflow defined. name={}, version={version}",
                        request.name
                    ))
                })?
        }
    };
    start(&runtime, definition, &request).await
}

async fn start_workflow_by_name(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    name: web::Path<String>,
    input: web::Json<JsonMap>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let request = StartWorkflowRequest {
        name: name.into_inner(),
        version: params.int("version")?,
        correlation_id: params.get("correlationId").map(str::to_owned),
        priority: params.int("priority")?.unwrap_or(0),
        input: input.into_inner(),
        ..StartWorkflowRequest::default()
    };
    check_priority(request.priority, "startWorkflow.arg3")?;
    let (lookup, version) = (request.name.clone(), request.version);
    let definition = runtime
        .blocking(move |store| store.workflow_def(&lookup, version))
        .await?
        .ok_or_else(|| not_found_by_name(&request.name, request.version))?;
    start(&runtime, definition, &request).await
}

async fn get_workflow(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let include_tasks = Params::of(&req)?.bool_or("includeTasks", true)?;
    let workflow = load(&runtime, id.into_inner(), include_tasks).await?;
    Ok(HttpResponse::Ok().json(workflow))
}

async fn get_workflow_status(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let include_output = params.bool_or("includeOutput", false)?;
    let include_variables = params.bool_or("includeVariables", false)?;
    let workflow = load(&runtime, id.into_inner(), false).await?;
    let mut body = json!({"workflowId": workflow.workflow_id, "status": workflow.status});
    if let Some(correlation_id) = workflow.correlation_id.filter(|c| !c.is_empty()) {
        body["correlationId"] = Value::from(correlation_id);
    }
    if include_output {
        body["output"] = Value::Object(workflow.output);
    }
    if include_variables {
        body["variables"] = Value::Object(workflow.variables);
    }
    Ok(HttpResponse::Ok().json(body))
}

async fn pause_workflow(
    runtime: web::Data<Runtime>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    runtime.operate(id.into_inner(), Operation::Pause).await?;
    Ok(HttpResponse::Ok().finish())
}

async fn resume_workflow(
    runtime: web::Data<Runtime>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    runtime.operate(id.into_inner(), Operation::Resume).await?;
    Ok(HttpResponse::Ok().finish())
}

/// `DELETE /api/workflow/{id}?reason=`: terminates the workflow and cancels its tasks.
async fn terminate_workflow(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let reason = Params::of(&req)?.non_empty("reason").map(str::to_owned);
    runtime
        .operate(id.into_inner(), Operation::Terminate { reason })
        .await?;
    Ok(HttpResponse::Ok().finish())
}

/// `POST /api/workflow/{id}/retry`: a new attempt for each failed task; 204 as in Conductor.
/// With `resumeSubworkflowTasks=true`, a failed sub-workflow is retried in place instead of
/// being started over.
async fn retry_workflow(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let resume_subworkflow_tasks = Params::of(&req)?.bool_or("resumeSubworkflowTasks", false)?;
    let retry = Operation::Retry {
        resume_subworkflow_tasks,
    };
    runtime.operate(id.into_inner(), retry).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn remove_workflow(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let archive = Params::of(&req)?.bool_or("archiveWorkflow", true)?;
    remove(&runtime, id.into_inner(), archive).await?;
    Ok(HttpResponse::Ok().finish())
}

/// Deletes a workflow; with `archive` (the default), only one that has ended.
async fn remove(runtime: &Runtime, id: String, archive: bool) -> Result<(), ApiError> {
    let workflow = load(runtime, id.clone(), false).await?;
    if archive && !workflow.status.is_terminal() {
        return Err(ApiError::BadRequest(format!(
            "Cannot archive workflow: {id} with status: {}",
            workflow.status
        )));
    }
    let lookup = id.clone();
    if runtime
        .blocking(move |store| store.remove_workflow(&lookup))
        .await?
    {
        Ok(())
    } else {
        Err(not_found(&id))
    }
}

/// `PUT /api/workflow/decide/{id}`: runs the decider on the workflow now.
async fn decide_workflow(
    runtime: web::Data<Runtime>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    runtime.operate(id.into_inner(), Operation::Decide).await?;
    Ok(HttpResponse::Ok().finish())
}

/// `POST /api/workflow/{id}/resetcallbacks`: scheduled tasks waiting out a callback become
/// pollable now; 204 as in Conductor.
async fn reset_callbacks(
    runtime: web::Data<Runtime>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    runtime
        .operate(id.into_inner(), Operation::ResetCallbacks)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/workflow/running/{name}?version=&startTime=&endTime=`: ids of the running (or
/// paused) workflows. `version` defaults to 1, as in Conductor; the time window applies when
/// both ends are given.
async fn running_workflows(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let version = params.int("version")?.unwrap_or(1);
    let started = match (
        params.int::<i64>("startTime")?,
        params.int::<i64>("endTime")?,
    ) {
        (Some(from), Some(to)) => Some((from, to)),
        _ => None,
    };
    let name = name.into_inner();
    let ids = runtime
        .blocking(move |store| store.running_workflow_ids(&name, version, started))
        .await?;
    Ok(HttpResponse::Ok().json(ids))
}

/// `GET /api/workflow/{name}/correlated/{correlationId}?includeClosed=&includeTasks=`.
async fn correlated_workflows(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let include_closed = params.bool_or("includeClosed", false)?;
    let include_tasks = params.bool_or("includeTasks", false)?;
    let (name, correlation_id) = path.into_inner();
    let workflows = runtime
        .blocking(move |store| {
            store.workflows_by_correlation_id(&name, &correlation_id, include_closed, include_tasks)
        })
        .await?;
    Ok(HttpResponse::Ok().json(workflows))
}

/// `POST /api/workflow/{name}/correlated` with a list of correlation ids: the workflows of each.
async fn correlated_batch(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    name: web::Path<String>,
    correlation_ids: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let include_closed = params.bool_or("includeClosed", false)?;
    let include_tasks = params.bool_or("includeTasks", false)?;
    let name = name.into_inner();
    let correlation_ids = correlation_ids.into_inner();
    let found = runtime
        .blocking(move |store| {
            let mut found = serde_json::Map::new();
            for correlation_id in correlation_ids {
                let workflows = store.workflows_by_correlation_id(
                    &name,
                    &correlation_id,
                    include_closed,
                    include_tasks,
                )?;
                found.insert(correlation_id, serde_json::to_value(workflows)?);
            }
            Ok(found)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// The most workflow ids one bulk request may name, as in Conductor.
const MAX_BULK_IDS: usize = 1000;

/// Conductor's `BulkResponse`: which ids the action succeeded on, and why it failed on the rest.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct BulkResponse {
    bulk_error_results: std::collections::BTreeMap<String, String>,
    bulk_successful_results: Vec<String>,
    message: &'static str,
}

/// Applies `action` to each id in turn; one failure does not stop the others.
async fn bulk<F, Fut>(
    operation: &str,
    ids: Vec<String>,
    mut action: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let refuse = |message: &str| {
        Err(ApiError::Invalid(vec![ValidationError {
            path: Some(format!("{operation}.workflowIds")),
            message: Some(message.to_owned()),
            invalid_value: None,
        }]))
    };
    if ids.is_empty() {
        return refuse("WorkflowIds list cannot be null.");
    }
    if ids.len() > MAX_BULK_IDS {
        return refuse(&format!(
            "Cannot process more than {MAX_BULK_IDS} workflows. Please use multiple requests."
        ));
    }
    let mut response = BulkResponse {
        message: "Bulk Request has been processed.",
        ..BulkResponse::default()
    };
    for id in ids {
        match action(id.clone()).await {
            Ok(()) => response.bulk_successful_results.push(id),
            Err(error) => {
                response.bulk_error_results.insert(id, error.to_string());
            }
        }
    }
    Ok(HttpResponse::Ok().json(response))
}

async fn bulk_pause(
    runtime: web::Data<Runtime>,
    ids: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    bulk("pauseWorkflow", ids.into_inner(), |id| {
        runtime.operate(id, Operation::Pause)
    })
    .await
}

async fn bulk_resume(
    runtime: web::Data<Runtime>,
    ids: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    bulk("resumeWorkflow", ids.into_inner(), |id| {
        runtime.operate(id, Operation::Resume)
    })
    .await
}

async fn bulk_retry(
    runtime: web::Data<Runtime>,
    ids: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    bulk("retry", ids.into_inner(), |id| {
        runtime.operate(
            id,
            Operation::Retry {
                resume_subworkflow_tasks: false,
            },
        )
    })
    .await
}

async fn bulk_terminate(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    ids: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    let reason = Params::of(&req)?.non_empty("reason").map(str::to_owned);
    bulk("terminate", ids.into_inner(), |id| {
        let reason = reason.clone();
        let runtime = runtime.clone();
        async move { runtime.operate(id, Operation::Terminate { reason }).await }
    })
    .await
}

async fn bulk_remove(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    ids: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    let archive = Params::of(&req)?.bool_or("archiveWorkflow", true)?;
    bulk("deleteWorkflow", ids.into_inner(), |id| {
        let runtime = runtime.clone();
        async move { remove(&runtime, id, archive).await }
    })
    .await
}

async fn bulk_terminate_remove(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    ids: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req)?;
    let archive = params.bool_or("archiveWorkflow", true)?;
    let reason = params.non_empty("reason").map(str::to_owned);
    bulk("terminateRemove", ids.into_inner(), |id| {
        let runtime = runtime.clone();
        let reason = reason.clone();
        async move {
            runtime
                .operate(id.clone(), Operation::Terminate { reason })
                .await?;
            remove(&runtime, id, archive).await
        }
    })
    .await
}

/// `POST /api/workflow/{id}/restart?useLatestDefinitions=`: 204 as in Conductor.
async fn restart_workflow(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let use_latest_definitions = Params::of(&req)?.bool_or("useLatestDefinitions", false)?;
    runtime
        .operate(
            id.into_inner(),
            Operation::Restart {
                use_latest_definitions,
            },
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/workflow/{id}/rerun`: answers the workflow id as text.
async fn rerun_workflow(
    runtime: web::Data<Runtime>,
    id: web::Path<String>,
    request: web::Json<RerunWorkflowRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = request.into_inner();
    let rerun = baton_engine::operator::Rerun {
        from_task_id: request.re_run_from_task_id.filter(|id| !id.is_empty()),
        task_input: request.task_input,
        workflow_input: request.workflow_input,
        correlation_id: request.correlation_id,
    };
    let id = id.into_inner();
    runtime.operate(id.clone(), Operation::Rerun(rerun)).await?;
    Ok(text(id))
}

async fn bulk_restart(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    ids: web::Json<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    let use_latest_definitions = Params::of(&req)?.bool_or("useLatestDefinitions", false)?;
    bulk("restart", ids.into_inner(), |id| {
        runtime.operate(
            id,
            Operation::Restart {
                use_latest_definitions,
            },
        )
    })
    .await
}

/// `PUT /api/workflow/{id}/skiptask/{taskReferenceName}` with an optional `SkipTaskRequest`:
/// the task is recorded as SKIPPED before the flow reaches it, and the flow passes it by.
async fn skip_task(
    runtime: web::Data<Runtime>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // The body is optional, as in Conductor.
    let request: SkipTaskRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SkipTaskRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("Invalid SkipTaskRequest: {e}")))?
    };
    let (workflow_id, reference) = path.into_inner();
    runtime
        .operate(
            workflow_id,
            Operation::Skip {
                reference,
                input: request.task_input.unwrap_or_default(),
                output: request.task_output.unwrap_or_default(),
            },
        )
        .await?;
    Ok(HttpResponse::Ok().finish())
}
