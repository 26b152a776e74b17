//! Test databases: a temporary SQLite file, or a fresh PostgreSQL database per test.
//!
//! PostgreSQL is found through `BATON_TEST_DATABASE_URL`, else the loopback default
//! `postgres://postgres@127.0.0.1:5432/test` when it answers. When the variable is set
//! the database must be reachable (CI sets it); otherwise tests say plainly they skip.

use diesel::{Connection, PgConnection, RunQueryDsl};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        TestDb::Sqlite(tempfile::tempdir().expect("a temporary directory"))
    }

    /// A new, empty PostgreSQL database, or `None` (with a message) when none is available.
    pub fn postgres() -> Option<TestDb> {
        let (admin_url, required) = match std::env::var("BATON_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => (url, true),
            _ => (DEFAULT_POSTGRES_URL.to_owned(), false),
        };
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(error) if !required => {
                eprintln!("skipping PostgreSQL test: {DEFAULT_POSTGRES_URL} is not reachable ({error}); set BATON_TEST_DATABASE_URL to run it");
                return None;
            }
            Err(error) => panic!("BATON_TEST_DATABASE_URL={admin_url} is not reachable: {error}"),
        };
        let name = format!("baton_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create a test database");
        let url = with_database(&admin_url, &name);
        Some(TestDb::Postgres {
            admin_url,
            name,
            url,
        })
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => format!("sqlite://{}", dir.path().join("baton.db").display()),
            TestDb::Postgres { url, .. } => url.clone(),
        }
    }

    /// Runs one SQL statement on the test database (to set up what the store cannot, such as
    /// the planner's statistics).
    pub fn execute(&self, sql: &str) {
        match self {
            TestDb::Sqlite(dir) => {
                let path = dir.path().join("baton.db");
                let mut conn = diesel::SqliteConnection::establish(&path.display().to_string())
                    .expect("open the SQLite test database");
                diesel::sql_query(sql)
                    .execute(&mut conn)
                    .expect("run the statement");
            }
            TestDb::Postgres { url, .. } => {
                let mut conn = PgConnection::establish(url).expect("connect to the test database");
                diesel::sql_query(sql)
                    .execute(&mut conn)
                    .expect("run the statement");
            }
        }
    }

    /// Runs `SELECT count(*) AS n ...` on the test database.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Vec<Count> = match self {
            TestDb::Sqlite(dir) => {
                let path = dir.path().join("baton.db");
                let mut conn = diesel::SqliteConnection::establish(&path.display().to_string())
                    .expect("open the SQLite test database");
                diesel::sql_query(sql)
                    .load(&mut conn)
                    .expect("run the query")
            }
            TestDb::Postgres { url, .. } => {
                let mut conn = PgConnection::establish(url).expect("connect to the test database");
                diesel::sql_query(sql)
                    .load(&mut conn)
                    .expect("run the query")
            }
        };
        rows.first().map_or(0, |row| row.n)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres { .. })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

/// The same server URL pointing at another database.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}
