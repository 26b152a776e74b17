//! `baton-bench`: starts a Baton server (or targets `--url`), starts N workflows of K sequential
//! SIMPLE tasks, runs W concurrent HTTP workers, and prints one JSON line of measurements.
//!
//! The server runs as a child process (this binary re-executed with `serve`), so its peak RSS is
//! the server's alone and not the load generator's.

mod load;
mod server;
mod stats;

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Db {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpdateApi {
    /// `POST /api/tasks`; the next task arrives through a long poll.
    V1,
    /// `POST /api/tasks/update-v2`, which hands back the next task of the same type, as the SDKs use it.
    V2,
}

#[derive(Debug, Parser)]
#[command(name = "baton-bench", about = "Load generator for Baton")]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Database of the server the bench starts.
    #[arg(long, value_enum, default_value = "sqlite")]
    db: Db,
    /// Workflows to run.
    #[arg(long, default_value_t = 1000)]
    workflows: usize,
    /// Sequential SIMPLE tasks per workflow.
    #[arg(long, default_value_t = 3)]
    tasks_per_workflow: usize,
    /// Concurrent HTTP workers (each holds one task at a time).
    #[arg(long, default_value_t = 16)]
    workers: usize,
    /// Start workflows at this many per second (0: as fast as the server takes them).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Concurrent start requests when `--rate` is 0.
    #[arg(long, default_value_t = 8)]
    starters: usize,
    /// Instead of K sequential tasks, each workflow fans out to F tasks with a
    /// FORK_JOIN_DYNAMIC and joins them.
    #[arg(long)]
    fork: Option<usize>,
    /// How workers report results.
    #[arg(long, value_enum, default_value = "v2")]
    update: UpdateApi,
    /// Target a running server instead of starting one (no RSS is measured then).
    #[arg(long)]
    url: Option<String>,
    /// PostgreSQL server for `--db postgres`; a fresh database is created on it and dropped after.
    #[arg(
        long,
        env = "BATON_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    deadline_s: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Internal: run a Baton server (the child process the bench measures).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        http_addr: String,
        #[arg(long)]
        database_url: String,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(Command::Serve {
        http_addr,
        database_url,
    }) = &args.command
    {
        return runtime.block_on(server::serve(http_addr, database_url));
    }
    anyhow::ensure!(args.fork != Some(0), "--fork must be at least 1");
    anyhow::ensure!(
        args.workflows > 0 && args.tasks_per_workflow > 0 && args.workers > 0,
        "sizes must be positive"
    );
    runtime.block_on(async {
        let server = match &args.url {
            Some(url) => server::Server::external(url),
            None => server::Server::spawn(args.db, &args.postgres_url)
                .await
                .context("start the server")?,
        };
        let report = tokio::time::timeout(
            Duration::from_secs(args.deadline_s),
            load::run(&args, server.client()),
        )
        .await
        .context("the run did not finish before --deadline-s")??;
        let rss_mb = server.peak_rss_mb();
        let line = report.into_json(&args, rss_mb);
        println!("{line}");
        Ok(())
    })
}
