//! The server under test: a child process running Baton on a fresh database, or a given URL.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use baton_client::BatonClient;
use baton_server::config::{Config, Flags};
use baton_server::startup::Application;
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::Db;

/// Runs Baton in this process until killed (the `serve` subcommand). `BATON_BENCH_LOG` (a
/// tracing filter, e.g. `baton_server::store=debug` for the writer's timings) turns on the
/// server's log, on stderr.
pub async fn serve(http_addr: &str, database_url: &str) -> anyhow::Result<()> {
    if let Ok(filter) = std::env::var("BATON_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let config = Config {
        http_addr: http_addr.to_owned(),
        database_url: database_url.to_owned(),
        log: "warn".into(),
        ..Config::load(&Flags::default(), Vec::new()).map_err(anyhow::Error::msg)?
    };
    let app = Application::build(&config).await?;
    app.run_until_stopped().await?;
    Ok(())
}

/// A fresh database the server runs on, removed when the bench ends
/// (the SQLite directory is deleted when its `TempDir` drops).
enum Database {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
    External,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { admin_url, name } = self {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

pub struct Server {
    child: Option<Child>,
    client: BatonClient,
    _database: Database,
}

impl Server {
    pub fn external(url: &str) -> Server {
        Server {
            child: None,
            client: BatonClient::new(url).expect("a valid --url"),
            _database: Database::External,
        }
    }

    pub async fn spawn(db: Db, postgres_url: &str) -> anyhow::Result<Server> {
        let (database, database_url) = match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                (Database::Sqlite(dir), url)
            }
            Db::Postgres => {
                let mut admin = PgConnection::establish(postgres_url)
                    .with_context(|| format!("connect to {postgres_url}"))?;
                let name = format!("baton_bench_{}", uuid::Uuid::new_v4().simple());
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
                let base = postgres_url
                    .rsplit_once('/')
                    .map_or(postgres_url, |(base, _)| base);
                let url = format!("{base}/{name}");
                (
                    Database::Postgres {
                        admin_url: postgres_url.to_owned(),
                        name,
                    },
                    url,
                )
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let address = format!("127.0.0.1:{port}");
        let child = Command::new(std::env::current_exe()?)
            .args([
                "serve",
                "--http-addr",
                &address,
                "--database-url",
                &database_url,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn the server process")?;
        let client = BatonClient::new(format!("http://{address}"))?;
        let server = Server {
            child: Some(child),
            client,
            _database: database,
        };
        let started = Instant::now();
        while server.client.health().await.is_err() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(server)
    }

    pub fn client(&self) -> &BatonClient {
        &self.client
    }

    /// The server process's peak resident set (VmHWM), in MiB.
    pub fn peak_rss_mb(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
