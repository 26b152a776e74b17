//! Baton: a Conductor-compatible workflow orchestration server.
//!
//! Layers, outermost first: [`api`] (HTTP) → [`runtime`] (async services) → the pure
//! engine (`baton-engine`) and [`store`] (SQLite or PostgreSQL through diesel).
//! See `docs/architecture.md` for the code map and the invariants.

pub mod api;
pub mod config;
pub mod error;
pub mod jq;
pub mod runtime;
pub mod startup;
pub mod store;
pub mod system_tasks;
