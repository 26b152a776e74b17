//! Health and version: `/health`, `/api/health`, `/api/version`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::text;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
}

pub fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/version", web::get().to(version));
}

async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({"healthResults": [], "suppressedHealthResults": [], "healthy": true}))
}

async fn version() -> HttpResponse {
    text(env!("CARGO_PKG_VERSION"))
}
