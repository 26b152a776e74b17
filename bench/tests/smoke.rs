//! The bench runs end to end in a small configuration and prints one well-formed JSON line.
//! (No timing is asserted: speed is measured by running the bench, see docs/benchmarks.md.)

use std::process::Command;

use serde_json::Value;

fn run_bench(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_baton-bench"))
        .args(args)
        .output()
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stdout}");
    serde_json::from_str(lines[0]).expect("the line is JSON")
}

fn assert_well_formed(report: &Value, workflows: u64, steps: u64) {
    assert_eq!(report["workflows"], workflows);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["handoffs"], workflows * (steps - 1));
    for key in [
        "workflows_per_s",
        "tasks_per_s",
        "elapsed_s",
        "server_peak_rss_mb",
    ] {
        assert!(
            report[key].as_f64().is_some_and(|v| v > 0.0),
            "{key} in {report}"
        );
    }
    for key in ["p50", "p90", "p99", "max"] {
        assert!(
            report["handoff_ms"][key].as_f64().is_some_and(|v| v >= 0.0),
            "handoff {key} in {report}"
        );
    }
    let (p50, p99) = (
        report["workflow_latency_ms"]["p50"].as_f64().unwrap(),
        report["workflow_latency_ms"]["p99"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p99, "{report}");
}

#[test]
fn a_small_sqlite_run_prints_one_json_line_of_measurements() {
    let report = run_bench(&[
        "--db",
        "sqlite",
        "--workflows",
        "20",
        "--tasks-per-workflow",
        "3",
        "--workers",
        "4",
    ]);
    assert_well_formed(&report, 20, 3);
    assert_eq!(report["db"], "sqlite");
}

#[test]
fn a_small_paced_postgres_run_with_v1_updates_prints_one_json_line() {
    let url = match std::env::var("BATON_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!(
                "skipping the PostgreSQL bench smoke test: BATON_TEST_DATABASE_URL is not set"
            );
            return;
        }
    };
    let report = run_bench(&[
        "--db",
        "postgres",
        "--postgres-url",
        &url,
        "--workflows",
        "10",
        "--tasks-per-workflow",
        "2",
        "--workers",
        "2",
        "--rate",
        "200",
        "--update",
        "v1",
    ]);
    assert_well_formed(&report, 10, 2);
    assert_eq!(report["update"], "v1");
}

#[test]
fn a_small_fan_out_run_counts_each_branch() {
    let report = run_bench(&[
        "--db",
        "sqlite",
        "--workflows",
        "3",
        "--fork",
        "20",
        "--workers",
        "4",
    ]);
    assert_eq!(report["workflows"], 3);
    assert_eq!(report["fork"], 20);
    assert_eq!(report["errors"], 0);
    assert!(
        report["tasks_per_s"].as_f64().is_some_and(|v| v > 0.0),
        "{report}"
    );
}

#[test]
fn impossible_sizes_fail_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_baton-bench"))
        .args(["--fork", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--fork must be at least 1"));
}
