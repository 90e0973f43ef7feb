//! The `idempotency_keys` table (issue 15): the first answer to a booking or a cancellation
//! sent with an `Idempotency-Key`, kept 24 hours, per token.
//!
//! A key is *reserved* by inserting its row with no answer before the request runs; the primary
//! key (token, key) makes the insert fail for a concurrent retry, which is told the first is
//! still running. The answer is written when the request ends; a request that failed without an
//! answer worth keeping (5xx) frees its key, so a retry runs again.

use super::{Error, Store, now};
use sqlx::Row;

/// How long a key's answer is kept, in seconds.
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3600;

/// What reserving a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new: run the request, then [`Store::complete_idempotency`].
    Reserved,
    /// The same key with the same request, answered: replay this answer.
    Replay {
        status: u16,
        body: String,
        location: Option<String>,
    },
    /// The same key with the same request, still running.
    InProgress,
    /// The same key with another request.
    Mismatch,
}

impl Store {
    /// Reserves `key` of `token_id` for the request whose hash is `request_hash`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn reserve_idempotency(
        &self,
        token_id: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Reservation, Error> {
        let at = now();
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(at - IDEMPOTENCY_TTL_SECONDS)
            .execute(&self.pool)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (token_id, key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (token_id, key) DO NOTHING",
        )
        .bind(token_id)
        .bind(key)
        .bind(request_hash)
        .bind(at)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Reservation::Reserved);
        }
        let Some(row) = sqlx::query(
            "SELECT request_hash, status, response, location FROM idempotency_keys \
             WHERE token_id = $1 AND key = $2",
        )
        .bind(token_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        else {
            // Expired and swept between the two statements: a new key after all.
            return Box::pin(self.reserve_idempotency(token_id, key, request_hash)).await;
        };
        let hash: String = row.try_get("request_hash")?;
        if hash != request_hash {
            return Ok(Reservation::Mismatch);
        }
        let status: Option<i64> = row.try_get("status")?;
        Ok(match status {
            None => Reservation::InProgress,
            Some(status) => Reservation::Replay {
                status: u16::try_from(status)
                    .map_err(|_| Error::Corrupt("idempotency_keys.status"))?,
                body: row.try_get("response")?,
                location: row.try_get("location")?,
            },
        })
    }

    /// Records the answer to the request that reserved `key`.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn complete_idempotency(
        &self,
        token_id: &str,
        key: &str,
        status: u16,
        body: &str,
        location: Option<&str>,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, response = $2, location = $3 \
             WHERE token_id = $4 AND key = $5",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(location)
        .bind(token_id)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Frees `key`: the request failed without an answer worth replaying.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn release_idempotency(&self, token_id: &str, key: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2")
            .bind(token_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
