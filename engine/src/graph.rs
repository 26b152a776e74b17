//! Walking a workflow definition: what comes after a task.

use baton_model::{WorkflowDef, WorkflowTask};

/// The task that follows `reference_name` in the definition's sequence, if any.
pub fn next_task<'d>(def: &'d WorkflowDef, reference_name: &str) -> Option<&'d WorkflowTask> {
    let position = def
        .tasks
        .iter()
        .position(|task| task.task_reference_name == reference_name)?;
    def.tasks.get(position + 1)
}
