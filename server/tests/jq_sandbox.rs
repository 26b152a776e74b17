//! The jq sandbox through the real `baton` binary: transforms, errors, crashes, time-outs, limits
//! and parallel use.

use baton_server::jq::{JqError, JqLimits, JqSandbox};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn sandbox() -> JqSandbox {
    sandbox_with(JqLimits::default())
}

fn sandbox_with(limits: JqLimits) -> JqSandbox {
    JqSandbox::new(PathBuf::from(env!("CARGO_BIN_EXE_baton")), limits)
}

/// The outputs, or a panic naming the error.
async fn outputs(sandbox: &JqSandbox, filter: &str, input: Value) -> Vec<Value> {
    match sandbox.evaluate(filter, &input).await {
        Ok(outputs) => outputs,
        Err(error) => panic!("`{filter}` failed: {error:?}"),
    }
}

#[tokio::test]
async fn adding_two_fields_yields_their_sum() {
    let sandbox = sandbox();
    assert_eq!(
        outputs(&sandbox, ".a + .b", json!({"a": 2, "b": 40})).await,
        [json!(42)]
    );
}

#[tokio::test]
async fn iterating_an_array_yields_every_element_in_order() {
    let sandbox = sandbox();
    let input = json!({"items": [{"n": "x"}, {"n": "y"}, {"n": "z"}]});
    assert_eq!(
        outputs(&sandbox, ".items[] | .n", input).await,
        [json!("x"), json!("y"), json!("z")]
    );
    assert_eq!(
        outputs(&sandbox, "empty", json!(null)).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn an_object_construction_builds_the_object() {
    let sandbox = sandbox();
    let input = json!({"x": [1, 2], "y": "ignored", "queryExpression": "{key: .x}"});
    assert_eq!(
        outputs(&sandbox, "{key: .x, count: (.x | length)}", input).await,
        [json!({"key": [1, 2], "count": 2})]
    );
}

#[tokio::test]
async fn a_syntax_error_names_the_problem() {
    let sandbox = sandbox();
    let error = sandbox.evaluate("{a: .b", &json!({})).await.unwrap_err();
    let JqError::Filter(message) = &error else {
        panic!("expected a filter error, got {error:?}");
    };
    assert!(
        message.starts_with("jq syntax error: expected"),
        "{message}"
    );
    assert!(message.contains("line 1"), "{message}");
    assert_eq!(error.to_string(), *message);
}

#[tokio::test]
async fn a_runtime_error_carries_jaqs_message() {
    let sandbox = sandbox();
    let error = sandbox
        .evaluate(".a.b", &json!({"a": 5}))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, JqError::Filter(message) if message == "jq error: cannot index 5 with \"b\""),
        "{error:?}"
    );
}

#[tokio::test]
async fn unbounded_recursion_crashes_the_child_and_the_next_evaluation_works() {
    // Generous: the test binary's child is an unoptimized build.
    let sandbox = sandbox_with(JqLimits {
        timeout: Duration::from_secs(30),
        processes: 1,
        ..JqLimits::default()
    });
    assert_eq!(outputs(&sandbox, ".", json!(1)).await, [json!(1)]);
    let error = sandbox
        .evaluate("def f: 1 + f; f", &json!(null))
        .await
        .unwrap_err();
    assert!(matches!(error, JqError::Crashed), "{error:?}");
    assert_eq!(
        error.to_string(),
        "jq evaluation crashed the sandbox (stack overflow or memory limit)"
    );
    assert_eq!(
        outputs(&sandbox, ".a", json!({"a": true})).await,
        [json!(true)]
    );
}

#[tokio::test]
async fn an_endless_collection_is_stopped_and_the_next_evaluation_works() {
    let timeout = Duration::from_millis(500);
    let sandbox = sandbox_with(JqLimits {
        timeout,
        processes: 1,
        ..JqLimits::default()
    });
    assert_eq!(outputs(&sandbox, ".", json!(1)).await, [json!(1)]);
    let started = Instant::now();
    let error = sandbox
        .evaluate("[repeat(1)]", &json!(null))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, JqError::TimedOut(_) | JqError::Crashed),
        "{error:?}"
    );
    // The time-out plus killing and reaping the child.
    assert!(took < timeout + Duration::from_secs(1), "took {took:?}");
    assert_eq!(outputs(&sandbox, ". + 1", json!(1)).await, [json!(2)]);
}

#[tokio::test]
async fn a_timed_out_evaluation_reports_its_limit() {
    let sandbox = sandbox_with(JqLimits {
        timeout: Duration::from_millis(300),
        ..JqLimits::default()
    });
    // Little memory, much time: 10^12 iterations.
    let error = sandbox
        .evaluate("last(range(1000000000000))", &json!(null))
        .await
        .unwrap_err();
    assert!(matches!(error, JqError::TimedOut(_)), "{error:?}");
    assert_eq!(error.to_string(), "jq evaluation timed out after 300 ms");
}

#[tokio::test]
async fn an_oversized_input_is_refused_before_anything_is_started() {
    // A program that does not exist: starting it would be `Unavailable`.
    let sandbox = JqSandbox::new(
        PathBuf::from("/nonexistent/baton"),
        JqLimits {
            max_input_bytes: 1024,
            ..JqLimits::default()
        },
    );
    let input = json!({"text": "x".repeat(2000)});
    let error = sandbox.evaluate(".", &input).await.unwrap_err();
    assert!(matches!(error, JqError::TooLarge(_)), "{error:?}");
    assert_eq!(error.to_string(), "the jq input is more than 1024 bytes");
}

#[tokio::test]
async fn an_oversized_filter_is_refused() {
    let sandbox = sandbox();
    let filter = format!("\"{}\"", "x".repeat(64 << 10));
    let error = sandbox.evaluate(&filter, &json!(null)).await.unwrap_err();
    assert!(matches!(error, JqError::TooLarge(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("the jq filter is 65538 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn too_deep_an_input_is_refused() {
    let sandbox = sandbox();
    let input = (0..200).fold(json!(1), |inner, _| json!([inner]));
    let error = sandbox.evaluate(".", &input).await.unwrap_err();
    assert!(matches!(error, JqError::TooLarge(_)), "{error:?}");
}

#[tokio::test]
async fn deep_inputs_and_outputs_within_the_limit_work() {
    let sandbox = sandbox();
    let input = (0..100).fold(json!("leaf"), |inner, _| json!({"a": inner}));
    let echoed = outputs(&sandbox, ".", input.clone()).await;
    assert_eq!(echoed, vec![input.clone()]);
    assert_eq!(
        outputs(&sandbox, "[paths] | length", input).await,
        [json!(100)]
    );
}

#[tokio::test]
async fn a_program_that_cannot_start_is_unavailable() {
    let sandbox = JqSandbox::new(PathBuf::from("/nonexistent/baton"), JqLimits::default());
    let error = sandbox.evaluate(".", &json!(1)).await.unwrap_err();
    assert!(matches!(error, JqError::Unavailable(_)), "{error:?}");
    assert!(error.to_string().contains("/nonexistent/baton"), "{error}");
}

#[tokio::test]
async fn the_sandbox_does_not_see_the_servers_environment() {
    let sandbox = sandbox();
    assert!(
        std::env::var_os("PATH").is_some(),
        "this test needs PATH set"
    );
    let seen = outputs(&sandbox, "env | keys", json!(null)).await;
    let keys = seen[0].as_array().unwrap();
    // What the sandbox passes on (LD_LIBRARY_PATH, TZ) or sets itself (the allocator's
    // arena size), and nothing of the server's.
    let allowed = ["LD_LIBRARY_PATH", "TZ", "MIMALLOC_ARENA_RESERVE"];
    assert!(
        keys.iter().all(|key| allowed.iter().any(|a| key == a)),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|key| key == "PATH"), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_parallel_evaluations_are_all_correct() {
    let sandbox = Arc::new(sandbox());
    let evaluations: Vec<_> = (0..8)
        .map(|n| {
            let sandbox = Arc::clone(&sandbox);
            tokio::spawn(async move {
                let input = json!({"n": n, "tag": format!("t{n}")});
                (n, sandbox.evaluate("{double: (.n * 2), tag}", &input).await)
            })
        })
        .collect();
    for evaluation in evaluations {
        let (n, result) = evaluation.await.unwrap();
        assert_eq!(
            result.unwrap(),
            [json!({"double": n * 2, "tag": format!("t{n}")})]
        );
    }
}
