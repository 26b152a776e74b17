//! System tasks the server carries out outside the decision (HTTP, jq, timed WAIT) and
//! EVENT, as data in, decisions out.

mod support;

use baton_engine::{validate, QueueOp, WAIT_QUEUE};
use baton_model::{TaskResultStatus, TaskStatus, WorkflowStatus};
use serde_json::json;
use support::*;

#[test]
fn a_timed_wait_sits_in_the_wait_queue_until_its_deadline() {
    let def = definition(json!({"name": "nap", "tasks": [
        {"name": "pause", "taskReferenceName": "pause", "type": "WAIT", "inputParameters": {"duration": "2 hours 30 minutes"}},
        {"name": "after", "taskReferenceName": "after"}
    ]}));
    let (mut run, decision) = Run::start(def, json!({}));
    let pause = run.task("pause");
    assert_eq!(pause.status, TaskStatus::InProgress);
    assert_eq!(pause.callback_after_seconds, 9000);
    assert_eq!(
        pushes(&decision),
        vec![(WAIT_QUEUE.into(), pause.task_id.clone(), T0 + 9_000_000)]
    );
    // At the deadline the server claims it (keeping its start time) and completes it.
    let decision = run.report("pause", TaskResultStatus::Completed, json!({}));
    assert_eq!(run.task("pause").status, TaskStatus::Completed);
    assert_eq!(
        run.task("pause").start_time,
        T0,
        "the wait started when scheduled"
    );
    assert_eq!(pushes(&decision)[0].0, "after");
}

#[test]
fn a_timed_wait_can_still_be_signalled_early_and_leaves_its_queue() {
    let def = definition(json!({"name": "nap", "tasks": [
        {"name": "pause", "taskReferenceName": "pause", "type": "WAIT", "inputParameters": {"until": "2030-01-01 00:00"}}
    ]}));
    let (mut run, _) = Run::start(def, json!({}));
    let task_id = run.task("pause").task_id.clone();
    let decision = baton_engine::signal_waiting_task(
        run.workflow.clone(),
        TaskResultStatus::Completed,
        map(json!({"by": "hand"})),
        T0 + 5,
        &mut run.ids,
    )
    .unwrap();
    assert!(decision.queue.contains(&QueueOp::Remove { task_id }));
    assert_eq!(decision.workflow.status, WorkflowStatus::Completed);
    assert_eq!(decision.workflow.output, map(json!({"by": "hand"})));
}

#[test]
fn a_wait_with_a_bad_time_fails_for_good() {
    for input in [
        json!({"until": "someday"}),
        json!({"duration": "1h", "until": "2030-01-01"}),
    ] {
        let def = definition(json!({"name": "nap", "tasks": [
            {"name": "pause", "taskReferenceName": "pause", "type": "WAIT", "inputParameters": input}
        ]}));
        let (run, decision) = Run::start(def, json!({}));
        assert_eq!(
            run.task("pause").status,
            TaskStatus::FailedWithTerminalError
        );
        assert!(pushes(&decision).is_empty());
        assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
        let reason = decision.workflow.reason_for_incompletion.unwrap();
        assert!(
            reason.contains("Invalid/Unsupported Wait Until format") || reason.contains("Both"),
            "{reason}"
        );
    }
}

#[test]
fn an_event_publishes_to_its_conductor_queue_in_the_decision() {
    let def = definition(json!({"name": "notify", "version": 3, "tasks": [
        {"name": "tell", "taskReferenceName": "tell", "type": "EVENT", "sink": "conductor:orders",
         "inputParameters": {"orderId": "${workflow.input.id}"}},
        {"name": "after", "taskReferenceName": "after"}
    ]}));
    let (run, decision) = Run::start(def, json!({"id": 42}));
    let tell = run.task("tell");
    assert_eq!(tell.status, TaskStatus::Completed);
    assert_eq!(
        tell.output_data["event_produced"],
        json!("conductor:notify:orders")
    );
    assert_eq!(decision.messages.len(), 1);
    let message = &decision.messages[0];
    assert_eq!(message.queue_name, "conductor:notify:orders");
    assert_eq!(message.message_id, tell.task_id);
    assert_eq!(message.payload["orderId"], json!(42));
    assert_eq!(message.payload["workflowInstanceId"], json!("wf-1"));
    assert_eq!(message.payload["workflowType"], json!("notify"));
    assert_eq!(message.payload["workflowVersion"], json!(3));
    assert_eq!(message.payload["sink"], json!("conductor:orders"));
    assert_eq!(pushes(&decision)[0].0, "after", "the flow goes on");
}

#[test]
fn a_bare_conductor_sink_is_named_after_the_task_and_async_complete_waits() {
    let def = definition(json!({"name": "notify", "tasks": [
        {"name": "tell", "taskReferenceName": "tell", "type": "EVENT", "sink": "conductor", "asyncComplete": true}
    ]}));
    let (run, decision) = Run::start(def, json!({}));
    assert_eq!(decision.messages[0].queue_name, "conductor:notify:tell");
    assert_eq!(run.task("tell").status, TaskStatus::InProgress);
    assert_eq!(decision.workflow.status, WorkflowStatus::Running);
}

#[test]
fn an_event_to_a_sink_without_a_provider_fails_with_the_reason() {
    let def = definition(json!({"name": "notify", "tasks": [
        {"name": "tell", "taskReferenceName": "tell", "type": "EVENT", "sink": "sqs:queue"}
    ]}));
    let (_, decision) = Run::start(def, json!({}));
    assert!(decision.messages.is_empty());
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert!(decision
        .workflow
        .reason_for_incompletion
        .unwrap()
        .contains("Invalid / Unsupported sink specified: sqs:queue"));
}

#[test]
fn http_and_jq_tasks_are_queued_for_the_server_with_their_input_resolved() {
    let def = definition(json!({"name": "calls", "tasks": [
        {"name": "get", "taskReferenceName": "get", "type": "HTTP",
         "inputParameters": {"http_request": {"uri": "${workflow.input.url}", "method": "GET"}}},
        {"name": "shape", "taskReferenceName": "shape", "type": "JSON_JQ_TRANSFORM",
         "inputParameters": {"queryExpression": ".body.n + 1", "body": "${get.output.response.body}"}}
    ]}));
    let (mut run, decision) = Run::start(def, json!({"url": "http://example.test/x"}));
    let get = run.task("get");
    assert_eq!(get.status, TaskStatus::Scheduled);
    assert_eq!(
        get.input_data["http_request"],
        json!({"uri": "http://example.test/x", "method": "GET"})
    );
    assert_eq!(
        pushes(&decision),
        vec![("HTTP".into(), get.task_id.clone(), T0)]
    );
    let decision = run.report(
        "get",
        TaskResultStatus::Completed,
        json!({"response": {"statusCode": 200, "body": {"n": 1}}}),
    );
    assert_eq!(pushes(&decision)[0].0, "JSON_JQ_TRANSFORM");
    assert_eq!(run.task("shape").input_data["body"], json!({"n": 1}));
}

#[test]
fn an_http_call_left_in_progress_leaves_the_queue_and_waits_for_an_update() {
    let def = definition(json!({"name": "calls", "tasks": [
        {"name": "get", "taskReferenceName": "get", "type": "HTTP",
         "inputParameters": {"uri": "http://example.test", "method": "GET", "asyncComplete": true}}
    ]}));
    let (mut run, _) = Run::start(def, json!({}));
    let task_id = run.task("get").task_id.clone();
    let decision = run.report("get", TaskResultStatus::InProgress, json!({"response": {}}));
    assert!(decision.queue.contains(&QueueOp::Remove { task_id }));
    assert!(pushes(&decision).is_empty());
    assert_eq!(run.task("get").status, TaskStatus::InProgress);
}

#[test]
fn definitions_missing_what_these_tasks_need_are_refused_naming_the_task() {
    let def = definition(json!({"name": "bad", "tasks": [
        {"name": "e", "taskReferenceName": "e", "type": "EVENT"},
        {"name": "h", "taskReferenceName": "h", "type": "HTTP", "inputParameters": {"method": "GET"}},
        {"name": "j", "taskReferenceName": "j", "type": "JSON_JQ_TRANSFORM", "inputParameters": {}}
    ]}));
    let messages: Vec<String> = validate::validate_workflow_def(&def)
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    for expected in [
        "sink field is required for taskType: EVENT taskName: e",
        "inputParameters.http_request or inputParameters.uri field is required for taskType: HTTP taskName: h",
        "inputParameters.queryExpression field is required for taskType: JSON_JQ_TRANSFORM taskName: j",
    ] {
        assert!(messages.iter().any(|m| m == expected), "{expected} in {messages:?}");
    }
}

#[test]
fn a_dynamic_fork_can_run_each_item_as_a_sub_workflow() {
    let child = json!({"name": "child", "version": 2, "tasks": [
        {"name": "child_work", "taskReferenceName": "cw", "inputParameters": {"v": "${workflow.input.v}"}}]});
    let def = definition(json!({"name": "parent", "tasks": [
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
         "inputParameters": {"forkTaskWorkflow": "child", "forkTaskWorkflowVersion": "2",
                             "forkTaskInputs": [{"v": 1}, 7]},
         "subWorkflowParam": {"name": "child", "version": 2, "workflowDefinition": child}},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
    ]}));
    let (run, decision) = Run::start(def, json!({}));
    assert_eq!(decision.children.len(), 2);
    let first = &decision.children[0].workflow;
    assert_eq!(first.workflow_name(), Some("child"));
    assert_eq!(first.input, map(json!({"v": 1, "__index": 0})));
    assert_eq!(
        first.parent_workflow_task_id.as_deref(),
        Some(run.task("_fan_0").task_id.as_str())
    );
    assert_eq!(
        decision.children[1].workflow.input,
        map(json!({"input": 7, "__index": 1})),
        "an item that is not a map is passed as `input`"
    );
    assert_eq!(run.task("_fan_1").task_type, "SUB_WORKFLOW");
    assert_eq!(run.task("_fan_1").status, TaskStatus::InProgress);
    assert_eq!(
        run.task("join").input_data["joinOn"],
        json!(["_fan_0", "_fan_1"])
    );
    assert_eq!(
        decision.children[0].workflow.tasks[0].input_data["v"],
        json!(1),
        "the child's own expressions resolve against the child"
    );
}

#[test]
fn an_exclusive_join_takes_the_output_of_the_case_that_ran() {
    let def = definition(json!({"name": "pick_one", "tasks": [
        {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
         "expression": "kind", "inputParameters": {"kind": "${workflow.input.kind}"},
         "decisionCases": {"a": [{"name": "task_a", "taskReferenceName": "a"}],
                           "b": [{"name": "task_b", "taskReferenceName": "b"}]},
         "defaultCase": [{"name": "task_d", "taskReferenceName": "d"}]},
        {"name": "xjoin", "taskReferenceName": "xjoin", "type": "EXCLUSIVE_JOIN",
         "joinOn": ["a", "b"], "defaultExclusiveJoinTask": ["d"]},
        {"name": "after", "taskReferenceName": "after", "inputParameters": {"got": "${xjoin.output.v}"}}
    ]}));
    for (kind, reference) in [("b", "b"), ("zzz", "d")] {
        let (mut run, _) = Run::start(def.clone(), json!({"kind": kind}));
        let decision = run.report(
            reference,
            TaskResultStatus::Completed,
            json!({"v": reference}),
        );
        let xjoin = run.task("xjoin");
        assert_eq!(xjoin.status, TaskStatus::Completed);
        assert_eq!(xjoin.output_data, map(json!({"v": reference})));
        assert_eq!(run.task("after").input_data["got"], json!(reference));
        assert_eq!(pushes(&decision)[0].0, "after");
    }
}
