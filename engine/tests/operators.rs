//! Restart and rerun as data in, decisions out.

mod support;

use baton_engine::operator::{rerun, restart, Rerun};
use baton_engine::EngineError;
use baton_model::{TaskResultStatus, TaskStatus, WorkflowStatus};
use serde_json::json;
use support::*;

/// Runs the three-step workflow to completion.
fn completed_three_steps() -> Run {
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    run.report("a", TaskResultStatus::Completed, json!({"value": 1}));
    run.report("b", TaskResultStatus::Completed, json!({"value": 2}));
    run.report("c", TaskResultStatus::Completed, json!({"sum": 3}));
    assert_eq!(run.workflow.status, WorkflowStatus::Completed);
    run
}

#[test]
fn restart_deletes_every_task_and_runs_again_from_the_first() {
    let mut run = completed_three_steps();
    let old_ids: Vec<String> = run
        .workflow
        .tasks
        .iter()
        .map(|t| t.task_id.clone())
        .collect();
    let decision = restart(run.workflow.clone(), None, T0 + 10_000, &mut run.ids).unwrap();
    assert_eq!(decision.removed_tasks, old_ids);
    assert_eq!(decision.workflow.status, WorkflowStatus::Running);
    assert!(decision.workflow.output.is_empty());
    assert_eq!(decision.workflow.tasks.len(), 1);
    let first = &decision.workflow.tasks[0];
    assert_eq!(
        (first.reference_task_name.as_str(), first.status),
        ("a", TaskStatus::Scheduled)
    );
    assert!(!old_ids.contains(&first.task_id));
    assert_eq!(pushes(&decision)[0].0, "task_a");
}

#[test]
fn restart_can_take_a_new_definition_and_refuses_a_running_workflow() {
    let mut run = completed_three_steps();
    let newer = definition(json!({"name": "three", "version": 2, "tasks": [
        {"name": "task_z", "taskReferenceName": "z"}]}));
    let decision = restart(run.workflow.clone(), Some(newer), T0 + 1, &mut run.ids).unwrap();
    assert_eq!(decision.workflow.tasks[0].task_type, "task_z");
    assert_eq!(decision.workflow.workflow_version(), Some(2));

    let (mut running, _) = Run::start(three_steps(), json!({}));
    let refused = restart(running.workflow.clone(), None, T0, &mut running.ids);
    assert!(
        matches!(refused, Err(EngineError::Conflict(m)) if m.contains("is not in terminal state, unable to restart"))
    );
}

#[test]
fn rerun_of_the_whole_workflow_takes_new_input_and_correlation_id() {
    let mut run = completed_three_steps();
    let request = Rerun {
        workflow_input: Some(map(json!({"n": 42}))),
        correlation_id: Some("again".into()),
        ..Rerun::default()
    };
    let decision = rerun(run.workflow.clone(), &request, T0 + 1, &mut run.ids).unwrap();
    assert_eq!(decision.removed_tasks.len(), 3);
    assert_eq!(decision.workflow.correlation_id.as_deref(), Some("again"));
    assert_eq!(decision.workflow.tasks[0].input_data["n"], json!(42));
}

#[test]
fn rerun_from_a_task_keeps_what_came_before_and_reruns_the_rest() {
    let mut run = completed_three_steps();
    let a = run.task("a").task_id.clone();
    let b = run.task("b").task_id.clone();
    let c = run.task("c").task_id.clone();
    let request = Rerun {
        from_task_id: Some(b.clone()),
        task_input: Some(map(json!({"prev": 100}))),
        ..Rerun::default()
    };
    let decision = rerun(run.workflow.clone(), &request, T0 + 1, &mut run.ids).unwrap();
    assert_eq!(decision.removed_tasks, vec![b.clone(), c]);
    let references: Vec<&str> = decision
        .workflow
        .tasks
        .iter()
        .map(|t| t.reference_task_name.as_str())
        .collect();
    assert_eq!(references, ["a", "b"]);
    assert_eq!(decision.workflow.tasks[0].task_id, a);
    let new_b = &decision.workflow.tasks[1];
    assert_ne!(new_b.task_id, b);
    assert_eq!(new_b.input_data, map(json!({"prev": 100})));
    assert_eq!(decision.workflow.status, WorkflowStatus::Running);

    // The flow goes on from there.
    run.workflow = decision.workflow;
    run.report("b", TaskResultStatus::Completed, json!({"value": 5}));
    assert_eq!(run.task("c").status, TaskStatus::Scheduled);
}

#[test]
fn rerun_refuses_unknown_tasks_and_tasks_inside_a_fork_branch() {
    let mut run = completed_three_steps();
    let unknown = Rerun {
        from_task_id: Some("nope".into()),
        ..Rerun::default()
    };
    assert_eq!(
        rerun(run.workflow.clone(), &unknown, T0, &mut run.ids),
        Err(EngineError::InvalidArgument("Task nope not found".into()))
    );

    let def = definition(json!({"name": "forked", "tasks": [
        {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [
            [{"name": "left", "taskReferenceName": "left"}], [{"name": "right", "taskReferenceName": "right"}]]},
        {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["left", "right"]}]}));
    let (mut forked, _) = Run::start(def, json!({}));
    forked.report("left", TaskResultStatus::Completed, json!({}));
    forked.report("right", TaskResultStatus::Completed, json!({}));
    assert_eq!(forked.workflow.status, WorkflowStatus::Completed);
    let inside = Rerun {
        from_task_id: Some(forked.task("left").task_id.clone()),
        ..Rerun::default()
    };
    assert!(matches!(
        rerun(forked.workflow.clone(), &inside, T0, &mut forked.ids),
        Err(EngineError::Conflict(m)) if m.contains("inside a fork branch")
    ));
    // From the fork itself, everything after it runs again.
    let from_fork = Rerun {
        from_task_id: Some(forked.task("f").task_id.clone()),
        ..Rerun::default()
    };
    let decision = rerun(forked.workflow.clone(), &from_fork, T0, &mut forked.ids).unwrap();
    let scheduled: Vec<&str> = decision
        .workflow
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Scheduled)
        .map(|t| t.reference_task_name.as_str())
        .collect();
    assert_eq!(scheduled, ["left", "right"]);
}

#[test]
fn a_task_skipped_ahead_is_passed_by_when_the_flow_reaches_it() {
    let (mut run, _) = Run::start(three_steps(), json!({"n": 1}));
    let decision = baton_engine::operator::skip_task(
        run.workflow.clone(),
        "b",
        map(json!({"why": "not needed"})),
        map(json!({"value": 7})),
        T0 + 5,
        &mut run.ids,
    )
    .unwrap();
    let skipped = decision.workflow.task_by_ref_name("b").unwrap();
    assert_eq!(skipped.status, TaskStatus::Skipped);
    assert!(
        pushes(&decision).is_empty(),
        "b is not reached yet, nothing is queued"
    );
    run.workflow = decision.workflow;

    let decision = run.report("a", TaskResultStatus::Completed, json!({"value": 1}));
    assert_eq!(
        pushes(&decision)
            .into_iter()
            .map(|p| p.0)
            .collect::<Vec<_>>(),
        ["task_c"],
        "the flow goes from a straight to c"
    );
    assert_eq!(
        run.task("c").input_data["all"],
        json!({"a": 1, "b": [7]}),
        "c reads the skipped task's given output"
    );
    run.report("c", TaskResultStatus::Completed, json!({"sum": 8}));
    assert_eq!(run.workflow.status, WorkflowStatus::Completed);

    // Already scheduled, unknown, or on a workflow that is not running: refused.
    let (mut fresh, _) = Run::start(three_steps(), json!({}));
    for (reference, expected) in [
        ("a", "has already been processed, cannot be skipped"),
        ("zzz", "does not exist in the WorkflowDefinition three"),
    ] {
        let refused = baton_engine::operator::skip_task(
            fresh.workflow.clone(),
            reference,
            map(json!({})),
            map(json!({})),
            T0,
            &mut fresh.ids,
        );
        assert!(matches!(refused, Err(EngineError::Conflict(m)) if m.contains(expected)));
    }
    let ended = baton_engine::operator::skip_task(
        run.workflow.clone(),
        "c",
        map(json!({})),
        map(json!({})),
        T0,
        &mut run.ids,
    );
    assert!(matches!(ended, Err(EngineError::Conflict(m)) if m.contains("is not running")));
}

#[test]
fn a_retried_sub_workflow_puts_its_parent_task_back_in_progress() {
    let kid = json!({"name": "kid", "tasks": [{"name": "kid_work", "taskReferenceName": "w",
        "taskDefinition": {"name": "kid_work", "retryCount": 0}}]});
    let parent_def = definition(json!({"name": "parent", "tasks": [
        {"name": "kid", "taskReferenceName": "kid", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "kid", "workflowDefinition": kid}}]}));
    let (run, first) = Run::start(parent_def, json!({}));
    let mut parent = run.workflow;
    let mut child = Run {
        workflow: first.children[0].workflow.clone(),
        ids: baton_engine::SequentialIds::new("c"),
        now: T0,
    };
    let mut ids = baton_engine::SequentialIds::new("p");

    let failed = child.report("w", TaskResultStatus::Failed, json!({}));
    let update = failed
        .parent_update
        .expect("the parent hears of the failure");
    parent = baton_engine::apply_child_outcome(parent, &update, T0 + 2000, &mut ids)
        .unwrap()
        .workflow;
    assert_eq!(parent.status, WorkflowStatus::Failed);

    let retried = baton_engine::operator::retry(child.workflow, T0 + 3000, &mut child.ids).unwrap();
    assert_eq!(retried.workflow.status, WorkflowStatus::Running);
    let update = retried
        .parent_update
        .expect("the parent hears it runs again");
    assert_eq!(update.child_status, WorkflowStatus::Running);
    let resumed = baton_engine::apply_child_outcome(parent, &update, T0 + 3000, &mut ids).unwrap();
    assert_eq!(resumed.workflow.status, WorkflowStatus::Running);
    assert_eq!(
        resumed.workflow.tasks.len(),
        1,
        "no new attempt of the task"
    );
    assert_eq!(resumed.workflow.tasks[0].status, TaskStatus::InProgress);
    assert!(resumed.children.is_empty(), "no new child");
    assert!(resumed.parent_update.is_none());
}
