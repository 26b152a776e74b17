//! Helpers for the engine's tests: a workflow run driven step by step on a fixed clock.
#![allow(dead_code)] // Each test binary uses a different subset.

use baton_engine::{
    apply_task_result, start_polled_task, start_workflow, Decision, QueueOp, SequentialIds,
    StartParams,
};
use baton_model::{JsonMap, Task, TaskResult, TaskResultStatus, Workflow, WorkflowDef};
use serde_json::{json, Value};

pub const T0: i64 = 1_700_000_000_000;

pub fn map(value: Value) -> JsonMap {
    value.as_object().expect("an object").clone()
}

pub fn definition(value: Value) -> WorkflowDef {
    serde_json::from_value(value).expect("a valid definition")
}

/// Three sequential tasks; `b` reads `a`'s output, `c` reads `b`'s.
pub fn three_steps() -> WorkflowDef {
    definition(json!({
        "name": "three",
        "tasks": [
            {"name": "task_a", "taskReferenceName": "a", "inputParameters": {"n": "${workflow.input.n}", "me": "${CPEWF_TASK_ID}"}},
            {"name": "task_b", "taskReferenceName": "b", "inputParameters": {"prev": "${a.output.value}", "text": "got ${a.output.value}"}},
            {"name": "task_c", "taskReferenceName": "c", "inputParameters": {"all": {"a": "${a.output.value}", "b": ["${b.output.value}"]}}}
        ],
        "outputParameters": {"sum": "${c.output.sum}", "wf": "${workflow.workflowId}"}
    }))
}

pub struct Run {
    pub workflow: Workflow,
    pub ids: SequentialIds,
    pub now: i64,
}

impl Run {
    pub fn start(def: WorkflowDef, input: Value) -> (Run, Decision) {
        Self::start_with(
            def,
            StartParams {
                workflow_id: "wf-1".into(),
                input: map(input),
                ..StartParams::default()
            },
        )
    }

    pub fn start_with(def: WorkflowDef, params: StartParams) -> (Run, Decision) {
        let mut ids = SequentialIds::new("t");
        let decision = start_workflow(def, params, T0, &mut ids).expect("starts");
        (
            Run {
                workflow: decision.workflow.clone(),
                ids,
                now: T0,
            },
            decision,
        )
    }

    pub fn task(&self, reference: &str) -> &Task {
        self.workflow
            .task_by_ref_name(reference)
            .expect("a task with that reference")
    }

    /// A worker polls the latest `reference` task, then reports `status` with `output`.
    pub fn report(&mut self, reference: &str, status: TaskResultStatus, output: Value) -> Decision {
        self.report_with(reference, |result| {
            result.status = Some(status);
            result.output_data = map(output);
        })
    }

    pub fn report_with(&mut self, reference: &str, edit: impl FnOnce(&mut TaskResult)) -> Decision {
        self.now += 1000;
        let position = self
            .workflow
            .tasks
            .iter()
            .rposition(|t| t.reference_task_name == reference)
            .unwrap();
        start_polled_task(
            &mut self.workflow.tasks[position],
            Some("worker-1"),
            None,
            self.now,
        );
        let task = &self.workflow.tasks[position];
        let mut result = TaskResult {
            workflow_instance_id: task.workflow_instance_id.clone(),
            task_id: task.task_id.clone(),
            ..TaskResult::default()
        };
        edit(&mut result);
        let decision = apply_task_result(self.workflow.clone(), &result, self.now, &mut self.ids)
            .expect("applies");
        self.workflow = decision.workflow.clone();
        decision
    }
}

pub fn pushes(decision: &Decision) -> Vec<(String, String, i64)> {
    decision
        .queue
        .iter()
        .filter_map(|op| match op {
            QueueOp::Push {
                queue_name,
                task_id,
                visible_at,
                ..
            } => Some((queue_name.clone(), task_id.clone(), *visible_at)),
            _ => None,
        })
        .collect()
}
