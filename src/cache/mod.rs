//! Redis: key names (every key under the configured prefix) and the shared connection.
//!
//! Redis holds the live state shared by every API process: slot holds ([`holds`]), the
//! stream of slot events behind Server-Sent Events ([`events`]) and the per-token request
//! counters ([`rate`]). The durable state stays in the database (`store`); nothing here is
//! the only copy of a booking.
//!
//! # A breaker, not a dependency
//!
//! Redis accelerates searches and bookings; it is needed only for holds, events and the
//! shared rate count. One shared connection (multiplexed) serves every command, within
//! [`COMMAND_TIMEOUT`]. The first command that finds Redis gone (connection refused or
//! dropped, a timeout) opens the circuit: from then on every command fails at once with
//! [`Error::Down`], so no request waits on a connect or a response timeout, and one
//! background task reconnects, with a backoff from [`RETRY_FIRST`] to [`RETRY_MAX`], until a
//! `PING` answers. Then the circuit closes and [`Cache::recoveries`] ticks, so that whoever
//! kept state fed by Redis (the slot board) reloads what it missed during the outage.
//! [`Cache::circuit_state`] tells which way the circuit is.

pub mod events;
pub mod holds;
pub mod rate;

pub use events::{EventKind, SlotEvent, SlotInfo, StreamId};
pub use holds::{BookingClaim, HoldAttempt, Release};

use redis::aio::MultiplexedConnection;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, OnceCell, watch};

/// How long opening a connection may take before Redis counts as down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long one command may take before Redis counts as down: Redis answers in well under
/// a millisecond, so this is about a stalled server or network, not a slow command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// The first wait of the reconnecting task after a failed attempt; doubled up to
/// [`RETRY_MAX`], so Redis's return is seen within about a second.
pub const RETRY_FIRST: Duration = Duration::from_millis(50);
/// The longest wait between two reconnection attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(1);

/// Which way the circuit to Redis is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    /// Redis answers (or has not failed yet): commands go to it.
    Closed,
    /// Redis failed: commands fail at once with [`Error::Down`] while a background task
    /// reconnects.
    Open,
}

impl CircuitState {
    /// `closed` or `open`, e.g. for a metric's label.
    pub const fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
        }
    }
}

/// The shared connection and the breaker in front of it.
struct Link {
    /// The connection, once opened (again).
    conn: Mutex<Option<MultiplexedConnection>>,
    /// The circuit is open.
    down: AtomicBool,
    /// A reconnecting task runs.
    reconnecting: AtomicBool,
    /// Counts the closings of the circuit after an outage.
    recovered: watch::Sender<u64>,
}

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
    /// Redis failed a moment ago and is not back yet (the circuit is open): nothing was sent.
    #[error("Redis is down; reconnecting in the background")]
    Down,
    /// Redis answered something this code does not expect (a bug, or a foreign key).
    #[error("unexpected answer from Redis: {0}")]
    Unexpected(&'static str),
}

impl Error {
    /// Redis is down, unreachable or too slow (not a bug): whoever can do without it
    /// carries on.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            Error::Unavailable(_) | Error::Timeout(_) | Error::Down
        )
    }
}

/// A handle on Redis with this process's key prefix. Cheap to clone.
#[derive(Clone)]
pub struct Cache {
    client: redis::Client,
    link: Arc<Link>,
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
            link: Arc::new(Link {
                conn: Mutex::new(None),
                down: AtomicBool::new(false),
                reconnecting: AtomicBool::new(false),
                recovered: watch::channel(0).0,
            }),
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

    /// Which way the circuit to Redis is now.
    pub fn circuit_state(&self) -> CircuitState {
        if self.link.down.load(Ordering::Acquire) {
            CircuitState::Open
        } else {
            CircuitState::Closed
        }
    }

    /// Whether the circuit is open: Redis failed and is not back yet.
    pub fn is_down(&self) -> bool {
        self.circuit_state() == CircuitState::Open
    }

    /// A receiver whose value changes each time Redis comes back after an outage.
    pub fn recoveries(&self) -> watch::Receiver<u64> {
        self.link.recovered.subscribe()
    }

    fn connection_config() -> redis::AsyncConnectionConfig {
        redis::AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT)
    }

    /// A new connection that answered `PING`, within the timeouts.
    async fn open(&self) -> Result<MultiplexedConnection, Error> {
        let config = Self::connection_config();
        let mut conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| Error::Timeout(CONNECT_TIMEOUT))?
        .map_err(Error::Unavailable)?;
        let _: String =
            tokio::time::timeout(COMMAND_TIMEOUT, redis::cmd("PING").query_async(&mut conn))
                .await
                .map_err(|_| Error::Timeout(COMMAND_TIMEOUT))?
                .map_err(Error::Unavailable)?;
        Ok(conn)
    }

    /// The shared connection: [`Error::Down`] at once while the circuit is open; opened on
    /// first use (a failure opens the circuit).
    async fn connection(&self) -> Result<MultiplexedConnection, Error> {
        if self.is_down() {
            return Err(Error::Down);
        }
        let mut slot = self.link.conn.lock().await;
        if self.is_down() {
            return Err(Error::Down);
        }
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        match self.open().await {
            Ok(conn) => {
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Err(e) => {
                drop(slot);
                self.trip(&e);
                Err(e)
            }
        }
    }

    /// Opens the circuit if `e` says Redis is gone (not for a script's or a parser's error),
    /// and starts the reconnecting task unless one runs.
    fn trip(&self, e: &Error) {
        let gone = match e {
            Error::Timeout(_) => true,
            Error::Unavailable(e) => {
                e.is_io_error()
                    || e.is_connection_refusal()
                    || e.is_connection_dropped()
                    || e.is_timeout()
                    || e.is_unrecoverable_error()
            }
            Error::Url(_) | Error::Unexpected(_) | Error::Down => false,
        };
        if !gone {
            return;
        }
        if !self.link.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(error = %e, "Redis is down; commands fail at once until it is back");
        }
        if !self.link.reconnecting.swap(true, Ordering::AcqRel) {
            let cache = self.clone();
            tokio::spawn(async move { cache.reconnect().await });
        }
    }

    /// The reconnecting task: tries a new connection, with a growing pause, until one
    /// answers `PING`; then installs it and closes the circuit.
    async fn reconnect(self) {
        let began = std::time::Instant::now();
        let mut pause = RETRY_FIRST;
        loop {
            tokio::time::sleep(pause).await;
            match self.open().await {
                Ok(conn) => {
                    *self.link.conn.lock().await = Some(conn);
                    // In this order: a failure after the circuit closes starts a new task.
                    self.link.reconnecting.store(false, Ordering::Release);
                    self.link.down.store(false, Ordering::Release);
                    self.link.recovered.send_modify(|n| *n += 1);
                    tracing::info!(
                        ms = crate::telemetry::ms(began.elapsed()),
                        "Redis is back; the circuit is closed"
                    );
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "Redis is still down");
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Runs `cmd` on the shared connection, within [`COMMAND_TIMEOUT`]; a failure that
    /// says Redis is gone opens the circuit.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Error> {
        let mut conn = self.connection().await?;
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, cmd.query_async(&mut conn))
            .await
            .map_err(|_| Error::Timeout(COMMAND_TIMEOUT))
            .and_then(|r| r.map_err(Error::Unavailable));
        if let Err(e) = &answer {
            self.trip(e);
        }
        answer
    }

    /// Runs `pipe` on the shared connection, as [`Cache::query`] does.
    async fn query_pipe(&self, pipe: &redis::Pipeline) -> Result<(), Error> {
        let mut conn = self.connection().await?;
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async::<()>(&mut conn))
            .await
            .map_err(|_| Error::Timeout(COMMAND_TIMEOUT))
            .and_then(|r| r.map_err(Error::Unavailable));
        if let Err(e) = &answer {
            self.trip(e);
        }
        answer
    }

    /// One round trip, for readiness.
    ///
    /// # Errors
    /// [`Error::Down`], [`Error::Unavailable`] or [`Error::Timeout`].
    pub async fn ping(&self) -> Result<(), Error> {
        let pong: String = self.query(&redis::cmd("PING")).await?;
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
