//! Lets diesel cache the prepared statements of our hot-path UPDATEs and upserts.
//!
//! diesel never caches an UPDATE or an `ON CONFLICT DO UPDATE`, because in general a changeset's
//! SQL varies with its values (a `None` field is left out). Re-preparing them cost about a sixth
//! of the server's CPU under load (SQLite's parser and planner, on every statement). The
//! statements wrapped here always render the same SQL for the same query type (their changesets
//! have no optional fields, or use `treat_none_as_null`), so caching them by their SQL text is
//! safe.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// A statement whose SQL text is the same on every execution, so its prepared form may be
/// cached. Only wrap statements whose changeset cannot drop a column.
///
/// Run it with `get_results`/`load` (give an UPDATE a `RETURNING` clause): diesel's `execute`
/// passes the statement on by reference, and its `QueryFragment` impl for references does
/// not forward `is_safe_to_cache_prepared`, so an executed `SameSql` is prepared every time.
#[derive(Debug, Clone, Copy)]
pub struct SameSql<Q>(pub Q);

impl<Q: QueryId> QueryId for SameSql<Q> {
    type QueryId = SameSql<Q::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Q, DB> QueryFragment<DB> for SameSql<Q>
where
    Q: QueryFragment<DB>,
    DB: Backend,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: Query> Query for SameSql<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for SameSql<Q> {}
