//! Redis: key names (every key under the configured prefix) and the shared connection.
//!
//! Redis holds the live state shared by every API process: slot holds ([`holds`]), the
//! stream of slot events behind Server-Sent Events ([`events`]) and the per-token request
//! counters ([`rate`]). The durable state stays in the database (`store`); nothing here is
//! the only copy of a booking.
//!
//! The connection is opened on first use and then kept by redis's `ConnectionManager`, which
//! reconnects by itself, so the service starts (and reports not-ready) while Redis is down.

pub mod events;
pub mod holds;
pub mod rate;

pub use events::{EventKind, SlotEvent, SlotInfo, StreamId};
pub use holds::{BookingClaim, HoldAttempt, Release};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::fmt;
use std::time::Duration;
use tokio::sync::OnceCell;

/// How long one Redis round trip may take before it counts as unavailable.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Why a Redis operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL does not parse.
    #[error("invalid Redis URL")]
    Url(#[source] redis::RedisError),
    /// Redis did not answer, or answered with an error.
    #[error("Redis is unavailable")]
    Unavailable(#[source] redis::RedisError),
    /// Redis did not answer within the timeout.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis answered something this code does not expect (a bug, or a foreign key).
    #[error("unexpected answer from Redis: {0}")]
    Unexpected(&'static str),
}

/// A handle on Redis with this process's key prefix. Cheap to clone.
#[derive(Clone)]
pub struct Cache {
    client: redis::Client,
    conn: std::sync::Arc<OnceCell<ConnectionManager>>,
    prefix: String,
    /// How long a hold lasts ([`Cache::with_live_settings`]).
    hold_ttl: Duration,
    /// Requests per minute and token; 0: no limit.
    rate_limit: u32,
    /// This process's reader of the event stream, started by the first listener.
    hub: std::sync::Arc<OnceCell<events::Hub>>,
    /// Whether this process sweeps expired holds (started by the first hold or listener).
    sweeper: std::sync::Arc<std::sync::Once>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client holds the URL, which may carry a password.
        f.debug_struct("Cache")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Cache {
    /// A handle on the Redis at `url`; nothing is sent until the first command.
    ///
    /// # Errors
    /// [`Error::Url`] when `url` is not a Redis URL.
    pub fn new(url: &str, prefix: &str) -> Result<Self, Error> {
        Ok(Self {
            client: redis::Client::open(url).map_err(Error::Url)?,
            conn: std::sync::Arc::new(OnceCell::new()),
            prefix: prefix.to_owned(),
            hold_ttl: Duration::from_secs(120),
            rate_limit: 0,
            hub: std::sync::Arc::new(OnceCell::new()),
            sweeper: std::sync::Arc::new(std::sync::Once::new()),
        })
    }

    /// The same handle with the hold duration and the per-token limit of requests per
    /// minute (0: none) of the configuration.
    pub fn with_live_settings(mut self, hold_ttl: Duration, rate_limit_per_minute: u32) -> Self {
        self.hold_ttl = hold_ttl;
        self.rate_limit = rate_limit_per_minute;
        self
    }

    /// How long a new hold lasts.
    pub fn hold_ttl(&self) -> Duration {
        self.hold_ttl
    }

    /// `name` under this process's prefix: the only way to build a key.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The prefix of every key of this process.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn connection(&self) -> Result<ConnectionManager, Error> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(TIMEOUT)
            .set_response_timeout(TIMEOUT)
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            TIMEOUT,
            self.conn.get_or_try_init(|| {
                ConnectionManager::new_with_config(self.client.clone(), config)
            }),
        )
        .await
        .map_err(|_| Error::Timeout(TIMEOUT))?
        .map_err(Error::Unavailable)?;
        Ok(conn.clone())
    }

    /// Runs `cmd` on the shared connection, within [`TIMEOUT`].
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Error> {
        let mut conn = self.connection().await?;
        tokio::time::timeout(TIMEOUT, cmd.query_async(&mut conn))
            .await
            .map_err(|_| Error::Timeout(TIMEOUT))?
            .map_err(Error::Unavailable)
    }

    /// One round trip, for readiness.
    ///
    /// # Errors
    /// [`Error::Unavailable`] or [`Error::Timeout`].
    pub async fn ping(&self) -> Result<(), Error> {
        let mut conn = self.connection().await?;
        let pong: String = tokio::time::timeout(TIMEOUT, redis::cmd("PING").query_async(&mut conn))
            .await
            .map_err(|_| Error::Timeout(TIMEOUT))?
            .map_err(Error::Unavailable)?;
        debug_assert_eq!(pong, "PONG");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_prefix_and_debug_hides_the_url() {
        let c = Cache::new("redis://:hunter2@127.0.0.1:6379", "t:abc:").unwrap();
        assert_eq!(c.key("jobs"), "t:abc:jobs");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(matches!(Cache::new("http://x", "p"), Err(Error::Url(_))));
    }
}
