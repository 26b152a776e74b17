//! DO_WHILE: list iteration, keepLastN, and forks and switches inside a loop body.

mod support;

use baton_model::{TaskResultStatus, TaskStatus, WorkflowStatus};
use serde_json::json;
use support::*;

#[test]
fn a_loop_over_items_runs_once_per_item_with_the_item_in_hand() {
    let def = definition(json!({"name": "each", "tasks": [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "items": "${workflow.input.files}",
         "loopOver": [{"name": "process", "taskReferenceName": "process",
                       "inputParameters": {"file": "${loop.output.loopItem}", "index": "${loop.output.loopIndex}"}}]}
    ]}));
    let (mut run, _) = Run::start(def, json!({"files": ["a.txt", "b.txt", "c.txt"]}));
    for (index, file) in ["a.txt", "b.txt", "c.txt"].iter().enumerate() {
        let reference = format!("process__{}", index + 1);
        assert_eq!(
            run.task(&reference).input_data,
            map(json!({"file": file, "index": index}))
        );
        run.report(
            &reference,
            TaskResultStatus::Completed,
            json!({"done": file}),
        );
    }
    assert_eq!(run.workflow.status, WorkflowStatus::Completed);
    let loop_task = run.task("loop");
    assert_eq!(loop_task.iteration, 3);
    assert_eq!(
        loop_task.output_data["3"],
        json!({"process": {"done": "c.txt"}})
    );
}

#[test]
fn an_empty_item_list_skips_the_body() {
    let def = definition(json!({"name": "each", "tasks": [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "items": "${workflow.input.files}",
         "loopOver": [{"name": "process", "taskReferenceName": "process"}]},
        {"name": "after", "taskReferenceName": "after"}
    ]}));
    let (run, decision) = Run::start(def, json!({"files": []}));
    assert_eq!(run.task("loop").status, TaskStatus::Completed);
    assert_eq!(run.task("loop").output_data["iteration"], json!(0));
    assert_eq!(pushes(&decision)[0].0, "after");
    assert!(run.workflow.task_by_ref_name("process__1").is_none());
}

#[test]
fn items_and_a_condition_both_must_allow_another_round() {
    let def = definition(json!({"name": "each", "tasks": [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
         "inputParameters": {"_items": "${workflow.input.n}"},
         "loopCondition": "$.process.stop != true",
         "loopOver": [{"name": "process", "taskReferenceName": "process"}]}
    ]}));
    let (mut run, _) = Run::start(def, json!({"n": [1, 2, 3, 4]}));
    run.report("process__1", TaskResultStatus::Completed, json!({}));
    run.report(
        "process__2",
        TaskResultStatus::Completed,
        json!({"stop": true}),
    );
    assert_eq!(run.workflow.status, WorkflowStatus::Completed);
    assert_eq!(run.task("loop").iteration, 2);
}

#[test]
fn keep_last_n_forgets_older_iterations_and_their_tasks() {
    let def = definition(json!({"name": "poller", "tasks": [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
         "inputParameters": {"keepLastN": 2},
         "loopCondition": "$.loop.iteration < 5",
         "loopOver": [{"name": "check", "taskReferenceName": "check"}]}
    ]}));
    let (mut run, _) = Run::start(def, json!({}));
    let mut removed = Vec::new();
    for iteration in 1..=5 {
        let first_id = run.task(&format!("check__{iteration}")).task_id.clone();
        let decision = run.report(
            &format!("check__{iteration}"),
            TaskResultStatus::Completed,
            json!({"n": iteration}),
        );
        removed.extend(decision.removed_tasks.clone());
        if iteration <= 2 {
            assert!(decision.removed_tasks.is_empty());
        } else {
            assert_eq!(decision.removed_tasks.len(), 1, "one task per round goes");
            assert!(!decision.removed_tasks.contains(&first_id));
        }
    }
    assert_eq!(run.workflow.status, WorkflowStatus::Completed);
    let kept: Vec<&str> = run
        .workflow
        .tasks
        .iter()
        .map(|t| t.reference_task_name.as_str())
        .collect();
    assert_eq!(kept, ["loop", "check__4", "check__5"]);
    assert_eq!(removed.len(), 3);
    let output = &run.task("loop").output_data;
    assert!(output.get("3").is_none() && output.get("1").is_none());
    assert_eq!(output["4"], json!({"check": {"n": 4}}));
    assert_eq!(output["5"], json!({"check": {"n": 5}}));
}

#[test]
fn a_fork_and_a_switch_inside_a_loop_run_again_in_every_iteration() {
    let def = definition(json!({"name": "rounds", "tasks": [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
         "loopCondition": "$.loop.iteration < 2",
         "loopOver": [
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [
                [{"name": "left", "taskReferenceName": "left"}],
                [{"name": "pick", "taskReferenceName": "pick", "type": "SWITCH", "evaluatorType": "javascript",
                  "expression": "$.i % 2 == 1 ? 'odd' : 'even'", "inputParameters": {"i": "${loop.output.iteration}"},
                  "decisionCases": {"odd": [{"name": "odd_work", "taskReferenceName": "odd_work"}]},
                  "defaultCase": [{"name": "even_work", "taskReferenceName": "even_work"}]}]
            ]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left", "pick"]},
            {"name": "tally", "taskReferenceName": "tally", "inputParameters": {"left": "${left.output.v}"}}
         ]},
        {"name": "after", "taskReferenceName": "after"}
    ]}));
    let (mut run, _) = Run::start(def, json!({}));
    assert_eq!(
        run.task("join__1").input_data["joinOn"],
        json!(["left__1", "pick__1"])
    );
    run.report("odd_work__1", TaskResultStatus::Completed, json!({}));
    assert_eq!(run.task("join__1").status, TaskStatus::InProgress);
    run.report("left__1", TaskResultStatus::Completed, json!({"v": 1}));
    assert_eq!(run.task("join__1").status, TaskStatus::Completed);
    assert_eq!(run.task("tally__1").input_data["left"], json!(1));
    run.report("tally__1", TaskResultStatus::Completed, json!({}));

    // The second round forks again and takes the other case.
    assert_eq!(
        run.task("pick__2").output_data["selectedCase"],
        json!("even")
    );
    assert_eq!(run.task("even_work__2").status, TaskStatus::Scheduled);
    run.report("left__2", TaskResultStatus::Completed, json!({"v": 2}));
    run.report("even_work__2", TaskResultStatus::Completed, json!({}));
    assert_eq!(run.task("tally__2").input_data["left"], json!(2));
    let decision = run.report("tally__2", TaskResultStatus::Completed, json!({}));
    assert_eq!(run.task("loop").status, TaskStatus::Completed);
    assert_eq!(pushes(&decision)[0].0, "after");
    let loop_output = &run.task("loop").output_data;
    assert_eq!(loop_output["2"]["left"], json!({"v": 2}));
    assert_eq!(loop_output["1"]["join"]["left__1"], json!({"v": 1}));
}

#[test]
fn a_dynamic_fork_inside_a_loop_joins_the_branches_of_its_own_iteration() {
    let def = definition(json!({"name": "batches", "tasks": [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "items": "${workflow.input.batches}",
         "loopOver": [
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
             "inputParameters": {"forkTaskName": "work", "forkTaskInputs": "${loop.output.loopItem}"}},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"}
         ]}
    ]}));
    let (mut run, _) = Run::start(def, json!({"batches": [[{"x": 1}, {"x": 2}], [{"x": 3}]]}));
    assert_eq!(
        run.task("join__1").input_data["joinOn"],
        json!(["_work_0__1", "_work_1__1"])
    );
    run.report("_work_0__1", TaskResultStatus::Completed, json!({"y": 1}));
    run.report("_work_1__1", TaskResultStatus::Completed, json!({"y": 2}));
    assert_eq!(
        run.task("join__2").input_data["joinOn"],
        json!(["_work_0__2"])
    );
    assert_eq!(run.task("_work_0__2").input_data["x"], json!(3));
    run.report("_work_0__2", TaskResultStatus::Completed, json!({"y": 3}));
    assert_eq!(run.workflow.status, WorkflowStatus::Completed);
}
