//! Timeouts, as pure functions of a workflow and `now`: which deadline comes next
//! ([`next_check_at`], stored with the workflow so a sweeper knows when to look again), and
//! what happens when deadlines pass ([`sweep`]).
//!
//! - A task a worker (or the server's HTTP/jq worker) holds IN_PROGRESS longer than its
//!   `responseTimeoutSeconds` since its last update times out; a lease on its queue entry
//!   runs out at the same moment, which is how the sweeper learns of it.
//! - `timeoutSeconds` bounds a task's time IN_PROGRESS, `pollTimeoutSeconds` its time waiting
//!   for a poll; `timeoutPolicy` RETRY times the task out (the retry logic applies),
//!   TIME_OUT_WF times the workflow out, ALERT_ONLY changes nothing.
//! - `totalTimeoutSeconds` bounds all attempts of a task together, retry delays included,
//!   counted from the first attempt's scheduling; once it has passed, the task is not retried.
//! - The workflow's own `timeoutSeconds` with policy TIME_OUT_WF times the whole workflow out.

use baton_model::{
    task_type, Task, TaskStatus, TaskTimeoutPolicy, Workflow, WorkflowStatus, WorkflowTimeoutPolicy,
};

use crate::decider::decide_into;
use crate::failure_workflow::{end_in_failure, Failure};
use crate::schedule::task_def_of;
use crate::validate::is_system_task;
use crate::{Decision, EngineError, IdSource, QueueOp};

/// Tasks whose time is counted: those a poller works on (worker tasks, and HTTP and jq, which
/// the server's own workers poll). WAIT and HUMAN wait as long as they must.
fn is_polled_work(task: &Task) -> bool {
    let kind = task
        .workflow_task
        .as_ref()
        .map_or("", |t| t.r#type.as_str());
    !is_system_task(kind) || kind == task_type::HTTP || kind == task_type::JSON_JQ_TRANSFORM
}

/// A timeout that has passed, for one task.
enum Expired {
    /// IN_PROGRESS without an update for `responseTimeoutSeconds`.
    Response(i64),
    /// IN_PROGRESS for longer than `timeoutSeconds`.
    Run(i64, TaskTimeoutPolicy),
    /// SCHEDULED and not polled within `pollTimeoutSeconds`.
    Poll(i64, TaskTimeoutPolicy),
    /// All attempts together took longer than `totalTimeoutSeconds`: (limit, elapsed) seconds.
    Total(i64, i64, TaskTimeoutPolicy),
}

/// When the first attempt of `task` was scheduled, following `retriedTaskId` back through
/// the workflow's `tasks`.
pub(crate) fn first_scheduled_time(tasks: &[Task], task: &Task) -> i64 {
    let mut first = task;
    // Each hop goes to an earlier attempt; the bound guards against a malformed chain.
    for _ in 0..tasks.len() {
        let Some(previous) = first
            .retried_task_id
            .as_deref()
            .and_then(|id| tasks.iter().find(|t| t.task_id == id))
        else {
            break;
        };
        first = previous;
    }
    first.scheduled_time
}

/// `task`'s `totalTimeoutSeconds`, 0 when it has none.
fn total_timeout_seconds(task: &Task) -> i64 {
    task.workflow_task
        .as_deref()
        .and_then(|t| t.task_definition.as_ref())
        .map_or(0, |def| def.total_timeout_seconds)
}

/// When `task`'s `totalTimeoutSeconds` runs out, if it has one.
fn total_deadline(tasks: &[Task], task: &Task) -> Option<i64> {
    let limit = total_timeout_seconds(task);
    (limit > 0).then(|| first_scheduled_time(tasks, task) + limit * 1000)
}

/// Once `task`'s `totalTimeoutSeconds` has passed at `now`: the limit and the seconds elapsed
/// since its first attempt was scheduled.
pub(crate) fn total_timeout_spent(tasks: &[Task], task: &Task, now: i64) -> Option<(i64, i64)> {
    let limit = total_timeout_seconds(task);
    let deadline = total_deadline(tasks, task).filter(|at| now >= *at)?;
    Some((limit, (now - deadline) / 1000 + limit))
}

/// The timeout of `task` (one of `tasks`) that has passed at `now`, if any.
fn expired(tasks: &[Task], task: &Task, now: i64) -> Option<Expired> {
    if task.status.is_terminal() || !is_polled_work(task) {
        return None;
    }
    let def = task_def_of(task.workflow_task.as_deref()?);
    if def.timeout_policy != TaskTimeoutPolicy::AlertOnly {
        if let Some((limit, elapsed)) = total_timeout_spent(tasks, task, now) {
            return Some(Expired::Total(limit, elapsed, def.timeout_policy));
        }
    }
    match task.status {
        TaskStatus::InProgress => {
            if def.timeout_seconds > 0
                && def.timeout_policy != TaskTimeoutPolicy::AlertOnly
                && now >= task.start_time + def.timeout_seconds * 1000
            {
                return Some(Expired::Run(def.timeout_seconds, def.timeout_policy));
            }
            let response = crate::lease_ms(task);
            (now >= task.update_time + response).then_some(Expired::Response(response / 1000))
        }
        TaskStatus::Scheduled => {
            let poll_timeout = i64::from(def.poll_timeout_seconds.unwrap_or(0));
            (poll_timeout > 0
                && def.timeout_policy != TaskTimeoutPolicy::AlertOnly
                && now >= task.scheduled_time + poll_timeout * 1000)
                .then_some(Expired::Poll(poll_timeout, def.timeout_policy))
        }
        _ => None,
    }
}

/// When the next timeout of a running workflow falls due, other than response timeouts (a
/// polled task's queue lease carries those). `None` when nothing is timed.
pub fn next_check_at(workflow: &Workflow) -> Option<i64> {
    if workflow.status != WorkflowStatus::Running {
        return None;
    }
    let own = workflow
        .workflow_definition
        .as_ref()
        .filter(|def| {
            def.timeout_seconds > 0 && def.timeout_policy == WorkflowTimeoutPolicy::TimeOutWf
        })
        .map(|def| workflow.create_time + def.timeout_seconds * 1000);
    let tasks = workflow
        .tasks
        .iter()
        .filter(|task| !task.status.is_terminal() && is_polled_work(task))
        .filter_map(|task| {
            let def = task_def_of(task.workflow_task.as_deref()?);
            if def.timeout_policy == TaskTimeoutPolicy::AlertOnly {
                return None;
            }
            let own = match task.status {
                TaskStatus::InProgress if def.timeout_seconds > 0 => {
                    Some(task.start_time + def.timeout_seconds * 1000)
                }
                TaskStatus::Scheduled => def
                    .poll_timeout_seconds
                    .filter(|seconds| *seconds > 0)
                    .map(|seconds| task.scheduled_time + i64::from(seconds) * 1000),
                _ => None,
            };
            own.into_iter()
                .chain(total_deadline(&workflow.tasks, task))
                .min()
        });
    own.into_iter().chain(tasks).min()
}

/// Applies every timeout that has passed at `now`, then decides what follows (a timed-out task
/// is retried by its retry logic, or fails the workflow).
pub fn sweep(
    workflow: Workflow,
    now: i64,
    ids: &mut dyn IdSource,
) -> Result<Decision, EngineError> {
    let mut decision = Decision::unchanged(workflow);
    if decision.workflow.status == WorkflowStatus::Paused {
        // Nothing times out while paused; expired leases are pushed back to look again later.
        for task in &decision.workflow.tasks {
            if matches!(
                expired(&decision.workflow.tasks, task, now),
                Some(Expired::Response(_))
            ) {
                decision.queue.push(QueueOp::ExtendLease {
                    task_id: task.task_id.clone(),
                    leased_until: crate::lease_deadline(task, now),
                });
            }
        }
        return Ok(decision);
    }
    if decision.workflow.status != WorkflowStatus::Running {
        return Ok(decision);
    }
    if let Some(def) = decision.workflow.workflow_definition.as_ref() {
        let deadline = decision.workflow.create_time + def.timeout_seconds * 1000;
        if def.timeout_seconds > 0
            && def.timeout_policy == WorkflowTimeoutPolicy::TimeOutWf
            && now >= deadline
        {
            let reason = format!(
                "Workflow timed out after {} seconds. Timeout configured as {} seconds. Timeout policy configured to TIME_OUT_WF",
                (now - decision.workflow.create_time) / 1000,
                def.timeout_seconds
            );
            let failure = Failure {
                status: WorkflowStatus::TimedOut,
                reason: Some(reason),
                failed_task_id: None,
                output: None,
            };
            end_in_failure(&mut decision, failure, now, ids);
            return Ok(decision);
        }
    }
    let mut times_out_workflow = None;
    for position in 0..decision.workflow.tasks.len() {
        let task = &decision.workflow.tasks[position];
        let Some(expiry) = expired(&decision.workflow.tasks, task, now) else {
            continue;
        };
        let (reason, policy) = match expiry {
            Expired::Response(seconds) => (
                format!("responseTimeout: {seconds} exceeded for taskId: {}", task.task_id),
                TaskTimeoutPolicy::Retry,
            ),
            Expired::Run(seconds, policy) => (
                format!("Task timed out after {} seconds. Timeout configured as {seconds} seconds. Timeout policy configured to {policy}", (now - task.start_time) / 1000),
                policy,
            ),
            Expired::Poll(seconds, policy) => (
                format!("Task poll timed out after {} seconds. Poll timeout configured as {seconds} seconds. Timeout policy configured to {policy}", (now - task.scheduled_time) / 1000),
                policy,
            ),
            Expired::Total(seconds, elapsed, policy) => (
                format!("Task {}/{} exceeded total timeout of {seconds} seconds (elapsed {elapsed} seconds across all attempts including retry delays). Timeout policy: {policy}", task.task_def_name, task.task_id),
                policy,
            ),
        };
        let task = &mut decision.workflow.tasks[position];
        task.status = TaskStatus::TimedOut;
        task.reason_for_incompletion = Some(reason.clone());
        task.end_time = now;
        task.update_time = now;
        let task_id = task.task_id.clone();
        decision.touch(&task_id);
        decision.queue.push(QueueOp::Remove {
            task_id: task_id.clone(),
        });
        if policy == TaskTimeoutPolicy::TimeOutWf && times_out_workflow.is_none() {
            times_out_workflow = Some((reason, task_id));
        }
    }
    if let Some((reason, task_id)) = times_out_workflow {
        let failure = Failure {
            status: WorkflowStatus::TimedOut,
            reason: Some(reason),
            failed_task_id: Some(&task_id),
            output: None,
        };
        end_in_failure(&mut decision, failure, now, ids);
        return Ok(decision);
    }
    decide_into(&mut decision, now, ids)?;
    Ok(decision)
}
