//! JavaScript for INLINE tasks and the `javascript`/`graaljs` evaluators (SWITCH, DECISION's
//! `caseExpression`), on an embedded QuickJS with no module loader, so scripts get no I/O.
//!
//! Scripts run with a memory cap and a CPU budget. The budget counts QuickJS's periodic
//! interrupt checks rather than reading a clock, so it keeps the engine deterministic: the same
//! script and input always succeed or always run out, on any machine load. A script sees the
//! task's input as `$`, as in Conductor.

use std::cell::Cell;
use std::rc::Rc;

use baton_model::JsonMap;
use rquickjs::{Context, Runtime};
use serde_json::Value;

/// Resource limits for one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct ScriptLimits {
    /// Heap the script may allocate, in bytes.
    pub memory_bytes: usize,
    /// Interrupt checks allowed. QuickJS checks every few thousand bytecode steps; the
    /// default (6,000) measured about 0.1 s of a busy loop on a 2-core EPYC. It is kept small
    /// because scripts run inside the decision, which holds the workflow's lock (and, on
    /// SQLite, the single writer) while it runs.
    pub interrupt_budget: u64,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            memory_bytes: 32 * 1024 * 1024,
            interrupt_budget: 30_000,
        }
    }
}

/// Evaluates `expression` with `$` bound to `input`, and returns its value as JSON
/// (`undefined` and functions become null). Errors are messages fit for a task's
/// `reasonForIncompletion`.
pub fn evaluate(expression: &str, input: &JsonMap, limits: ScriptLimits) -> Result<Value, String> {
    let runtime = Runtime::new().map_err(|e| format!("cannot start the JavaScript engine: {e}"))?;
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(512 * 1024);
    let checks = Rc::new(Cell::new(0_u64));
    let counter = checks.clone();
    runtime.set_interrupt_handler(Some(Box::new(move || {
        counter.set(counter.get() + 1);
        counter.get() > limits.interrupt_budget
    })));
    let context =
        Context::full(&runtime).map_err(|e| format!("cannot start the JavaScript engine: {e}"))?;
    let input_json = serde_json::to_string(input).map_err(|e| e.to_string())?;
    context.with(|ctx| {
        let describe = |error: rquickjs::Error| -> String {
            if checks.get() > limits.interrupt_budget {
                return "script ran past its CPU budget and was stopped".to_owned();
            }
            match error {
                rquickjs::Error::Exception => {
                    let thrown = ctx.catch();
                    let message = thrown
                        .as_object()
                        .and_then(|o| o.get::<_, String>("message").ok())
                        .or_else(|| thrown.as_string().and_then(|s| s.to_string().ok()))
                        .unwrap_or_else(|| "uncaught exception".to_owned());
                    if message.contains("out of memory") {
                        "script ran past its memory limit and was stopped".to_owned()
                    } else {
                        format!("script error: {message}")
                    }
                }
                other => format!("script error: {other}"),
            }
        };
        let dollar = ctx.json_parse(input_json).map_err(describe)?;
        ctx.globals().set("$", dollar).map_err(describe)?;
        let value: rquickjs::Value = ctx.eval(expression).map_err(describe)?;
        let text = ctx.json_stringify(value).map_err(describe)?;
        match text {
            None => Ok(Value::Null),
            Some(text) => {
                let text = text.to_string().map_err(describe)?;
                serde_json::from_str(&text).map_err(|e| format!("script result is not JSON: {e}"))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expression: &str, input: Value) -> Result<Value, String> {
        evaluate(
            expression,
            input.as_object().unwrap(),
            ScriptLimits::default(),
        )
    }

    #[test]
    fn dollar_is_the_task_input_and_the_result_is_json() {
        assert_eq!(run("$.a + $.b", json!({"a": 2, "b": 3})), Ok(json!(5)));
        assert_eq!(
            run(
                "(function(){ return {sum: $.xs.reduce((s, x) => s + x, 0), tag: $.t}; })()",
                json!({"xs": [1, 2, 3], "t": "x"})
            ),
            Ok(json!({"sum": 6, "tag": "x"}))
        );
        assert_eq!(run("$.missing", json!({})), Ok(Value::Null));
    }

    #[test]
    fn syntax_errors_and_throws_are_reported() {
        assert!(run("function (", json!({}))
            .unwrap_err()
            .starts_with("script error:"));
        assert_eq!(
            run("throw new Error('nope')", json!({})),
            Err("script error: nope".to_owned())
        );
    }

    #[test]
    fn a_runaway_loop_is_stopped_by_the_cpu_budget() {
        assert_eq!(
            run("while (true) {}", json!({})),
            Err("script ran past its CPU budget and was stopped".to_owned())
        );
        assert_eq!(
            run("for (;;) { try { while(true){} } catch (e) {} }", json!({})),
            Err("script ran past its CPU budget and was stopped".to_owned())
        );
    }

    #[test]
    fn a_memory_hog_is_stopped_by_the_memory_limit() {
        let error = run(
            "let a = []; while (true) { a.push(new Array(100000).fill(1)); }",
            json!({}),
        )
        .unwrap_err();
        assert!(
            error.contains("memory") || error.contains("CPU budget"),
            "{error}"
        );
    }

    #[test]
    fn scripts_have_no_io() {
        assert!(
            run(
                "typeof require === 'undefined' && typeof fetch === 'undefined'",
                json!({})
            ) == Ok(json!(true))
        );
    }
}
