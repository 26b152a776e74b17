//! Error bodies of Conductor's REST API: `ErrorResponse` and the `ValidationError`s it
//! lists for rejected requests. Mirrors `com.netflix.conductor.common.validation`.

use serde::{Deserialize, Serialize};

use crate::de::null_default;
use crate::JsonMap;

/// The JSON body of every non-2xx response (`ErrorResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorResponse {
    /// The HTTP status code.
    #[serde(deserialize_with = "null_default")]
    pub status: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The server instance (host name) that produced the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_errors: Option<Vec<ValidationError>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
}

impl ErrorResponse {
    /// An error with the given HTTP status and message.
    pub fn new(status: i32, message: impl Into<String>) -> Self {
        Self {
            status,
            message: Some(message.into()),
            ..Self::default()
        }
    }
}

/// One failed constraint of a rejected request (`ValidationError`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ValidationError {
    /// Property path, e.g. `registerTaskDef.taskDefinitions[0].name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_value: Option<String>,
}

impl ValidationError {
    /// A validation error for `path`.
    pub fn new(
        path: impl Into<String>,
        message: impl Into<String>,
        invalid_value: Option<String>,
    ) -> Self {
        Self {
            path: Some(path.into()),
            message: Some(message.into()),
            invalid_value,
        }
    }
}
