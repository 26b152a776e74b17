//! Baton's configuration: one typed struct, layered defaults < `baton.toml` < `BATON_*` env < flags.

use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;

/// The settings Baton runs with. Every field has a documented default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on (`BATON_HTTP_ADDR`). Default `127.0.0.1:8080`.
    pub http_addr: String,
    /// `sqlite://<path>` or `postgres://...` (`BATON_DATABASE_URL`).
    /// Default `sqlite://baton-data/baton.db`.
    pub database_url: String,
    /// Connections in the database pool (`BATON_DATABASE_POOL_SIZE`). Default 16.
    pub database_pool_size: u32,
    /// `tracing` filter directives (`BATON_LOG`). Default `info`.
    pub log: String,
    /// jq sandbox processes, i.e. JSON_JQ_TRANSFORM tasks evaluated at once
    /// (`BATON_JQ_PROCESSES`). Default 2.
    pub jq_processes: usize,
    /// How long one jq evaluation may run before its sandbox is killed (`BATON_JQ_TIMEOUT_MS`).
    /// Default 2000.
    pub jq_timeout_ms: u64,
    /// The program run as the jq sandbox (`BATON_JQ_PROGRAM`); empty means this `baton`
    /// binary, which is what a deployment wants. Tests that embed the server set it.
    pub jq_program: String,
}

/// Keys that may be set from `BATON_<KEY>` environment variables. Other `BATON_*`
/// variables (such as the test suite's) are not configuration and are left alone.
const KEYS: &[&str] = &[
    "http_addr",
    "database_url",
    "database_pool_size",
    "log",
    "jq_processes",
    "jq_timeout_ms",
    "jq_program",
];

/// Command-line flags; each overrides the file and the environment.
#[derive(Debug, Default, Parser)]
#[command(
    name = "baton",
    version,
    about = "A Conductor-compatible workflow orchestration server"
)]
pub struct Flags {
    /// Configuration file (default: ./baton.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub http_addr: Option<String>,
    /// Database URL: sqlite://<path> or postgres://<user>@<host>/<db>.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Database connection pool size.
    #[arg(long, value_name = "N")]
    pub database_pool_size: Option<u32>,
    /// Log filter, e.g. info or baton_server=debug.
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
}

impl Config {
    /// Builds the configuration from every layer.
    pub fn load(
        flags: &Flags,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, String> {
        let mut builder = config::Config::builder()
            .set_default("http_addr", "127.0.0.1:8080")
            .and_then(|b| b.set_default("database_url", "sqlite://baton-data/baton.db"))
            .and_then(|b| b.set_default("database_pool_size", 16))
            .and_then(|b| b.set_default("log", "info"))
            .and_then(|b| b.set_default("jq_processes", 2))
            .and_then(|b| b.set_default("jq_timeout_ms", 2000))
            .and_then(|b| b.set_default("jq_program", ""))
            .map_err(|e| e.to_string())?;

        let file = flags
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("baton.toml"));
        let required = flags.config.is_some();
        builder = builder.add_source(
            config::File::from(file)
                .format(config::FileFormat::Toml)
                .required(required),
        );

        let env_values: config::Map<String, config::Value> = env
            .into_iter()
            .filter_map(|(name, value)| {
                let key = name.strip_prefix("BATON_")?.to_ascii_lowercase();
                KEYS.contains(&key.as_str())
                    .then(|| (key, config::Value::from(value)))
            })
            .collect();
        for (key, value) in env_values {
            builder = builder
                .set_override(key, value)
                .map_err(|e| e.to_string())?;
        }

        let overrides: [(&str, Option<config::Value>); 4] = [
            ("http_addr", flags.http_addr.clone().map(Into::into)),
            ("database_url", flags.database_url.clone().map(Into::into)),
            (
                "database_pool_size",
                flags.database_pool_size.map(|n| i64::from(n).into()),
            ),
            ("log", flags.log.clone().map(Into::into)),
        ];
        for (key, value) in overrides {
            builder = builder
                .set_override_option(key, value)
                .map_err(|e| e.to_string())?;
        }
        builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| format!("invalid configuration: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_serve_sqlite_on_localhost_8080() {
        let flags = Flags {
            config: None,
            ..Flags::default()
        };
        let config = Config::load(&flags, env(&[])).unwrap();
        assert_eq!(config.http_addr, "127.0.0.1:8080");
        assert_eq!(config.database_url, "sqlite://baton-data/baton.db");
        assert_eq!(config.database_pool_size, 16);
    }

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("baton.toml");
        std::fs::write(
            &file,
            "http_addr = \"127.0.0.1:1111\"\ndatabase_url = \"sqlite://file.db\"\nlog = \"warn\"\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(file.clone()),
            ..Flags::default()
        };
        let config = Config::load(
            &flags,
            env(&[
                ("BATON_HTTP_ADDR", "127.0.0.1:2222"),
                ("BATON_TEST_DATABASE_URL", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(config.http_addr, "127.0.0.1:2222");
        assert_eq!(config.database_url, "sqlite://file.db");
        assert_eq!(config.log, "warn");

        let flags = Flags {
            config: Some(file),
            http_addr: Some("127.0.0.1:3333".into()),
            ..Flags::default()
        };
        let config = Config::load(&flags, env(&[("BATON_HTTP_ADDR", "127.0.0.1:2222")])).unwrap();
        assert_eq!(config.http_addr, "127.0.0.1:3333");
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("baton.toml");
        std::fs::write(&file, "htp_addr = \"x\"\n").unwrap();
        let flags = Flags {
            config: Some(file),
            ..Flags::default()
        };
        let error = Config::load(&flags, env(&[])).unwrap_err();
        assert!(error.contains("htp_addr"), "{error}");
    }

    #[test]
    fn a_named_config_file_that_is_missing_is_an_error() {
        let flags = Flags {
            config: Some(PathBuf::from("/nonexistent/baton.toml")),
            ..Flags::default()
        };
        assert!(Config::load(&flags, env(&[])).is_err());
    }
}
