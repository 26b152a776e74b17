//! JSON_JQ_TRANSFORM: the task's input is the jq input, its `queryExpression` the filter,
//! evaluated in the jq sandbox (never in the server process). Output is Conductor's
//! `{result, resultList}`; any error fails the task with the message in
//! `reasonForIncompletion` and `output.error`.

use std::sync::Arc;

use baton_model::{task_type, JsonMap, Task};
use serde_json::Value;

use super::{Execution, Outcome, SystemTask};
use crate::jq::{transform_output, JqSandbox};

pub struct JqTask {
    sandbox: Arc<JqSandbox>,
}

impl JqTask {
    pub fn new(sandbox: JqSandbox) -> Self {
        JqTask {
            sandbox: Arc::new(sandbox),
        }
    }
}

impl SystemTask for JqTask {
    fn task_type(&self) -> &'static str {
        task_type::JSON_JQ_TRANSFORM
    }

    fn concurrency(&self) -> usize {
        self.sandbox.limits().processes.max(1)
    }

    fn execute(&self, task: Task) -> Execution {
        let sandbox = self.sandbox.clone();
        Box::pin(async move { transform(&sandbox, task.input_data).await })
    }
}

async fn transform(sandbox: &JqSandbox, input: JsonMap) -> Outcome {
    let filter = match input.get("queryExpression") {
        Some(Value::String(filter)) => filter.clone(),
        None | Some(Value::Null) => {
            return Outcome::failed(
                "Missing 'queryExpression' in input parameters",
                JsonMap::new(),
            )
        }
        Some(other) => {
            let reason = format!("queryExpression must be a string, not {other}");
            return failure(reason);
        }
    };
    match sandbox.evaluate(&filter, &Value::Object(input)).await {
        Ok(outputs) => Outcome::completed(transform_output(outputs)),
        Err(error) => failure(error.to_string()),
    }
}

fn failure(reason: String) -> Outcome {
    let output = JsonMap::from_iter([("error".to_owned(), Value::String(reason.clone()))]);
    Outcome::failed(reason, output)
}
