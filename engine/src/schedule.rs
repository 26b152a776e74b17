//! Turning a definition's task into a scheduled task, with its input resolved and its queue entry.

use baton_model::{task_type, Task, TaskDef, TaskStatus, Workflow, WorkflowTask};

use crate::expression::resolve_map;
use crate::roots::WorkflowRoots;
use crate::{lease_ms, queue_name, Decision, IdSource, QueueOp};

/// The definition that governs a task: the one embedded at start, else Conductor's defaults.
pub fn task_def_of(workflow_task: &WorkflowTask) -> TaskDef {
    workflow_task
        .task_definition
        .clone()
        .unwrap_or_else(|| TaskDef {
            name: workflow_task.name.clone(),
            ..TaskDef::default()
        })
}

/// Builds the task for `workflow_task`, adds it to the workflow, and queues it.
pub fn schedule_task(
    decision: &mut Decision,
    workflow_task: &WorkflowTask,
    retry_of: Option<&Task>,
    delay_seconds: i64,
    now: i64,
    ids: &mut dyn IdSource,
) {
    let task_id = ids.next_id();
    let task_def = task_def_of(workflow_task);
    let workflow = &decision.workflow;
    let mut input = task_def.input_template.clone();
    input.extend(resolve_map(
        &workflow_task.input_parameters,
        &WorkflowRoots {
            workflow,
            new_task_id: Some(&task_id),
        },
    ));
    let task_type = if workflow_task.r#type == task_type::SIMPLE || workflow_task.r#type.is_empty()
    {
        workflow_task.name.clone()
    } else {
        workflow_task.r#type.clone()
    };
    let domain = domain_for(workflow, &task_type);
    let task = Task {
        task_id: task_id.clone(),
        task_type,
        status: TaskStatus::Scheduled,
        input_data: input,
        reference_task_name: workflow_task.task_reference_name.clone(),
        retry_count: retry_of.map_or(0, |previous| previous.retry_count + 1),
        retried_task_id: retry_of.map(|previous| previous.task_id.clone()),
        seq: next_seq(workflow),
        correlation_id: workflow.correlation_id.clone(),
        task_def_name: workflow_task.name.clone(),
        scheduled_time: now,
        update_time: now,
        start_delay_in_seconds: workflow_task.start_delay,
        response_timeout_seconds: task_def.response_timeout_seconds,
        workflow_instance_id: workflow.workflow_id.clone(),
        workflow_type: workflow.workflow_name().map(str::to_owned),
        workflow_task: Some(workflow_task.clone()),
        domain: domain.clone(),
        rate_limit_per_frequency: task_def.rate_limit_per_frequency,
        rate_limit_frequency_in_seconds: task_def.rate_limit_frequency_in_seconds,
        workflow_priority: workflow.priority,
        isolation_group_id: task_def.isolation_group_id.clone(),
        execution_name_space: task_def.execution_name_space.clone(),
        ..Task::default()
    };
    let visible_at = now
        + delay_seconds
            .max(i64::from(workflow_task.start_delay))
            .max(0)
            * 1000;
    decision.queue.push(QueueOp::Push {
        queue_name: queue_name(&task.task_type, domain.as_deref()),
        task_id: task_id.clone(),
        priority: workflow.priority,
        visible_at,
        lease_ms: lease_ms(&task),
    });
    decision.workflow.tasks.push(task);
    decision.touch(&task_id);
}

fn next_seq(workflow: &Workflow) -> i32 {
    workflow
        .tasks
        .iter()
        .map(|task| task.seq)
        .max()
        .unwrap_or(0)
        + 1
}

/// The domain a task type is routed to: its own entry in `taskToDomain`, else `"*"`.
fn domain_for(workflow: &Workflow, task_type: &str) -> Option<String> {
    workflow
        .task_to_domain
        .get(task_type)
        .or_else(|| workflow.task_to_domain.get("*"))
        .filter(|domain| !domain.is_empty())
        .cloned()
}
