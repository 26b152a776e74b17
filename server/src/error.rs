//! The one table from error kind to HTTP status and Conductor's error body.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use baton_engine::EngineError;
use baton_model::{ErrorResponse, ValidationError};

use crate::store::StoreError;

/// An error an API handler returns. Every 4xx/5xx leaves the server in Conductor's shape:
/// `{status, message, instance, retryable, validationErrors}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("Validation failed, check below errors for detail.")]
    Invalid(Vec<ValidationError>),
    /// Unexpected failures. The cause is logged; the client sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn internal(error: impl std::fmt::Display) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(format!("No such {what}")),
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists!")),
            StoreError::Duplicate(message) => ApiError::Conflict(message),
            StoreError::Rejected(engine) => engine.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::TaskNotFound(_) => ApiError::NotFound(error.to_string()),
            EngineError::MissingDefinition(_) => ApiError::internal(error),
            EngineError::Conflict(message) => ApiError::Conflict(message),
            EngineError::WrongWorkflow { .. }
            | EngineError::MissingStatus
            | EngineError::InvalidArgument(_) => ApiError::BadRequest(error.to_string()),
        }
    }
}

/// The `instance` field: this server's host name, as Conductor reports it.
fn instance() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BadRequest(_) | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                "Internal server error".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorResponse {
            status: i32::from(status.as_u16()),
            message: Some(message),
            instance: Some(instance().to_owned()),
            retryable: false,
            validation_errors: match self {
                ApiError::Invalid(errors) => Some(errors.clone()),
                _ => None,
            },
            ..ErrorResponse::default()
        };
        HttpResponse::build(status).json(body)
    }
}
