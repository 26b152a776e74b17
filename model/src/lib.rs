//! Conductor-compatible wire types shared by the Baton server, engine and client.
//!
//! Every type here mirrors a class of Conductor OSS's `conductor-common` module and
//! (de)serializes to exactly the JSON that Conductor's Jackson setup produces and
//! accepts, so the official Conductor SDKs talk to Baton unchanged.
//!
//! # Conventions
//!
//! * **Naming.** JSON names are Conductor's camelCase property names; Rust field names
//!   are their snake_case (`referenceTaskName` → `reference_task_name`,
//!   `reRunFromWorkflowId` → `re_run_from_workflow_id`). The JSON property `type` is the
//!   raw identifier `r#type`.
//! * **Nulls.** Java fields that may be `null` are `Option<T>` and are omitted from
//!   output when `None` (Conductor serializes with `NON_NULL`).
//! * **Primitives.** Java primitives (`int`, `long`, `boolean`) and fields whose getter
//!   never returns `null` are plain Rust values that are always serialized. When absent
//!   from input they take Conductor's default (see each type's `Default` impl, e.g.
//!   [`TaskDef::default`]); an explicit JSON `null` becomes the Java zero value (`0`,
//!   `false`, empty), as Jackson does with `FAIL_ON_NULL_FOR_PRIMITIVES` disabled.
//! * **Collections** that Conductor initialises to empty are plain `Vec`/map fields,
//!   always serialized (as `[]`/`{}` when empty).
//! * **Identity strings** that Conductor validates as required (`name`,
//!   `taskReferenceName`, `taskId`, `workflowInstanceId`, `workflowId`, …) are plain
//!   `String`s that are empty when absent, so the server can report Conductor's
//!   validation message instead of a parse error.
//! * **Unknown fields are ignored**, never rejected (Conductor disables
//!   `FAIL_ON_UNKNOWN_PROPERTIES`).
//! * **Derived properties.** Where Conductor emits a JSON property from a computed getter
//!   (`Task.queueWaitTime`, `Workflow.startTime`, `Workflow.workflowName`, …) Baton
//!   computes it at serialization time instead of storing it, so it can never go stale;
//!   such properties are ignored on input.
//! * Times are epoch milliseconds (`i64`); Java `int`s are `i32` and `long`s `i64`.

mod de;
pub mod error;
pub mod task;
pub mod task_def;
pub mod workflow;
pub mod workflow_def;

/// A JSON object: Conductor's `Map<String, Object>`.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

pub use error::{ErrorResponse, ValidationError};
pub use task::{
    ExecutionMetadata, PollData, Task, TaskExecLog, TaskResult, TaskResultStatus, TaskStatus,
};
pub use task_def::{RetryLogic, SchemaDef, SchemaType, TaskDef, TaskTimeoutPolicy};
pub use workflow::{
    AggregateTokenUsage, IdempotencyStrategy, RerunWorkflowRequest, SearchResult, SkipTaskRequest,
    StartWorkflowRequest, TaskSummary, Workflow, WorkflowStatus, WorkflowSummary,
};
pub use workflow_def::{
    task_type, CacheConfig, JoinMode, RateLimitConfig, RateLimitPolicy, StateChangeEvent,
    SubWorkflowDefinition, SubWorkflowParams, WorkflowDef, WorkflowTask, WorkflowTimeoutPolicy,
};

/// Error returned when parsing one of the model's enums from a string fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant {
    /// The enum's Conductor name, e.g. `Task.Status`.
    pub enum_name: &'static str,
    /// The string that matched no variant.
    pub value: String,
}

impl std::fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} value: {:?}", self.enum_name, self.value)
    }
}

impl std::error::Error for UnknownVariant {}

/// Defines a fieldless enum whose wire form is Conductor's SCREAMING name, with
/// `ALL`, `as_str`, `Display` and `FromStr`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $java:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant ),+
        }

        impl $name {
            /// Every variant, in Conductor's declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire (and Java enum constant) name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::UnknownVariant { enum_name: $java, value: s.to_owned() }),
                }
            }
        }
    };
}
pub(crate) use wire_enum;
