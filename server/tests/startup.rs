//! Start-up failures are one clear line on stderr and exit code 1, never a panic.

use std::process::Command;

fn run_baton(env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .current_dir(dir.path())
        .env("BATON_HTTP_ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("the baton binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_one_error_line(stderr: &str, expected: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(lines[0].starts_with("baton: error: "), "{stderr}");
    assert!(lines[0].contains(expected), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unsupported_database_url_exits_with_one_line_and_code_1() {
    let (code, stderr) = run_baton(
        &[("BATON_DATABASE_URL", "mysql://root@127.0.0.1/test")],
        &[],
    );
    assert_eq!(code, 1);
    assert_one_error_line(&stderr, "not supported");
}

#[test]
fn an_unreachable_postgres_exits_with_one_line_and_code_1() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let (code, stderr) = run_baton(
        &[("BATON_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
        &[],
    );
    assert_eq!(code, 1);
    assert_one_error_line(&stderr, "cannot open the database");
}

#[test]
fn an_unknown_key_in_the_config_file_exits_with_one_line_and_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("baton.toml");
    std::fs::write(&file, "http_adress = \"127.0.0.1:0\"\n").unwrap();
    let (code, stderr) = run_baton(&[], &["--config", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_one_error_line(&stderr, "http_adress");
}

#[test]
fn an_address_in_use_exits_with_one_line_and_code_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("b.db").display());
    let (code, stderr) = run_baton(
        &[("BATON_HTTP_ADDR", &addr), ("BATON_DATABASE_URL", &url)],
        &[],
    );
    assert_eq!(code, 1);
    assert_one_error_line(&stderr, "cannot listen on");
}
