//! Sign-in of people (issue 16, migration 0021): the sessions their cookies name, and the
//! OpenID Connect logins under way. Only keyed hashes of the cookie and of the login's `state`
//! are stored, never the values themselves.

use super::tokens::COLUMNS_OF_T;
use super::{AuditEntry, Error, Store, TokenRecord, append_audit_in};
use sqlx::Row;

/// How long a login may take from `/auth/login` to its callback.
pub const LOGIN_TTL_SECONDS: i64 = 600;

/// A login under way, as stored until its callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLogin {
    /// The PKCE code verifier.
    pub verifier: String,
    pub nonce: String,
    /// A path of this service to go back to.
    pub return_to: String,
}

/// A live session and the grant it acts under.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    /// The grant: a principal row of `tokens`, not revoked nor expired.
    pub grant: TokenRecord,
    /// The identity signed in (`rpps:…`, `sub:…`).
    pub subject: String,
    /// What state-changing requests send back in `X-CSRF-Token`.
    pub csrf: String,
    pub expires_at: i64,
}

impl Store {
    /// Keeps a login under way until its callback.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn insert_login(
        &self,
        state_hash: &str,
        login: &PendingLogin,
        now: i64,
    ) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        // Logins never finished are dropped as new ones start.
        sqlx::query("DELETE FROM oidc_logins WHERE created_at <= $1")
            .bind(now - LOGIN_TTL_SECONDS)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO oidc_logins (state_hash, verifier, nonce, return_to, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(state_hash)
        .bind(&login.verifier)
        .bind(&login.nonce)
        .bind(&login.return_to)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the login of this `state` (once: it is deleted), if it started within
    /// [`LOGIN_TTL_SECONDS`].
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn take_login(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<PendingLogin>, Error> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "DELETE FROM oidc_logins WHERE state_hash = $1 \
             RETURNING verifier, nonce, return_to, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        let created_at: i64 = row.try_get("created_at")?;
        if created_at <= now - LOGIN_TTL_SECONDS {
            return Ok(None);
        }
        Ok(Some(PendingLogin {
            verifier: row.try_get("verifier")?,
            nonce: row.try_get("nonce")?,
            return_to: row.try_get("return_to")?,
        }))
    }

    /// Opens a session of `subject` under grant `token_id`, with its `session.open` audit row.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn open_session(
        &self,
        id_hash: &str,
        token_id: &str,
        subject: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, token_id, subject, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash)
        .bind(token_id)
        .bind(subject)
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        let entry = AuditEntry::new("session.open", "token", Some(token_id.to_owned()))
            .with_detail(serde_json::json!({ "subject": subject, "expires_at": expires_at }));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live session of this cookie hash at `now`: not ended, not expired, and its grant
    /// neither revoked nor expired.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn session(&self, id_hash: &str, now: i64) -> Result<Option<SessionRecord>, Error> {
        // The grant's row comes in the same join: one round trip per request of a session.
        let Some(row) = sqlx::query(&format!(
            "SELECT {COLUMNS_OF_T}, s.subject, s.csrf, s.expires_at AS session_expires_at \
             FROM sessions s JOIN tokens t ON t.id = s.token_id \
             WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 \
             AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)"
        ))
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            subject: row.try_get("subject")?,
            csrf: row.try_get("csrf")?,
            expires_at: row.try_get("session_expires_at")?,
            grant: TokenRecord::try_from(row)?,
        }))
    }

    /// Moves a live session to another live grant of its identity; `false` when the session
    /// is gone or the grant is not its identity's.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn switch_session(
        &self,
        id_hash: &str,
        token_id: &str,
        now: i64,
    ) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE sessions SET token_id = $1 WHERE id_hash = $2 AND ended_at IS NULL \
             AND expires_at > $3 AND EXISTS (SELECT 1 FROM tokens t WHERE t.id = $1 \
               AND t.oidc_subject = sessions.subject AND t.revoked_at IS NULL \
               AND (t.expires_at IS NULL OR t.expires_at > $3))",
        )
        .bind(token_id)
        .bind(id_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let entry = AuditEntry::new("session.switch", "token", Some(token_id.to_owned()));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends a session (sign-out); `false` when it had ended already.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn end_session(&self, id_hash: &str, now: i64) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let token: Option<String> = sqlx::query_scalar(
            "UPDATE sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL \
             RETURNING token_id",
        )
        .bind(now)
        .bind(id_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(token) = token else {
            return Ok(false);
        };
        let entry = AuditEntry::new("session.close", "token", Some(token));
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(true)
    }
}
