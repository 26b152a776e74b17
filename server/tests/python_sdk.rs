//! The official Conductor Python SDK (`conductor-python`), used as its README teaches,
//! runs workflows to COMPLETED against Baton on SQLite and on PostgreSQL.
//!
//! The SDK lives in a virtualenv that `.ci/run` prepares; its interpreter is found through
//! `BATON_TEST_PYTHON`. Without it the test says it skips (CI always sets it).

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{spawn_app, TestDb};

fn python() -> Option<PathBuf> {
    match std::env::var_os("BATON_TEST_PYTHON") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            eprintln!("skipping the Python SDK test: BATON_TEST_PYTHON is not set (bash .ci/run sets it up)");
            None
        }
    }
}

async fn the_python_sdk_quickstart_runs_to_completed(db: TestDb) {
    let Some(python) = python() else { return };
    let app = spawn_app(db).await;
    let tests = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", tests])
            .env("BATON_URL", address)
            .output()
            .expect("pytest runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pytest failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("passed"), "pytest ran no test:\n{stdout}");
}

on_both_backends!(the_python_sdk_quickstart_runs_to_completed);
