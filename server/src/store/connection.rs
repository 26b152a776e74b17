//! Database URLs, the two-backend diesel connection, pools and embedded migrations.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::StoreError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A parsed `BATON_DATABASE_URL`: `sqlite://path`, `sqlite::memory:`-free file paths only,
/// or `postgres://...` / `postgresql://...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path (created with its parent directories if missing).
    Sqlite(String),
    /// A libpq connection URL.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(format!("database url `{url}` has no file path"));
            }
            return Ok(DatabaseUrl::Sqlite(path.to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(format!(
            "database url `{url}` is not supported: use sqlite://<path> or postgres://<user>@<host>/<db>"
        ))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

/// One connection to either backend. Shared queries compile once for both;
/// backend-specific statements match on the variant.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type AnyPool = Pool<ConnectionManager<AnyConnection>>;

/// Sets per-connection SQLite options when the pool opens a connection.
#[derive(Debug)]
struct SqlitePragmas;

impl diesel::r2d2::CustomizeConnection<AnyConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        // WAL lets readers run beside the writer; NORMAL sync is durable across process
        // crashes (the WAL is fsynced at checkpoints); the busy timeout covers the rare
        // checkpoint contention, since Baton serializes its own writers.
        conn.batch_execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Opens a pool on `url`, checks a connection works, and runs the embedded migrations.
pub fn open_pool(url: &DatabaseUrl, max_size: u32) -> Result<AnyPool, StoreError> {
    let (connection_url, customizer): (String, Option<SqlitePragmas>) = match url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(parent) = std::path::Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Connection(format!(
                            "cannot create directory {}: {e}",
                            parent.display()
                        ))
                    })?;
                }
            }
            (path.clone(), Some(SqlitePragmas))
        }
        DatabaseUrl::Postgres(url) => (url.clone(), None),
    };
    // Try one connection first so a bad URL fails with the driver's own message.
    let mut probe = AnyConnection::establish(&connection_url)
        .map_err(|e| StoreError::Connection(e.to_string()))?;
    run_migrations(&mut probe)?;
    drop(probe);

    let manager = ConnectionManager::<AnyConnection>::new(connection_url);
    let mut builder = Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10));
    if let Some(customizer) = customizer {
        builder = builder.connection_customizer(Box::new(customizer));
    }
    builder
        .build(manager)
        .map_err(|e| StoreError::Connection(e.to_string()))
}

fn run_migrations(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let result = match conn {
        AnyConnection::Sqlite(conn) => {
            conn.batch_execute("PRAGMA journal_mode = WAL;")?;
            conn.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ())
        }
        AnyConnection::Postgresql(conn) => {
            conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ())
        }
    };
    result.map_err(|e| StoreError::Migration(e.to_string()))
}
