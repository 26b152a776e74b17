//! Shared helpers for Baton's black-box tests: test databases on both backends and a
//! server on port 0 driven through `baton-client`.
#![allow(dead_code)] // Each test binary uses a different subset.

pub mod db;
pub mod work;

use std::time::Duration;

use baton_client::BatonClient;
use baton_server::config::{Config, Flags};
use baton_server::startup::Application;

pub use db::TestDb;

/// A running server on a random port, with its database and a client.
pub struct TestApp {
    pub client: BatonClient,
    pub port: u16,
    pub address: String,
    pub db: TestDb,
    /// The server's runtime, to drive the sweeper with a chosen clock.
    pub runtime: baton_server::runtime::Runtime,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts Baton in-process on port 0 over `db`.
pub async fn spawn_app(db: TestDb) -> TestApp {
    init_test_log();
    let config = Config {
        http_addr: "127.0.0.1:0".into(),
        database_url: db.url(),
        database_pool_size: 8,
        // The test binary cannot be the jq sandbox; the real server binary can.
        jq_program: env!("CARGO_BIN_EXE_baton").into(),
        ..Config::load(&Flags::default(), Vec::new()).expect("default config")
    };
    let app = Application::build(&config)
        .await
        .expect("the server starts");
    let port = app.port();
    let runtime = app.runtime();
    let server = tokio::spawn(app.run_until_stopped());
    let address = format!("http://127.0.0.1:{port}");
    let client = BatonClient::new(&address).expect("a client");
    TestApp {
        client,
        port,
        address,
        db,
        runtime,
        server,
    }
}

/// Logs go to the test output only with `TEST_LOG=1`.
pub fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_test_writer()
            .try_init();
    }
}

/// Waits for `check` to return `Some`, checking again after each short pause, up to `limit`.
/// For the few states only observable by asking the server (such as a workflow's status
/// after an external worker finished).
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs every listed test function against SQLite and against PostgreSQL (when reachable).
/// Each function takes a [`TestDb`].
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::TestDb::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $crate::support::TestDb::postgres() else { return };
                    super::$name(db).await
                }
            )*
        }
    };
}
