//! [`ClientError`]: everything a [`crate::BatonClient`] call can fail with.

use baton_model::ErrorResponse;

/// Error of a [`crate::BatonClient`] call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with a 4xx or 5xx status.
    ///
    /// `error` is Conductor's error body. When the body is not an `ErrorResponse`
    /// (a proxy's HTML page, plain text, …) its `message` holds the raw body; a
    /// missing `status` in the body is filled in from the HTTP status.
    #[error("HTTP {status}: {}", error.message.as_deref().unwrap_or("(no message)"))]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The decoded error body (boxed to keep `Result<T, ClientError>` small; field
        /// access works as if unboxed: `error.message`).
        error: Box<ErrorResponse>,
    },
    /// The request could not be sent or its response not received (connection refused,
    /// timeout, broken connection, …).
    #[error("HTTP transport error: {0}")]
    Http(#[from] reqwest::Error),
    /// A successful response's body is not what the endpoint should return.
    #[error("cannot decode response: {0}")]
    Decode(String),
    /// The base URL given to [`crate::BatonClient::new`] is unusable.
    #[error("invalid base URL: {0}")]
    InvalidUrl(String),
}

impl ClientError {
    /// The HTTP status of an [`ClientError::Api`] error (or of a transport error that
    /// carries one); `None` otherwise.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Http(err) => err.status().map(|s| s.as_u16()),
            Self::Decode(_) | Self::InvalidUrl(_) => None,
        }
    }

    /// The server's error body, for [`ClientError::Api`] errors.
    pub fn error_response(&self) -> Option<&ErrorResponse> {
        match self {
            Self::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether repeating the same request may succeed: transport errors (connection
    /// refused or reset, timeouts), 5xx responses and 429 Too Many Requests.
    ///
    /// 4xx responses and undecodable bodies are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status >= 500 || *status == 429,
            Self::Http(err) => !err.is_decode() && !err.is_builder(),
            Self::Decode(_) | Self::InvalidUrl(_) => false,
        }
    }

    /// Builds the [`ClientError::Api`] error for a failed response with the given
    /// status and raw body.
    pub(crate) fn from_response(status: u16, body: &str) -> Self {
        let raw = body.trim();
        let parsed = serde_json::from_str::<serde_json::Value>(raw)
            .ok()
            .filter(serde_json::Value::is_object)
            .and_then(|value| serde_json::from_value::<ErrorResponse>(value).ok());
        let error = match parsed {
            Some(mut error) => {
                if error.status == 0 {
                    error.status = i32::from(status);
                }
                if error.message.is_none() && !raw.is_empty() {
                    error.message = Some(raw.to_owned());
                }
                error
            }
            None => ErrorResponse {
                status: i32::from(status),
                message: (!raw.is_empty()).then(|| raw.to_owned()),
                ..ErrorResponse::default()
            },
        };
        Self::Api {
            status,
            error: Box::new(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conductor_error_body_is_decoded_with_its_validation_errors() {
        let body = r#"{"status":400,"message":"Validation failed, check below errors for detail.",
            "retryable":false,"instance":"host-1",
            "validationErrors":[{"path":"registerTaskDef.taskDefinitions[0].name","message":"TaskDef name cannot be null or empty"}]}"#;
        let err = ClientError::from_response(400, body);
        assert_eq!(err.status(), Some(400));
        let error = err.error_response().expect("an Api error");
        assert_eq!(
            error.message.as_deref(),
            Some("Validation failed, check below errors for detail.")
        );
        assert_eq!(error.instance.as_deref(), Some("host-1"));
        let validation = error.validation_errors.as_ref().expect("validation errors");
        assert_eq!(
            validation[0].path.as_deref(),
            Some("registerTaskDef.taskDefinitions[0].name")
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn a_body_that_is_not_json_becomes_the_message() {
        let err = ClientError::from_response(502, "<html>Bad Gateway</html>\n");
        let error = err.error_response().expect("an Api error");
        assert_eq!(error.status, 502);
        assert_eq!(error.message.as_deref(), Some("<html>Bad Gateway</html>"));
        assert!(err.is_retryable());
    }

    #[test]
    fn a_json_body_without_message_keeps_the_raw_body_as_message() {
        let body = r#"{"timestamp":1,"error":"Not Found","path":"/api/x"}"#;
        let err = ClientError::from_response(404, body);
        let error = err.error_response().expect("an Api error");
        assert_eq!(error.status, 404);
        assert_eq!(error.message.as_deref(), Some(body));
    }

    #[test]
    fn an_empty_error_body_leaves_the_message_empty() {
        let err = ClientError::from_response(500, "");
        assert_eq!(err.status(), Some(500));
        assert_eq!(err.error_response().unwrap().message, None);
        assert_eq!(err.to_string(), "HTTP 500: (no message)");
    }

    #[test]
    fn too_many_requests_is_retryable_but_not_found_is_not() {
        assert!(ClientError::from_response(429, "").is_retryable());
        assert!(!ClientError::from_response(404, "").is_retryable());
        assert!(!ClientError::Decode("x".into()).is_retryable());
    }
}
