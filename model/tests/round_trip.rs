//! Wire-compatibility tests: Conductor-shaped JSON parses into the Baton model and
//! re-serializes to the same JSON; defaults, nulls, unknown fields, computed properties
//! and enum flags behave as in Conductor; and Baton's output satisfies Conductor's own
//! JSON Schemas.

use std::path::Path;

use baton_model::{
    task_type, ErrorResponse, PollData, RerunWorkflowRequest, RetryLogic, SearchResult,
    SkipTaskRequest, StartWorkflowRequest, SubWorkflowDefinition, Task, TaskDef, TaskExecLog,
    TaskResult, TaskResultStatus, TaskStatus, TaskTimeoutPolicy, ValidationError, Workflow,
    WorkflowDef, WorkflowStatus, WorkflowSummary, WorkflowTask, WorkflowTimeoutPolicy,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

// ---------------------------------------------------------------- helpers

/// Parses `sample` as `T`, re-serializes it, and asserts the JSON is unchanged.
fn assert_round_trip<T: DeserializeOwned + Serialize>(sample: &Value) -> T {
    let parsed: T = serde_json::from_value(sample.clone()).expect("sample parses");
    let back = serde_json::to_value(&parsed).expect("model serializes");
    if &back != sample {
        panic!(
            "round trip changed the JSON\n--- sample\n{}\n--- re-serialized\n{}",
            serde_json::to_string_pretty(sample).unwrap(),
            serde_json::to_string_pretty(&back).unwrap()
        );
    }
    parsed
}

/// A workflow task as Conductor serializes it: the always-present properties with their
/// defaults, overlaid with `fields`.
fn conductor_workflow_task(fields: Value) -> Value {
    let mut task = json!({
        "inputParameters": {},
        "type": "SIMPLE",
        "decisionCases": {},
        "defaultCase": [],
        "forkTasks": [],
        "startDelay": 0,
        "joinOn": [],
        "optional": false,
        "defaultExclusiveJoinTask": [],
        "asyncComplete": false,
        "loopOver": [],
        "onStateChange": {},
        "permissive": false,
        "metadata": {}
    });
    let target = task.as_object_mut().unwrap();
    for (k, v) in fields.as_object().expect("fields is an object") {
        target.insert(k.clone(), v.clone());
    }
    task
}

fn find_nulls(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Null => out.push(path.to_owned()),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_nulls(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                find_nulls(v, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- samples

fn task_def_sample() -> Value {
    json!({
        "createTime": 1718000000000i64,
        "updateTime": 1718000500000i64,
        "createdBy": "admin",
        "updatedBy": "admin",
        "name": "charge_payment",
        "description": "Charges the customer's card",
        "retryCount": 5,
        "timeoutSeconds": 600,
        "inputKeys": ["orderId", "amount"],
        "outputKeys": ["chargeId"],
        "runtimeMetadata": [],
        "timeoutPolicy": "RETRY",
        "retryLogic": "EXPONENTIAL_BACKOFF",
        "retryDelaySeconds": 2,
        "responseTimeoutSeconds": 120,
        "concurrentExecLimit": 10,
        "inputTemplate": {"currency": "EUR"},
        "rateLimitPerFrequency": 50,
        "rateLimitFrequencyInSeconds": 60,
        "ownerEmail": "payments@example.com",
        "pollTimeoutSeconds": 30,
        "backoffScaleFactor": 1,
        "maxRetryDelaySeconds": 300,
        "backoffJitterMs": 0,
        "totalTimeoutSeconds": 3600,
        "taskStatusListenerEnabled": true,
        "enforceSchema": false
    })
}

fn workflow_def_sample() -> Value {
    json!({
        "createTime": 1718000000000i64,
        "updateTime": 0,
        "name": "order_fulfillment",
        "description": "Validates, ships and tracks an order",
        "version": 3,
        "tasks": [
            conductor_workflow_task(json!({
                "name": "validate_order",
                "taskReferenceName": "validate_order_ref",
                "inputParameters": {"orderId": "${workflow.input.orderId}"},
                "retryCount": 2
            })),
            conductor_workflow_task(json!({
                "name": "route_by_region",
                "taskReferenceName": "route_ref",
                "type": "SWITCH",
                "inputParameters": {"region": "${workflow.input.region}"},
                "evaluatorType": "value-param",
                "expression": "region",
                "decisionCases": {
                    "EU": [
                        conductor_workflow_task(json!({
                            "name": "fork_eu",
                            "taskReferenceName": "fork_eu_ref",
                            "type": "FORK_JOIN",
                            "forkTasks": [
                                [conductor_workflow_task(json!({
                                    "name": "pack_parcel",
                                    "taskReferenceName": "pack_eu_ref"
                                }))],
                                [conductor_workflow_task(json!({
                                    "name": "notify_customer",
                                    "taskReferenceName": "notify_eu_ref",
                                    "type": "HTTP",
                                    "inputParameters": {
                                        "http_request": {
                                            "uri": "http://127.0.0.1:9999/notify",
                                            "method": "POST"
                                        }
                                    },
                                    "optional": true
                                }))]
                            ]
                        })),
                        conductor_workflow_task(json!({
                            "name": "join_eu",
                            "taskReferenceName": "join_eu_ref",
                            "type": "JOIN",
                            "joinOn": ["pack_eu_ref", "notify_eu_ref"]
                        }))
                    ],
                    "US": [
                        conductor_workflow_task(json!({
                            "name": "ship_us",
                            "taskReferenceName": "ship_us_ref",
                            "startDelay": 5
                        }))
                    ]
                },
                "defaultCase": [
                    conductor_workflow_task(json!({
                        "name": "reject",
                        "taskReferenceName": "reject_ref",
                        "type": "TERMINATE",
                        "inputParameters": {
                            "terminationStatus": "FAILED",
                            "terminationReason": "unsupported region"
                        }
                    }))
                ]
            })),
            conductor_workflow_task(json!({
                "name": "track_shipment",
                "taskReferenceName": "track_ref",
                "type": "DO_WHILE",
                "loopCondition": "if ($.track_ref['iteration'] < 3) { true; } else { false; }",
                "loopOver": [
                    conductor_workflow_task(json!({
                        "name": "wait_a_bit",
                        "taskReferenceName": "wait_ref",
                        "type": "WAIT",
                        "inputParameters": {"duration": "1 hour"}
                    }))
                ]
            })),
            conductor_workflow_task(json!({
                "name": "invoice",
                "taskReferenceName": "invoice_ref",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "invoicing", "version": 2}
            }))
        ],
        "inputParameters": ["orderId", "region"],
        "outputParameters": {"chargeId": "${validate_order_ref.output.chargeId}"},
        "failureWorkflow": "order_compensation",
        "schemaVersion": 2,
        "restartable": true,
        "workflowStatusListenerEnabled": false,
        "ownerEmail": "orders@example.com",
        "timeoutPolicy": "TIME_OUT_WF",
        "timeoutSeconds": 86400,
        "variables": {},
        "inputTemplate": {},
        "rateLimitConfig": {
            "rateLimitKey": "${workflow.input.customerId}",
            "concurrentExecLimit": 2,
            "policy": "QUEUE"
        },
        "enforceSchema": true,
        "metadata": {},
        "maskedFields": []
    })
}

fn small_workflow_def_sample() -> Value {
    json!({
        "createTime": 1718000000000i64,
        "updateTime": 0,
        "name": "greet",
        "version": 1,
        "tasks": [
            conductor_workflow_task(json!({
                "name": "say_hello",
                "taskReferenceName": "say_hello_ref",
                "inputParameters": {"who": "${workflow.input.who}"}
            })),
            conductor_workflow_task(json!({
                "name": "say_bye",
                "taskReferenceName": "say_bye_ref"
            }))
        ],
        "inputParameters": ["who"],
        "outputParameters": {"greeting": "${say_hello_ref.output.greeting}"},
        "schemaVersion": 2,
        "restartable": true,
        "workflowStatusListenerEnabled": false,
        "timeoutPolicy": "ALERT_ONLY",
        "timeoutSeconds": 0,
        "variables": {},
        "inputTemplate": {},
        "enforceSchema": true,
        "metadata": {},
        "maskedFields": []
    })
}

const WF_ID: &str = "3f1c2e9a-6b7d-4c1e-9f2a-1b2c3d4e5f60";

fn empty_execution_metadata() -> Value {
    json!({"additionalContext": {}, "additionalContextMap": {}, "empty": true})
}

fn completed_task_sample() -> Value {
    let def = small_workflow_def_sample();
    json!({
        "taskType": "say_hello",
        "status": "COMPLETED",
        "inputData": {"who": "world"},
        "referenceTaskName": "say_hello_ref",
        "retryCount": 0,
        "seq": 1,
        "correlationId": "order-42",
        "pollCount": 1,
        "taskDefName": "say_hello",
        "scheduledTime": 1718000001000i64,
        "startTime": 1718000001250i64,
        "endTime": 1718000001900i64,
        "updateTime": 1718000001900i64,
        "startDelayInSeconds": 0,
        "retried": false,
        "executed": true,
        "callbackFromWorker": true,
        "responseTimeoutSeconds": 3600,
        "workflowInstanceId": WF_ID,
        "workflowType": "greet",
        "taskId": "7a0e5c3b-1d2f-4e6a-8b9c-0d1e2f3a4b5c",
        "callbackAfterSeconds": 0,
        "workerId": "worker-1",
        "outputData": {"greeting": "hello world"},
        "workflowTask": def["tasks"][0].clone(),
        "rateLimitPerFrequency": 0,
        "rateLimitFrequencyInSeconds": 1,
        "workflowPriority": 0,
        "iteration": 0,
        "subworkflowChanged": false,
        "firstStartTime": 0,
        "executionMetadata": empty_execution_metadata(),
        "queueWaitTime": 250,
        "loopOverTask": false
    })
}

fn scheduled_task_sample() -> Value {
    let def = small_workflow_def_sample();
    json!({
        "taskType": "say_bye",
        "status": "SCHEDULED",
        "inputData": {},
        "referenceTaskName": "say_bye_ref",
        "retryCount": 0,
        "seq": 2,
        "correlationId": "order-42",
        "pollCount": 0,
        "taskDefName": "say_bye",
        "scheduledTime": 1718000001950i64,
        "startTime": 0,
        "endTime": 0,
        "updateTime": 1718000001950i64,
        "startDelayInSeconds": 0,
        "retried": false,
        "executed": false,
        "callbackFromWorker": true,
        "responseTimeoutSeconds": 3600,
        "workflowInstanceId": WF_ID,
        "workflowType": "greet",
        "taskId": "9b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e",
        "callbackAfterSeconds": 0,
        "outputData": {},
        "workflowTask": def["tasks"][1].clone(),
        "rateLimitPerFrequency": 0,
        "rateLimitFrequencyInSeconds": 1,
        "workflowPriority": 0,
        "iteration": 0,
        "subworkflowChanged": false,
        "firstStartTime": 0,
        "executionMetadata": empty_execution_metadata(),
        "queueWaitTime": 0,
        "loopOverTask": false
    })
}

fn running_workflow_sample() -> Value {
    json!({
        "createTime": 1718000000900i64,
        "updateTime": 1718000001950i64,
        "createdBy": "order-service",
        "status": "RUNNING",
        "endTime": 0,
        "workflowId": WF_ID,
        "tasks": [completed_task_sample(), scheduled_task_sample()],
        "input": {"who": "world"},
        "output": {},
        "correlationId": "order-42",
        "taskToDomain": {},
        "failedReferenceTaskNames": [],
        "workflowDefinition": small_workflow_def_sample(),
        "priority": 0,
        "variables": {},
        "lastRetriedTime": 0,
        "failedTaskNames": [],
        "history": [],
        "rateLimited": false,
        "startTime": 1718000000900i64,
        "workflowName": "greet",
        "workflowVersion": 1
    })
}

fn polled_task_sample() -> Value {
    json!({
        "taskType": "charge_payment",
        "status": "IN_PROGRESS",
        "inputData": {"orderId": "o-1", "amount": 1299},
        "referenceTaskName": "charge_ref",
        "retryCount": 1,
        "seq": 4,
        "pollCount": 2,
        "taskDefName": "charge_payment",
        "scheduledTime": 1718000010000i64,
        "startTime": 1718000010400i64,
        "endTime": 0,
        "updateTime": 1718000010400i64,
        "startDelayInSeconds": 0,
        "retriedTaskId": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "retried": false,
        "executed": false,
        "callbackFromWorker": true,
        "responseTimeoutSeconds": 120,
        "workflowInstanceId": WF_ID,
        "workflowType": "order_fulfillment",
        "taskId": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        "callbackAfterSeconds": 0,
        "workerId": "payments-worker-7",
        "outputData": {},
        "workflowTask": conductor_workflow_task(json!({
            "name": "charge_payment",
            "taskReferenceName": "charge_ref",
            "inputParameters": {"orderId": "${workflow.input.orderId}"},
            "taskDefinition": task_def_sample()
        })),
        "domain": "eu",
        "rateLimitPerFrequency": 50,
        "rateLimitFrequencyInSeconds": 60,
        "workflowPriority": 5,
        "iteration": 0,
        "subworkflowChanged": false,
        "firstStartTime": 1718000002000i64,
        "executionMetadata": empty_execution_metadata(),
        "queueWaitTime": 400,
        "loopOverTask": false,
        "taskDefinition": task_def_sample()
    })
}

fn task_result_sample() -> Value {
    json!({
        "workflowInstanceId": WF_ID,
        "taskId": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        "reasonForIncompletion": "card declined",
        "callbackAfterSeconds": 0,
        "workerId": "payments-worker-7",
        "status": "FAILED",
        "outputData": {"declineCode": "insufficient_funds"},
        "logs": [
            {"log": "calling gateway", "taskId": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "createdTime": 1718000010500i64}
        ],
        "extendLease": false,
        "supportsCancellation": false
    })
}

fn start_workflow_request_sample() -> Value {
    json!({
        "name": "order_fulfillment",
        "version": 3,
        "correlationId": "order-42",
        "input": {"orderId": "o-1", "region": "EU"},
        "taskToDomain": {"charge_payment": "eu"},
        "priority": 10,
        "idempotencyKey": "order-42-start",
        "idempotencyStrategy": "RETURN_EXISTING"
    })
}

// ---------------------------------------------------------------- round trips

#[test]
fn a_task_def_round_trips_unchanged() {
    let def: TaskDef = assert_round_trip(&task_def_sample());
    assert_eq!(def.name, "charge_payment");
    assert_eq!(def.retry_logic, RetryLogic::ExponentialBackoff);
    assert_eq!(def.timeout_policy, TaskTimeoutPolicy::Retry);
    assert_eq!(def.concurrent_exec_limit, Some(10));
    assert_eq!(def.create_time, 1_718_000_000_000);
}

#[test]
fn a_workflow_def_with_nested_switch_fork_and_loop_round_trips_unchanged() {
    let def: WorkflowDef = assert_round_trip(&workflow_def_sample());
    assert_eq!(def.version, 3);
    assert_eq!(def.tasks.len(), 4);
    let switch = &def.tasks[1];
    assert_eq!(switch.r#type, task_type::SWITCH);
    assert_eq!(switch.decision_cases["EU"][0].fork_tasks.len(), 2);
    assert_eq!(
        def.tasks[3]
            .sub_workflow_param
            .as_ref()
            .and_then(|p| p.version),
        Some(2)
    );
    assert_eq!(def.timeout_policy, WorkflowTimeoutPolicy::TimeOutWf);
}

#[test]
fn a_running_workflow_as_conductor_returns_it_round_trips_unchanged() {
    let wf: Workflow = assert_round_trip(&running_workflow_sample());
    assert_eq!(wf.status, WorkflowStatus::Running);
    assert_eq!(wf.tasks.len(), 2);
    assert_eq!(wf.tasks[0].status, TaskStatus::Completed);
    assert_eq!(wf.tasks[1].status, TaskStatus::Scheduled);
    assert_eq!(wf.workflow_name(), Some("greet"));
    assert_eq!(wf.start_time(), 1_718_000_000_900);
    assert_eq!(
        wf.task_by_ref_name("say_bye_ref").map(|t| t.seq),
        Some(2),
        "lookup by reference name"
    );
}

#[test]
fn a_polled_task_round_trips_unchanged() {
    let task: Task = assert_round_trip(&polled_task_sample());
    assert_eq!(task.status, TaskStatus::InProgress);
    assert_eq!(task.reference_task_name, "charge_ref");
    assert_eq!(task.task_id, "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9");
    assert_eq!(task.domain.as_deref(), Some("eu"));
    assert_eq!(
        task.task_definition().map(|d| d.retry_count),
        Some(5),
        "taskDefinition comes from workflowTask"
    );
}

#[test]
fn a_task_result_round_trips_unchanged() {
    let result: TaskResult = assert_round_trip(&task_result_sample());
    assert_eq!(result.status, Some(TaskResultStatus::Failed));
    assert_eq!(result.logs.len(), 1);
    assert_eq!(result.logs[0].created_time, 1_718_000_010_500);
}

#[test]
fn a_start_workflow_request_round_trips_unchanged() {
    let req: StartWorkflowRequest = assert_round_trip(&start_workflow_request_sample());
    assert_eq!(req.version, Some(3));
    assert_eq!(req.priority, 10);
    assert_eq!(req.task_to_domain["charge_payment"], "eu");
}

#[test]
fn poll_data_exec_logs_and_search_results_round_trip_unchanged() {
    let poll: PollData = assert_round_trip(&json!({
        "queueName": "charge_payment",
        "domain": "eu",
        "workerId": "payments-worker-7",
        "lastPollTime": 1718000010400i64
    }));
    assert_eq!(poll.last_poll_time, 1_718_000_010_400);

    let log: TaskExecLog = assert_round_trip(&json!({"log": "hi", "createdTime": 5}));
    assert_eq!(log.task_id, None);

    let page: SearchResult<WorkflowSummary> = assert_round_trip(&json!({
        "totalHits": 1,
        "results": [{
            "workflowType": "greet",
            "version": 1,
            "workflowId": WF_ID,
            "correlationId": "order-42",
            "startTime": "2024-06-10T06:13:20.900Z",
            "updateTime": "2024-06-10T06:13:21.950Z",
            "status": "RUNNING",
            "input": "{who=world}",
            "output": "{}",
            "executionTime": 0,
            "failedReferenceTaskNames": "",
            "priority": 0,
            "failedTaskNames": [],
            "taskToDomain": {},
            "parentWorkflowId": "",
            "classifier": "workflow",
            "inputSize": 11,
            "outputSize": 2
        }]
    }));
    assert_eq!(page.total_hits, 1);
    assert_eq!(page.results[0].status, Some(WorkflowStatus::Running));
}

// ---------------------------------------------------------------- defaults

#[test]
fn a_minimal_task_def_gets_conductors_defaults() {
    let def: TaskDef = serde_json::from_value(json!({"name": "t"})).unwrap();
    assert_eq!(def, TaskDef::new("t"));
    assert_eq!(def.retry_count, 3);
    assert_eq!(def.retry_logic, RetryLogic::Fixed);
    assert_eq!(def.retry_delay_seconds, 60);
    assert_eq!(def.response_timeout_seconds, 3600);
    assert_eq!(def.timeout_policy, TaskTimeoutPolicy::TimeOutWf);
    assert_eq!(def.backoff_scale_factor, 1);
    assert_eq!(def.concurrent_exec_limit, None);

    let out = serde_json::to_value(&def).unwrap();
    assert_eq!(
        out,
        json!({
            "name": "t",
            "retryCount": 3,
            "timeoutSeconds": 0,
            "inputKeys": [],
            "outputKeys": [],
            "runtimeMetadata": [],
            "timeoutPolicy": "TIME_OUT_WF",
            "retryLogic": "FIXED",
            "retryDelaySeconds": 60,
            "responseTimeoutSeconds": 3600,
            "inputTemplate": {},
            "rateLimitPerFrequency": 0,
            "rateLimitFrequencyInSeconds": 1,
            "backoffScaleFactor": 1,
            "maxRetryDelaySeconds": 0,
            "backoffJitterMs": 0,
            "totalTimeoutSeconds": 0,
            "taskStatusListenerEnabled": true,
            "enforceSchema": false,
            "createTime": 0,
            "updateTime": 0
        })
    );
}

#[test]
fn a_minimal_workflow_def_gets_conductors_defaults() {
    let def: WorkflowDef = serde_json::from_value(json!({
        "name": "w",
        "tasks": [{"name": "a", "taskReferenceName": "a_ref"}]
    }))
    .unwrap();
    assert_eq!(def.version, 1);
    assert_eq!(def.schema_version, 2);
    assert!(def.restartable);
    assert!(!def.workflow_status_listener_enabled);
    assert_eq!(def.timeout_policy, WorkflowTimeoutPolicy::AlertOnly);
    assert_eq!(def.timeout_seconds, 0);
    assert!(def.enforce_schema);
    assert_eq!(def.tasks[0], WorkflowTask::new("a", "a_ref"));
    assert_eq!(def.key(), "w.1");
}

#[test]
fn a_minimal_workflow_task_is_a_simple_task_with_conductors_defaults() {
    let task: WorkflowTask =
        serde_json::from_value(json!({"name": "a", "taskReferenceName": "a_ref"})).unwrap();
    assert_eq!(task.r#type, "SIMPLE");
    assert!(!task.optional);
    assert!(!task.async_complete);
    assert_eq!(task.start_delay, 0);
    assert_eq!(task.rate_limited, None);
    assert_eq!(
        serde_json::to_value(&task).unwrap(),
        conductor_workflow_task(json!({"name": "a", "taskReferenceName": "a_ref"}))
    );
}

#[test]
fn a_start_workflow_request_needs_only_a_name() {
    let req: StartWorkflowRequest = serde_json::from_value(json!({"name": "greet"})).unwrap();
    assert_eq!(req, StartWorkflowRequest::new("greet"));
    assert_eq!(req.version, None);
    assert!(req.input.is_empty());
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({"name": "greet", "input": {}, "taskToDomain": {}, "priority": 0})
    );
}

#[test]
fn a_task_result_needs_only_ids_and_status() {
    let result: TaskResult = serde_json::from_value(json!({
        "workflowInstanceId": WF_ID,
        "taskId": "t-1",
        "status": "COMPLETED"
    }))
    .unwrap();
    assert_eq!(
        result,
        TaskResult::new(WF_ID, "t-1", TaskResultStatus::Completed)
    );
    assert_eq!(result.callback_after_seconds, 0);
    assert!(result.output_data.is_empty());
    assert!(result.logs.is_empty());
}

#[test]
fn a_default_task_starts_scheduled_and_expects_a_worker_callback() {
    let task = Task::default();
    assert_eq!(task.status, TaskStatus::Scheduled);
    assert!(task.callback_from_worker);
    let parsed: Task = serde_json::from_value(json!({"taskId": "x"})).unwrap();
    assert!(
        parsed.callback_from_worker,
        "absent callbackFromWorker is true"
    );
}

#[test]
fn explicit_nulls_become_java_zero_values_or_none() {
    let def: TaskDef = serde_json::from_value(json!({
        "name": "t",
        "retryCount": null,
        "inputKeys": null,
        "description": null,
        "rateLimitFrequencyInSeconds": null
    }))
    .unwrap();
    assert_eq!(def.retry_count, 0, "Jackson sets a null primitive to 0");
    assert!(def.input_keys.is_empty());
    assert_eq!(def.description, None);
    assert_eq!(def.rate_limit_frequency_in_seconds, 1, "getter default");

    let req: StartWorkflowRequest =
        serde_json::from_value(json!({"name": "w", "version": null, "input": null})).unwrap();
    assert_eq!(req.version, None);
    assert!(req.input.is_empty());
}

// ---------------------------------------------------------------- nulls and unknowns

#[test]
fn responses_omit_nulls() {
    let mut nulls = Vec::new();
    find_nulls(
        &serde_json::to_value(Task::default()).unwrap(),
        "task",
        &mut nulls,
    );
    find_nulls(
        &serde_json::to_value(Workflow::default()).unwrap(),
        "workflow",
        &mut nulls,
    );
    find_nulls(
        &serde_json::to_value(WorkflowDef::default()).unwrap(),
        "workflowDef",
        &mut nulls,
    );
    find_nulls(
        &serde_json::to_value(TaskDef::default()).unwrap(),
        "taskDef",
        &mut nulls,
    );
    find_nulls(
        &serde_json::to_value(TaskResult::default()).unwrap(),
        "taskResult",
        &mut nulls,
    );
    assert!(nulls.is_empty(), "null values serialized at {nulls:?}");

    let task = serde_json::to_value(Task::default()).unwrap();
    for absent in [
        "correlationId",
        "workerId",
        "workflowTask",
        "domain",
        "taskDefinition",
    ] {
        assert!(task.get(absent).is_none(), "{absent} should be omitted");
    }
    let result = serde_json::to_value(TaskResult::default()).unwrap();
    assert!(result.get("executionMetadata").is_none());
    assert!(result.get("status").is_none());
}

#[test]
fn unknown_fields_are_accepted_and_ignored() {
    let mut sample = task_def_sample();
    sample["someFutureField"] = json!({"nested": [1, 2]});
    sample["accessPolicy"] = json!({});
    let def: TaskDef = serde_json::from_value(sample).unwrap();
    assert_eq!(def, serde_json::from_value(task_def_sample()).unwrap());

    let mut wf = running_workflow_sample();
    wf["tasks"][0]["brandNewProperty"] = json!(true);
    wf["workflowDefinition"]["tasks"][0]["mystery"] = json!("x");
    let parsed: Workflow = serde_json::from_value(wf).unwrap();
    assert_eq!(parsed.tasks.len(), 2);

    let req: StartWorkflowRequest =
        serde_json::from_value(json!({"name": "w", "clientVersion": "9.9"})).unwrap();
    assert_eq!(req.name, "w");
}

#[test]
fn custom_task_types_are_kept_verbatim() {
    let task: WorkflowTask = serde_json::from_value(json!({
        "name": "x", "taskReferenceName": "x_ref", "type": "MY_CUSTOM_TYPE"
    }))
    .unwrap();
    assert_eq!(task.r#type, "MY_CUSTOM_TYPE");
    assert_eq!(
        serde_json::to_value(&task).unwrap()["type"],
        "MY_CUSTOM_TYPE"
    );
    assert!(task_type::is_built_in("FORK"));
    assert!(!task_type::is_built_in(task_type::SIMPLE));
}

// ---------------------------------------------------------------- enums

#[test]
fn task_status_flags_match_conductors_task_status() {
    // (status, terminal, successful, retriable) as declared in Conductor's Task.Status.
    let table = [
        (TaskStatus::InProgress, false, true, true),
        (TaskStatus::Canceled, true, false, false),
        (TaskStatus::Failed, true, false, true),
        (TaskStatus::FailedWithTerminalError, true, false, false),
        (TaskStatus::Completed, true, true, true),
        (TaskStatus::CompletedWithErrors, true, true, true),
        (TaskStatus::Scheduled, false, true, true),
        (TaskStatus::TimedOut, true, false, true),
        (TaskStatus::Skipped, true, true, false),
    ];
    assert_eq!(table.len(), TaskStatus::ALL.len());
    for (status, terminal, successful, retriable) in table {
        assert_eq!(status.is_terminal(), terminal, "{status} terminal");
        assert_eq!(status.is_successful(), successful, "{status} successful");
        assert_eq!(status.is_retriable(), retriable, "{status} retriable");
    }
}

#[test]
fn workflow_status_flags_match_conductors_workflow_status() {
    let table = [
        (WorkflowStatus::Running, false, false),
        (WorkflowStatus::Completed, true, true),
        (WorkflowStatus::Failed, true, false),
        (WorkflowStatus::TimedOut, true, false),
        (WorkflowStatus::Terminated, true, false),
        (WorkflowStatus::Paused, false, true),
    ];
    assert_eq!(table.len(), WorkflowStatus::ALL.len());
    for (status, terminal, successful) in table {
        assert_eq!(status.is_terminal(), terminal, "{status} terminal");
        assert_eq!(status.is_successful(), successful, "{status} successful");
    }
}

#[test]
fn enums_use_conductors_screaming_names_on_the_wire() {
    let names: Vec<String> = TaskStatus::ALL
        .iter()
        .map(|s| {
            serde_json::to_value(s)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "IN_PROGRESS",
            "CANCELED",
            "FAILED",
            "FAILED_WITH_TERMINAL_ERROR",
            "COMPLETED",
            "COMPLETED_WITH_ERRORS",
            "SCHEDULED",
            "TIMED_OUT",
            "SKIPPED"
        ]
    );
    for status in WorkflowStatus::ALL {
        let wire = serde_json::to_value(status).unwrap();
        assert_eq!(wire, json!(status.as_str()));
        assert_eq!(status.as_str().parse::<WorkflowStatus>(), Ok(*status));
    }
    assert_eq!(
        serde_json::to_value(TaskResultStatus::FailedWithTerminalError).unwrap(),
        "FAILED_WITH_TERMINAL_ERROR"
    );
    assert!("running".parse::<WorkflowStatus>().is_err());
    assert!(serde_json::from_value::<TaskStatus>(json!("DONE")).is_err());
}

#[test]
fn task_result_status_maps_like_conductors_task_result_constructor() {
    assert_eq!(
        TaskResultStatus::from(TaskStatus::Scheduled),
        TaskResultStatus::InProgress
    );
    for status in [
        TaskStatus::CompletedWithErrors,
        TaskStatus::TimedOut,
        TaskStatus::Skipped,
    ] {
        assert_eq!(TaskResultStatus::from(status), TaskResultStatus::Failed);
    }
    for status in TaskResultStatus::ALL {
        assert_eq!(TaskResultStatus::from(TaskStatus::from(*status)), *status);
    }
}

// ---------------------------------------------------------------- tree walking

#[test]
fn all_tasks_recursive_walks_switch_fork_and_loop_bodies_depth_first() {
    let def: WorkflowDef = serde_json::from_value(workflow_def_sample()).unwrap();
    let refs: Vec<&str> = def
        .all_tasks()
        .iter()
        .map(|t| t.task_reference_name.as_str())
        .collect();
    assert_eq!(
        refs,
        [
            "validate_order_ref",
            "route_ref",
            "fork_eu_ref",
            "pack_eu_ref",
            "notify_eu_ref",
            "join_eu_ref",
            "ship_us_ref",
            "reject_ref",
            "track_ref",
            "wait_ref",
            "invoice_ref"
        ]
    );
    let switch_refs: Vec<&str> = def.tasks[1]
        .all_tasks_recursive()
        .iter()
        .map(|t| t.task_reference_name.as_str())
        .collect();
    assert_eq!(switch_refs.first(), Some(&"route_ref"));
    assert_eq!(switch_refs.len(), 7);
    assert_eq!(
        def.task_by_ref_name("notify_eu_ref").map(|t| t.optional),
        Some(true)
    );
    assert!(def.tasks[2].has("wait_ref"));
    assert!(def.contains_type(task_type::JOIN));
    assert!(!def.contains_type(task_type::HUMAN));
}

#[test]
fn nested_tasks_of_the_wrong_kind_are_ignored_like_conductor() {
    let mut task = WorkflowTask::new("a", "a_ref");
    task.loop_over.push(WorkflowTask::new("b", "b_ref"));
    assert_eq!(
        task.all_tasks_recursive().len(),
        1,
        "SIMPLE has no children"
    );
    task.r#type = task_type::DO_WHILE.to_owned();
    assert_eq!(task.all_tasks_recursive().len(), 2);
}

#[test]
fn a_sub_workflow_definition_is_an_inline_def_or_an_expression() {
    let inline: WorkflowTask = serde_json::from_value(json!({
        "name": "sub", "taskReferenceName": "sub_ref", "type": "SUB_WORKFLOW",
        "subWorkflowParam": {
            "name": "ignored",
            "workflowDefinition": {"name": "inline_wf", "version": 4,
                "tasks": [{"name": "a", "taskReferenceName": "a_ref"}]}
        }
    }))
    .unwrap();
    let params = inline.sub_workflow_param.as_ref().unwrap();
    assert!(matches!(
        params.workflow_definition,
        Some(SubWorkflowDefinition::Definition(ref d)) if d.tasks.len() == 1
    ));
    assert_eq!(params.effective_name(), Some("inline_wf"));
    assert_eq!(params.effective_version(), Some(4));

    let expr: WorkflowTask = serde_json::from_value(json!({
        "name": "sub", "taskReferenceName": "sub_ref", "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": "x", "workflowDefinition": "${prev.output.def}", "priority": "${workflow.input.p}"}
    }))
    .unwrap();
    let params = expr.sub_workflow_param.unwrap();
    assert_eq!(
        params.workflow_definition,
        Some(SubWorkflowDefinition::Expression(
            "${prev.output.def}".into()
        ))
    );
    assert_eq!(params.effective_name(), Some("x"));

    let bad = serde_json::from_value::<WorkflowTask>(json!({
        "name": "sub", "taskReferenceName": "sub_ref",
        "subWorkflowParam": {"workflowDefinition": "not a dsl string"}
    }));
    assert!(bad.is_err());
}

// ---------------------------------------------------------------- computed properties

#[test]
fn task_computed_properties_follow_conductors_getters() {
    let mut task = Task {
        task_type: "say_hello".into(),
        task_id: "t".into(),
        workflow_instance_id: "w".into(),
        scheduled_time: 1_000,
        start_time: 1_750,
        iteration: 2,
        ..Task::default()
    };
    task.input_data
        .insert("subWorkflowId".into(), json!("child-1"));
    let out = serde_json::to_value(&task).unwrap();
    assert_eq!(out["taskDefName"], "say_hello", "falls back to taskType");
    assert_eq!(out["queueWaitTime"], 750);
    assert_eq!(out["loopOverTask"], true);
    assert_eq!(out["subWorkflowId"], "child-1");
    assert_eq!(out["executionMetadata"], empty_execution_metadata());

    // Pending callback: wait is measured from when the callback became due.
    task.update_time = 10_000;
    task.callback_after_seconds = 5;
    assert_eq!(task.queue_wait_time(16_000), 1_000);
    assert_eq!(task.queue_wait_time(12_000), 0);
}

#[test]
fn workflow_computed_properties_follow_conductors_getters_and_are_not_stored() {
    let wf = Workflow {
        workflow_id: "w".into(),
        create_time: 42,
        workflow_definition: Some(std::sync::Arc::new(WorkflowDef {
            name: "greet".into(),
            version: 7,
            ..WorkflowDef::default()
        })),
        ..Workflow::default()
    };
    let out = serde_json::to_value(&wf).unwrap();
    assert_eq!(out["startTime"], 42);
    assert_eq!(out["workflowName"], "greet");
    assert_eq!(out["workflowVersion"], 7);

    let without_def = serde_json::to_value(Workflow::default()).unwrap();
    assert!(without_def.get("workflowName").is_none());
    assert!(without_def.get("workflowVersion").is_none());

    // Stale computed values on input are ignored, not trusted.
    let mut sample = running_workflow_sample();
    sample["workflowName"] = json!("something_else");
    let parsed: Workflow = serde_json::from_value(sample).unwrap();
    assert_eq!(
        serde_json::to_value(&parsed).unwrap()["workflowName"],
        "greet"
    );
}

#[test]
fn task_result_execution_metadata_is_sent_only_when_it_has_data() {
    let mut result = TaskResult::new("w", "t", TaskResultStatus::Completed);
    result.execution_metadata = Some(Default::default());
    assert!(serde_json::to_value(&result)
        .unwrap()
        .get("executionMetadata")
        .is_none());
    let metadata = result.execution_metadata.as_mut().unwrap();
    metadata.execution_start_time = Some(100);
    metadata.execution_end_time = Some(160);
    let out = serde_json::to_value(&result).unwrap();
    assert_eq!(out["executionMetadata"]["executionDuration"], 60);
    assert_eq!(out["executionMetadata"]["empty"], false);
}

// ---------------------------------------------------------------- other request and error types

#[test]
fn rerun_and_skip_requests_parse_with_everything_optional() {
    let rerun: RerunWorkflowRequest = serde_json::from_value(json!({
        "reRunFromWorkflowId": WF_ID,
        "reRunFromTaskId": "t-1",
        "taskInput": {"a": 1}
    }))
    .unwrap();
    assert_eq!(rerun.re_run_from_task_id.as_deref(), Some("t-1"));
    assert_eq!(rerun.workflow_input, None);
    assert_eq!(
        serde_json::from_value::<RerunWorkflowRequest>(json!({})).unwrap(),
        RerunWorkflowRequest::default()
    );

    let skip: SkipTaskRequest =
        serde_json::from_value(json!({"taskOutput": {"skipped": true}})).unwrap();
    assert_eq!(skip.task_output.unwrap()["skipped"], true);
    assert_eq!(
        serde_json::to_value(SkipTaskRequest::default()).unwrap(),
        json!({})
    );
}

#[test]
fn error_responses_serialize_like_conductors() {
    let mut err = ErrorResponse::new(400, "Validation failed, check below errors for detail.");
    err.instance = Some("baton-1".into());
    err.validation_errors = Some(vec![ValidationError::new(
        "registerTaskDef.taskDefinitions[0].name",
        "TaskDef name cannot be null or empty",
        None,
    )]);
    assert_eq!(
        serde_json::to_value(&err).unwrap(),
        json!({
            "status": 400,
            "message": "Validation failed, check below errors for detail.",
            "instance": "baton-1",
            "retryable": false,
            "validationErrors": [{
                "path": "registerTaskDef.taskDefinitions[0].name",
                "message": "TaskDef name cannot be null or empty"
            }]
        })
    );
    let not_found: ErrorResponse = serde_json::from_value(json!({
        "status": 404, "message": "No such workflow found by id: x", "instance": "h", "retryable": false
    }))
    .unwrap();
    assert_eq!(not_found.status, 404);
}

// ---------------------------------------------------------------- Conductor's JSON Schemas

const SCHEMA_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conductor-schemas"
);

/// Validates `instances` against `<SCHEMA_DIR>/<file>`; returns false (after saying so)
/// when the schemas are not beside the repository.
fn validate_against_schema(file: &str, instances: &[(&str, Value)]) -> bool {
    let path = Path::new(SCHEMA_DIR).join(file);
    if !path.is_file() {
        println!(
            "SKIPPED: Conductor schema {} not found; shared/ is not beside the repo",
            path.display()
        );
        return false;
    }
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("schema is JSON");
    let validator = jsonschema::draft7::new(&schema).expect("schema compiles");
    for (label, instance) in instances {
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{label} violates {file}: {errors:#?}");
    }
    // The validator must actually reject something, or the check proves nothing.
    assert!(
        !validator.is_valid(&json!({"name": 5, "taskType": 5, "workflowId": 5})),
        "{file} accepted an ill-typed document"
    );
    true
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

#[test]
fn baton_task_defs_satisfy_conductors_task_def_schema() {
    let sample: TaskDef = serde_json::from_value(task_def_sample()).unwrap();
    validate_against_schema(
        "TaskDef.json",
        &[
            ("sample task def", to_value(&sample)),
            ("default task def", to_value(&TaskDef::new("t"))),
        ],
    );
}

#[test]
fn baton_workflow_defs_satisfy_conductors_workflow_def_schema() {
    let big: WorkflowDef = serde_json::from_value(workflow_def_sample()).unwrap();
    let small: WorkflowDef = serde_json::from_value(small_workflow_def_sample()).unwrap();
    let minimal = WorkflowDef {
        name: "w".into(),
        tasks: vec![WorkflowTask::new("a", "a_ref")],
        ..WorkflowDef::default()
    };
    validate_against_schema(
        "WorkflowDef.json",
        &[
            ("nested workflow def", to_value(&big)),
            ("small workflow def", to_value(&small)),
            ("minimal workflow def", to_value(&minimal)),
        ],
    );
}

#[test]
fn baton_tasks_satisfy_conductors_task_schema() {
    let polled: Task = serde_json::from_value(polled_task_sample()).unwrap();
    let completed: Task = serde_json::from_value(completed_task_sample()).unwrap();
    let fresh = Task {
        task_type: "x".into(),
        task_id: "t".into(),
        workflow_instance_id: "w".into(),
        ..Task::default()
    };
    validate_against_schema(
        "Task.json",
        &[
            ("polled task", to_value(&polled)),
            ("completed task", to_value(&completed)),
            ("fresh task", to_value(&fresh)),
        ],
    );
}

#[test]
fn baton_workflows_satisfy_conductors_workflow_schema() {
    let running: Workflow = serde_json::from_value(running_workflow_sample()).unwrap();
    let mut finished = running.clone();
    finished.status = WorkflowStatus::Failed;
    finished.end_time = 1_718_000_009_000;
    finished.reason_for_incompletion = Some("task say_bye failed".into());
    finished
        .failed_reference_task_names
        .insert("say_bye_ref".into());
    finished.failed_task_names.insert("say_bye".into());
    finished.history.push(running.clone());
    validate_against_schema(
        "Workflow.json",
        &[
            ("running workflow", to_value(&running)),
            ("failed workflow with history", to_value(&finished)),
        ],
    );
}
