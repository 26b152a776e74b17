//! Workflow executions and the requests that drive them: `Workflow` and its
//! `WorkflowStatus`, `StartWorkflowRequest`, `RerunWorkflowRequest`, `SkipTaskRequest`,
//! and the search types `SearchResult`, `WorkflowSummary` and `TaskSummary`. Mirrors
//! `com.netflix.conductor.common.run` and the request classes of
//! `com.netflix.conductor.common.metadata.workflow`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::de::null_default;
use crate::task::{Task, TaskStatus};
use crate::workflow_def::WorkflowDef;
use crate::{wire_enum, JsonMap};

wire_enum! {
    /// Status of a workflow execution (`Workflow.WorkflowStatus`); `Default` is RUNNING.
    #[derive(Default)]
    pub enum WorkflowStatus as "Workflow.WorkflowStatus" {
        #[default]
        Running = "RUNNING",
        Completed = "COMPLETED",
        Failed = "FAILED",
        TimedOut = "TIMED_OUT",
        Terminated = "TERMINATED",
        Paused = "PAUSED",
    }
}

impl WorkflowStatus {
    /// Conductor's `isTerminal`: everything but RUNNING and PAUSED.
    pub const fn is_terminal(self) -> bool {
        !matches!(self, Self::Running | Self::Paused)
    }

    /// Conductor's `isSuccessful`: COMPLETED and PAUSED.
    pub const fn is_successful(self) -> bool {
        matches!(self, Self::Completed | Self::Paused)
    }
}

wire_enum! {
    /// What to do when a start request repeats an `idempotencyKey` (`IdempotencyStrategy`).
    pub enum IdempotencyStrategy as "IdempotencyStrategy" {
        Fail = "FAIL",
        ReturnExisting = "RETURN_EXISTING",
        FailOnRunning = "FAIL_ON_RUNNING",
    }
}

/// A workflow execution (`Workflow`), as returned by `GET /api/workflow/{id}`.
///
/// Serialization also emits Conductor's computed `startTime` (= `createTime`) and, when
/// `workflowDefinition` is set, `workflowName` and `workflowVersion`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase", default)]
pub struct Workflow {
    /// Default RUNNING.
    #[serde(deserialize_with = "null_default")]
    pub status: WorkflowStatus,
    #[serde(deserialize_with = "null_default")]
    pub end_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub workflow_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_workflow_task_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub tasks: Vec<Task>,
    #[serde(deserialize_with = "null_default")]
    pub input: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub output: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub re_run_from_workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub task_to_domain: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_default")]
    pub failed_reference_task_names: BTreeSet<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Shared: every workflow started from one definition on a server holds the same copy,
    /// and a decision clones a pointer, not the whole definition.
    pub workflow_definition: Option<std::sync::Arc<WorkflowDef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_input_payload_storage_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_output_payload_storage_path: Option<String>,
    /// 0–99.
    #[serde(deserialize_with = "null_default")]
    pub priority: i32,
    #[serde(deserialize_with = "null_default")]
    pub variables: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub last_retried_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub failed_task_names: BTreeSet<String>,
    #[serde(deserialize_with = "null_default")]
    pub history: Vec<Workflow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_key: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub rate_limited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate_token_usage: Option<AggregateTokenUsage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_app: Option<String>,
    /// Start time of the execution (also serialized as `startTime`).
    #[serde(deserialize_with = "null_default")]
    pub create_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub update_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

impl Workflow {
    /// Conductor's `getStartTime`: the `createTime`.
    pub fn start_time(&self) -> i64 {
        self.create_time
    }

    /// The definition's name (Conductor's `getWorkflowName`).
    pub fn workflow_name(&self) -> Option<&str> {
        self.workflow_definition.as_ref().map(|d| d.name.as_str())
    }

    /// The definition's version (Conductor's `getWorkflowVersion`).
    pub fn workflow_version(&self) -> Option<i32> {
        self.workflow_definition.as_ref().map(|d| d.version)
    }

    /// Whether this is a sub-workflow (has a non-empty `parentWorkflowId`).
    pub fn has_parent(&self) -> bool {
        self.parent_workflow_id
            .as_deref()
            .is_some_and(|id| !id.is_empty())
    }

    /// The last task with the given reference name (Conductor's `getTaskByRefName`).
    pub fn task_by_ref_name(&self, reference_task_name: &str) -> Option<&Task> {
        self.tasks
            .iter()
            .rev()
            .find(|t| t.reference_task_name == reference_task_name)
    }
}

impl Serialize for Workflow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            #[serde(flatten, with = "Workflow")]
            base: &'a Workflow,
            start_time: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            workflow_name: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            workflow_version: Option<i32>,
        }
        Wire {
            base: self,
            start_time: self.start_time(),
            workflow_name: self.workflow_name(),
            workflow_version: self.workflow_version(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Workflow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Workflow::deserialize(deserializer)
    }
}

/// LLM token counts aggregated over a workflow (`AggregateTokenUsage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AggregateTokenUsage {
    #[serde(deserialize_with = "null_default")]
    pub prompt_tokens: i64,
    #[serde(deserialize_with = "null_default")]
    pub completion_tokens: i64,
    #[serde(deserialize_with = "null_default")]
    pub total_tokens: i64,
}

/// Body of `POST /api/workflow` (`StartWorkflowRequest`); only `name` is needed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartWorkflowRequest {
    /// Required; empty when absent.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `None` means the latest version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub input: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub task_to_domain: BTreeMap<String, String>,
    /// An inline definition to run instead of a registered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_def: Option<WorkflowDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_input_payload_storage_path: Option<String>,
    /// 0–99; boxed in Java but initialised to 0, so always serialized.
    #[serde(deserialize_with = "null_default")]
    pub priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_strategy: Option<IdempotencyStrategy>,
}

impl StartWorkflowRequest {
    /// A request to start the latest version of `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// Body of `POST /api/workflow/{id}/rerun` (`RerunWorkflowRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RerunWorkflowRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub re_run_from_workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_input: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub re_run_from_task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_input: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// Body of `PUT /api/workflow/{id}/skiptask/{ref}` (`SkipTaskRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SkipTaskRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_input: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_output: Option<JsonMap>,
    /// Protobuf `Any`; unused over REST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_input_message: Option<serde_json::Value>,
    /// Protobuf `Any`; unused over REST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_output_message: Option<serde_json::Value>,
}

/// One page of search hits (`SearchResult<T>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
pub struct SearchResult<T> {
    #[serde(default, deserialize_with = "null_default")]
    pub total_hits: i64,
    /// Nullable in Java but always set by Conductor; serialized even when empty.
    #[serde(default = "Vec::new", deserialize_with = "null_vec")]
    pub results: Vec<T>,
}

fn null_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl<T> Default for SearchResult<T> {
    fn default() -> Self {
        Self {
            total_hits: 0,
            results: Vec::new(),
        }
    }
}

impl<T> SearchResult<T> {
    /// A page with the given total hit count and results.
    pub fn new(total_hits: i64, results: Vec<T>) -> Self {
        Self {
            total_hits,
            results,
        }
    }
}

/// A workflow as listed by `GET /api/workflow/search` (`WorkflowSummary`).
///
/// Times are ISO-8601 UTC strings (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`), `input`/`output`
/// are the maps rendered as strings. Serialization also emits Conductor's computed
/// `inputSize`/`outputSize` (the strings' lengths in UTF-16 units).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase", default)]
pub struct WorkflowSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_type: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<WorkflowStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    /// `endTime - startTime` in ms once ended, else 0.
    #[serde(deserialize_with = "null_default")]
    pub execution_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Comma-separated; initialised to `""` by Conductor.
    #[serde(deserialize_with = "null_default")]
    pub failed_reference_task_names: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_input_payload_storage_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_output_payload_storage_path: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub priority: i32,
    #[serde(deserialize_with = "null_default")]
    pub failed_task_names: BTreeSet<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub task_to_domain: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Initialised to `""` by Conductor (`""` for top-level workflows).
    #[serde(deserialize_with = "null_default")]
    pub parent_workflow_id: String,
    /// `"workflow"` unless the definition's metadata says otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier: Option<String>,
}

fn utf16_len(s: &Option<String>) -> i64 {
    s.as_deref().map_or(0, |s| {
        i64::try_from(s.encode_utf16().count()).unwrap_or(i64::MAX)
    })
}

impl Serialize for WorkflowSummary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            #[serde(flatten, with = "WorkflowSummary")]
            base: &'a WorkflowSummary,
            input_size: i64,
            output_size: i64,
        }
        Wire {
            base: self,
            input_size: utf16_len(&self.input),
            output_size: utf16_len(&self.output),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for WorkflowSummary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        WorkflowSummary::deserialize(deserializer)
    }
}

/// A task as listed by `GET /api/tasks/search` (`TaskSummary`); times are ISO-8601 UTC
/// strings and `input`/`output` the maps rendered as strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub execution_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub queue_wait_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_def_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_input_payload_storage_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_output_payload_storage_path: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub workflow_priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}
