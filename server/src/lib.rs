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

/// mimalloc as the global allocator, for every binary built on this crate (the server, the
/// bench's server, the tests). The writer and the HTTP handlers allocate many small strings
/// and maps per request; with glibc's malloc that was about a fifth of the writer's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
