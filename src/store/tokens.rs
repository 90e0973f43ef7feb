//! The `tokens` table: API tokens as keyed hashes, never the tokens themselves.

use super::{AuditEntry, Error, Store, append_audit_in, now};
use crate::domain::{Role, Rpps, Scope};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A token to store; `hash` is the keyed hash computed by [`crate::tokens`].
#[derive(Clone, Debug)]
pub struct NewToken {
    pub id: String,
    pub role: Role,
    /// Set for, and only for, a médecin.
    pub rpps: Option<Rpps>,
    pub label: String,
    pub hash: String,
    /// Unix seconds; `None`: never expires.
    pub expires_at: Option<i64>,
    /// What the token may see (checked against the role by [`Scope::for_role`]).
    pub scope: Scope,
    /// A client certificate subject (CN, OU) this principal is reached by over mutual TLS.
    pub certificate: Option<(String, String)>,
    /// The identity this principal is granted to (`rpps:…`, `sub:…`): people who sign in with
    /// OpenID Connect act under it.
    pub oidc_subject: Option<String>,
}

/// A stored token.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub id: String,
    pub role: Role,
    pub rpps: Option<Rpps>,
    pub label: String,
    pub hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; a revoked token authenticates nobody.
    pub revoked_at: Option<i64>,
    /// Unix seconds; from then on the token authenticates nobody.
    pub expires_at: Option<i64>,
    /// The territories the token is bound to; national for the tokens created before scopes.
    pub scope: Scope,
    /// The client certificate subject (CN, OU) mapped to this principal, if any.
    pub certificate: Option<(String, String)>,
    /// The identity (`rpps:…`, `sub:…`) this principal is granted to, if any.
    pub oidc_subject: Option<String>,
}

impl TryFrom<AnyRow> for TokenRecord {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let role: String = row.try_get("role")?;
        let rpps: Option<String> = row.try_get("rpps")?;
        let scope: String = row.try_get("scope")?;
        let cert_cn: Option<String> = row.try_get("cert_cn")?;
        let cert_ou: String = row.try_get("cert_ou")?;
        Ok(Self {
            id: row.try_get("id")?,
            role: role.parse().map_err(|_| Error::Corrupt("tokens.role"))?,
            rpps: rpps
                .map(|r| r.parse())
                .transpose()
                .map_err(|_| Error::Corrupt("tokens.rpps"))?,
            label: row.try_get("label")?,
            hash: row.try_get("hash")?,
            created_at: row.try_get("created_at")?,
            revoked_at: row.try_get("revoked_at")?,
            expires_at: row.try_get("expires_at")?,
            scope: scope.parse().map_err(|_| Error::Corrupt("tokens.scope"))?,
            certificate: cert_cn.map(|cn| (cn, cert_ou)),
            oidc_subject: row.try_get("oidc_subject")?,
        })
    }
}

const COLUMNS: &str = "id, role, rpps, label, hash, created_at, revoked_at, expires_at, scope, \
     cert_cn, cert_ou, oidc_subject";

/// [`COLUMNS`] of the `tokens` table under the alias `t`, for joins.
pub(super) const COLUMNS_OF_T: &str = "t.id, t.role, t.rpps, t.label, t.hash, t.created_at, \
     t.revoked_at, t.expires_at, t.scope, t.cert_cn, t.cert_ou, t.oidc_subject";

impl Store {
    /// The active principal a client certificate with this subject is mapped to: not revoked,
    /// not expired at `now` (Unix seconds).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn token_for_certificate(
        &self,
        cn: &str,
        ou: &str,
        now: i64,
    ) -> Result<Option<TokenRecord>, Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tokens WHERE cert_cn = $1 AND cert_ou = $2 \
             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)"
        ))
        .bind(cn)
        .bind(ou)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .map(TokenRecord::try_from)
        .transpose()
    }

    /// The live grants of `identity` (not revoked, not expired at `now`), oldest first.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn grants_of(&self, identity: &str, now: i64) -> Result<Vec<TokenRecord>, Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tokens WHERE oidc_subject = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at, id"
        ))
        .bind(identity)
        .bind(now)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(TokenRecord::try_from)
        .collect()
    }

    /// Every grant (a principal granted to an identity), live or revoked, newest first.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn grants(&self) -> Result<Vec<TokenRecord>, Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tokens WHERE oidc_subject IS NOT NULL \
             ORDER BY created_at DESC, id"
        ))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(TokenRecord::try_from)
        .collect()
    }

    /// Every token, newest first: active, expired and revoked (for `cpts token list`).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tokens ORDER BY created_at DESC, id"
        ))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(TokenRecord::try_from)
        .collect()
    }

    /// Stores a new token, and its `token.create` audit row in the same transaction.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the id is taken (one chance in 2⁶⁴).
    pub async fn insert_token(&self, t: &NewToken) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO tokens (id, role, rpps, label, hash, created_at, expires_at, scope, \
             cert_cn, cert_ou, oidc_subject) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&t.id)
        .bind(t.role.as_str())
        .bind(t.rpps.as_ref().map(Rpps::as_str))
        .bind(&t.label)
        .bind(&t.hash)
        .bind(now())
        .bind(t.expires_at)
        .bind(t.scope.to_string())
        .bind(t.certificate.as_ref().map(|(cn, _)| cn.as_str()))
        .bind(t.certificate.as_ref().map_or("", |(_, ou)| ou.as_str()))
        .bind(t.oidc_subject.as_deref())
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry::new("token.create", "token", Some(t.id.clone())).with_detail(
            serde_json::json!({
                "role": t.role.as_str(),
                "scope": t.scope.to_string(),
                "expires_at": t.expires_at,
                "granted_to": t.oidc_subject,
            }),
        );
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The token with this id, revoked or not.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn token(&self, id: &str) -> Result<Option<TokenRecord>, Error> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(TokenRecord::try_from)
            .transpose()
    }

    /// Revokes a token (with its `token.revoke` audit row, one transaction); `false` when no
    /// active token has this id.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn revoke_token(&self, id: &str) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let entry = AuditEntry::new("token.revoke", "token", Some(id.to_owned()));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(true)
    }
}
