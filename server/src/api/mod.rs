//! The HTTP API: Conductor's REST paths under `/api`, one module per resource.
//! Handlers parse, call the runtime or store, and map errors; they hold no business logic.

mod execute;
mod health;
mod metadata;
mod params;
mod tasks;
mod workflow;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;

/// Largest JSON body accepted (a big workflow definition or task output fits easily).
const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// Registers every route and the extractor error handlers.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_JSON_BYTES)
            // Conductor's SDKs always send JSON, but some clients omit the header.
            .content_type_required(false)
            .error_handler(|error, _req| {
                ApiError::BadRequest(format!("JSON parse error: {error}")).into()
            }),
    )
    .app_data(web::PayloadConfig::default().limit(MAX_JSON_BYTES))
    .app_data(
        web::PathConfig::default()
            .error_handler(|error, _req| ApiError::BadRequest(error.to_string()).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|error, _req| ApiError::BadRequest(error.to_string()).into()),
    );
    health::configure(cfg);
    cfg.service(
        web::scope("/api")
            .configure(metadata::configure)
            .configure(workflow::configure)
            .configure(tasks::configure)
            .configure(health::configure_api),
    );
    cfg.default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "No static resource {}.",
        req.path().trim_start_matches('/')
    )))
}

/// A 200 with a plain-text body, as Conductor returns ids.
fn text(body: impl Into<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain;charset=UTF-8")
        .body(body.into())
}
