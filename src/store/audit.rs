//! The `audit` table: one append-only row per write, who did what to which object, when.
//!
//! A write and its audit row are one transaction: store methods that write call [`append`]
//! on their own transaction before committing, with the [`Actor`] the store was given by
//! [`Store::acting_as`] (the API passes the caller's token; the command line and the job
//! worker pass none, stored as NULL). A write outside a store method (a hold kept in Redis,
//! say) calls [`Store::append_audit`], a transaction of its own.
//!
//! `detail` is a small JSON object of counts and ids, never personal data: no patient id,
//! coordinate, age or token. Nothing here updates or deletes a row, and both migrations put
//! triggers on the table that refuse to (on PostgreSQL, TRUNCATE too).

use super::{Error, Store, now};
use crate::domain::{Role, Scope};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::sync::Arc;

/// Who writes: the public id, role and scope of an API token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub token_id: String,
    pub role: Role,
    /// Recorded as the row's `territory`, which the auditeurs filter by.
    pub scope: Scope,
}

/// What a write did, as recorded. `action` and `object_kind` are fixed names
/// (`booking.create`, `booking`); `object_id` is the object's own id when it has one.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub action: &'static str,
    pub object_kind: &'static str,
    pub object_id: Option<String>,
    /// A small JSON object; no personal data.
    pub detail: serde_json::Value,
}

impl AuditEntry {
    /// An entry about `object_kind` `object_id`, with an empty detail.
    pub fn new(action: &'static str, object_kind: &'static str, object_id: Option<String>) -> Self {
        Self {
            action,
            object_kind,
            object_id,
            detail: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// The same entry with `key: value` added to its detail.
    pub fn with_detail_field(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if let serde_json::Value::Object(m) = &mut self.detail {
            m.insert(key.to_owned(), value.into());
        }
        self
    }

    /// The same entry with `detail`.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// A stored audit row.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    pub token_id: Option<String>,
    pub role: Option<Role>,
    pub action: String,
    pub object_kind: String,
    pub object_id: Option<String>,
    pub detail: serde_json::Value,
    /// The author's scope (canonical); `None` for the command line and the job worker.
    pub territory: Option<String>,
}

impl TryFrom<AnyRow> for AuditRecord {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let role: Option<String> = row.try_get("role")?;
        let detail: String = row.try_get("detail")?;
        Ok(Self {
            id: row.try_get("id")?,
            at: row.try_get("at")?,
            token_id: row.try_get("token_id")?,
            role: role
                .map(|r| r.parse())
                .transpose()
                .map_err(|_| Error::Corrupt("audit.role"))?,
            action: row.try_get("action")?,
            object_kind: row.try_get("object_kind")?,
            object_id: row.try_get("object_id")?,
            detail: serde_json::from_str(&detail).map_err(|_| Error::Corrupt("audit.detail"))?,
            territory: row.try_get("territory")?,
        })
    }
}

/// Which rows [`Store::audit_trail`] reads; every bound is optional.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Rows written with this token id.
    pub token_id: Option<String>,
    /// Rows about this kind of object…
    pub object_kind: Option<String>,
    /// …and this one (only with `object_kind`).
    pub object_id: Option<String>,
    /// `at ≥ from` (Unix seconds).
    pub from: Option<i64>,
    /// `at < to` (Unix seconds).
    pub to: Option<i64>,
    /// Rows with `id > after` (keyset pagination).
    pub after: Option<i64>,
    /// Rows whose author's scope holds one of these territories (canonical names, at most
    /// [`crate::domain::territory::MAX_TERRITORIES`]); `None`: every row.
    pub territories: Option<Vec<String>>,
}

/// Appends `entry`, written by `actor` (`None`: the command line or the job worker), inside
/// `tx`: it commits or rolls back with the write it records.
///
/// # Errors
/// [`Error::Unavailable`], [`Error::Other`].
pub async fn append(
    tx: &mut Transaction<'_, Any>,
    actor: Option<&Actor>,
    entry: &AuditEntry,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO audit (at, token_id, role, action, object_kind, object_id, detail, \
         territory) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(now())
    .bind(actor.map(|a| a.token_id.as_str()))
    .bind(actor.map(|a| a.role.as_str()))
    .bind(entry.action)
    .bind(entry.object_kind)
    .bind(entry.object_id.as_deref())
    .bind(entry.detail.to_string())
    .bind(actor.map(|a| a.scope.to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// This store, recording `actor` as the author of the writes made through it.
    #[must_use]
    pub fn acting_as(&self, actor: Actor) -> Store {
        Store {
            actor: Some(Arc::new(actor)),
            ..self.clone()
        }
    }

    /// The actor writes through this store are recorded under (`None`: the command line or
    /// the job worker).
    pub fn actor(&self) -> Option<&Actor> {
        self.actor.as_deref()
    }

    /// Appends `entry` on its own, for a write that is not in this database (a hold kept in
    /// Redis); a database write calls [`append`] in its own transaction instead.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Other`].
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        append(&mut tx, self.actor(), entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` rows matching `filter`, oldest first (by id).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn audit_trail(
        &self,
        filter: &AuditFilter,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, Error> {
        // Each bound is `$n IS NULL OR …`, so one statement serves every filter; the casts
        // give PostgreSQL the type of a NULL parameter. A territory filter adds one LIKE per
        // territory on the comma-framed scope (`,dep:54,dep:57,` holds `,dep:57,`).
        let territories = filter.territories.as_deref();
        let mut sql = String::from(
            "SELECT id, at, token_id, role, action, object_kind, object_id, detail, territory \
             FROM audit \
             WHERE (CAST($1 AS TEXT) IS NULL OR token_id = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR object_kind = $2) \
             AND (CAST($3 AS TEXT) IS NULL OR object_id = $3) \
             AND (CAST($4 AS BIGINT) IS NULL OR at >= $4) \
             AND (CAST($5 AS BIGINT) IS NULL OR at < $5) \
             AND id > $6",
        );
        if let Some(list) = territories {
            let likes: Vec<String> = (0..list.len())
                .map(|i| format!("(',' || territory || ',') LIKE ${} ESCAPE '!'", i + 8))
                .collect();
            if likes.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                sql.push_str(&format!(" AND ({})", likes.join(" OR ")));
            }
        }
        sql.push_str(" ORDER BY id LIMIT $7");
        let mut query = sqlx::query(&sql)
            .bind(filter.token_id.as_deref())
            .bind(filter.object_kind.as_deref())
            .bind(filter.object_id.as_deref())
            .bind(filter.from)
            .bind(filter.to)
            .bind(filter.after.unwrap_or(0))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        for t in territories.unwrap_or_default() {
            // `_` is a LIKE wildcard and CPTS ids hold it: escape it.
            query = query.bind(format!("%,{},%", t.replace('_', "!_")));
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.into_iter().map(AuditRecord::try_from).collect()
    }
}
