//! Staged imports (issue 15): a large CSV import must neither half-apply nor hold SQLite's one
//! write lock for long, since every booking waits on that lock.
//!
//! An import first writes its rows, in chunks, into a temporary table of one connection: a
//! `TEMP` table lives in that connection's own temporary schema (SQLite's `temp` database,
//! PostgreSQL's `pg_temp`), so filling it takes no lock on the service's tables and nobody else
//! sees it. Then one short transaction merges it into the real table with a single
//! `INSERT … SELECT … ON CONFLICT` and writes the audit row: all the rows or none. The merge is
//! the only part that holds the write lock; it runs inside the database, with no row crossing
//! the driver, which is what made the old one-transaction import hold it for seconds.
//!
//! A crash while staging leaves nothing: the temporary table dies with its connection. The table
//! is dropped once the import ends; a connection that cannot drop it is closed instead of going
//! back to the pool.

use super::{Backend, Error, Store};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Executor, Transaction};

/// The temporary table of one import, on the connection that holds it.
pub(super) struct Stage {
    conn: PoolConnection<Any>,
    name: &'static str,
    backend: Backend,
}

impl Stage {
    /// A new, empty temporary table `name` with the columns (and types) of `like`, a `SELECT`
    /// of the real table's columns that returns no row.
    pub(super) async fn new(store: &Store, name: &'static str, like: &str) -> Result<Self, Error> {
        let mut conn = store.pool.acquire().await?;
        // A connection that returned to the pool after a failed drop was closed, but be sure.
        conn.execute(format!("DROP TABLE IF EXISTS {name}").as_str())
            .await?;
        conn.execute(format!("CREATE TEMP TABLE {name} AS {like}").as_str())
            .await?;
        Ok(Self {
            conn,
            name,
            backend: store.backend,
        })
    }

    /// The connection, to fill the table (each statement commits on its own, on the temporary
    /// schema only).
    pub(super) fn conn(&mut self) -> &mut PoolConnection<Any> {
        &mut self.conn
    }

    /// The merge's transaction, on the same connection: `BEGIN IMMEDIATE` on SQLite (see
    /// [`Store::begin_write`]).
    pub(super) async fn begin(&mut self) -> Result<Transaction<'_, Any>, Error> {
        Ok(match self.backend {
            Backend::Sqlite => self.conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.conn.begin().await?,
        })
    }

    /// Drops the table; a connection that cannot is closed rather than pooled with it.
    pub(super) async fn finish(mut self) {
        let dropped = self
            .conn
            .execute(format!("DROP TABLE IF EXISTS {}", self.name).as_str())
            .await;
        if let Err(e) = dropped {
            tracing::warn!(error = %e, "cannot drop an import's staging table; closing its connection");
            // Closing is best effort: the connection is gone either way.
            let _ = self.conn.close().await;
        }
    }
}
