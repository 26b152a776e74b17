//! Builds the server from a [`Config`]: opens the store, binds the port, returns a handle.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::config::Config;
use crate::jq::{JqLimits, JqSandbox};
use crate::runtime::Runtime;
use crate::store::{DatabaseUrl, DieselStore, Store};

/// Why the server could not start. Each is reported as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid database url: {0}")]
    DatabaseUrl(String),
    #[error("cannot open the database: {0}")]
    Database(#[from] crate::store::StoreError),
    #[error("cannot find the jq sandbox program: {0}")]
    JqProgram(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A built server: bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    runtime: Runtime,
    jq: JqSandbox,
}

impl Application {
    /// Opens the database (running migrations) and binds `config.http_addr` (port 0 picks one).
    pub async fn build(config: &Config) -> Result<Application, StartupError> {
        let url = DatabaseUrl::parse(&config.database_url).map_err(StartupError::DatabaseUrl)?;
        let pool_size = config.database_pool_size.max(2);
        let store: Arc<dyn Store> = Arc::new(
            tokio::task::spawn_blocking(move || DieselStore::open(&url, pool_size))
                .await
                .map_err(|e| StartupError::DatabaseUrl(e.to_string()))??,
        );
        let runtime = Runtime::new(store);
        let listener =
            TcpListener::bind(&config.http_addr).map_err(|source| StartupError::Bind {
                addr: config.http_addr.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: config.http_addr.clone(),
                source,
            })?
            .port();
        let data = web::Data::new(runtime.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(crate::api::configure)
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: config.http_addr.clone(),
            source,
        })?
        .shutdown_timeout(10)
        .run();
        Ok(Application {
            port,
            server,
            runtime,
            jq: jq_sandbox(config)?,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The runtime the server runs on (tests drive the sweeper through it).
    pub fn runtime(&self) -> Runtime {
        self.runtime.clone()
    }

    /// Serves, and runs the system tasks and the sweeper, until the process is told to stop (SIGINT/SIGTERM
    /// stop it gracefully).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sweeper = crate::runtime::sweeper::run(self.runtime.clone());
        let system_tasks =
            crate::system_tasks::run(self.runtime, crate::system_tasks::standard_tasks(self.jq));
        tokio::select! {
            served = self.server => served,
            () = system_tasks => Ok(()),
            () = sweeper => Ok(()),
        }
    }
}

/// The jq sandbox pool the configuration asks for (no process starts until the first use).
fn jq_sandbox(config: &Config) -> Result<JqSandbox, StartupError> {
    let program = if config.jq_program.is_empty() {
        crate::jq::default_program().map_err(StartupError::JqProgram)?
    } else {
        config.jq_program.clone().into()
    };
    let limits = JqLimits {
        timeout: std::time::Duration::from_millis(config.jq_timeout_ms.max(1)),
        processes: config.jq_processes.max(1),
        ..JqLimits::default()
    };
    Ok(JqSandbox::new(program, limits))
}
