//! Walking a workflow definition: what comes after a task, through nested blocks.
//!
//! Definitions are block-structured: SWITCH/DECISION cases and FORK_JOIN branches are lists
//! of tasks inside a task. When a task is the last of its block, the flow continues after
//! the block's owner: after the SWITCH for a case, at the JOIN (the task after the FORK) for
//! a branch. The JOIN is scheduled with its FORK, so reaching it again schedules nothing.

use baton_model::{task_type, WorkflowDef, WorkflowTask};

/// Where a reference was found while walking one list of tasks.
enum Step<'d> {
    /// Not in this list or anything nested in it.
    NotHere,
    /// Found; this task comes next.
    Next(&'d WorkflowTask),
    /// Found as the last task of this list: the caller decides what follows the block.
    EndOfBlock,
}

/// A task reference without its loop iteration suffix (`step__3` is `step`).
pub fn base_reference(reference_name: &str) -> &str {
    match reference_name.rsplit_once("__") {
        Some((base, iteration))
            if !iteration.is_empty() && iteration.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base
        }
        _ => reference_name,
    }
}

/// The DO_WHILE whose body holds `reference_name`, if any.
pub fn loop_around<'d>(def: &'d WorkflowDef, reference_name: &str) -> Option<&'d WorkflowTask> {
    let base = base_reference(reference_name);
    def.all_tasks().into_iter().find(|task| {
        task.r#type == task_type::DO_WHILE && task.loop_over.iter().any(|inner| inner.has(base))
    })
}

/// The task that follows `reference_name`, or `None` at the end of the workflow. A task at
/// the end of a loop body is followed by its DO_WHILE.
pub fn next_task<'d>(def: &'d WorkflowDef, reference_name: &str) -> Option<&'d WorkflowTask> {
    let reference_name = base_reference(reference_name);
    match walk(&def.tasks, reference_name) {
        Step::Next(task) => Some(task),
        Step::NotHere | Step::EndOfBlock => None,
    }
}

fn walk<'d>(list: &'d [WorkflowTask], reference_name: &str) -> Step<'d> {
    for (position, task) in list.iter().enumerate() {
        if task.task_reference_name == reference_name {
            return after(list, position);
        }
        match inside(task, reference_name) {
            Step::NotHere => continue,
            Step::Next(next) => return Step::Next(next),
            // The end of a loop body goes back to the loop, to decide on another iteration.
            Step::EndOfBlock if task.r#type == task_type::DO_WHILE => return Step::Next(task),
            // The last task of a case or branch: continue after the block's owner.
            Step::EndOfBlock => return after(list, position),
        }
    }
    Step::NotHere
}

fn after(list: &[WorkflowTask], position: usize) -> Step<'_> {
    match list.get(position + 1) {
        Some(next) => Step::Next(next),
        None => Step::EndOfBlock,
    }
}

/// Searches the blocks nested in `task`.
fn inside<'d>(task: &'d WorkflowTask, reference_name: &str) -> Step<'d> {
    for block in blocks(task) {
        match walk(block, reference_name) {
            Step::NotHere => continue,
            found => return found,
        }
    }
    Step::NotHere
}

/// The task lists nested in a task, by its type.
pub fn blocks(task: &WorkflowTask) -> Vec<&[WorkflowTask]> {
    match task.r#type.as_str() {
        task_type::SWITCH | task_type::DECISION => task
            .decision_cases
            .values()
            .map(Vec::as_slice)
            .chain(std::iter::once(task.default_case.as_slice()))
            .collect(),
        task_type::FORK_JOIN => task.fork_tasks.iter().map(Vec::as_slice).collect(),
        task_type::DO_WHILE => vec![task.loop_over.as_slice()],
        _ => Vec::new(),
    }
}

/// The task that follows `reference_name` in its own list (for a FORK, its JOIN).
pub fn following_sibling<'d>(
    def: &'d WorkflowDef,
    reference_name: &str,
) -> Option<&'d WorkflowTask> {
    fn search<'d>(
        list: &'d [WorkflowTask],
        reference_name: &str,
    ) -> Option<Option<&'d WorkflowTask>> {
        for (position, task) in list.iter().enumerate() {
            if task.task_reference_name == reference_name {
                return Some(list.get(position + 1));
            }
            for block in blocks(task) {
                if let Some(found) = search(block, reference_name) {
                    return Some(found);
                }
            }
        }
        None
    }
    search(&def.tasks, reference_name).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def() -> WorkflowDef {
        serde_json::from_value(json!({"name": "g", "tasks": [
            {"name": "a", "taskReferenceName": "a"},
            {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "evaluatorType": "value-param", "expression": "k",
             "decisionCases": {"x": [{"name": "x1", "taskReferenceName": "x1"}, {"name": "x2", "taskReferenceName": "x2"}]},
             "defaultCase": [{"name": "d1", "taskReferenceName": "d1"}]},
            {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [
                [{"name": "b1", "taskReferenceName": "b1"}, {"name": "b2", "taskReferenceName": "b2"}],
                [{"name": "c1", "taskReferenceName": "c1"}]]},
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["b2", "c1"]},
            {"name": "z", "taskReferenceName": "z"}
        ]}))
        .unwrap()
    }

    fn next(reference: &str) -> Option<String> {
        next_task(&def(), reference).map(|t| t.task_reference_name.clone())
    }

    #[test]
    fn top_level_tasks_follow_each_other() {
        assert_eq!(next("a").as_deref(), Some("s"));
        assert_eq!(next("j").as_deref(), Some("z"));
        assert_eq!(next("z"), None);
    }

    #[test]
    fn a_case_runs_in_order_then_continues_after_the_switch() {
        assert_eq!(next("x1").as_deref(), Some("x2"));
        assert_eq!(next("x2").as_deref(), Some("f"));
        assert_eq!(next("d1").as_deref(), Some("f"));
    }

    #[test]
    fn a_branch_ends_at_the_join() {
        assert_eq!(next("b1").as_deref(), Some("b2"));
        assert_eq!(next("b2").as_deref(), Some("j"));
        assert_eq!(next("c1").as_deref(), Some("j"));
        assert_eq!(
            following_sibling(&def(), "f").map(|t| t.task_reference_name.as_str()),
            Some("j")
        );
    }

    #[test]
    fn iteration_suffixes_are_not_part_of_the_reference() {
        assert_eq!(base_reference("step__12"), "step");
        assert_eq!(base_reference("my__step"), "my__step");
        assert_eq!(base_reference("plain"), "plain");
        assert_eq!(next("b1__3").as_deref(), Some("b2"));
    }

    #[test]
    fn the_end_of_a_loop_body_leads_back_to_the_loop() {
        let def: WorkflowDef = serde_json::from_value(json!({"name": "l", "tasks": [
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "false",
             "loopOver": [{"name": "l1", "taskReferenceName": "l1"}, {"name": "l2", "taskReferenceName": "l2"}]},
            {"name": "after", "taskReferenceName": "after"}]}))
        .unwrap();
        let next = |r: &str| next_task(&def, r).map(|t| t.task_reference_name.clone());
        assert_eq!(next("l1__1").as_deref(), Some("l2"));
        assert_eq!(next("l2__1").as_deref(), Some("loop"));
        assert_eq!(next("loop").as_deref(), Some("after"));
        assert_eq!(
            loop_around(&def, "l2__4").map(|t| t.task_reference_name.as_str()),
            Some("loop")
        );
        assert!(loop_around(&def, "after").is_none());
    }

    #[test]
    fn an_unknown_reference_has_no_next() {
        assert_eq!(next("nope"), None);
    }
}
