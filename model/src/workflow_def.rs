//! Workflow definitions: `WorkflowDef`, the recursive `WorkflowTask` tree it is built
//! from, `SubWorkflowParams` and the small configuration types they use. Mirrors
//! `com.netflix.conductor.common.metadata.workflow`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::de::null_default;
use crate::task_def::{SchemaDef, TaskDef};
use crate::workflow::IdempotencyStrategy;
use crate::{wire_enum, JsonMap};

/// Names of Conductor's task types (`TaskType`), the values of [`WorkflowTask::r#type`].
///
/// `WorkflowTask.type` stays a free string because any other value names a worker
/// ("user defined") task type.
pub mod task_type {
    pub const SIMPLE: &str = "SIMPLE";
    pub const DYNAMIC: &str = "DYNAMIC";
    pub const FORK_JOIN: &str = "FORK_JOIN";
    pub const FORK_JOIN_DYNAMIC: &str = "FORK_JOIN_DYNAMIC";
    pub const DECISION: &str = "DECISION";
    pub const SWITCH: &str = "SWITCH";
    pub const JOIN: &str = "JOIN";
    pub const DO_WHILE: &str = "DO_WHILE";
    pub const SUB_WORKFLOW: &str = "SUB_WORKFLOW";
    pub const START_WORKFLOW: &str = "START_WORKFLOW";
    pub const EVENT: &str = "EVENT";
    pub const WAIT: &str = "WAIT";
    pub const HUMAN: &str = "HUMAN";
    pub const USER_DEFINED: &str = "USER_DEFINED";
    pub const HTTP: &str = "HTTP";
    pub const LAMBDA: &str = "LAMBDA";
    pub const INLINE: &str = "INLINE";
    pub const EXCLUSIVE_JOIN: &str = "EXCLUSIVE_JOIN";
    pub const TERMINATE: &str = "TERMINATE";
    pub const KAFKA_PUBLISH: &str = "KAFKA_PUBLISH";
    pub const JSON_JQ_TRANSFORM: &str = "JSON_JQ_TRANSFORM";
    pub const SET_VARIABLE: &str = "SET_VARIABLE";
    pub const NOOP: &str = "NOOP";
    /// Not a `TaskType` constant, but listed by Conductor as a built-in (system) name.
    pub const FORK: &str = "FORK";

    /// Conductor's `TaskType.isBuiltIn`: the control-flow types that are never
    /// registered as task definitions.
    pub fn is_built_in(task_type: &str) -> bool {
        matches!(
            task_type,
            DECISION | SWITCH | FORK | JOIN | EXCLUSIVE_JOIN | DO_WHILE
        )
    }
}

wire_enum! {
    /// What happens when a workflow exceeds `timeoutSeconds` (`WorkflowDef.TimeoutPolicy`).
    #[derive(Default)]
    pub enum WorkflowTimeoutPolicy as "WorkflowDef.TimeoutPolicy" {
        /// Time the workflow out.
        TimeOutWf = "TIME_OUT_WF",
        /// Only record the timeout (Conductor's default).
        #[default]
        AlertOnly = "ALERT_ONLY",
    }
}

wire_enum! {
    /// `RateLimitConfig.RateLimitPolicy`.
    #[derive(Default)]
    pub enum RateLimitPolicy as "RateLimitConfig.RateLimitPolicy" {
        /// Queue executions over the limit (Conductor's default).
        #[default]
        Queue = "QUEUE",
        /// Reject executions over the limit.
        Reject = "REJECT",
    }
}

wire_enum! {
    /// `WorkflowTask.JoinMode`.
    pub enum JoinMode as "WorkflowTask.JoinMode" {
        Sync = "SYNC",
        Async = "ASYNC",
    }
}

/// A workflow definition (`WorkflowDef`), as registered with `POST /api/metadata/workflow`.
///
/// `WorkflowDef::default()` carries Conductor's defaults: `version` 1, `schemaVersion` 2,
/// `restartable` true, `timeoutPolicy` ALERT_ONLY, `timeoutSeconds` 0,
/// `workflowStatusListenerEnabled` false, `enforceSchema` true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowDef {
    /// Required; empty when absent.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default 1.
    #[serde(deserialize_with = "null_default")]
    pub version: i32,
    #[serde(deserialize_with = "null_default")]
    pub tasks: Vec<WorkflowTask>,
    #[serde(deserialize_with = "null_default")]
    pub input_parameters: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub output_parameters: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_workflow: Option<String>,
    /// Default 2 (the only supported value).
    #[serde(deserialize_with = "null_default")]
    pub schema_version: i32,
    /// Default true.
    #[serde(deserialize_with = "null_default")]
    pub restartable: bool,
    #[serde(deserialize_with = "null_default")]
    pub workflow_status_listener_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub timeout_policy: WorkflowTimeoutPolicy,
    /// 0 means no timeout.
    #[serde(deserialize_with = "null_default")]
    pub timeout_seconds: i64,
    #[serde(deserialize_with = "null_default")]
    pub variables: JsonMap,
    #[serde(deserialize_with = "null_default")]
    pub input_template: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_workflow_version: Option<i32>,
    /// Baton's own: the `failureWorkflow`'s definition, embedded when a workflow starts so the
    /// engine can start it in the same transaction that fails the workflow. The server sets
    /// it; a value in a registered definition is dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_workflow_definition: Option<Box<WorkflowDef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_status_listener_sink: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_config: Option<RateLimitConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<SchemaDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<SchemaDef>,
    /// Default true.
    #[serde(deserialize_with = "null_default")]
    pub enforce_schema: bool,
    #[serde(deserialize_with = "null_default")]
    pub metadata: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_config: Option<CacheConfig>,
    #[serde(deserialize_with = "null_default")]
    pub masked_fields: Vec<String>,
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

impl Default for WorkflowDef {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: None,
            version: 1,
            tasks: Vec::new(),
            input_parameters: Vec::new(),
            output_parameters: JsonMap::new(),
            failure_workflow: None,
            schema_version: 2,
            restartable: true,
            workflow_status_listener_enabled: false,
            owner_email: None,
            timeout_policy: WorkflowTimeoutPolicy::AlertOnly,
            timeout_seconds: 0,
            variables: JsonMap::new(),
            input_template: JsonMap::new(),
            failure_workflow_version: None,
            failure_workflow_definition: None,
            workflow_status_listener_sink: None,
            rate_limit_config: None,
            input_schema: None,
            output_schema: None,
            enforce_schema: true,
            metadata: JsonMap::new(),
            cache_config: None,
            masked_fields: Vec::new(),
            owner_app: None,
            create_time: 0,
            update_time: 0,
            created_by: None,
            updated_by: None,
        }
    }
}

impl WorkflowDef {
    /// Conductor's `WorkflowDef.getKey`: `"{name}.{version}"`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.name, self.version)
    }

    /// Every task of the definition, depth first, each followed by the tasks nested in
    /// it (Conductor's `collectTasks`).
    pub fn all_tasks(&self) -> Vec<&WorkflowTask> {
        let mut out = Vec::new();
        for task in &self.tasks {
            task.collect_into(&mut out);
        }
        out
    }

    /// The task (at any depth) with the given `taskReferenceName`.
    pub fn task_by_ref_name(&self, task_reference_name: &str) -> Option<&WorkflowTask> {
        self.tasks.iter().find_map(|t| t.get(task_reference_name))
    }

    /// Whether any task (at any depth) has the given type.
    pub fn contains_type(&self, task_type: &str) -> bool {
        self.all_tasks().iter().any(|t| t.r#type == task_type)
    }
}

/// One task in a workflow definition (`WorkflowTask`); control-flow types nest further
/// tasks (`decisionCases`/`defaultCase` for SWITCH/DECISION, `forkTasks` for FORK_JOIN,
/// `loopOver` for DO_WHILE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowTask {
    /// Required; empty when absent.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Required; empty when absent.
    #[serde(deserialize_with = "null_default")]
    pub task_reference_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub input_parameters: JsonMap,
    /// A [`task_type`] name or a worker task type; default `"SIMPLE"`.
    #[serde(deserialize_with = "null_default")]
    pub r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_task_name_param: Option<String>,
    /// Deprecated DECISION parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_value_param: Option<String>,
    /// Deprecated DECISION expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_expression: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub decision_cases: BTreeMap<String, Vec<WorkflowTask>>,
    /// Deprecated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_fork_join_tasks_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_fork_tasks_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_fork_tasks_input_param_name: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub default_case: Vec<WorkflowTask>,
    #[serde(deserialize_with = "null_default")]
    pub fork_tasks: Vec<Vec<WorkflowTask>>,
    /// Seconds to wait before the task may be polled.
    #[serde(deserialize_with = "null_default")]
    pub start_delay: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_workflow_param: Option<SubWorkflowParams>,
    #[serde(deserialize_with = "null_default")]
    pub join_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub optional: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<TaskDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limited: Option<bool>,
    #[serde(deserialize_with = "null_default")]
    pub default_exclusive_join_task: Vec<String>,
    /// Boxed in Java but initialised to false and always serialized.
    #[serde(deserialize_with = "null_default")]
    pub async_complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_condition: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub loop_over: Vec<WorkflowTask>,
    /// DO_WHILE: expression of the list to iterate over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    /// Overrides the task definition's `retryCount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluator_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub on_state_change: BTreeMap<String, Vec<StateChangeEvent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_config: Option<CacheConfig>,
    #[serde(deserialize_with = "null_default")]
    pub permissive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_mode: Option<JoinMode>,
    #[serde(deserialize_with = "null_default")]
    pub metadata: JsonMap,
}

impl Default for WorkflowTask {
    fn default() -> Self {
        Self {
            name: String::new(),
            task_reference_name: String::new(),
            description: None,
            input_parameters: JsonMap::new(),
            r#type: task_type::SIMPLE.to_owned(),
            dynamic_task_name_param: None,
            case_value_param: None,
            case_expression: None,
            script_expression: None,
            decision_cases: BTreeMap::new(),
            dynamic_fork_join_tasks_param: None,
            dynamic_fork_tasks_param: None,
            dynamic_fork_tasks_input_param_name: None,
            default_case: Vec::new(),
            fork_tasks: Vec::new(),
            start_delay: 0,
            sub_workflow_param: None,
            join_on: Vec::new(),
            sink: None,
            optional: false,
            task_definition: None,
            rate_limited: None,
            default_exclusive_join_task: Vec::new(),
            async_complete: false,
            loop_condition: None,
            loop_over: Vec::new(),
            items: None,
            retry_count: None,
            evaluator_type: None,
            expression: None,
            on_state_change: BTreeMap::new(),
            join_status: None,
            cache_config: None,
            permissive: false,
            join_mode: None,
            metadata: JsonMap::new(),
        }
    }
}

impl WorkflowTask {
    /// A SIMPLE task with the given name and reference name.
    pub fn new(name: impl Into<String>, task_reference_name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            task_reference_name: task_reference_name.into(),
            ..Self::default()
        }
    }

    /// The lists of tasks nested directly in this one, chosen by type as Conductor does:
    /// DECISION/SWITCH → every `decisionCases` list then `defaultCase`; FORK_JOIN → each
    /// `forkTasks` branch; DO_WHILE → `loopOver`; any other type → none.
    pub fn child_lists(&self) -> Vec<&[WorkflowTask]> {
        match self.r#type.as_str() {
            task_type::DECISION | task_type::SWITCH => self
                .decision_cases
                .values()
                .map(Vec::as_slice)
                .chain(std::iter::once(self.default_case.as_slice()))
                .collect(),
            task_type::FORK_JOIN => self.fork_tasks.iter().map(Vec::as_slice).collect(),
            task_type::DO_WHILE => vec![self.loop_over.as_slice()],
            _ => Vec::new(),
        }
    }

    /// This task followed by every task nested in it, depth first (Conductor's
    /// `WorkflowTask.collectTasks`).
    pub fn all_tasks_recursive(&self) -> Vec<&WorkflowTask> {
        let mut out = Vec::new();
        self.collect_into(&mut out);
        out
    }

    fn collect_into<'a>(&'a self, out: &mut Vec<&'a WorkflowTask>) {
        out.push(self);
        for list in self.child_lists() {
            for task in list {
                task.collect_into(out);
            }
        }
    }

    /// This task or the nested task with the given reference name.
    pub fn get(&self, task_reference_name: &str) -> Option<&WorkflowTask> {
        if self.task_reference_name == task_reference_name {
            return Some(self);
        }
        self.child_lists()
            .into_iter()
            .flatten()
            .find_map(|t| t.get(task_reference_name))
    }

    /// Whether this task is, or contains, the task with the given reference name.
    pub fn has(&self, task_reference_name: &str) -> bool {
        self.get(task_reference_name).is_some()
    }
}

/// Parameters of a SUB_WORKFLOW / START_WORKFLOW task (`SubWorkflowParams`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubWorkflowParams {
    /// Name of the workflow to start (see [`Self::effective_name`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version to start; `None` means the latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_to_domain: Option<BTreeMap<String, String>>,
    /// An inline definition, or a `${...}` expression resolving to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_definition: Option<SubWorkflowDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_strategy: Option<IdempotencyStrategy>,
    /// An integer 0–99, or an expression string; `None` inherits the parent's priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<serde_json::Value>,
}

impl SubWorkflowParams {
    /// The inline definition's name if there is one, else `name` (Conductor's getter).
    pub fn effective_name(&self) -> Option<&str> {
        match &self.workflow_definition {
            Some(SubWorkflowDefinition::Definition(def)) => Some(def.name.as_str()),
            _ => self.name.as_deref(),
        }
    }

    /// The inline definition's version if there is one, else `version`.
    pub fn effective_version(&self) -> Option<i32> {
        match &self.workflow_definition {
            Some(SubWorkflowDefinition::Definition(def)) => Some(def.version),
            _ => self.version,
        }
    }
}

/// `SubWorkflowParams.workflowDefinition`: an inline [`WorkflowDef`] or a `${...}`
/// expression evaluated at run time. Any other string is rejected, as in Conductor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SubWorkflowDefinition {
    /// A `${...}` expression.
    Expression(String),
    /// An inline definition.
    Definition(Box<WorkflowDef>),
}

impl<'de> Deserialize<'de> for SubWorkflowDefinition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) if s.starts_with("${") && s.ends_with('}') => {
                Ok(Self::Expression(s))
            }
            serde_json::Value::String(_) => Err(D::Error::custom(
                "workflowDefinition is a string, but not a valid DSL string",
            )),
            value @ serde_json::Value::Object(_) => serde_json::from_value(value)
                .map(|def| Self::Definition(Box::new(def)))
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "workflowDefinition must be either null, or WorkflowDef, or a valid DSL string",
            )),
        }
    }
}

/// An event to publish when a task's state changes (`StateChangeEvent`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StateChangeEvent {
    /// Required; empty when absent.
    #[serde(deserialize_with = "null_default")]
    pub r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<JsonMap>,
}

/// Output caching of a task or workflow (`CacheConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CacheConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub ttl_in_second: i32,
}

/// Workflow-level concurrency limit (`RateLimitConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimitConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_key: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub concurrent_exec_limit: i32,
    /// Default QUEUE.
    #[serde(deserialize_with = "null_default")]
    pub policy: RateLimitPolicy,
}
