//! System tasks that run inside the decision, end to end through the API.

mod support;

use baton_model::{JsonMap, TaskStatus, WorkflowDef, WorkflowStatus};
use serde_json::json;
use support::work::{complete_one, map};
use support::{spawn_app, TestDb};

/// SET_VARIABLE, then a SWITCH on the input: "split" forks into two worker branches joined
/// before a TERMINATE; anything else takes a NOOP.
fn definition() -> WorkflowDef {
    serde_json::from_value(json!({
        "name": "operators",
        "tasks": [
            {"name": "remember", "taskReferenceName": "remember", "type": "SET_VARIABLE",
             "inputParameters": {"mode": "${workflow.input.mode}"}},
            {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
             "expression": "mode", "inputParameters": {"mode": "${workflow.variables.mode}"},
             "decisionCases": {"split": [
                {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [
                    [{"name": "ops_left", "taskReferenceName": "left", "inputParameters": {"x": 1}}],
                    [{"name": "ops_right", "taskReferenceName": "right", "inputParameters": {"x": 2}}]
                ]},
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left", "right"]},
                {"name": "stop", "taskReferenceName": "stop", "type": "TERMINATE", "inputParameters": {
                    "terminationStatus": "COMPLETED",
                    "workflowOutput": {"left": "${join.output.left.v}", "right": "${join.output.right.v}"}}}
             ]},
             "defaultCase": [{"name": "skip", "taskReferenceName": "skip", "type": "NOOP"}]},
            {"name": "ops_after", "taskReferenceName": "after"}
        ]
    }))
    .unwrap()
}

async fn a_switch_into_a_fork_join_then_terminate_completes_with_the_joined_output(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&definition(), false)
        .await
        .unwrap();
    let id = client
        .start_workflow_by_name(
            "operators",
            None,
            None,
            None,
            &map(json!({"mode": "split"})),
        )
        .await
        .unwrap();

    complete_one(client, "ops_right", json!({"v": "R"})).await;
    let running = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(running.status, WorkflowStatus::Running);
    assert_eq!(running.variables["mode"], json!("split"));
    complete_one(client, "ops_left", json!({"v": "L"})).await;

    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(workflow.output, map(json!({"left": "L", "right": "R"})));
    let types: Vec<(&str, TaskStatus)> = workflow
        .tasks
        .iter()
        .map(|t| (t.task_type.as_str(), t.status))
        .collect();
    assert_eq!(
        types[..3],
        [
            ("SET_VARIABLE", TaskStatus::Completed),
            ("SWITCH", TaskStatus::Completed),
            ("FORK", TaskStatus::Completed)
        ]
    );
    assert!(
        workflow
            .tasks
            .iter()
            .all(|t| t.reference_task_name != "after"),
        "TERMINATE ended the workflow"
    );
    assert_eq!(client.queue_size("ops_after", None).await.unwrap(), 0);
}

async fn the_default_case_runs_a_noop_and_continues(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    client
        .register_workflow_def(&definition(), false)
        .await
        .unwrap();
    let id = client
        .start_workflow_by_name(
            "operators",
            None,
            None,
            None,
            &map(json!({"mode": "plain"})),
        )
        .await
        .unwrap();
    complete_one(client, "ops_after", json!({"done": true})).await;
    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(workflow.output, map(json!({"done": true})));
    let skip = workflow
        .tasks
        .iter()
        .find(|t| t.reference_task_name == "skip")
        .expect("the NOOP ran");
    assert_eq!(
        (skip.task_type.as_str(), skip.status),
        ("NOOP", TaskStatus::Completed)
    );
}

async fn invalid_operator_definitions_are_400s_that_name_the_task(db: TestDb) {
    let app = spawn_app(db).await;
    let mut bad_join = definition();
    bad_join.tasks[1].decision_cases.get_mut("split").unwrap()[1]
        .join_on
        .push("ghost".into());
    let error = app
        .client
        .register_workflow_def(&bad_join, false)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    let messages: Vec<String> = error
        .error_response()
        .unwrap()
        .validation_errors
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("task join") && m.contains("ghost")),
        "{messages:?}"
    );

    let mut no_expression = definition();
    no_expression.tasks[1].expression = None;
    let error = app
        .client
        .register_workflow_def(&no_expression, false)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert!(format!("{:?}", error.error_response())
        .contains("expression field is required for taskType: SWITCH taskName: route"));
}

async fn wait_and_human_tasks_complete_by_signal_and_by_reference(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "approval", "tasks": [
        {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"},
        {"name": "review", "taskReferenceName": "review", "type": "HUMAN"}
    ], "outputParameters": {"decision": "${review.output.decision}", "held": "${hold.output.note}"}}))
    .unwrap();
    client.register_workflow_def(&def, false).await.unwrap();
    let id = client
        .start_workflow_by_name("approval", None, None, None, &JsonMap::new())
        .await
        .unwrap();
    let http = client.http();

    let signal = http
        .post(client.api_url(&format!("/tasks/{id}/COMPLETED/signal")))
        .json(&json!({"note": "go"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signal.status().as_u16(), 200);
    let by_reference = http
        .post(client.api_url(&format!("/tasks/{id}/review/COMPLETED?workerid=alice")))
        .json(&json!({"decision": "approved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_reference.status().as_u16(), 200);
    let review_id = by_reference.text().await.unwrap();

    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(
        workflow.output,
        map(json!({"decision": "approved", "held": "go"}))
    );
    let review = workflow
        .tasks
        .iter()
        .find(|t| t.reference_task_name == "review")
        .unwrap();
    assert_eq!(
        (review.task_id.as_str(), review.worker_id.as_deref()),
        (review_id.as_str(), Some("alice"))
    );

    // Nothing pending any more: an empty 200 by reference, a 404 for a signal.
    let again = http
        .post(client.api_url(&format!("/tasks/{id}/review/COMPLETED")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (again.status().as_u16(), again.text().await.unwrap()),
        (200, String::new())
    );
    let late_signal = http
        .post(client.api_url(&format!("/tasks/{id}/COMPLETED/signal")))
        .send()
        .await
        .unwrap();
    assert_eq!(late_signal.status().as_u16(), 404);
    let unknown = http
        .post(client.api_url("/tasks/no-such-workflow/review/COMPLETED"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let bad_status = http
        .post(client.api_url(&format!("/tasks/{id}/review/DONE")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_status.status().as_u16(), 400);
    let bad_json = http
        .post(client.api_url(&format!("/tasks/{id}/review/COMPLETED")))
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status().as_u16(), 400);
}

async fn inline_scripts_compute_and_a_runaway_script_fails_only_its_workflow(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "scripted", "tasks": [
        {"name": "calc", "taskReferenceName": "calc", "type": "INLINE", "inputParameters": {
            "evaluatorType": "graaljs", "expression": "${workflow.input.script}", "n": "${workflow.input.n}"}},
        {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "javascript",
         "expression": "$.v > 10 ? 'big' : 'small'", "inputParameters": {"v": "${calc.output.result}"},
         "decisionCases": {"big": [{"name": "mark", "taskReferenceName": "mark", "type": "SET_VARIABLE", "inputParameters": {"size": "big"}}]}}
    ], "outputParameters": {"value": "${calc.output.result}", "size": "${workflow.variables.size}"}}))
    .unwrap();
    client.register_workflow_def(&def, false).await.unwrap();

    let ok = client
        .start_workflow_by_name(
            "scripted",
            None,
            None,
            None,
            &map(json!({"script": "$.n * 3", "n": 7})),
        )
        .await
        .unwrap();
    let workflow = client.get_workflow(&ok, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(workflow.output, map(json!({"value": 21, "size": "big"})));

    let runaway = client
        .start_workflow_by_name(
            "scripted",
            None,
            None,
            None,
            &map(json!({"script": "while(true){}", "n": 1})),
        )
        .await
        .unwrap();
    let workflow = client.get_workflow(&runaway, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Failed);
    assert_eq!(
        workflow.reason_for_incompletion.as_deref(),
        Some("script ran past its CPU budget and was stopped")
    );
    assert_eq!(
        client.health().await.unwrap()["healthy"],
        json!(true),
        "the server stays healthy"
    );
}

async fn a_dynamic_task_is_polled_as_the_task_type_its_input_names(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "dynamic", "tasks": [
        {"name": "pick", "taskReferenceName": "pick", "type": "DYNAMIC", "dynamicTaskNameParam": "run",
         "inputParameters": {"run": "${workflow.input.run}"}}]}))
    .unwrap();
    client.register_workflow_def(&def, false).await.unwrap();
    let id = client
        .start_workflow_by_name(
            "dynamic",
            None,
            None,
            None,
            &map(json!({"run": "dyn_resize"})),
        )
        .await
        .unwrap();
    complete_one(client, "dyn_resize", json!({"size": 3})).await;
    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(workflow.tasks[0].task_type, "dyn_resize");
    assert_eq!(workflow.output, map(json!({"size": 3})));
}

async fn sub_workflows_by_name_and_started_workflows_run_and_report_back(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let child: WorkflowDef = serde_json::from_value(json!({"name": "child_flow", "tasks": [
        {"name": "child_step", "taskReferenceName": "step", "inputParameters": {"n": "${workflow.input.n}"}}
    ], "outputParameters": {"doubled": "${step.output.doubled}"}}))
    .unwrap();
    let parent: WorkflowDef = serde_json::from_value(json!({"name": "parent_flow", "tasks": [
        {"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW", "inputParameters": {"n": "${workflow.input.n}"},
         "subWorkflowParam": {"name": "child_flow", "version": 1}},
        {"name": "kick", "taskReferenceName": "kick", "type": "START_WORKFLOW",
         "inputParameters": {"startWorkflow": {"name": "child_flow", "input": {"n": 100}}}}
    ], "outputParameters": {"fromChild": "${sub.output.doubled}", "started": "${kick.output.workflowId}"}}))
    .unwrap();
    client.register_workflow_def(&child, false).await.unwrap();
    client.register_workflow_def(&parent, false).await.unwrap();
    let id = client
        .start_workflow_by_name("parent_flow", None, None, None, &map(json!({"n": 4})))
        .await
        .unwrap();

    let poll = baton_client::PollRequest {
        count: 1,
        timeout_ms: 2000,
        worker_id: None,
        domain: None,
    };
    let task = client
        .batch_poll("child_step", &poll)
        .await
        .unwrap()
        .pop()
        .expect("the child's task");
    let n = task.input_data["n"].as_i64().unwrap();
    assert_eq!(n, 4, "the child's input is the SUB_WORKFLOW task's input");
    let result = baton_model::TaskResult {
        workflow_instance_id: task.workflow_instance_id.clone(),
        task_id: task.task_id.clone(),
        status: Some(baton_model::TaskResultStatus::Completed),
        output_data: map(json!({"doubled": n * 2})),
        ..Default::default()
    };
    client.update_task(&result).await.unwrap();

    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(workflow.output["fromChild"], json!(8));
    let started = workflow.output["started"].as_str().unwrap().to_owned();
    let detached = client.get_workflow(&started, true).await.unwrap();
    assert_eq!(detached.status, WorkflowStatus::Running);
    assert_eq!(detached.input, map(json!({"n": 100})));
    assert_eq!(detached.parent_workflow_id, None);
    let child_run = client
        .get_workflow(&task.workflow_instance_id, false)
        .await
        .unwrap();
    assert_eq!(child_run.parent_workflow_id.as_deref(), Some(id.as_str()));
}

async fn a_workflow_that_contains_itself_is_refused_at_start(db: TestDb) {
    let app = spawn_app(db).await;
    let looping: WorkflowDef = serde_json::from_value(json!({"name": "ouroboros", "tasks": [
        {"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "ouroboros"}}]}))
    .unwrap();
    app.client
        .register_workflow_def(&looping, false)
        .await
        .unwrap();
    let error = app
        .client
        .start_workflow_by_name("ouroboros", None, None, None, &JsonMap::new())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert!(
        error.to_string().contains("ouroboros -> ouroboros")
            || format!("{:?}", error.error_response()).contains("ouroboros -> ouroboros")
    );
}

async fn a_do_while_loop_runs_its_worker_task_until_the_condition_fails(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "paging", "tasks": [
        {"name": "pages", "taskReferenceName": "pages", "type": "DO_WHILE",
         "loopCondition": "$.fetch_page['more'] == true",
         "loopOver": [{"name": "fetch_page", "taskReferenceName": "fetch_page",
                       "inputParameters": {"iteration": "${pages.output.iteration}"}}]}
    ], "outputParameters": {"iterations": "${pages.output.iteration}", "last": "${fetch_page.output.page}"}}))
    .unwrap();
    client.register_workflow_def(&def, false).await.unwrap();
    let id = client
        .start_workflow_by_name("paging", None, None, None, &JsonMap::new())
        .await
        .unwrap();
    for page in 1..=3 {
        complete_one(
            client,
            "fetch_page",
            json!({"page": page, "more": page < 3}),
        )
        .await;
    }
    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(workflow.output, map(json!({"iterations": 3, "last": 3})));
    let refs: Vec<&str> = workflow
        .tasks
        .iter()
        .map(|t| t.reference_task_name.as_str())
        .collect();
    assert_eq!(
        refs,
        vec!["pages", "fetch_page__1", "fetch_page__2", "fetch_page__3"]
    );
}

async fn a_dynamic_fork_runs_one_worker_task_per_input(db: TestDb) {
    let app = spawn_app(db).await;
    let client = &app.client;
    let def: WorkflowDef = serde_json::from_value(json!({"name": "fan_out", "tasks": [
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC", "inputParameters": {
            "forkTaskName": "fan_item", "forkTaskInputs": "${workflow.input.items}"}},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
    ], "outputParameters": {"joined": "${join.output}"}}))
    .unwrap();
    client.register_workflow_def(&def, false).await.unwrap();
    let id = client
        .start_workflow_by_name(
            "fan_out",
            None,
            None,
            None,
            &map(json!({"items": [{"v": 1}, {"v": 2}]})),
        )
        .await
        .unwrap();
    for _ in 0..2 {
        complete_one(client, "fan_item", json!({"done": true})).await;
    }
    let workflow = client.get_workflow(&id, true).await.unwrap();
    assert_eq!(workflow.status, WorkflowStatus::Completed);
    assert_eq!(
        workflow.output,
        map(json!({"joined": {"_fan_item_0": {"done": true}, "_fan_item_1": {"done": true}}}))
    );
}

on_both_backends!(
    a_dynamic_fork_runs_one_worker_task_per_input,
    a_do_while_loop_runs_its_worker_task_until_the_condition_fails,
    sub_workflows_by_name_and_started_workflows_run_and_report_back,
    a_workflow_that_contains_itself_is_refused_at_start,
    a_dynamic_task_is_polled_as_the_task_type_its_input_names,
    inline_scripts_compute_and_a_runaway_script_fails_only_its_workflow,
    wait_and_human_tasks_complete_by_signal_and_by_reference,
    a_switch_into_a_fork_join_then_terminate_completes_with_the_joined_output,
    the_default_case_runs_a_noop_and_continues,
    invalid_operator_definitions_are_400s_that_name_the_task,
);
