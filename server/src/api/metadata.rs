//! `/api/metadata`: task and workflow definitions.

use actix_web::{web, HttpRequest, HttpResponse};
use baton_engine::validate::{validate_task_def, validate_workflow_def};
use baton_model::{TaskDef, ValidationError, WorkflowDef};
use serde_json::json;

use super::params::Params;
use crate::error::ApiError;
use crate::runtime::{now_ms, Runtime};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/metadata")
            .route("/taskdefs", web::post().to(register_task_defs))
            .route("/taskdefs", web::put().to(update_task_def))
            .route("/taskdefs", web::get().to(list_task_defs))
            .route("/taskdefs/{name}", web::get().to(get_task_def))
            .route("/taskdefs/{name}", web::delete().to(delete_task_def))
            .route("/workflow", web::post().to(register_workflow_def))
            .route("/workflow", web::put().to(update_workflow_defs))
            .route("/workflow", web::get().to(list_workflow_defs))
            .route("/workflow/{name}", web::get().to(get_workflow_def))
            .route(
                "/workflow/{name}/{version}",
                web::delete().to(delete_workflow_def),
            ),
    );
}

/// Prefixes validation paths with Conductor's `<method>.arg0` form.
pub fn prefixed(prefix: &str, errors: Vec<ValidationError>) -> Vec<ValidationError> {
    errors
        .into_iter()
        .map(|mut error| {
            error.path = Some(match error.path.as_deref() {
                Some(path) if !path.is_empty() => format!("{prefix}.{path}"),
                _ => prefix.to_owned(),
            });
            error
        })
        .collect()
}

fn invalid(prefix: &str, errors: Vec<ValidationError>) -> ApiError {
    ApiError::Invalid(prefixed(prefix, errors))
}

/// Checks a list body as Conductor does: it must not be empty, and each item's errors are
/// reported under `<prefix>[i]`.
fn check_list<T>(
    items: &[T],
    prefix: &str,
    empty_message: &str,
    validate: impl Fn(&T) -> Vec<ValidationError>,
) -> Result<(), ApiError> {
    if items.is_empty() {
        let error = ValidationError {
            message: Some(empty_message.into()),
            ..ValidationError::default()
        };
        return Err(invalid(prefix, vec![error]));
    }
    let errors: Vec<ValidationError> = items
        .iter()
        .enumerate()
        .flat_map(|(i, item)| prefixed(&format!("{prefix}[{i}]"), validate(item)))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

async fn register_task_defs(
    runtime: web::Data<Runtime>,
    defs: web::Json<Vec<TaskDef>>,
) -> Result<HttpResponse, ApiError> {
    let defs = defs.into_inner();
    check_list(
        &defs,
        "registerTaskDef.arg0",
        "TaskDefList is empty",
        validate_task_def,
    )?;
    runtime
        .blocking(move |store| store.upsert_task_defs(&defs, now_ms()))
        .await?;
    Ok(HttpResponse::Ok().finish())
}

async fn update_task_def(
    runtime: web::Data<Runtime>,
    def: web::Json<TaskDef>,
) -> Result<HttpResponse, ApiError> {
    let def = def.into_inner();
    let errors = validate_task_def(&def);
    if !errors.is_empty() {
        return Err(invalid("updateTaskDef.arg0", errors));
    }
    let name = def.name.clone();
    let existing = runtime.blocking(move |store| store.task_def(&name)).await?;
    if existing.is_none() {
        return Err(ApiError::NotFound(format!(
            "No such task by name {}",
            def.name
        )));
    }
    runtime
        .blocking(move |store| store.upsert_task_defs(&[def], now_ms()))
        .await?;
    Ok(HttpResponse::Ok().finish())
}

async fn list_task_defs(runtime: web::Data<Runtime>) -> Result<HttpResponse, ApiError> {
    let defs = runtime.blocking(|store| store.task_defs()).await?;
    Ok(HttpResponse::Ok().json(defs))
}

async fn get_task_def(
    runtime: web::Data<Runtime>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let lookup = name.clone();
    match runtime
        .blocking(move |store| store.task_def(&lookup))
        .await?
    {
        Some(def) => Ok(HttpResponse::Ok().json(def)),
        None => Err(ApiError::NotFound(format!(
            "No such taskType found by name: {name}"
        ))),
    }
}

async fn delete_task_def(
    runtime: web::Data<Runtime>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let lookup = name.clone();
    if runtime
        .blocking(move |store| store.delete_task_def(&lookup))
        .await?
    {
        Ok(HttpResponse::Ok().finish())
    } else {
        Err(ApiError::NotFound(format!(
            "No such task definition: {name}"
        )))
    }
}

async fn register_workflow_def(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    def: web::Json<WorkflowDef>,
) -> Result<HttpResponse, ApiError> {
    let overwrite = Params::of(&req)?.bool_or("overwrite", false)?;
    let mut def = def.into_inner();
    // Set by the server when a workflow starts, never registered.
    def.failure_workflow_definition = None;
    // As in Conductor, an existing (name, version) is a conflict before anything is validated.
    if !def.name.trim().is_empty() && !overwrite {
        let (name, version) = (def.name.clone(), def.version);
        if runtime
            .blocking(move |store| store.workflow_def(&name, Some(version)))
            .await?
            .is_some()
        {
            return Err(ApiError::Conflict(format!(
                "Workflow with {}.{} already exists!",
                def.name, def.version
            )));
        }
    }
    let errors = validate_workflow_def(&def);
    if !errors.is_empty() {
        return Err(invalid("registerWorkflowDef.arg0", errors));
    }
    runtime
        .blocking(move |store| store.put_workflow_def(&def, overwrite, now_ms()))
        .await?;
    Ok(HttpResponse::Ok().finish())
}

async fn update_workflow_defs(
    runtime: web::Data<Runtime>,
    defs: web::Json<Vec<WorkflowDef>>,
) -> Result<HttpResponse, ApiError> {
    let mut defs = defs.into_inner();
    for def in &mut defs {
        def.failure_workflow_definition = None;
    }
    check_list(
        &defs,
        "updateWorkflowDef.arg0",
        "WorkflowDefList is empty",
        validate_workflow_def,
    )?;
    let names: Vec<String> = defs.iter().map(|def| def.name.clone()).collect();
    runtime
        .blocking(move |store| {
            let now = now_ms();
            defs.iter()
                .try_for_each(|def| store.put_workflow_def(def, true, now))
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"bulkErrorResults": {}, "bulkSuccessfulResults": names})))
}

async fn list_workflow_defs(runtime: web::Data<Runtime>) -> Result<HttpResponse, ApiError> {
    let defs = runtime.blocking(|store| store.workflow_defs()).await?;
    Ok(HttpResponse::Ok().json(defs))
}

async fn get_workflow_def(
    runtime: web::Data<Runtime>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let version: Option<i32> = Params::of(&req)?.int("version")?;
    let name = name.into_inner();
    let lookup = name.clone();
    match runtime
        .blocking(move |store| store.workflow_def(&lookup, version))
        .await?
    {
        Some(def) => Ok(HttpResponse::Ok().json(def)),
        None => Err(not_found_by_name(&name, version)),
    }
}

/// Conductor's message for an unknown definition (note the literal `null` version).
pub fn not_found_by_name(name: &str, version: Option<i32>) -> ApiError {
    let version = version.map_or("null".to_owned(), |v| v.to_string());
    ApiError::NotFound(format!(
        "No such workflow found by name: {name}, version: {version}"
    ))
}

async fn delete_workflow_def(
    runtime: web::Data<Runtime>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let version: i32 = version.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "Workflow version must be a number, not '{version}'"
        ))
    })?;
    let lookup = name.clone();
    if runtime
        .blocking(move |store| store.delete_workflow_def(&lookup, version))
        .await?
    {
        Ok(HttpResponse::Ok().finish())
    } else {
        Err(ApiError::NotFound(format!(
            "No such workflow definition: {name} version: {version}"
        )))
    }
}
