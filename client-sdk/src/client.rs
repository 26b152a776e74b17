//! [`BatonClient`]: typed async access to the Conductor REST API that Baton serves
//! under `/api`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use baton_model::{
    JsonMap, PollData, StartWorkflowRequest, Task, TaskDef, TaskExecLog, TaskResult, Workflow,
    WorkflowDef,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::ClientError;

/// Default time to establish a TCP connection: 5 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default limit on a whole request, response body included: 60 s. Long polls are
/// capped well below it (see [`PollRequest::timeout_ms`]).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Parameters of a batch poll (`GET /api/tasks/poll/batch/{taskType}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRequest {
    /// Maximum number of tasks to return. Default 1.
    pub count: u32,
    /// How long the server may wait for a task before answering with none, in
    /// milliseconds (a long poll). Default 100, Conductor's default.
    pub timeout_ms: u64,
    /// Identifies the polling worker in the server's poll data. Default none.
    pub worker_id: Option<String>,
    /// The task domain to poll. Default none (the domain-less queue).
    pub domain: Option<String>,
}

impl Default for PollRequest {
    fn default() -> Self {
        Self {
            count: 1,
            timeout_ms: 100,
            worker_id: None,
            domain: None,
        }
    }
}

/// Typed client for Baton's (Conductor's) REST API.
///
/// Cheap to clone: clones share one pooled [`reqwest::Client`], so create one per
/// server and clone it wherever it is needed. Every method sends one request and
/// returns [`ClientError::Api`] for 4xx/5xx answers.
#[derive(Debug, Clone)]
pub struct BatonClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    /// Parsed base URL, e.g. `http://127.0.0.1:8080/`.
    base: Url,
    /// The base URL as given, without trailing `/`, for [`BatonClient::url`].
    base_str: String,
}

impl BatonClient {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`; the client
    /// appends `/api` itself). A path in `base_url` (`http://host/conductor`) is kept
    /// as a prefix.
    ///
    /// Uses a new connection pool with [`DEFAULT_CONNECT_TIMEOUT`] and
    /// [`DEFAULT_REQUEST_TIMEOUT`]; see [`Self::with_http_client`] to supply your own.
    pub fn new(base_url: impl AsRef<str>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .timeout(DEFAULT_REQUEST_TIMEOUT)
            .user_agent(concat!("baton-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Self::with_http_client(base_url, http)
    }

    /// A client for the server at `base_url` that sends its requests through `http`.
    pub fn with_http_client(
        base_url: impl AsRef<str>,
        http: reqwest::Client,
    ) -> Result<Self, ClientError> {
        let raw = base_url.as_ref().trim();
        let base = Url::parse(raw).map_err(|e| ClientError::InvalidUrl(format!("{raw}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientError::InvalidUrl(format!(
                "{raw}: expected an http:// or https:// URL"
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(ClientError::InvalidUrl(format!(
                "{raw}: a base URL cannot have a query or fragment"
            )));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                base_str: raw.trim_end_matches('/').to_owned(),
            }),
        })
    }

    /// The underlying HTTP client, for requests this type has no method for.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The base URL (without trailing `/`) followed by `path` verbatim: pass the full
    /// path, e.g. `client.url("/api/workflow/abc")` or `client.url("/health")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.base_str, path)
    }

    /// The URL of an API path: `client.api_url("/workflow/abc")` is
    /// `client.url("/api/workflow/abc")`.
    pub fn api_url(&self, path: &str) -> String {
        format!("{}/api{}", self.inner.base_str, path)
    }

    // ----- metadata -------------------------------------------------------------

    /// Registers task definitions (`POST /api/metadata/taskdefs`).
    pub async fn register_task_defs(&self, defs: &[TaskDef]) -> Result<(), ClientError> {
        let req = self.request(Method::POST, &["metadata", "taskdefs"]);
        self.send_empty(req.json(defs)).await
    }

    /// Replaces a task definition (`PUT /api/metadata/taskdefs`).
    pub async fn update_task_def(&self, def: &TaskDef) -> Result<(), ClientError> {
        let req = self.request(Method::PUT, &["metadata", "taskdefs"]);
        self.send_empty(req.json(def)).await
    }

    /// A task definition (`GET /api/metadata/taskdefs/{name}`).
    pub async fn get_task_def(&self, name: &str) -> Result<TaskDef, ClientError> {
        let req = self.request(Method::GET, &["metadata", "taskdefs", name]);
        self.send_json(req).await
    }

    /// Every task definition (`GET /api/metadata/taskdefs`).
    pub async fn list_task_defs(&self) -> Result<Vec<TaskDef>, ClientError> {
        let req = self.request(Method::GET, &["metadata", "taskdefs"]);
        self.send_json(req).await
    }

    /// Deletes a task definition (`DELETE /api/metadata/taskdefs/{name}`).
    pub async fn delete_task_def(&self, name: &str) -> Result<(), ClientError> {
        let req = self.request(Method::DELETE, &["metadata", "taskdefs", name]);
        self.send_empty(req).await
    }

    /// Registers a workflow definition
    /// (`POST /api/metadata/workflow?overwrite={overwrite}`).
    pub async fn register_workflow_def(
        &self,
        def: &WorkflowDef,
        overwrite: bool,
    ) -> Result<(), ClientError> {
        let req = self
            .request(Method::POST, &["metadata", "workflow"])
            .query(&[("overwrite", overwrite)])
            .json(def);
        self.send_empty(req).await
    }

    /// Creates or replaces workflow definitions (`PUT /api/metadata/workflow`).
    pub async fn update_workflow_defs(&self, defs: &[WorkflowDef]) -> Result<(), ClientError> {
        let req = self.request(Method::PUT, &["metadata", "workflow"]);
        self.send_empty(req.json(defs)).await
    }

    /// A workflow definition: the given version, or the latest when `version` is `None`
    /// (`GET /api/metadata/workflow/{name}?version=`).
    pub async fn get_workflow_def(
        &self,
        name: &str,
        version: Option<i32>,
    ) -> Result<WorkflowDef, ClientError> {
        let mut req = self.request(Method::GET, &["metadata", "workflow", name]);
        if let Some(version) = version {
            req = req.query(&[("version", version)]);
        }
        self.send_json(req).await
    }

    /// Every workflow definition, all versions (`GET /api/metadata/workflow`).
    pub async fn list_workflow_defs(&self) -> Result<Vec<WorkflowDef>, ClientError> {
        let req = self.request(Method::GET, &["metadata", "workflow"]);
        self.send_json(req).await
    }

    /// Deletes one version of a workflow definition
    /// (`DELETE /api/metadata/workflow/{name}/{version}`).
    pub async fn delete_workflow_def(&self, name: &str, version: i32) -> Result<(), ClientError> {
        let version = version.to_string();
        let req = self.request(Method::DELETE, &["metadata", "workflow", name, &version]);
        self.send_empty(req).await
    }

    // ----- workflows ------------------------------------------------------------

    /// Starts a workflow and returns its id (`POST /api/workflow`).
    pub async fn start_workflow(
        &self,
        request: &StartWorkflowRequest,
    ) -> Result<String, ClientError> {
        let req = self.request(Method::POST, &["workflow"]).json(request);
        self.send_text(req).await
    }

    /// Starts a workflow by name with `input` and returns its id
    /// (`POST /api/workflow/{name}?version=&correlationId=&priority=`).
    pub async fn start_workflow_by_name(
        &self,
        name: &str,
        version: Option<i32>,
        correlation_id: Option<&str>,
        priority: Option<i32>,
        input: &JsonMap,
    ) -> Result<String, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(version) = version {
            query.push(("version", version.to_string()));
        }
        if let Some(correlation_id) = correlation_id {
            query.push(("correlationId", correlation_id.to_owned()));
        }
        if let Some(priority) = priority {
            query.push(("priority", priority.to_string()));
        }
        let req = self
            .request(Method::POST, &["workflow", name])
            .query(&query)
            .json(input);
        self.send_text(req).await
    }

    /// A workflow execution, with its tasks when `include_tasks`
    /// (`GET /api/workflow/{id}?includeTasks=`).
    pub async fn get_workflow(
        &self,
        id: &str,
        include_tasks: bool,
    ) -> Result<Workflow, ClientError> {
        let req = self
            .request(Method::GET, &["workflow", id])
            .query(&[("includeTasks", include_tasks)]);
        self.send_json(req).await
    }

    /// A workflow's status summary as raw JSON (`GET /api/workflow/{id}/status`);
    /// `Value::Null` if the server answers with no body.
    pub async fn get_workflow_status(&self, id: &str) -> Result<serde_json::Value, ClientError> {
        let req = self.request(Method::GET, &["workflow", id, "status"]);
        Ok(self
            .send_json_opt(req)
            .await?
            .unwrap_or(serde_json::Value::Null))
    }

    /// Removes a workflow execution, archiving it if `archive`
    /// (`DELETE /api/workflow/{id}/remove?archiveWorkflow=`).
    pub async fn remove_workflow(&self, id: &str, archive: bool) -> Result<(), ClientError> {
        let req = self
            .request(Method::DELETE, &["workflow", id, "remove"])
            .query(&[("archiveWorkflow", archive)]);
        self.send_empty(req).await
    }

    /// Terminates a running workflow (`DELETE /api/workflow/{id}?reason=`).
    pub async fn terminate_workflow(
        &self,
        id: &str,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut req = self.request(Method::DELETE, &["workflow", id]);
        if let Some(reason) = reason {
            req = req.query(&[("reason", reason)]);
        }
        self.send_empty(req).await
    }

    /// Pauses a running workflow (`PUT /api/workflow/{id}/pause`).
    pub async fn pause_workflow(&self, id: &str) -> Result<(), ClientError> {
        let req = self.request(Method::PUT, &["workflow", id, "pause"]);
        self.send_empty(req).await
    }

    /// Resumes a paused workflow (`PUT /api/workflow/{id}/resume`).
    pub async fn resume_workflow(&self, id: &str) -> Result<(), ClientError> {
        let req = self.request(Method::PUT, &["workflow", id, "resume"]);
        self.send_empty(req).await
    }

    /// Retries the last failed task of a workflow
    /// (`POST /api/workflow/{id}/retry?resumeSubworkflowTasks=`).
    pub async fn retry_workflow(
        &self,
        id: &str,
        resume_subworkflow_tasks: bool,
    ) -> Result<(), ClientError> {
        let req = self
            .request(Method::POST, &["workflow", id, "retry"])
            .query(&[("resumeSubworkflowTasks", resume_subworkflow_tasks)]);
        self.send_empty(req).await
    }

    /// Restarts a finished workflow from the beginning
    /// (`POST /api/workflow/{id}/restart?useLatestDefinitions=`).
    pub async fn restart_workflow(
        &self,
        id: &str,
        use_latest_definitions: bool,
    ) -> Result<(), ClientError> {
        let req = self
            .request(Method::POST, &["workflow", id, "restart"])
            .query(&[("useLatestDefinitions", use_latest_definitions)]);
        self.send_empty(req).await
    }

    // ----- tasks ----------------------------------------------------------------

    /// Polls one task of `task_type` (`GET /api/tasks/poll/{taskType}?workerid=&domain=`);
    /// `None` when there is none (204 or an empty body).
    pub async fn poll(
        &self,
        task_type: &str,
        worker_id: Option<&str>,
        domain: Option<&str>,
    ) -> Result<Option<Task>, ClientError> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(worker_id) = worker_id {
            query.push(("workerid", worker_id));
        }
        if let Some(domain) = domain {
            query.push(("domain", domain));
        }
        let req = self
            .request(Method::GET, &["tasks", "poll", task_type])
            .query(&query);
        self.send_json_opt(req).await
    }

    /// Polls up to `poll.count` tasks of `task_type`, waiting up to `poll.timeout_ms`
    /// for the first (`GET /api/tasks/poll/batch/{taskType}?count=&timeout=&workerid=&domain=`);
    /// empty when there are none.
    pub async fn batch_poll(
        &self,
        task_type: &str,
        poll: &PollRequest,
    ) -> Result<Vec<Task>, ClientError> {
        let mut query: Vec<(&str, String)> = vec![
            ("count", poll.count.to_string()),
            ("timeout", poll.timeout_ms.to_string()),
        ];
        if let Some(worker_id) = &poll.worker_id {
            query.push(("workerid", worker_id.clone()));
        }
        if let Some(domain) = &poll.domain {
            query.push(("domain", domain.clone()));
        }
        let req = self
            .request(Method::GET, &["tasks", "poll", "batch", task_type])
            .query(&query);
        Ok(self.send_json_opt(req).await?.unwrap_or_default())
    }

    /// Reports a task's result; returns the server's text answer, the task id
    /// (`POST /api/tasks`).
    pub async fn update_task(&self, result: &TaskResult) -> Result<String, ClientError> {
        let req = self.request(Method::POST, &["tasks"]).json(result);
        self.send_text(req).await
    }

    /// Reports a task's result and receives the next task of the same type to work on,
    /// if any (`POST /api/tasks/update-v2`; 204 → `None`).
    pub async fn update_task_v2(&self, result: &TaskResult) -> Result<Option<Task>, ClientError> {
        let req = self
            .request(Method::POST, &["tasks", "update-v2"])
            .json(result);
        self.send_json_opt(req).await
    }

    /// A task execution (`GET /api/tasks/{taskId}`).
    pub async fn get_task(&self, task_id: &str) -> Result<Task, ClientError> {
        let req = self.request(Method::GET, &["tasks", task_id]);
        self.send_json(req).await
    }

    /// Appends a log line to a task (`POST /api/tasks/{taskId}/log`, the message as a
    /// JSON string, as Conductor's SDKs send it).
    pub async fn add_task_log(&self, task_id: &str, message: &str) -> Result<(), ClientError> {
        let req = self
            .request(Method::POST, &["tasks", task_id, "log"])
            .json(message);
        self.send_empty(req).await
    }

    /// A task's log lines (`GET /api/tasks/{taskId}/log`); empty on 204.
    pub async fn get_task_logs(&self, task_id: &str) -> Result<Vec<TaskExecLog>, ClientError> {
        let req = self.request(Method::GET, &["tasks", task_id, "log"]);
        Ok(self.send_json_opt(req).await?.unwrap_or_default())
    }

    /// Queue sizes of the given task types
    /// (`GET /api/tasks/queue/sizes?taskType=a&taskType=b`).
    pub async fn queue_sizes(
        &self,
        task_types: &[&str],
    ) -> Result<BTreeMap<String, i64>, ClientError> {
        let query: Vec<(&str, &str)> = task_types.iter().map(|t| ("taskType", *t)).collect();
        let req = self
            .request(Method::GET, &["tasks", "queue", "sizes"])
            .query(&query);
        self.send_json(req).await
    }

    /// Size of one task queue (`GET /api/tasks/queue/size?taskType=&domain=`).
    pub async fn queue_size(
        &self,
        task_type: &str,
        domain: Option<&str>,
    ) -> Result<i64, ClientError> {
        let mut query = vec![("taskType", task_type)];
        if let Some(domain) = domain {
            query.push(("domain", domain));
        }
        let req = self
            .request(Method::GET, &["tasks", "queue", "size"])
            .query(&query);
        self.send_json(req).await
    }

    /// Sizes of every task queue (`GET /api/tasks/queue/all`).
    pub async fn all_queue_sizes(&self) -> Result<BTreeMap<String, i64>, ClientError> {
        let req = self.request(Method::GET, &["tasks", "queue", "all"]);
        self.send_json(req).await
    }

    /// Last polls of a task type's queues
    /// (`GET /api/tasks/queue/polldata?taskType=`).
    pub async fn poll_data(&self, task_type: &str) -> Result<Vec<PollData>, ClientError> {
        let req = self
            .request(Method::GET, &["tasks", "queue", "polldata"])
            .query(&[("taskType", task_type)]);
        Ok(self.send_json_opt(req).await?.unwrap_or_default())
    }

    /// Last polls of every queue (`GET /api/tasks/queue/polldata/all`).
    pub async fn all_poll_data(&self) -> Result<Vec<PollData>, ClientError> {
        let req = self.request(Method::GET, &["tasks", "queue", "polldata", "all"]);
        Ok(self.send_json_opt(req).await?.unwrap_or_default())
    }

    // ----- misc -----------------------------------------------------------------

    /// The server's health report (`GET /health`, outside `/api`).
    pub async fn health(&self) -> Result<serde_json::Value, ClientError> {
        let url = self.endpoint(&["health"], false);
        let req = self.inner.http.get(url);
        Ok(self
            .send_json_opt(req)
            .await?
            .unwrap_or(serde_json::Value::Null))
    }

    // ----- plumbing -------------------------------------------------------------

    /// The URL `{base}/api/{segments…}` (or `{base}/{segments…}` without `api`), each
    /// segment percent-encoded.
    fn endpoint(&self, segments: &[&str], api: bool) -> Url {
        let mut url = self.inner.base.clone();
        {
            // Checked in the constructor: the base URL can be a base.
            let Ok(mut path) = url.path_segments_mut() else {
                unreachable!("base URL validated as a base in the constructor")
            };
            path.pop_if_empty();
            if api {
                path.push("api");
            }
            path.extend(segments);
        }
        url
    }

    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.inner
            .http
            .request(method, self.endpoint(segments, true))
    }

    /// Sends `req`; turns 4xx/5xx responses into [`ClientError::Api`].
    async fn send(&self, req: RequestBuilder) -> Result<Response, ClientError> {
        let response = req.send().await?;
        let status = response.status();
        if status.is_client_error() || status.is_server_error() {
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::from_response(status.as_u16(), &body));
        }
        Ok(response)
    }

    async fn send_empty(&self, req: RequestBuilder) -> Result<(), ClientError> {
        // Read the body so the connection goes back to the pool.
        self.send(req).await?.bytes().await?;
        Ok(())
    }

    async fn send_text(&self, req: RequestBuilder) -> Result<String, ClientError> {
        Ok(self.send(req).await?.text().await?)
    }

    async fn send_json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ClientError> {
        let body = self.send(req).await?.bytes().await?;
        decode(&body)
    }

    /// Like [`Self::send_json`], but a 204 or an empty body is `None`.
    async fn send_json_opt<T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
    ) -> Result<Option<T>, ClientError> {
        let response = self.send(req).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body = response.bytes().await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        decode(&body).map(Some)
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|err| {
        const MAX: usize = 512;
        let text = String::from_utf8_lossy(body);
        let shown: String = text.chars().take(MAX).collect();
        let ellipsis = if text.chars().count() > MAX {
            "…"
        } else {
            ""
        };
        ClientError::Decode(format!("{err}; body: {shown}{ellipsis}"))
    })
}
