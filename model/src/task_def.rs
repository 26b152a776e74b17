//! Task definitions (`TaskDef`): the registered metadata of a task type (retries,
//! timeouts, rate limits), plus the `SchemaDef` that task and workflow definitions
//! may reference. Mirrors `com.netflix.conductor.common.metadata.tasks.TaskDef`.

use serde::{Deserialize, Serialize};

use crate::de::{null_as_one, null_default};
use crate::{wire_enum, JsonMap};

wire_enum! {
    /// What happens when a task exceeds its `timeoutSeconds` (`TaskDef.TimeoutPolicy`).
    #[derive(Default)]
    pub enum TaskTimeoutPolicy as "TaskDef.TimeoutPolicy" {
        /// Retry the task.
        Retry = "RETRY",
        /// Fail the workflow (Conductor's default).
        #[default]
        TimeOutWf = "TIME_OUT_WF",
        /// Only record the timeout.
        AlertOnly = "ALERT_ONLY",
    }
}

wire_enum! {
    /// How the delay between retries grows (`TaskDef.RetryLogic`).
    #[derive(Default)]
    pub enum RetryLogic as "TaskDef.RetryLogic" {
        /// Always `retryDelaySeconds` (Conductor's default).
        #[default]
        Fixed = "FIXED",
        /// `retryDelaySeconds * 2^attempt`.
        ExponentialBackoff = "EXPONENTIAL_BACKOFF",
        /// `retryDelaySeconds * backoffScaleFactor * attempt`.
        LinearBackoff = "LINEAR_BACKOFF",
    }
}

wire_enum! {
    /// Kind of a [`SchemaDef`] (`SchemaDef.Type`).
    pub enum SchemaType as "SchemaDef.Type" {
        /// JSON Schema.
        Json = "JSON",
        /// Apache Avro.
        Avro = "AVRO",
        /// Protocol Buffers.
        Protobuf = "PROTOBUF",
    }
}

/// A task definition, as registered with `POST /api/metadata/taskdefs`.
///
/// `TaskDef::default()` carries Conductor's defaults: `retryCount` 3, `retryLogic`
/// FIXED, `retryDelaySeconds` 60, `responseTimeoutSeconds` 3600, `timeoutPolicy`
/// TIME_OUT_WF, `backoffScaleFactor` 1, `rateLimitPerFrequency` 0,
/// `rateLimitFrequencyInSeconds` 1, `taskStatusListenerEnabled` true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskDef {
    /// Unique name (required; empty when absent).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Retries after a failure; default 3.
    #[serde(deserialize_with = "null_default")]
    pub retry_count: i32,
    /// Overall timeout in seconds; 0 means none.
    #[serde(deserialize_with = "null_default")]
    pub timeout_seconds: i64,
    #[serde(deserialize_with = "null_default")]
    pub input_keys: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub output_keys: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub runtime_metadata: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub timeout_policy: TaskTimeoutPolicy,
    #[serde(deserialize_with = "null_default")]
    pub retry_logic: RetryLogic,
    /// Default 60.
    #[serde(deserialize_with = "null_default")]
    pub retry_delay_seconds: i32,
    /// Default 3600.
    #[serde(deserialize_with = "null_default")]
    pub response_timeout_seconds: i64,
    /// Maximum concurrently running instances; `None` means unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_exec_limit: Option<i32>,
    #[serde(deserialize_with = "null_default")]
    pub input_template: JsonMap,
    /// Boxed in Java but its getter turns `null` into 0, so it is always serialized.
    #[serde(deserialize_with = "null_default")]
    pub rate_limit_per_frequency: i32,
    /// Boxed in Java but its getter turns `null` into 1, so it is always serialized.
    #[serde(deserialize_with = "null_as_one")]
    pub rate_limit_frequency_in_seconds: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_name_space: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_timeout_seconds: Option<i32>,
    /// Multiplier for LINEAR_BACKOFF; default 1 (boxed in Java, never null in practice).
    #[serde(deserialize_with = "null_as_one")]
    pub backoff_scale_factor: i32,
    /// Upper bound on a computed retry delay; 0 means none.
    #[serde(deserialize_with = "null_default")]
    pub max_retry_delay_seconds: i32,
    #[serde(deserialize_with = "null_default")]
    pub backoff_jitter_ms: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_type: Option<String>,
    /// Timeout across all retries; 0 means none.
    #[serde(deserialize_with = "null_default")]
    pub total_timeout_seconds: i64,
    /// Default true.
    #[serde(deserialize_with = "null_default")]
    pub task_status_listener_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<SchemaDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<SchemaDef>,
    #[serde(deserialize_with = "null_default")]
    pub enforce_schema: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_app: Option<String>,
    /// `Auditable.createTime`; its getter turns `null` into 0.
    #[serde(deserialize_with = "null_default")]
    pub create_time: i64,
    /// `Auditable.updateTime`; its getter turns `null` into 0.
    #[serde(deserialize_with = "null_default")]
    pub update_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

impl Default for TaskDef {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: None,
            retry_count: 3,
            timeout_seconds: 0,
            input_keys: Vec::new(),
            output_keys: Vec::new(),
            runtime_metadata: Vec::new(),
            timeout_policy: TaskTimeoutPolicy::TimeOutWf,
            retry_logic: RetryLogic::Fixed,
            retry_delay_seconds: 60,
            response_timeout_seconds: 3600,
            concurrent_exec_limit: None,
            input_template: JsonMap::new(),
            rate_limit_per_frequency: 0,
            rate_limit_frequency_in_seconds: 1,
            isolation_group_id: None,
            execution_name_space: None,
            owner_email: None,
            poll_timeout_seconds: None,
            backoff_scale_factor: 1,
            max_retry_delay_seconds: 0,
            backoff_jitter_ms: 0,
            base_type: None,
            total_timeout_seconds: 0,
            task_status_listener_enabled: true,
            input_schema: None,
            output_schema: None,
            enforce_schema: false,
            owner_app: None,
            create_time: 0,
            update_time: 0,
            created_by: None,
            updated_by: None,
        }
    }
}

impl TaskDef {
    /// A definition with Conductor's defaults and the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// `concurrentExecLimit`, with `None` as 0 (Conductor's `concurrencyLimit()`).
    pub fn concurrency_limit(&self) -> i32 {
        self.concurrent_exec_limit.unwrap_or(0)
    }
}

/// A schema that task/workflow inputs or outputs can be validated against
/// (`com.netflix.conductor.common.metadata.SchemaDef`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SchemaDef {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Default 1.
    #[serde(deserialize_with = "null_default")]
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<SchemaType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_app: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub create_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub update_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

impl Default for SchemaDef {
    fn default() -> Self {
        Self {
            name: String::new(),
            version: 1,
            r#type: None,
            data: None,
            external_ref: None,
            owner_app: None,
            create_time: 0,
            update_time: 0,
            created_by: None,
            updated_by: None,
        }
    }
}
