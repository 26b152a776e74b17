//! The decider as data in, data out: definitions and worker results in, decisions out.

use baton_engine::{apply_task_result, decide, EngineError, QueueOp, StartParams};
use baton_model::{JsonMap, TaskResult, TaskResultStatus, TaskStatus, WorkflowDef, WorkflowStatus};
use serde_json::{json, Value};

mod support;

use support::*;

#[test]
fn starting_schedules_the_first_task_with_its_input_resolved() {
    let (run, decision) = Run::start(three_steps(), json!({"n": 4}));
    assert_eq!(decision.workflow.status, WorkflowStatus::Running);
    assert_eq!(decision.workflow.tasks.len(), 1);
    let a = run.task("a");
    assert_eq!(a.status, TaskStatus::Scheduled);
    assert_eq!(
        a.task_type, "task_a",
        "a SIMPLE task's type is its name, the queue it waits in"
    );
    assert_eq!(a.input_data, map(json!({"n": 4, "me": "t-1"})));
    assert_eq!((a.seq, a.scheduled_time, a.retry_count), (1, T0, 0));
    assert_eq!(decision.changed_tasks, vec!["t-1"]);
    assert_eq!(pushes(&decision), vec![("task_a".into(), "t-1".into(), T0)]);
}

#[test]
fn each_completion_schedules_the_next_task_and_the_last_completes_the_workflow() {
    let (mut run, _) = Run::start(three_steps(), json!({"n": 4}));
    let after_a = run.report("a", TaskResultStatus::Completed, json!({"value": 10}));
    assert_eq!(
        run.task("b").input_data,
        map(json!({"prev": 10, "text": "got 10"}))
    );
    assert_eq!(
        pushes(&after_a),
        vec![("task_b".into(), "t-2".into(), run.now)]
    );
    assert!(after_a.queue.contains(&QueueOp::Remove {
        task_id: "t-1".into()
    }));
    assert!(run.task("a").executed);

    run.report("b", TaskResultStatus::Completed, json!({"value": 20}));
    assert_eq!(
        run.task("c").input_data,
        map(json!({"all": {"a": 10, "b": [20]}}))
    );
    assert_eq!(run.workflow.status, WorkflowStatus::Running);

    let last = run.report("c", TaskResultStatus::Completed, json!({"sum": 30}));
    assert_eq!(last.workflow.status, WorkflowStatus::Completed);
    assert_eq!(last.workflow.output, map(json!({"sum": 30, "wf": "wf-1"})));
    assert_eq!(last.workflow.end_time, run.now);
    assert!(pushes(&last).is_empty());
}

#[test]
fn a_failure_with_no_retries_left_fails_the_workflow_and_schedules_nothing() {
    let def = definition(json!({"name": "w", "tasks": [
        {"name": "x", "taskReferenceName": "x", "taskDefinition": {"name": "x", "retryCount": 0}},
        {"name": "y", "taskReferenceName": "y"}]}));
    let (mut run, _) = Run::start(def, json!({}));
    let decision = run.report_with("x", |r| {
        r.status = Some(TaskResultStatus::Failed);
        r.reason_for_incompletion = Some("boom".into());
    });
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert_eq!(
        decision.workflow.reason_for_incompletion.as_deref(),
        Some("boom")
    );
    assert!(decision.workflow.failed_reference_task_names.contains("x"));
    assert_eq!(decision.workflow.tasks.len(), 1);
    assert!(pushes(&decision).is_empty());
}

#[test]
fn a_terminal_error_is_never_retried() {
    let def = definition(json!({"name": "w", "tasks": [
        {"name": "x", "taskReferenceName": "x", "taskDefinition": {"name": "x", "retryCount": 5}}]}));
    let (mut run, _) = Run::start(def, json!({}));
    let decision = run.report("x", TaskResultStatus::FailedWithTerminalError, json!({}));
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert_eq!(decision.workflow.tasks.len(), 1);
}

/// The delays of successive retries, in seconds, for a task definition.
fn retry_delays(task_def: Value, attempts: usize) -> Vec<i64> {
    let def = definition(
        json!({"name": "w", "tasks": [{"name": "x", "taskReferenceName": "x", "taskDefinition": task_def}]}),
    );
    let (mut run, _) = Run::start(def, json!({}));
    let mut delays = Vec::new();
    for _ in 0..attempts {
        let decision = run.report("x", TaskResultStatus::Failed, json!({}));
        let (_, _, visible_at) = pushes(&decision).pop().expect("a retry was queued");
        delays.push((visible_at - run.now) / 1000);
    }
    delays
}

#[test]
fn fixed_retries_wait_the_same_delay_each_time() {
    let delays = retry_delays(
        json!({"name": "x", "retryCount": 3, "retryDelaySeconds": 5}),
        3,
    );
    assert_eq!(delays, vec![5, 5, 5]);
}

#[test]
fn linear_backoff_grows_by_the_scale_factor() {
    let delays = retry_delays(
        json!({"name": "x", "retryCount": 3, "retryDelaySeconds": 2, "retryLogic": "LINEAR_BACKOFF", "backoffScaleFactor": 3}),
        3,
    );
    assert_eq!(delays, vec![6, 12, 18]);
}

#[test]
fn exponential_backoff_doubles_up_to_the_cap() {
    let delays = retry_delays(
        json!({"name": "x", "retryCount": 5, "retryDelaySeconds": 1, "retryLogic": "EXPONENTIAL_BACKOFF", "maxRetryDelaySeconds": 6}),
        5,
    );
    assert_eq!(delays, vec![1, 2, 4, 6, 6]);
}

#[test]
fn a_retry_is_a_new_task_that_points_at_the_one_it_replaces() {
    let def = definition(json!({"name": "w", "tasks": [
        {"name": "x", "taskReferenceName": "x", "retryCount": 1, "taskDefinition": {"name": "x", "retryCount": 0, "retryDelaySeconds": 0}}]}));
    let (mut run, _) = Run::start(def, json!({}));
    let decision = run.report("x", TaskResultStatus::Failed, json!({}));
    assert_eq!(
        decision.workflow.tasks.len(),
        2,
        "the workflow task's retryCount overrides the definition's"
    );
    let (first, retry) = (&decision.workflow.tasks[0], &decision.workflow.tasks[1]);
    assert!(first.retried);
    assert_eq!(retry.retry_count, 1);
    assert_eq!(
        retry.retried_task_id.as_deref(),
        Some(first.task_id.as_str())
    );
    assert_eq!(retry.seq, 2);
    let decision = run.report("x", TaskResultStatus::Failed, json!({}));
    assert_eq!(
        decision.workflow.status,
        WorkflowStatus::Failed,
        "retries exhausted"
    );
}

#[test]
fn an_optional_task_that_fails_completes_with_errors_and_the_flow_continues() {
    let def = definition(json!({"name": "w", "tasks": [
        {"name": "x", "taskReferenceName": "x", "optional": true, "taskDefinition": {"name": "x", "retryCount": 0}},
        {"name": "y", "taskReferenceName": "y"}]}));
    let (mut run, _) = Run::start(def, json!({}));
    let decision = run.report("x", TaskResultStatus::Failed, json!({}));
    assert_eq!(run.task("x").status, TaskStatus::CompletedWithErrors);
    assert_eq!(decision.workflow.status, WorkflowStatus::Running);
    assert_eq!(run.task("y").status, TaskStatus::Scheduled);
}

#[test]
fn in_progress_hands_the_task_back_to_its_queue_after_the_callback() {
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    let decision = run.report_with("a", |r| {
        r.status = Some(TaskResultStatus::InProgress);
        r.callback_after_seconds = 30;
        r.output_data = map(json!({"progress": 50}));
    });
    let a = run.task("a");
    assert_eq!(a.status, TaskStatus::Scheduled);
    assert_eq!(a.output_data, map(json!({"progress": 50})));
    assert_eq!(
        pushes(&decision),
        vec![("task_a".into(), a.task_id.clone(), run.now + 30_000)]
    );
    assert_eq!(decision.workflow.tasks.len(), 1, "nothing new is scheduled");
}

#[test]
fn extend_lease_only_refreshes_the_lease() {
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    let decision = run.report_with("a", |r| {
        r.status = Some(TaskResultStatus::InProgress);
        r.extend_lease = true;
        r.output_data = map(json!({"ignored": true}));
    });
    assert_eq!(
        decision.queue,
        vec![QueueOp::ExtendLease {
            task_id: "t-1".into(),
            leased_until: run.now + 3_600_000
        }]
    );
    assert_eq!(run.task("a").status, TaskStatus::InProgress);
    assert!(run.task("a").output_data.is_empty());
}

#[test]
fn a_result_for_a_finished_task_changes_nothing() {
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    run.report("a", TaskResultStatus::Completed, json!({"value": 1}));
    let before = run.workflow.clone();
    let a = before.task_by_ref_name("a").unwrap();
    let late = TaskResult {
        workflow_instance_id: "wf-1".into(),
        task_id: a.task_id.clone(),
        status: Some(TaskResultStatus::Failed),
        ..TaskResult::default()
    };
    let decision = apply_task_result(before.clone(), &late, run.now + 5, &mut run.ids).unwrap();
    assert_eq!(decision.workflow, before);
    assert!(decision.changed_tasks.is_empty());
}

#[test]
fn unknown_tasks_and_missing_statuses_are_typed_errors() {
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    let unknown = TaskResult {
        task_id: "nope".into(),
        status: Some(TaskResultStatus::Completed),
        ..TaskResult::default()
    };
    assert_eq!(
        apply_task_result(run.workflow.clone(), &unknown, T0, &mut run.ids),
        Err(EngineError::TaskNotFound("nope".into()))
    );
    let no_status = TaskResult {
        task_id: "t-1".into(),
        status: None,
        ..TaskResult::default()
    };
    assert_eq!(
        apply_task_result(run.workflow.clone(), &no_status, T0, &mut run.ids),
        Err(EngineError::MissingStatus)
    );
}

#[test]
fn task_to_domain_routes_tasks_to_domain_queues() {
    let params = StartParams {
        workflow_id: "wf-1".into(),
        task_to_domain: [
            ("*".to_owned(), "blue".to_owned()),
            ("task_b".to_owned(), "green".to_owned()),
        ]
        .into(),
        ..StartParams::default()
    };
    let (mut run, decision) = Run::start_with(three_steps(), params);
    assert_eq!(pushes(&decision)[0].0, "blue:task_a");
    assert_eq!(run.task("a").domain.as_deref(), Some("blue"));
    let decision = run.report("a", TaskResultStatus::Completed, json!({}));
    assert_eq!(
        pushes(&decision)[0].0,
        "green:task_b",
        "a task type's own entry beats \"*\""
    );
}

#[test]
fn a_start_delay_hides_the_task_until_it_passes() {
    let def = definition(
        json!({"name": "w", "tasks": [{"name": "x", "taskReferenceName": "x", "startDelay": 7}]}),
    );
    let (_, decision) = Run::start(def, json!({}));
    assert_eq!(pushes(&decision)[0].2, T0 + 7000);
}

#[test]
fn a_paused_workflow_makes_no_progress() {
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    run.workflow.status = WorkflowStatus::Paused;
    let decision = run.report("a", TaskResultStatus::Completed, json!({"value": 1}));
    assert_eq!(
        decision.workflow.tasks.len(),
        1,
        "the result is recorded, nothing is scheduled"
    );
    assert_eq!(run.task("a").status, TaskStatus::Completed);
    let mut resumed = run.workflow.clone();
    resumed.status = WorkflowStatus::Running;
    let decision = decide(resumed, run.now, &mut run.ids).unwrap();
    assert_eq!(
        decision.workflow.tasks.len(),
        2,
        "deciding after resume schedules the next task"
    );
}

#[test]
fn without_output_parameters_the_output_is_the_last_tasks_output() {
    let mut def = three_steps();
    def.output_parameters.clear();
    let (mut run, _) = Run::start(def, json!({"n": 1}));
    run.report("a", TaskResultStatus::Completed, json!({"value": 1}));
    run.report("b", TaskResultStatus::Completed, json!({"value": 2}));
    let decision = run.report("c", TaskResultStatus::Completed, json!({"final": true}));
    assert_eq!(decision.workflow.output, map(json!({"final": true})));
}

#[test]
fn deciding_twice_changes_nothing_the_second_time() {
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    run.report("a", TaskResultStatus::Completed, json!({"value": 1}));
    let again = decide(run.workflow.clone(), run.now + 1, &mut run.ids).unwrap();
    assert!(again.is_noop());
    assert_eq!(again.workflow.tasks, run.workflow.tasks);
}

// ---- Operators and system tasks that run inside the decision ----

fn statuses(run: &Run) -> Vec<(String, TaskStatus)> {
    run.workflow
        .tasks
        .iter()
        .map(|t| (t.reference_task_name.clone(), t.status))
        .collect()
}

fn switch_def(evaluator: Value) -> WorkflowDef {
    let mut switch = json!({"name": "route", "taskReferenceName": "route", "type": "SWITCH",
        "inputParameters": {"kind": "${workflow.input.kind}"},
        "decisionCases": {
            "fast": [{"name": "fast_a", "taskReferenceName": "fast_a"}, {"name": "fast_b", "taskReferenceName": "fast_b"}],
            "empty": []
        },
        "defaultCase": [{"name": "slow", "taskReferenceName": "slow"}]});
    for (key, value) in evaluator.as_object().unwrap() {
        switch[key] = value.clone();
    }
    definition(
        json!({"name": "sw", "tasks": [switch, {"name": "after", "taskReferenceName": "after"}]}),
    )
}

#[test]
fn a_switch_runs_the_selected_case_then_continues_after_it() {
    let (mut run, decision) = Run::start(
        switch_def(json!({"evaluatorType": "value-param", "expression": "kind"})),
        json!({"kind": "fast"}),
    );
    let route = run.task("route");
    assert_eq!(route.status, TaskStatus::Completed);
    assert_eq!(route.task_type, "SWITCH");
    assert_eq!(
        route.output_data,
        map(json!({"evaluationResult": ["fast"], "selectedCase": "fast"}))
    );
    assert_eq!(
        pushes(&decision)
            .iter()
            .map(|p| p.0.as_str())
            .collect::<Vec<_>>(),
        vec!["fast_a"]
    );
    run.report("fast_a", TaskResultStatus::Completed, json!({}));
    run.report("fast_b", TaskResultStatus::Completed, json!({}));
    assert_eq!(
        run.task("after").status,
        TaskStatus::Scheduled,
        "the flow continues after the switch"
    );
    let done = run.report("after", TaskResultStatus::Completed, json!({}));
    assert_eq!(done.workflow.status, WorkflowStatus::Completed);
    assert!(run.workflow.task_by_ref_name("slow").is_none());
}

#[test]
fn an_unmatched_switch_value_takes_the_default_case() {
    let (run, _) = Run::start(
        switch_def(json!({"evaluatorType": "value-param", "expression": "kind"})),
        json!({"kind": "other"}),
    );
    assert_eq!(
        run.task("route").output_data["selectedCase"],
        json!("other")
    );
    assert_eq!(run.task("slow").status, TaskStatus::Scheduled);
}

#[test]
fn an_empty_case_goes_straight_to_the_task_after_the_switch() {
    let (run, _) = Run::start(
        switch_def(json!({"evaluatorType": "value-param", "expression": "kind"})),
        json!({"kind": "empty"}),
    );
    assert_eq!(
        statuses(&run),
        vec![
            ("route".into(), TaskStatus::Completed),
            ("after".into(), TaskStatus::Scheduled)
        ]
    );
}

#[test]
fn the_deprecated_decision_selects_by_case_value_param() {
    let mut def = switch_def(json!({"caseValueParam": "kind"}));
    def.tasks[0].r#type = "DECISION".into();
    let (run, _) = Run::start(def, json!({"kind": "fast"}));
    assert_eq!(run.task("route").task_type, "DECISION");
    assert_eq!(run.task("fast_a").status, TaskStatus::Scheduled);
}

fn fork_def(join_on: Value, optional_b: bool) -> WorkflowDef {
    definition(json!({"name": "fj", "tasks": [
        {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [
            [{"name": "a1", "taskReferenceName": "a1"}, {"name": "a2", "taskReferenceName": "a2"}],
            [{"name": "b1", "taskReferenceName": "b1", "optional": optional_b, "taskDefinition": {"name": "b1", "retryCount": 0}}]
        ]},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": join_on},
        {"name": "end", "taskReferenceName": "end"}
    ]}))
}

#[test]
fn a_fork_starts_every_branch_and_the_join_waits_for_all_of_them() {
    let (mut run, decision) = Run::start(fork_def(json!(["a2", "b1"]), false), json!({}));
    let mut queued: Vec<_> = pushes(&decision).into_iter().map(|p| p.0).collect();
    queued.sort();
    assert_eq!(queued, vec!["a1", "b1"]);
    assert_eq!(run.task("fork").task_type, "FORK");
    assert_eq!(run.task("join").status, TaskStatus::InProgress);
    assert_eq!(run.task("join").input_data["joinOn"], json!(["a2", "b1"]));

    run.report("b1", TaskResultStatus::Completed, json!({"b": 1}));
    run.report("a1", TaskResultStatus::Completed, json!({}));
    assert_eq!(
        run.task("join").status,
        TaskStatus::InProgress,
        "a2 is still to run"
    );
    let decision = run.report("a2", TaskResultStatus::Completed, json!({"a": 2}));
    let join = run.task("join");
    assert_eq!(join.status, TaskStatus::Completed);
    assert_eq!(
        join.output_data,
        map(json!({"a2": {"a": 2}, "b1": {"b": 1}}))
    );
    assert_eq!(run.task("end").status, TaskStatus::Scheduled);
    assert_eq!(
        pushes(&decision).len(),
        1,
        "the join is scheduled once, not once per branch"
    );
}

#[test]
fn an_optional_branch_failure_completes_the_join_with_errors() {
    let (mut run, _) = Run::start(fork_def(json!(["a2", "b1"]), true), json!({}));
    run.report("b1", TaskResultStatus::Failed, json!({}));
    run.report("a1", TaskResultStatus::Completed, json!({}));
    run.report("a2", TaskResultStatus::Completed, json!({}));
    assert_eq!(run.task("join").status, TaskStatus::CompletedWithErrors);
    let done = run.report("end", TaskResultStatus::Completed, json!({}));
    assert_eq!(done.workflow.status, WorkflowStatus::Completed);
}

#[test]
fn a_join_with_nothing_to_wait_on_completes_at_once() {
    let (run, _) = Run::start(fork_def(json!([]), false), json!({}));
    assert_eq!(run.task("join").status, TaskStatus::Completed);
    assert_eq!(run.task("end").status, TaskStatus::Scheduled);
}

#[test]
fn a_required_branch_failure_fails_the_workflow() {
    let (mut run, _) = Run::start(fork_def(json!(["a2", "b1"]), false), json!({}));
    let decision = run.report("b1", TaskResultStatus::Failed, json!({}));
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert_eq!(run.task("a1").status, TaskStatus::Canceled);
    assert_eq!(run.task("join").status, TaskStatus::Canceled);
}

#[test]
fn set_variable_noop_and_terminate_run_inside_the_decision() {
    let def = definition(json!({"name": "sys", "tasks": [
        {"name": "set", "taskReferenceName": "set", "type": "SET_VARIABLE", "inputParameters": {"stage": "${workflow.input.stage}", "n": 1}},
        {"name": "nothing", "taskReferenceName": "nothing", "type": "NOOP"},
        {"name": "stop", "taskReferenceName": "stop", "type": "TERMINATE", "inputParameters": {
            "terminationStatus": "FAILED", "terminationReason": "stage was ${workflow.variables.stage}",
            "workflowOutput": {"stage": "${workflow.variables.stage}"}}},
        {"name": "never", "taskReferenceName": "never"}
    ]}));
    let (run, decision) = Run::start(def, json!({"stage": "beta"}));
    assert_eq!(
        decision.workflow.variables,
        map(json!({"stage": "beta", "n": 1}))
    );
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert_eq!(
        decision.workflow.reason_for_incompletion.as_deref(),
        Some("stage was beta")
    );
    assert_eq!(decision.workflow.output, map(json!({"stage": "beta"})));
    assert!(run.workflow.task_by_ref_name("never").is_none());
    assert!(pushes(&decision).is_empty());
    assert!(run
        .workflow
        .tasks
        .iter()
        .all(|t| t.status == TaskStatus::Completed));
}

#[test]
fn a_switch_inside_a_fork_branch_leads_to_the_join() {
    let def = definition(json!({"name": "nested", "tasks": [
        {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [
            [{"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "value-param", "expression": "k",
              "inputParameters": {"k": "${workflow.input.k}"},
              "decisionCases": {"x": [{"name": "x1", "taskReferenceName": "x1"}]}}],
            [{"name": "y1", "taskReferenceName": "y1"}]
        ]},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["s", "y1"]}
    ]}));
    let (mut run, _) = Run::start(def, json!({"k": "x"}));
    run.report("y1", TaskResultStatus::Completed, json!({}));
    let decision = run.report("x1", TaskResultStatus::Completed, json!({}));
    assert_eq!(run.task("join").status, TaskStatus::Completed);
    assert_eq!(decision.workflow.status, WorkflowStatus::Completed);
}

#[test]
fn wait_and_human_tasks_hold_the_flow_until_finished_from_outside() {
    use baton_engine::{complete_pending_task, signal_waiting_task};
    let def = definition(json!({"name": "w", "tasks": [
        {"name": "pause", "taskReferenceName": "pause", "type": "WAIT"},
        {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
        {"name": "after", "taskReferenceName": "after", "inputParameters": {"ok": "${approve.output.ok}"}}]}));
    let (mut run, decision) = Run::start(def, json!({}));
    assert_eq!(run.task("pause").status, TaskStatus::InProgress);
    assert!(pushes(&decision).is_empty(), "no worker polls a WAIT");

    let signalled = signal_waiting_task(
        run.workflow.clone(),
        TaskResultStatus::Completed,
        map(json!({"at": 1})),
        T0 + 5,
        &mut run.ids,
    )
    .unwrap();
    run.workflow = signalled.workflow.clone();
    assert_eq!(run.task("pause").status, TaskStatus::Completed);
    assert_eq!(run.task("approve").status, TaskStatus::InProgress);

    // An IN_PROGRESS update to a HUMAN task keeps it waiting, with the new output.
    let progress = complete_pending_task(
        run.workflow.clone(),
        "approve",
        TaskResultStatus::InProgress,
        map(json!({"seen": true})),
        None,
        T0 + 6,
        &mut run.ids,
    )
    .unwrap();
    run.workflow = progress.workflow.clone();
    assert_eq!(run.task("approve").status, TaskStatus::InProgress);
    assert!(progress
        .queue
        .iter()
        .all(|op| !matches!(op, QueueOp::Push { .. })));

    let approved = complete_pending_task(
        run.workflow.clone(),
        "approve",
        TaskResultStatus::Completed,
        map(json!({"ok": true})),
        Some("alice".into()),
        T0 + 7,
        &mut run.ids,
    )
    .unwrap();
    run.workflow = approved.workflow.clone();
    assert_eq!(run.task("approve").worker_id.as_deref(), Some("alice"));
    assert_eq!(run.task("after").input_data, map(json!({"ok": true})));

    let nothing = complete_pending_task(
        run.workflow.clone(),
        "approve",
        TaskResultStatus::Completed,
        JsonMap::new(),
        None,
        T0 + 8,
        &mut run.ids,
    )
    .unwrap();
    assert!(
        nothing.is_noop(),
        "no pending task by that name: nothing changes"
    );
}

fn inline_def(expression: &str) -> WorkflowDef {
    definition(json!({"name": "js", "tasks": [
        {"name": "calc", "taskReferenceName": "calc", "type": "INLINE", "inputParameters": {
            "evaluatorType": "javascript", "expression": expression, "n": "${workflow.input.n}"}},
        {"name": "next", "taskReferenceName": "next", "inputParameters": {"got": "${calc.output.result}"}}]}))
}

#[test]
fn an_inline_script_sees_its_input_as_dollar_and_outputs_result() {
    let (run, _) = Run::start(
        inline_def("(function(){ return {double: $.n * 2}; })()"),
        json!({"n": 21}),
    );
    assert_eq!(run.task("calc").status, TaskStatus::Completed);
    assert_eq!(
        run.task("calc").output_data,
        map(json!({"result": {"double": 42}}))
    );
    assert_eq!(
        run.task("next").input_data,
        map(json!({"got": {"double": 42}}))
    );
}

#[test]
fn a_broken_or_runaway_inline_script_fails_the_workflow_with_the_reason() {
    let (run, decision) = Run::start(inline_def("function ("), json!({"n": 1}));
    assert_eq!(run.task("calc").status, TaskStatus::Failed);
    assert_eq!(
        decision.workflow.status,
        WorkflowStatus::Failed,
        "system tasks are not retried by default"
    );
    assert!(decision
        .workflow
        .reason_for_incompletion
        .as_deref()
        .unwrap()
        .starts_with("script error"));
    let (_, decision) = Run::start(inline_def("while (true) {}"), json!({"n": 1}));
    assert_eq!(
        decision.workflow.reason_for_incompletion.as_deref(),
        Some("script ran past its CPU budget and was stopped")
    );
}

#[test]
fn javascript_switches_and_decision_case_expressions_pick_the_case() {
    let (run, _) = Run::start(
        switch_def(
            json!({"evaluatorType": "javascript", "expression": "$.kind == 'f' ? 'fast' : 'other'"}),
        ),
        json!({"kind": "f"}),
    );
    assert_eq!(run.task("route").output_data["selectedCase"], json!("fast"));
    assert_eq!(run.task("fast_a").status, TaskStatus::Scheduled);
    let mut def = switch_def(json!({"caseExpression": "$.kind.length > 3 ? 'fast' : 'slow'"}));
    def.tasks[0].r#type = "DECISION".into();
    let (run, _) = Run::start(def, json!({"kind": "long"}));
    assert_eq!(run.task("fast_a").status, TaskStatus::Scheduled);
}

#[test]
fn a_dynamic_task_runs_as_the_worker_task_its_input_names() {
    let def = definition(json!({"name": "dyn", "tasks": [
        {"name": "pick", "taskReferenceName": "pick", "type": "DYNAMIC", "dynamicTaskNameParam": "taskToRun",
         "inputParameters": {"taskToRun": "${workflow.input.which}", "x": 1}}]}));
    let (mut run, decision) = Run::start(def.clone(), json!({"which": "resize_image"}));
    let pick = run.task("pick");
    assert_eq!(
        (pick.task_type.as_str(), pick.status),
        ("resize_image", TaskStatus::Scheduled)
    );
    assert_eq!(pushes(&decision)[0].0, "resize_image");
    let done = run.report("pick", TaskResultStatus::Completed, json!({"ok": true}));
    assert_eq!(done.workflow.status, WorkflowStatus::Completed);

    let (_, decision) = Run::start(def, json!({}));
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert!(decision
        .workflow
        .reason_for_incompletion
        .as_deref()
        .unwrap()
        .contains("Parameter= taskToRun"));
}

fn child_def(tasks: Value) -> Value {
    json!({"name": "child", "tasks": tasks, "outputParameters": {"got": "${workflow.input.n}"}})
}

#[test]
fn a_sub_workflow_starts_in_the_parents_decision_and_settles_the_parent_when_it_finishes() {
    use baton_engine::apply_child_outcome;
    let def = definition(json!({"name": "parent", "tasks": [
        {"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW", "inputParameters": {"n": "${workflow.input.n}"},
         "subWorkflowParam": {"name": "child", "workflowDefinition": child_def(json!([{"name": "child_work", "taskReferenceName": "cw"}]))}},
        {"name": "after", "taskReferenceName": "after", "inputParameters": {"fromChild": "${sub.output.got}"}}]}));
    let (mut run, decision) = Run::start(def, json!({"n": 5}));
    assert_eq!(decision.children.len(), 1);
    let child = &decision.children[0];
    let sub = run.task("sub").clone();
    assert_eq!(sub.status, TaskStatus::InProgress);
    assert_eq!(
        sub.sub_workflow_id.as_deref(),
        Some(child.workflow.workflow_id.as_str())
    );
    assert_eq!(child.workflow.parent_workflow_id.as_deref(), Some("wf-1"));
    assert_eq!(
        child.workflow.parent_workflow_task_id.as_deref(),
        Some(sub.task_id.as_str())
    );
    assert_eq!(child.workflow.input, map(json!({"n": 5})));
    assert_eq!(
        pushes(child)[0].0,
        "child_work",
        "the child's first task is queued with the parent's decision"
    );

    // The child's worker finishes: the child's decision carries the parent's update.
    let mut child_workflow = child.workflow.clone();
    let cw = child_workflow.tasks[0].task_id.clone();
    baton_engine::start_polled_task(&mut child_workflow.tasks[0], None, None, T0 + 1);
    let result = TaskResult {
        workflow_instance_id: child_workflow.workflow_id.clone(),
        task_id: cw,
        status: Some(TaskResultStatus::Completed),
        ..TaskResult::default()
    };
    let child_done = apply_task_result(child_workflow, &result, T0 + 2, &mut run.ids).unwrap();
    assert_eq!(child_done.workflow.status, WorkflowStatus::Completed);
    let update = child_done
        .parent_update
        .clone()
        .expect("the parent is told");
    assert_eq!(update.parent_task_id, sub.task_id);

    let parent = apply_child_outcome(run.workflow.clone(), &update, T0 + 3, &mut run.ids).unwrap();
    run.workflow = parent.workflow.clone();
    assert_eq!(run.task("sub").status, TaskStatus::Completed);
    assert_eq!(run.task("sub").output_data["got"], json!(5));
    assert_eq!(run.task("after").input_data, map(json!({"fromChild": 5})));
}

#[test]
fn a_sub_workflow_that_finishes_at_once_settles_its_task_in_the_same_decision() {
    let def = definition(json!({"name": "parent", "tasks": [
        {"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW", "inputParameters": {"n": 1},
         "subWorkflowParam": {"name": "child", "workflowDefinition": child_def(json!([{"name": "x", "taskReferenceName": "x", "type": "NOOP"}]))}}]}));
    let (run, decision) = Run::start(def, json!({}));
    assert_eq!(
        decision.children[0].workflow.status,
        WorkflowStatus::Completed
    );
    assert!(
        decision.children[0].parent_update.is_none(),
        "settled directly, not by a parent update"
    );
    assert_eq!(run.task("sub").status, TaskStatus::Completed);
    assert_eq!(decision.workflow.status, WorkflowStatus::Completed);
    assert_eq!(decision.workflow.output["got"], json!(1));
}

#[test]
fn a_failed_sub_workflow_fails_its_task_with_the_childs_reason() {
    let def = definition(json!({"name": "parent", "tasks": [
        {"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "child", "workflowDefinition": child_def(json!([
            {"name": "stop", "taskReferenceName": "stop", "type": "TERMINATE", "inputParameters": {"terminationStatus": "FAILED", "terminationReason": "bad input"}}]))}}]}));
    let (run, decision) = Run::start(def, json!({}));
    assert_eq!(run.task("sub").status, TaskStatus::Failed);
    assert!(run
        .task("sub")
        .reason_for_incompletion
        .as_deref()
        .unwrap()
        .contains("bad input"));
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
}

#[test]
fn start_workflow_starts_a_detached_workflow_and_moves_on() {
    let def = definition(json!({"name": "parent", "tasks": [
        {"name": "kick", "taskReferenceName": "kick", "type": "START_WORKFLOW", "inputParameters": {"startWorkflow": {
            "name": "child", "input": {"n": 9}, "workflowDef": child_def(json!([{"name": "child_work", "taskReferenceName": "cw"}]))}}},
        {"name": "after", "taskReferenceName": "after"}]}));
    let (run, decision) = Run::start(def, json!({}));
    let started = &decision.children[0].workflow;
    assert_eq!(
        run.task("kick").output_data["workflowId"],
        json!(started.workflow_id)
    );
    assert_eq!(started.parent_workflow_id, None);
    assert_eq!(started.input, map(json!({"n": 9})));
    assert_eq!(run.task("after").status, TaskStatus::Scheduled);
}

fn loop_def(condition: &str) -> WorkflowDef {
    definition(json!({"name": "loop", "tasks": [
        {"name": "repeat", "taskReferenceName": "repeat", "type": "DO_WHILE", "loopCondition": condition,
         "inputParameters": {"limit": "${workflow.input.limit}"},
         "loopOver": [
            {"name": "fetch", "taskReferenceName": "fetch", "inputParameters": {"previous": "${fetch.output.page}"}},
            {"name": "count", "taskReferenceName": "count", "type": "INLINE", "inputParameters": {
                "evaluatorType": "javascript", "expression": "$.page * 10", "page": "${fetch.output.page}"}}
         ]},
        {"name": "after", "taskReferenceName": "after", "inputParameters": {"loops": "${repeat.output.iteration}"}}
    ]}))
}

#[test]
fn a_do_while_repeats_its_body_with_iteration_suffixes_until_the_condition_is_false() {
    let (mut run, _) = Run::start(
        loop_def("$.repeat['iteration'] < $.limit && $.count.result < 25"),
        json!({"limit": 5}),
    );
    assert_eq!(run.task("repeat").status, TaskStatus::InProgress);
    assert_eq!(run.task("fetch__1").iteration, 1);

    run.report("fetch__1", TaskResultStatus::Completed, json!({"page": 1}));
    assert_eq!(run.task("count__1").output_data["result"], json!(10));
    assert_eq!(
        run.task("fetch__2").status,
        TaskStatus::Scheduled,
        "the condition held: a second iteration"
    );
    assert_eq!(
        run.task("fetch__2").input_data["previous"],
        json!(1),
        "references see the latest iteration"
    );

    run.report("fetch__2", TaskResultStatus::Completed, json!({"page": 2}));
    assert!(run.workflow.task_by_ref_name("fetch__3").is_some());
    let done = run.report("fetch__3", TaskResultStatus::Completed, json!({"page": 3}));
    let repeat = run.task("repeat");
    assert_eq!(
        repeat.status,
        TaskStatus::Completed,
        "count was 30: the loop ends"
    );
    assert_eq!(repeat.output_data["iteration"], json!(3));
    assert_eq!(
        repeat.output_data["2"],
        json!({"fetch": {"page": 2}, "count": {"result": 20}})
    );
    assert_eq!(run.task("after").input_data, map(json!({"loops": 3})));
    assert_eq!(done.workflow.status, WorkflowStatus::Running);
}

#[test]
fn a_broken_loop_condition_fails_the_loop_with_the_reason() {
    let (mut run, _) = Run::start(loop_def("this is not javascript"), json!({"limit": 1}));
    let decision = run.report("fetch__1", TaskResultStatus::Completed, json!({"page": 1}));
    assert_eq!(
        run.task("repeat").status,
        TaskStatus::FailedWithTerminalError
    );
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert!(decision
        .workflow
        .reason_for_incompletion
        .as_deref()
        .unwrap()
        .starts_with("Unable to evaluate condition"));
}

#[test]
fn a_dynamic_fork_fans_out_one_task_per_input_and_joins_them_all() {
    let def = definition(json!({"name": "fan", "tasks": [
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC", "inputParameters": {
            "forkTaskName": "resize", "forkTaskInputs": "${workflow.input.images}"}},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        {"name": "after", "taskReferenceName": "after"}]}));
    let (mut run, decision) = Run::start(
        def,
        json!({"images": [{"url": "a"}, {"url": "b"}, {"url": "c"}]}),
    );
    assert_eq!(pushes(&decision).len(), 3);
    assert_eq!(
        run.task("_resize_1").input_data,
        map(json!({"url": "b", "__index": 1}))
    );
    assert_eq!(
        run.task("join").input_data["joinOn"],
        json!(["_resize_0", "_resize_1", "_resize_2"])
    );
    for (i, reference) in ["_resize_2", "_resize_0", "_resize_1"].iter().enumerate() {
        run.report(reference, TaskResultStatus::Completed, json!({"n": i}));
    }
    assert_eq!(run.task("join").status, TaskStatus::Completed);
    assert_eq!(run.task("join").output_data["_resize_0"], json!({"n": 1}));
    assert_eq!(run.task("after").status, TaskStatus::Scheduled);
}

#[test]
fn the_legacy_dynamic_fork_takes_workflow_tasks_and_inputs_by_reference() {
    let def = definition(json!({"name": "fan", "tasks": [
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
         "dynamicForkTasksParam": "tasks", "dynamicForkTasksInputParamName": "inputs",
         "inputParameters": {"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"}},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"}]}));
    let input = json!({
        "tasks": [{"name": "mail", "taskReferenceName": "m1"}, {"name": "sms", "taskReferenceName": "s1"}],
        "inputs": {"m1": {"to": "x@y"}, "s1": {"to": "+1"}}});
    let (run, decision) = Run::start(def.clone(), input);
    let mut queues: Vec<_> = pushes(&decision).into_iter().map(|p| p.0).collect();
    queues.sort();
    assert_eq!(queues, vec!["mail", "sms"]);
    assert_eq!(run.task("s1").input_data, map(json!({"to": "+1"})));

    let (_, decision) = Run::start(def, json!({"tasks": "not a list"}));
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
}

#[test]
fn pause_holds_new_tasks_back_until_resume() {
    use baton_engine::operator::{pause, resume};
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    run.workflow = pause(run.workflow.clone(), T0 + 1).unwrap().workflow;
    assert_eq!(run.workflow.status, WorkflowStatus::Paused);
    run.report("a", TaskResultStatus::Completed, json!({"value": 1}));
    assert!(
        run.workflow.task_by_ref_name("b").is_none(),
        "paused: nothing new is scheduled"
    );
    let resumed = resume(run.workflow.clone(), T0 + 5, &mut run.ids).unwrap();
    assert_eq!(resumed.workflow.status, WorkflowStatus::Running);
    assert_eq!(pushes(&resumed)[0].0, "task_b");
    assert!(matches!(
        resume(resumed.workflow, T0 + 6, &mut run.ids),
        Err(EngineError::Conflict(_))
    ));
}

#[test]
fn terminate_cancels_what_runs_and_ignores_late_results() {
    use baton_engine::operator::terminate;
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    let decision = terminate(
        run.workflow.clone(),
        Some("operator said so".into()),
        T0 + 1,
    )
    .unwrap();
    assert_eq!(decision.workflow.status, WorkflowStatus::Terminated);
    assert_eq!(
        decision.workflow.reason_for_incompletion.as_deref(),
        Some("operator said so")
    );
    assert_eq!(decision.workflow.tasks[0].status, TaskStatus::Canceled);
    assert!(decision.queue.contains(&QueueOp::Remove {
        task_id: "t-1".into()
    }));
    run.workflow = decision.workflow.clone();
    let late = TaskResult {
        workflow_instance_id: "wf-1".into(),
        task_id: "t-1".into(),
        status: Some(TaskResultStatus::Completed),
        ..TaskResult::default()
    };
    let after = apply_task_result(run.workflow.clone(), &late, T0 + 2, &mut run.ids).unwrap();
    assert_eq!(
        after.workflow, run.workflow,
        "a late result cannot revive it"
    );
    assert!(
        terminate(run.workflow.clone(), None, T0 + 3)
            .unwrap()
            .is_noop(),
        "terminating twice is a no-op"
    );

    let mut completed = run.workflow.clone();
    completed.status = WorkflowStatus::Completed;
    assert_eq!(
        terminate(completed, None, T0 + 4),
        Err(EngineError::Conflict(
            "Cannot terminate a COMPLETED workflow.".into()
        ))
    );
}

#[test]
fn retry_gives_each_failed_task_a_new_attempt_and_runs_the_workflow_again() {
    use baton_engine::operator::retry;
    let def = definition(json!({"name": "w", "tasks": [
        {"name": "x", "taskReferenceName": "x", "taskDefinition": {"name": "x", "retryCount": 0}},
        {"name": "y", "taskReferenceName": "y"}]}));
    let (mut run, _) = Run::start(def, json!({}));
    let failed = run.report("x", TaskResultStatus::Failed, json!({}));
    assert_eq!(failed.workflow.status, WorkflowStatus::Failed);

    let retried = retry(run.workflow.clone(), T0 + 10, &mut run.ids).unwrap();
    run.workflow = retried.workflow.clone();
    assert_eq!(run.workflow.status, WorkflowStatus::Running);
    assert_eq!(run.workflow.reason_for_incompletion, None);
    assert_eq!(run.workflow.last_retried_time, T0 + 10);
    let attempt = run.task("x");
    assert_eq!(
        (attempt.status, attempt.retry_count),
        (TaskStatus::Scheduled, 1)
    );
    assert_eq!(pushes(&retried)[0].0, "x");
    let done = run.report("x", TaskResultStatus::Completed, json!({}));
    assert_eq!(run.task("y").status, TaskStatus::Scheduled);
    assert_eq!(done.workflow.status, WorkflowStatus::Running);
    assert!(
        matches!(
            retry(run.workflow.clone(), T0 + 20, &mut run.ids),
            Err(EngineError::Conflict(_))
        ),
        "a running workflow cannot be retried"
    );
}

#[test]
fn a_permissive_task_lets_the_flow_go_on_then_fails_the_workflow_at_the_end() {
    let def = definition(json!({"name": "lenient", "tasks": [
        {"name": "shaky", "taskReferenceName": "shaky", "permissive": true,
         "taskDefinition": {"name": "shaky", "retryCount": 0}},
        {"name": "next", "taskReferenceName": "next"}]}));
    let (mut run, _) = Run::start(def, json!({}));
    let decision = run.report_with("shaky", |result| {
        result.status = Some(TaskResultStatus::Failed);
        result.reason_for_incompletion = Some("boom".into());
    });
    assert_eq!(decision.workflow.status, WorkflowStatus::Running);
    assert_eq!(run.task("shaky").status, TaskStatus::Failed);
    assert_eq!(run.task("next").status, TaskStatus::Scheduled);

    let decision = run.report("next", TaskResultStatus::Completed, json!({}));
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    assert_eq!(
        decision.workflow.reason_for_incompletion,
        Some(format!(
            "Task {} failed with status: FAILED and reason: 'boom'",
            run.task("shaky").task_id
        ))
    );
}

#[test]
fn a_join_waits_for_every_branch_then_fails_on_a_permissive_failure() {
    let def = definition(json!({"name": "lenient_fork", "tasks": [
        {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [
            [{"name": "shaky", "taskReferenceName": "shaky", "permissive": true,
              "taskDefinition": {"name": "shaky", "retryCount": 0}}],
            [{"name": "steady", "taskReferenceName": "steady"}]]},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["shaky", "steady"]},
        {"name": "after", "taskReferenceName": "after"}]}));
    let (mut run, _) = Run::start(def, json!({}));
    run.report_with("shaky", |result| {
        result.status = Some(TaskResultStatus::Failed);
        result.reason_for_incompletion = Some("boom".into());
    });
    assert_eq!(run.workflow.status, WorkflowStatus::Running);
    assert_eq!(run.task("join").status, TaskStatus::InProgress);

    let decision = run.report("steady", TaskResultStatus::Completed, json!({}));
    assert_eq!(decision.workflow.status, WorkflowStatus::Failed);
    let join = decision.workflow.task_by_ref_name("join").unwrap();
    assert_eq!(join.status, TaskStatus::Failed);
    assert_eq!(join.reason_for_incompletion.as_deref(), Some("boom"));
    assert!(decision.workflow.task_by_ref_name("after").is_none());
}
