//! [`Application`]: the service, built (bound and migrated) before it runs, so a test can read
//! [`Application::port`] first and bind port 0.

use crate::api::{self, AppState};
use crate::cache::{self, Cache};
use crate::config::{Config, ConfigError};
use crate::store::{self, Store};
use crate::tokens::TokenKey;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

mod server;
pub mod tls;
pub use server::{ConnectionLimits, ConnectionStats};

/// How long open connections may take to finish after SIGTERM or Ctrl-C, by default.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the database")]
    Store(#[from] store::Error),
    #[error("invalid Redis settings")]
    Cache(#[from] cache::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    SignIn(#[from] crate::signin::SignInError),
    #[error("cannot set up the appointment feedback to the SAS")]
    Feedback(#[from] crate::feedback::Error),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A bound, migrated service, ready to run.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: axum::Router,
    store: Store,
    /// Wakes the in-process job worker when a handler enqueues a job.
    wake_worker: Arc<Notify>,
    /// Whether [`Application::run_until`] runs a job worker beside the server.
    worker: bool,
    /// How long open requests may take to finish once stopping (`--shutdown-grace-seconds`).
    grace: Duration,
    /// The slot board searches read, if on.
    board: Option<crate::slots::Board>,
    /// Timeouts and caps on connections.
    limits: ConnectionLimits,
    /// Open and refused connections, shared with `/metrics`.
    connections: Arc<ConnectionStats>,
    /// TLS termination (`--tls-cert`), with client certificates (`--tls-client-ca`).
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The clock proposal deadlines read ([`Application::clock`]).
    clock: crate::clock::Clock,
    /// Redis, where expired proposals are announced.
    cache: Option<Cache>,
    /// The appointment feedback's sender (`--sas-url`).
    feedback: Option<crate::feedback::Sender>,
}

impl Application {
    /// Checks the config, connects to the database and applies its migrations, prepares Redis
    /// (connected on first use) and binds `config.bind` (port 0: any free port).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn build(config: &Config) -> Result<Self, Error> {
        config.validate()?;
        crate::metrics::handle();
        let store = Store::connect(config.database_url.expose()).await?;
        store.migrate().await?;
        let cache = config
            .redis_url
            .as_ref()
            .map(|url| {
                Cache::new(url.expose(), &config.redis_prefix).map(|c| {
                    c.with_live_settings(
                        Duration::from_secs(config.hold_seconds),
                        config.rate_limit,
                    )
                })
            })
            .transpose()?;
        let wake_worker = Arc::new(Notify::new());
        let connections = Arc::new(ConnectionStats::default());
        let board = (config.slot_board_seconds > 0).then(|| {
            let board = crate::slots::Board::new(
                store.clone(),
                Duration::from_secs(config.slot_board_seconds),
            );
            board.start(cache.clone());
            board
        });
        let clock = crate::clock::Clock::system();
        let signin = config
            .oidc()?
            .map(crate::signin::SignIn::new)
            .transpose()?
            .map(Arc::new);
        let state = AppState {
            signin,
            session_seconds: i64::try_from(config.session_hours.saturating_mul(3600))
                .unwrap_or(i64::MAX),
            clock: clock.clone(),
            store: store.clone(),
            cache: cache.clone(),
            board: board.clone(),
            token_key: Arc::new(TokenKey::new(config.token_key_bytes())),
            token_cache: Arc::new(crate::tokens::TokenCache::new(Duration::from_secs(
                config.token_cache_seconds,
            ))),
            wake_worker: Arc::clone(&wake_worker),
            limits: api::Limits {
                body_bytes: config.max_body_bytes,
                import_bytes: config.max_import_bytes,
                request_timeout: Duration::from_secs(config.request_timeout_seconds),
                import_timeout: Duration::from_secs(config.import_timeout_seconds),
            },
            connections: Arc::clone(&connections),
            public_url: config.public_url.as_deref().map(Arc::from),
            web: Arc::new(crate::web::WebSettings {
                map_tiles: config.map_tiles.clone(),
                token_signin: config.token_signin.unwrap_or(config.oidc_issuer.is_none()),
                secure_cookie: config
                    .public_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://")),
            }),
            streams: Arc::new(api::StreamGate::new(
                usize::try_from(config.max_event_streams).unwrap_or(usize::MAX),
                usize::try_from(config.max_event_streams_per_token).unwrap_or(usize::MAX),
            )),
        };
        let bind_error = |source| Error::Bind {
            addr: config.bind,
            source,
        };
        let tls = config.tls_files().map(|f| tls::acceptor(&f)).transpose()?;
        let feedback = config
            .feedback()?
            .map(|s| crate::feedback::Sender::new(store.clone(), &s))
            .transpose()?;
        let listener = TcpListener::bind(config.bind).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(Self {
            listener,
            addr,
            router: api::router(state),
            store,
            wake_worker,
            worker: true,
            grace: Duration::from_secs(config.shutdown_grace_seconds),
            board,
            limits: config.connection_limits(),
            connections,
            tls,
            clock,
            cache,
            feedback,
        })
    }

    /// The clock of this server's deadlines: tests advance it.
    pub fn clock(&self) -> crate::clock::Clock {
        self.clock.clone()
    }

    /// No job worker in this process (`cpts serve --no-worker`): jobs wait for a
    /// `cpts worker`.
    pub fn without_worker(mut self) -> Self {
        self.worker = false;
        self
    }

    /// The slot board (`--slot-board-seconds` > 0): whoever writes slots without the API (the
    /// tests, the load tools) loads it after.
    pub fn board(&self) -> Option<crate::slots::Board> {
        self.board.clone()
    }

    /// `https` when this server terminates TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGTERM or Ctrl-C, then drains (see [`Application::run_until`]).
    ///
    /// # Errors
    /// When the listener fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then stops accepting, lets open requests finish for
    /// at most the grace (`--shutdown-grace-seconds`, [`SHUTDOWN_GRACE`] by default), and
    /// closes the database pool. Unless built
    /// [`without_worker`](Application::without_worker), a job worker runs beside the server
    /// and gets the same grace to finish its job.
    ///
    /// # Errors
    /// When the listener fails.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let grace = self.grace;
        let (stop_worker, worker_stopped) = watch::channel(false);
        let worker = self.worker.then(|| {
            tokio::spawn(crate::jobs::run_worker(
                self.store.clone(),
                Arc::clone(&self.wake_worker),
                worker_stopped,
                self.grace,
            ))
        });
        tokio::spawn(expire_proposals(
            self.store.clone(),
            self.cache.clone(),
            self.clock.clone(),
            stop_worker.subscribe(),
        ));
        if let Some(sender) = self.feedback {
            tokio::spawn(sender.run(stop_worker.subscribe()));
        }
        let stop = async move {
            stop.await;
            let _ = stop_worker.send(true);
        };
        server::serve(
            self.listener,
            self.router,
            self.limits,
            self.connections,
            self.tls,
            stop,
            grace,
        )
        .await?;
        if let Some(worker) = worker {
            // The worker saw the stop signal with the server; it returns within the grace.
            let _ = worker.await;
        }
        // A request dropped after the grace may still hold a connection: do not wait for it.
        if tokio::time::timeout(Duration::from_secs(5), self.store.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still in use; closing anyway");
        }
        Ok(())
    }
}

/// How often the server expires the proposals whose deadline passed (they also expire when
/// read or answered, so this only bounds how stale the stored state gets).
const EXPIRY_SWEEP: Duration = Duration::from_secs(60);

/// Expires due proposals every [`EXPIRY_SWEEP`] until `stopped` turns true.
async fn expire_proposals(
    store: Store,
    cache: Option<Cache>,
    clock: crate::clock::Clock,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        match store.expire_proposals(clock.now()).await {
            Ok(expired) if expired.is_empty() => {}
            Ok(expired) => {
                tracing::info!(expired = expired.len(), "proposals expired");
                crate::api::announce_proposals(cache.as_ref(), &expired).await;
            }
            Err(e) => tracing::warn!(error = %e, "cannot expire proposals now"),
        }
        tokio::select! {
            () = tokio::time::sleep(EXPIRY_SWEEP) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

/// Completes on SIGTERM (what docker and systemd send) or Ctrl-C. The SIGTERM handler is
/// installed at once, before the future is first polled, so a signal that arrives as soon as
/// the caller announces it is listening is not lost (without a handler, SIGTERM kills).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match terminate.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {}
            () = terminate => {}
        }
    }
}

/// `cpts worker`: runs jobs from the database at `config.database_url` (migrated first) until
/// `stop` completes, then gives a running job [`SHUTDOWN_GRACE`] to finish.
///
/// # Errors
/// When the configuration is invalid or the database cannot be opened or migrated.
pub async fn run_worker_until(
    config: &Config,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    config.validate()?;
    let store = Store::connect(config.database_url.expose()).await?;
    store.migrate().await?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        tracing::info!("shutting down the worker");
        let _ = tx.send(true);
    });
    crate::jobs::run_worker_with_lease(
        store.clone(),
        Arc::new(Notify::new()),
        rx,
        SHUTDOWN_GRACE,
        Duration::from_secs(config.job_lease_seconds),
    )
    .await;
    store.close().await;
    Ok(())
}

/// [`run_worker_until`] SIGTERM or Ctrl-C.
///
/// # Errors
/// As [`run_worker_until`].
pub async fn run_worker_until_stopped(config: &Config) -> Result<(), Error> {
    run_worker_until(config, shutdown_signal()).await
}
