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

/// The task that follows `reference_name`, or `None` at the end of the workflow.
pub fn next_task<'d>(def: &'d WorkflowDef, reference_name: &str) -> Option<&'d WorkflowTask> {
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
    fn an_unknown_reference_has_no_next() {
        assert_eq!(next("nope"), None);
    }
}
