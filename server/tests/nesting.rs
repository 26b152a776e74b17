//! Operators nested in one another, end to end through the API: a fork inside a loop inside
//! a sub-workflow, with switches; sub-workflow branches of a dynamic fork; list loops with
//! keepLastN; an exclusive join.

mod support;

use baton_client::BatonClient;
use baton_model::{TaskStatus, Workflow, WorkflowDef, WorkflowStatus};
use serde_json::{json, Value};
use support::work::{complete_one, map, poll_one};
use support::{spawn_app, TestDb};

async fn register(client: &BatonClient, def: Value) -> WorkflowDef {
    let def: WorkflowDef = serde_json::from_value(def).unwrap();
    client.register_workflow_def(&def, true).await.unwrap();
    def
}

async fn start(client: &BatonClient, name: &str, input: Value) -> String {
    client
        .start_workflow_by_name(name, None, None, None, &map(input))
        .await
        .unwrap()
}

async fn workflow(client: &BatonClient, id: &str) -> Workflow {
    client.get_workflow(id, true).await.unwrap()
}

/// Each iteration of the child's loop forks: one branch switches on the item's kind (a worker
/// for big items, an INLINE for the rest) then summarizes; the other counts with a worker.
/// The parent switches on how many rounds the child ran.
async fn a_fork_in_a_loop_in_a_sub_workflow_with_switches_completes_with_the_right_output(
    db: TestDb,
) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register(
        client,
        json!({"name": "nest_child", "tasks": [
            {"name": "rounds", "taskReferenceName": "rounds", "type": "DO_WHILE", "items": "${workflow.input.batches}",
             "loopOver": [
                {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [
                    [{"name": "pick", "taskReferenceName": "pick", "type": "SWITCH", "evaluatorType": "value-param",
                      "expression": "kind", "inputParameters": {"kind": "${rounds.output.loopItem.kind}"},
                      "decisionCases": {"big": [{"name": "nest_big", "taskReferenceName": "big_work",
                                                 "inputParameters": {"n": "${rounds.output.loopItem.n}"}}]},
                      "defaultCase": [{"name": "small_work", "taskReferenceName": "small_work", "type": "INLINE",
                                       "inputParameters": {"evaluatorType": "javascript", "n": "${rounds.output.loopItem.n}",
                                                           "expression": "$.n * 2"}}]},
                     {"name": "summarize", "taskReferenceName": "summarize", "type": "INLINE",
                      "inputParameters": {"evaluatorType": "javascript", "case": "${pick.output.selectedCase}",
                                          "size": "${big_work.output.size}", "small": "${small_work.output.result}",
                                          "expression": "$.case == 'big' ? $.size : $.small"}}],
                    [{"name": "nest_count", "taskReferenceName": "count",
                      "inputParameters": {"n": "${rounds.output.loopItem.n}"}}]
                ]},
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["summarize", "count"]},
                {"name": "tally", "taskReferenceName": "tally", "type": "INLINE",
                 "inputParameters": {"evaluatorType": "javascript", "s": "${summarize.output.result}",
                                     "c": "${count.output.count}", "expression": "$.s + $.c"}}
             ]}],
         "outputParameters": {"last": "${tally.output.result}", "iterations": "${rounds.output.iteration}",
                              "first_round": "${rounds.output.1.tally.result}"}}),
    )
    .await;
    register(
        client,
        json!({"name": "nest_parent", "tasks": [
            {"name": "child", "taskReferenceName": "child", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": "nest_child"}, "inputParameters": {"batches": "${workflow.input.batches}"}},
            {"name": "verdict", "taskReferenceName": "verdict", "type": "SWITCH", "evaluatorType": "javascript",
             "expression": "$.rounds == 2 ? 'two' : 'other'", "inputParameters": {"rounds": "${child.output.iterations}"},
             "decisionCases": {"two": [{"name": "fine", "taskReferenceName": "fine", "type": "INLINE",
                 "inputParameters": {"evaluatorType": "javascript", "expression": "'done'"}}]},
             "defaultCase": [{"name": "stop", "taskReferenceName": "stop", "type": "TERMINATE",
                 "inputParameters": {"terminationStatus": "FAILED", "terminationReason": "wrong number of rounds"}}]}
         ],
         "outputParameters": {"last": "${child.output.last}", "first": "${child.output.first_round}",
                              "verdict": "${fine.output.result}"}}),
    )
    .await;
    let id = start(
        client,
        "nest_parent",
        json!({"batches": [{"kind": "big", "n": 3}, {"kind": "small", "n": 4}]}),
    )
    .await;

    // Round 1: the big item goes to the worker; both branches report.
    let big = poll_one(client, "nest_big").await;
    assert_eq!(big.input_data["n"], json!(3));
    assert_eq!(big.reference_task_name, "big_work__1");
    client
        .update_task(&support::work::result(
            &big,
            baton_model::TaskResultStatus::Completed,
            json!({"size": 30}),
        ))
        .await
        .unwrap();
    complete_one(client, "nest_count", json!({"count": 3})).await;
    // Round 2: the small item is handled inline; only the counter needs a worker.
    let count = poll_one(client, "nest_count").await;
    assert_eq!(count.reference_task_name, "count__2");
    assert_eq!(count.input_data["n"], json!(4));
    client
        .update_task(&support::work::result(
            &count,
            baton_model::TaskResultStatus::Completed,
            json!({"count": 4}),
        ))
        .await
        .unwrap();

    let parent = workflow(client, &id).await;
    assert_eq!(parent.status, WorkflowStatus::Completed, "{parent:?}");
    assert_eq!(
        parent.output,
        map(json!({"last": 12, "first": 33, "verdict": "done"}))
    );
    let child_id = parent
        .task_by_ref_name("child")
        .unwrap()
        .sub_workflow_id
        .clone()
        .unwrap();
    let child = workflow(client, &child_id).await;
    assert_eq!(child.status, WorkflowStatus::Completed);
    let references: Vec<&str> = child
        .tasks
        .iter()
        .map(|t| t.reference_task_name.as_str())
        .collect();
    for expected in [
        "fork__1",
        "big_work__1",
        "join__1",
        "fork__2",
        "small_work__2",
        "tally__2",
    ] {
        assert!(
            references.contains(&expected),
            "{expected} in {references:?}"
        );
    }
    assert!(!references.contains(&"big_work__2") && !references.contains(&"small_work__1"));
}

async fn a_dynamic_fork_of_sub_workflows_joins_their_outputs(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register(
        client,
        json!({"name": "resize_one", "tasks": [
            {"name": "scale", "taskReferenceName": "scale", "type": "INLINE",
             "inputParameters": {"evaluatorType": "javascript", "w": "${workflow.input.w}", "expression": "$.w / 2"}}],
         "outputParameters": {"half": "${scale.output.result}"}}),
    )
    .await;
    register(
        client,
        json!({"name": "resize_all", "tasks": [
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
             "inputParameters": {"forkTaskWorkflow": "resize_one", "forkTaskInputs": "${workflow.input.images}"}},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"}]}),
    )
    .await;
    let id = start(
        client,
        "resize_all",
        json!({"images": [{"w": 10}, {"w": 64}]}),
    )
    .await;
    let done = workflow(client, &id).await;
    assert_eq!(done.status, WorkflowStatus::Completed, "{done:?}");
    let join = done.task_by_ref_name("join").unwrap();
    assert_eq!(join.output_data["_fan_0"]["half"], json!(5));
    assert_eq!(join.output_data["_fan_1"]["half"], json!(32));
    let branch = done.task_by_ref_name("_fan_1").unwrap();
    assert_eq!(branch.task_type, "SUB_WORKFLOW");
    let child = workflow(client, branch.sub_workflow_id.as_deref().unwrap()).await;
    assert_eq!(child.parent_workflow_id.as_deref(), Some(id.as_str()));
}

async fn a_list_loop_with_keep_last_n_keeps_only_the_last_rounds(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register(
        client,
        json!({"name": "chunks", "tasks": [
            {"name": "each", "taskReferenceName": "each", "type": "DO_WHILE", "items": "${workflow.input.chunks}",
             "inputParameters": {"keepLastN": 2},
             "loopOver": [{"name": "chunk_worker", "taskReferenceName": "chunk",
                           "inputParameters": {"item": "${each.output.loopItem}"}}]}]}),
    )
    .await;
    let id = start(client, "chunks", json!({"chunks": ["a", "b", "c", "d"]})).await;
    for expected in ["a", "b", "c", "d"] {
        let task = poll_one(client, "chunk_worker").await;
        assert_eq!(task.input_data["item"], json!(expected));
        client
            .update_task(&support::work::result(
                &task,
                baton_model::TaskResultStatus::Completed,
                json!({"seen": expected}),
            ))
            .await
            .unwrap();
    }
    let done = workflow(client, &id).await;
    assert_eq!(done.status, WorkflowStatus::Completed);
    let references: Vec<&str> = done
        .tasks
        .iter()
        .map(|t| t.reference_task_name.as_str())
        .collect();
    assert_eq!(references, ["each", "chunk__3", "chunk__4"]);
    let each = done.task_by_ref_name("each").unwrap();
    assert_eq!(each.output_data["4"], json!({"chunk": {"seen": "d"}}));
    assert!(each.output_data.get("1").is_none());
}

async fn an_exclusive_join_passes_on_the_case_that_ran(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register(
        client,
        json!({"name": "xj", "tasks": [
            {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
             "expression": "k", "inputParameters": {"k": "${workflow.input.k}"},
             "decisionCases": {"left": [{"name": "xj_left", "taskReferenceName": "left"}]},
             "defaultCase": [{"name": "xj_right", "taskReferenceName": "right"}]},
            {"name": "xjoin", "taskReferenceName": "xjoin", "type": "EXCLUSIVE_JOIN",
             "joinOn": ["left"], "defaultExclusiveJoinTask": ["right"]}],
         "outputParameters": {"side": "${xjoin.output.side}"}}),
    )
    .await;
    let id = start(client, "xj", json!({"k": "nope"})).await;
    complete_one(client, "xj_right", json!({"side": "right"})).await;
    let done = workflow(client, &id).await;
    assert_eq!(done.status, WorkflowStatus::Completed);
    assert_eq!(done.output, map(json!({"side": "right"})));
    assert_eq!(
        done.task_by_ref_name("xjoin").unwrap().status,
        TaskStatus::Completed
    );
}

async fn decisions_pick_their_case_by_value_param_and_by_expression(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    register(
        client,
        json!({"name": "decide_it", "tasks": [
            {"name": "by_param", "taskReferenceName": "by_param", "type": "DECISION",
             "caseValueParam": "kind", "inputParameters": {"kind": "${workflow.input.kind}"},
             "decisionCases": {"fast": [{"name": "fast_path", "taskReferenceName": "fast_path", "type": "NOOP"}]},
             "defaultCase": [{"name": "slow_path", "taskReferenceName": "slow_path", "type": "NOOP"}]},
            {"name": "by_script", "taskReferenceName": "by_script", "type": "DECISION",
             "caseExpression": "$.n > 10 ? 'big' : 'small'", "inputParameters": {"n": "${workflow.input.n}"},
             "decisionCases": {"big": [{"name": "decision_big", "taskReferenceName": "big"}]},
             "defaultCase": [{"name": "decision_small", "taskReferenceName": "small"}]}]}),
    )
    .await;
    let id = start(client, "decide_it", json!({"kind": "fast", "n": 42})).await;
    complete_one(client, "decision_big", json!({"size": "big"})).await;
    let done = workflow(client, &id).await;
    assert_eq!(done.status, WorkflowStatus::Completed, "{done:?}");
    let references: Vec<&str> = done
        .tasks
        .iter()
        .map(|t| t.reference_task_name.as_str())
        .collect();
    assert_eq!(references, ["by_param", "fast_path", "by_script", "big"]);
    let by_script = done.task_by_ref_name("by_script").unwrap();
    assert_eq!(by_script.output_data, map(json!({"caseOutput": ["big"]})));
    assert_eq!(by_script.input_data["case"], json!("big"));
    assert_eq!(
        done.task_by_ref_name("by_param").unwrap().output_data,
        map(json!({"caseOutput": ["fast"]}))
    );
}

on_both_backends!(
    decisions_pick_their_case_by_value_param_and_by_expression,
    a_fork_in_a_loop_in_a_sub_workflow_with_switches_completes_with_the_right_output,
    a_dynamic_fork_of_sub_workflows_joins_their_outputs,
    a_list_loop_with_keep_last_n_keeps_only_the_last_rounds,
    an_exclusive_join_passes_on_the_case_that_ran,
);
