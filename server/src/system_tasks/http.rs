//! The HTTP system task: one request per task, made from the server with a pooled client.
//!
//! Input is Conductor's: an `http_request` object, or the same fields flat in the input
//! (`uri`, `method`, `headers`, `body`, `accept`, `contentType`, `connectionTimeOut` and
//! `readTimeOut` in ms, 3000 by default, and `asyncComplete`). Output is
//! `response {statusCode, headers, body, reasonPhrase}`; a 2xx completes the task, any other
//! status or a connection failure fails it with the reason.

use std::time::Duration;

use baton_model::{task_type, JsonMap, Task, TaskResultStatus};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Execution, Outcome, SystemTask};

/// The most of a response body kept in a task's output.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub struct HttpTask {
    client: reqwest::Client,
}

impl HttpTask {
    pub fn new() -> Self {
        HttpTask {
            client: reqwest::Client::builder()
                .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Default for HttpTask {
    fn default() -> Self {
        HttpTask::new()
    }
}

impl SystemTask for HttpTask {
    fn task_type(&self) -> &'static str {
        task_type::HTTP
    }

    fn concurrency(&self) -> usize {
        32
    }

    fn execute(&self, task: Task) -> Execution {
        let client = self.client.clone();
        Box::pin(async move { call(&client, &task.input_data).await })
    }
}

/// Conductor's HTTP task input. Unknown fields (`vipAddress`, `appName`, ...) are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    uri: Option<String>,
    method: Option<String>,
    #[serde(default)]
    headers: JsonMap,
    #[serde(default)]
    body: Value,
    #[serde(default)]
    accept: Accept,
    content_type: Option<String>,
    #[serde(rename = "connectionTimeOut")]
    connection_timeout: Option<u64>,
    #[serde(rename = "readTimeOut")]
    read_timeout: Option<u64>,
    #[serde(default)]
    async_complete: bool,
}

/// `accept` is a list in Conductor's model, but users often write one string.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Accept {
    #[default]
    Json,
    One(String),
    Many(Vec<String>),
}

/// Makes the request a task describes and turns the answer into its outcome.
pub async fn call(client: &reqwest::Client, input: &JsonMap) -> Outcome {
    let source = match input.get("http_request") {
        Some(Value::Object(request)) => request.clone(),
        _ => input.clone(),
    };
    let request: Request = match serde_json::from_value(Value::Object(source)) {
        Ok(request) => request,
        Err(error) => {
            return Outcome::failed(
                format!("Invalid HTTP request input: {error}"),
                JsonMap::new(),
            )
        }
    };
    let Some(uri) = request.uri.clone().filter(|u| !u.is_empty()) else {
        return Outcome::failed(
            "Missing HTTP URI.  See documentation for HttpTask for required input parameters",
            JsonMap::new(),
        );
    };
    let Some(method) = request.method.clone().filter(|m| !m.is_empty()) else {
        return Outcome::failed("No HTTP method specified", JsonMap::new());
    };
    let method = match Method::from_bytes(method.to_ascii_uppercase().as_bytes()) {
        Ok(method) => method,
        Err(_) => return Outcome::failed(format!("Invalid HTTP method: {method}"), JsonMap::new()),
    };
    let headers = match headers(&request) {
        Ok(headers) => headers,
        Err(reason) => return Outcome::failed(reason, JsonMap::new()),
    };
    let connect = Duration::from_millis(request.connection_timeout.unwrap_or(3000).max(1));
    let read = Duration::from_millis(request.read_timeout.unwrap_or(3000).max(1));
    let mut builder = client
        .request(method, &uri)
        .headers(headers)
        .timeout(connect + read);
    builder = match &request.body {
        Value::Null => builder,
        // A string is sent as it is, as Conductor's string converter does.
        Value::String(text) => builder.body(text.clone()),
        other => builder.body(other.to_string()),
    };
    let response = match tokio::time::timeout(connect + read, builder.send()).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => return transport_failure(&error.to_string()),
        Err(_) => return transport_failure("the request timed out"),
    };
    let status = response.status();
    let response_headers = header_map(response.headers());
    let body = match tokio::time::timeout(read, response.bytes()).await {
        Ok(Ok(bytes)) => parse_body(&bytes),
        Ok(Err(error)) => return transport_failure(&error.to_string()),
        Err(_) => return transport_failure("reading the response timed out"),
    };
    let reason_phrase = status.canonical_reason().unwrap_or_default();
    let mut output = JsonMap::new();
    output.insert(
        "response".into(),
        json!({
            "statusCode": status.as_u16(),
            "headers": response_headers,
            "body": body,
            "reasonPhrase": reason_phrase,
        }),
    );
    if status.is_success() {
        let status = if request.async_complete {
            TaskResultStatus::InProgress
        } else {
            TaskResultStatus::Completed
        };
        return Outcome {
            status,
            output,
            reason: None,
        };
    }
    let detail = match &body {
        Value::Null => "No response from the remote service".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    Outcome::failed(
        format!(
            "HTTP {} {reason_phrase}: {}",
            status.as_u16(),
            truncate(&detail, 1000)
        ),
        output,
    )
}

fn transport_failure(error: &str) -> Outcome {
    let reason = format!("Failed to invoke HTTP task due to: {error}");
    let mut output = JsonMap::new();
    output.insert("response".into(), Value::String(reason.clone()));
    Outcome::failed(reason, output)
}

fn headers(request: &Request) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    let content_type = request
        .content_type
        .as_deref()
        .unwrap_or("application/json");
    let accept = match &request.accept {
        Accept::Json => "application/json".to_owned(),
        Accept::One(one) => one.clone(),
        Accept::Many(many) => many.join(", "),
    };
    let invalid = |name: &str| format!("Invalid HTTP header: {name}");
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).map_err(|_| invalid("Content-Type"))?,
    );
    headers.insert(
        ACCEPT,
        HeaderValue::from_str(&accept).map_err(|_| invalid("Accept"))?,
    );
    for (name, value) in &request.headers {
        let value = match value {
            Value::Null => continue,
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(name))?;
        let value = HeaderValue::from_str(&value).map_err(|_| invalid(name.as_str()))?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// Response headers as Conductor shows them: each name with the list of its values.
fn header_map(headers: &HeaderMap) -> JsonMap {
    let mut map = JsonMap::new();
    for (name, value) in headers {
        let value = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
        let values = map
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(value);
        }
    }
    map
}

/// A JSON body as JSON, anything else as text (as Conductor's `extractBody` does).
fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    let bytes = &bytes[..bytes.len().min(MAX_BODY_BYTES)];
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}
