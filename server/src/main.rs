//! The `baton` binary: load the configuration, start the server, report failures in one line.
//! `baton __jq-sandbox` is the jq sandbox child the server starts itself (`baton_server::jq`).

use baton_server::config::{Config, Flags};
use baton_server::startup::Application;
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(baton_server::jq::SANDBOX_ARG))
    {
        return baton_server::jq::sandbox_main();
    }
    let flags = Flags::parse();
    let config = match Config::load(&flags, std::env::vars()) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    runtime.block_on(async {
        let app = match Application::build(&config).await {
            Ok(app) => app,
            Err(error) => return fail(&error.to_string()),
        };
        tracing::info!(addr = %config.http_addr, port = app.port(), database = %redact(&config.database_url), "baton is serving");
        match app.run_until_stopped().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => fail(&format!("server stopped: {error}")),
        }
    })
}

fn fail(message: &str) -> std::process::ExitCode {
    eprintln!("baton: error: {message}");
    std::process::ExitCode::from(1)
}

/// The database URL without its password, for the log.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
