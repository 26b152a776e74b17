//! Task executions and worker interaction: `Task` (a scheduled/running task instance),
//! its `TaskStatus`, the `TaskResult` workers post back, `TaskExecLog` and `PollData`.
//! Mirrors `com.netflix.conductor.common.metadata.tasks`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::de::null_default;
use crate::task_def::TaskDef;
use crate::workflow_def::WorkflowTask;
use crate::{wire_enum, JsonMap};

wire_enum! {
    /// Status of a task execution (`Task.Status`).
    ///
    /// `Default` is SCHEDULED, the status a new task starts in.
    #[derive(Default)]
    pub enum TaskStatus as "Task.Status" {
        InProgress = "IN_PROGRESS",
        Canceled = "CANCELED",
        Failed = "FAILED",
        /// Failed without retries, whatever the task definition says.
        FailedWithTerminalError = "FAILED_WITH_TERMINAL_ERROR",
        Completed = "COMPLETED",
        CompletedWithErrors = "COMPLETED_WITH_ERRORS",
        #[default]
        Scheduled = "SCHEDULED",
        TimedOut = "TIMED_OUT",
        Skipped = "SKIPPED",
    }
}

impl TaskStatus {
    /// Whether the task has finished (Conductor's `isTerminal`).
    pub const fn is_terminal(self) -> bool {
        !matches!(self, Self::InProgress | Self::Scheduled)
    }

    /// Conductor's `isSuccessful`: true for IN_PROGRESS, COMPLETED,
    /// COMPLETED_WITH_ERRORS, SCHEDULED and SKIPPED.
    pub const fn is_successful(self) -> bool {
        matches!(
            self,
            Self::InProgress
                | Self::Completed
                | Self::CompletedWithErrors
                | Self::Scheduled
                | Self::Skipped
        )
    }

    /// Conductor's `isRetriable`: false only for CANCELED, FAILED_WITH_TERMINAL_ERROR
    /// and SKIPPED.
    pub const fn is_retriable(self) -> bool {
        !matches!(
            self,
            Self::Canceled | Self::FailedWithTerminalError | Self::Skipped
        )
    }
}

wire_enum! {
    /// Status a worker reports in a [`TaskResult`] (`TaskResult.Status`).
    pub enum TaskResultStatus as "TaskResult.Status" {
        InProgress = "IN_PROGRESS",
        Failed = "FAILED",
        FailedWithTerminalError = "FAILED_WITH_TERMINAL_ERROR",
        Completed = "COMPLETED",
        Canceled = "CANCELED",
    }
}

impl From<TaskResultStatus> for TaskStatus {
    fn from(status: TaskResultStatus) -> Self {
        match status {
            TaskResultStatus::InProgress => Self::InProgress,
            TaskResultStatus::Failed => Self::Failed,
            TaskResultStatus::FailedWithTerminalError => Self::FailedWithTerminalError,
            TaskResultStatus::Completed => Self::Completed,
            TaskResultStatus::Canceled => Self::Canceled,
        }
    }
}

impl From<TaskStatus> for TaskResultStatus {
    /// As Conductor's `TaskResult(Task)`: COMPLETED_WITH_ERRORS, TIMED_OUT and SKIPPED
    /// become FAILED, SCHEDULED becomes IN_PROGRESS.
    fn from(status: TaskStatus) -> Self {
        match status {
            TaskStatus::InProgress | TaskStatus::Scheduled => Self::InProgress,
            TaskStatus::Canceled => Self::Canceled,
            TaskStatus::Failed
            | TaskStatus::CompletedWithErrors
            | TaskStatus::TimedOut
            | TaskStatus::Skipped => Self::Failed,
            TaskStatus::FailedWithTerminalError => Self::FailedWithTerminalError,
            TaskStatus::Completed => Self::Completed,
        }
    }
}

/// A task instance of a running workflow (`Task`), as returned by polls and inside
/// [`crate::Workflow::tasks`].
///
/// Besides the stored fields, serialization emits Conductor's computed properties
/// `queueWaitTime`, `loopOverTask` and (when `workflowTask.taskDefinition` is set)
/// `taskDefinition`; `taskDefName` falls back to `taskType` and `subWorkflowId` to
/// `outputData.subWorkflowId` / `inputData.subWorkflowId` when empty, as Conductor's
/// getters do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase", default)]
pub struct Task {
    #[serde(deserialize_with = "null_default")]
    pub task_type: String,
    /// Nullable in Java but always set by the server; `Default` is SCHEDULED.
    #[serde(deserialize_with = "null_default")]
    pub status: TaskStatus,
    #[serde(deserialize_with = "null_default")]
    pub input_data: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub reference_task_name: String,
    #[serde(deserialize_with = "null_default")]
    pub retry_count: i32,
    #[serde(deserialize_with = "null_default")]
    pub seq: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub poll_count: i32,
    /// Serialized as `taskType` when empty.
    #[serde(deserialize_with = "null_default", skip_serializing)]
    pub task_def_name: String,
    #[serde(deserialize_with = "null_default")]
    pub scheduled_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub start_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub end_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub update_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub start_delay_in_seconds: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retried_task_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub retried: bool,
    #[serde(deserialize_with = "null_default")]
    pub executed: bool,
    /// Default true.
    #[serde(deserialize_with = "null_default")]
    pub callback_from_worker: bool,
    #[serde(deserialize_with = "null_default")]
    pub response_timeout_seconds: i64,
    #[serde(deserialize_with = "null_default")]
    pub workflow_instance_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_type: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub callback_after_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub output_data: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_task: Option<Box<WorkflowTask>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Protobuf `Any`; unused over REST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_message: Option<serde_json::Value>,
    /// Protobuf `Any`; unused over REST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_message: Option<serde_json::Value>,
    #[serde(deserialize_with = "null_default")]
    pub rate_limit_per_frequency: i32,
    #[serde(deserialize_with = "null_default")]
    pub rate_limit_frequency_in_seconds: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_input_payload_storage_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_output_payload_storage_path: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub workflow_priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_name_space: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation_group_id: Option<String>,
    /// DO_WHILE iteration (0 outside loops).
    #[serde(deserialize_with = "null_default")]
    pub iteration: i32,
    /// Serialized with Conductor's input/output fallback (see the type docs).
    #[serde(skip_serializing)]
    pub sub_workflow_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub subworkflow_changed: bool,
    #[serde(deserialize_with = "null_default")]
    pub first_start_time: i64,
    /// Conductor's getter creates an empty one, so it is always serialized.
    #[serde(deserialize_with = "null_default")]
    pub execution_metadata: ExecutionMetadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    /// Serialized only when non-empty (`@JsonInclude(NON_EMPTY)`).
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub runtime_metadata: BTreeMap<String, String>,
}

impl Default for Task {
    fn default() -> Self {
        Self {
            task_type: String::new(),
            status: TaskStatus::Scheduled,
            input_data: JsonMap::new(),
            reference_task_name: String::new(),
            retry_count: 0,
            seq: 0,
            correlation_id: None,
            poll_count: 0,
            task_def_name: String::new(),
            scheduled_time: 0,
            start_time: 0,
            end_time: 0,
            update_time: 0,
            start_delay_in_seconds: 0,
            retried_task_id: None,
            retried: false,
            executed: false,
            callback_from_worker: true,
            response_timeout_seconds: 0,
            workflow_instance_id: String::new(),
            workflow_type: None,
            task_id: String::new(),
            reason_for_incompletion: None,
            callback_after_seconds: 0,
            worker_id: None,
            output_data: JsonMap::new(),
            workflow_task: None,
            domain: None,
            input_message: None,
            output_message: None,
            rate_limit_per_frequency: 0,
            rate_limit_frequency_in_seconds: 0,
            external_input_payload_storage_path: None,
            external_output_payload_storage_path: None,
            workflow_priority: 0,
            execution_name_space: None,
            isolation_group_id: None,
            iteration: 0,
            sub_workflow_id: None,
            subworkflow_changed: false,
            first_start_time: 0,
            execution_metadata: ExecutionMetadata::default(),
            parent_task_id: None,
            runtime_metadata: BTreeMap::new(),
        }
    }
}

impl Task {
    /// `taskDefName`, or `taskType` when that is empty (Conductor's getter).
    pub fn effective_task_def_name(&self) -> &str {
        if self.task_def_name.is_empty() {
            &self.task_type
        } else {
            &self.task_def_name
        }
    }

    /// `subWorkflowId`, falling back to a string `subWorkflowId` in `outputData`, then in
    /// `inputData` (Conductor's getter, kept for backwards compatibility).
    pub fn effective_sub_workflow_id(&self) -> Option<&str> {
        match self.sub_workflow_id.as_deref() {
            Some(id) if !id.trim().is_empty() => Some(id),
            _ => self
                .output_data
                .get("subWorkflowId")
                .or_else(|| self.input_data.get("subWorkflowId"))
                .and_then(serde_json::Value::as_str),
        }
    }

    /// Whether the task runs inside a DO_WHILE loop (`iteration > 0`).
    pub fn is_loop_over_task(&self) -> bool {
        self.iteration > 0
    }

    /// The task definition embedded in `workflowTask`, if any.
    pub fn task_definition(&self) -> Option<&TaskDef> {
        self.workflow_task.as_ref()?.task_definition.as_ref()
    }

    /// Conductor's `getQueueWaitTime` at `now_ms`: for a started task, the time it
    /// waited in the queue (since its callback became due, if it had a callback delay).
    pub fn queue_wait_time(&self, now_ms: i64) -> i64 {
        if self.start_time > 0 && self.scheduled_time > 0 {
            if self.update_time > 0 && self.callback_after_seconds > 0 {
                let wait = now_ms - (self.update_time + self.callback_after_seconds * 1000);
                wait.max(0)
            } else {
                self.start_time - self.scheduled_time
            }
        } else {
            0
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Serialize for Task {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            #[serde(flatten, with = "Task")]
            base: &'a Task,
            task_def_name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            sub_workflow_id: Option<&'a str>,
            queue_wait_time: i64,
            loop_over_task: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            task_definition: Option<&'a TaskDef>,
        }
        Wire {
            base: self,
            task_def_name: self.effective_task_def_name(),
            sub_workflow_id: self.effective_sub_workflow_id(),
            queue_wait_time: self.queue_wait_time(now_ms()),
            loop_over_task: self.is_loop_over_task(),
            task_definition: self.task_definition(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Task {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Task::deserialize(deserializer)
    }
}

/// Timing and context a worker reports about one execution (`ExecutionMetadata`).
///
/// Serialization also emits Conductor's computed `executionDuration` (when both ends are
/// known), `additionalContextMap` (same map as `additionalContext`) and `empty`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase", default)]
pub struct ExecutionMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_send_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_receive_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_end_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_send_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_network_latency: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_network_latency: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub additional_context: JsonMap,
}

impl ExecutionMetadata {
    /// Conductor's `hasData`: any time set or any additional context.
    pub fn has_data(&self) -> bool {
        self.server_send_time.is_some()
            || self.client_receive_time.is_some()
            || self.execution_start_time.is_some()
            || self.execution_end_time.is_some()
            || self.client_send_time.is_some()
            || self.poll_network_latency.is_some()
            || self.update_network_latency.is_some()
            || !self.additional_context.is_empty()
    }

    /// `executionEndTime - executionStartTime`, when both are set.
    pub fn execution_duration(&self) -> Option<i64> {
        Some(self.execution_end_time? - self.execution_start_time?)
    }
}

impl Serialize for ExecutionMetadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            #[serde(flatten, with = "ExecutionMetadata")]
            base: &'a ExecutionMetadata,
            #[serde(skip_serializing_if = "Option::is_none")]
            execution_duration: Option<i64>,
            additional_context_map: &'a JsonMap,
            empty: bool,
        }
        Wire {
            base: self,
            execution_duration: self.execution_duration(),
            additional_context_map: &self.additional_context,
            empty: !self.has_data(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ExecutionMetadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ExecutionMetadata::deserialize(deserializer)
    }
}

fn lacks_execution_data(metadata: &Option<ExecutionMetadata>) -> bool {
    !metadata.as_ref().is_some_and(ExecutionMetadata::has_data)
}

/// What a worker posts to `POST /api/tasks` (`TaskResult`).
///
/// Only `workflowInstanceId`, `taskId` and `status` are needed; everything else is
/// optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskResult {
    /// Required; empty when absent.
    #[serde(deserialize_with = "null_default")]
    pub workflow_instance_id: String,
    /// Required; empty when absent.
    #[serde(deserialize_with = "null_default")]
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    /// With IN_PROGRESS: seconds until the task becomes pollable again.
    #[serde(deserialize_with = "null_default")]
    pub callback_after_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// Nullable in Conductor too; the server must reject a missing status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskResultStatus>,
    #[serde(deserialize_with = "null_default")]
    pub output_data: JsonMap,
    /// Protobuf `Any`; unused over REST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_message: Option<serde_json::Value>,
    /// Serialized only when it has data, as Conductor's getter does.
    #[serde(skip_serializing_if = "lacks_execution_data")]
    pub execution_metadata: Option<ExecutionMetadata>,
    #[serde(deserialize_with = "null_default")]
    pub logs: Vec<TaskExecLog>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_output_payload_storage_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_workflow_id: Option<String>,
    /// Extend the response timeout without changing the status.
    #[serde(deserialize_with = "null_default")]
    pub extend_lease: bool,
    #[serde(deserialize_with = "null_default")]
    pub supports_cancellation: bool,
}

impl TaskResult {
    /// A result for the given task with the given status.
    pub fn new(
        workflow_instance_id: impl Into<String>,
        task_id: impl Into<String>,
        status: TaskResultStatus,
    ) -> Self {
        Self {
            workflow_instance_id: workflow_instance_id.into(),
            task_id: task_id.into(),
            status: Some(status),
            ..Self::default()
        }
    }
}

/// One log line a worker attached to a task (`TaskExecLog`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskExecLog {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub created_time: i64,
}

/// The last poll of a task queue by a worker (`PollData`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PollData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub last_poll_time: i64,
}
