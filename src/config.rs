//! [`Config`] of the service commands (`serve`, `token`, `migrate`), from flags and environment.
//!
//! Parsed once in `main` (through the CLI) and passed down; no other module reads the
//! environment. The defaults run the service with nothing installed: an SQLite file in the
//! current directory, no Redis, a fixed development token key. `--production` refuses the last
//! two.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// Token key used when `CPTS_TOKEN_KEY` is unset outside production. Tokens made with it are
/// only as secret as this source file, which is fine for a laptop and refused by `--production`.
const DEV_TOKEN_KEY: &str = "cpts-development-token-key-not-for-production-use";

/// Shortest token key accepted in production: 32 bytes, the HMAC-SHA256 output size.
pub const MIN_TOKEN_KEY_BYTES: usize = 32;

/// Settings of the HTTP service and of the commands that share its database.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// Address to listen on (`serve`); port 0 picks a free port.
    #[arg(long, env = "CPTS_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// `sqlite://FILE?mode=rwc` (the default, created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://cpts.db?mode=rwc",
        hide_env_values = true
    )]
    pub database_url: Secret,

    /// Redis: slot holds, slot events, the per-token rate limit and the slot boards' followers.
    /// An accelerator: searches and bookings work without it (circuit breaker). Required with
    /// `--production`.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,

    /// Prefix of every Redis key this process writes, so tests and deployments can share one
    /// Redis.
    #[arg(long, env = "CPTS_REDIS_PREFIX", default_value = "cpts:")]
    pub redis_prefix: String,

    /// Server key of the API tokens' keyed hash (HMAC-SHA256); at least 32 bytes, and required
    /// with `--production`. Changing it revokes every token.
    #[arg(long, env = "CPTS_TOKEN_KEY", hide_env_values = true)]
    pub token_key: Option<Secret>,

    /// Production mode: refuse to start without Redis and a token key of our own.
    #[arg(long, env = "CPTS_PRODUCTION")]
    pub production: bool,

    /// How long a régulateur's hold on a slot lasts, in seconds, unless released or renewed.
    #[arg(long, env = "CPTS_HOLD_SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub hold_seconds: u64,

    /// Requests per minute allowed to one token (fixed window, in Redis); 0: no limit.
    /// Skipped when Redis is not configured.
    #[arg(long, env = "CPTS_RATE_LIMIT", default_value_t = 6000)]
    pub rate_limit: u32,

    /// A running job whose worker sent no heartbeat for this many seconds is taken over by
    /// another worker; workers send heartbeats three times per lease.
    #[arg(long, env = "CPTS_JOB_LEASE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub job_lease_seconds: u64,

    /// Largest request body, in bytes, for every route but the CSV imports; larger: 413.
    #[arg(long, env = "CPTS_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest CSV import body, in bytes (read as a stream, never held whole); larger: 413.
    #[arg(long, env = "CPTS_MAX_IMPORT_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_import_bytes: usize,

    /// Longest a request may take, in seconds; then 503 `/problems/timeout` (its transaction,
    /// if any, rolls back).
    #[arg(long, env = "CPTS_REQUEST_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_seconds: u64,

    /// Longest a CSV import (`POST /imports/…`) may take, in seconds: a département's list of a
    /// few hundred thousand rows takes longer than --request-timeout-seconds; then 503
    /// `/problems/timeout` and nothing of it is stored.
    #[arg(long, env = "CPTS_IMPORT_TIMEOUT_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=7200))]
    pub import_timeout_seconds: u64,

    /// A server keeps the token rows it read for this many seconds, so that requests do not
    /// read them each time; a revoked token (`cpts token revoke`) is refused by running
    /// servers within this delay. 0: every request reads its token's row.
    #[arg(long, env = "CPTS_TOKEN_CACHE_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub token_cache_seconds: u64,

    /// Slot searches read an in-memory board of the coming weeks' slots (`slots::board`),
    /// reloaded from the database this often, in seconds, and kept current between loads by
    /// this process's bookings and, with Redis, every other process's; 0: every search reads
    /// the database.
    #[arg(long, env = "CPTS_SLOT_BOARD_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub slot_board_seconds: u64,

    /// On SIGTERM or Ctrl-C, how long open requests (and a running job) get to finish, in
    /// seconds, before they are dropped.
    #[arg(long, env = "CPTS_SHUTDOWN_GRACE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,

    /// Longest wait for a whole request head, in seconds, from the connection's start; a
    /// slower client is disconnected (slow-loris).
    #[arg(long, env = "CPTS_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_read_timeout_seconds: u64,

    /// A connection on which no byte moved for this many seconds is closed (event streams
    /// send a comment every 15 s); never less than the request timeout plus 5 s.
    #[arg(long, env = "CPTS_IDLE_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_seconds: u64,

    /// Most open connections; beyond, new ones are closed at once.
    #[arg(long, env = "CPTS_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// Most open connections from one peer address (0: no cap; set 0 behind a reverse
    /// proxy, whose address every connection has).
    #[arg(long, env = "CPTS_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: u64,

    /// Most open event streams (`/slots/events`) in all; beyond: 429 with `Retry-After`.
    #[arg(long, env = "CPTS_MAX_EVENT_STREAMS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_event_streams: u64,

    /// Most open event streams per token; beyond: 429 with `Retry-After`.
    #[arg(long, env = "CPTS_MAX_EVENT_STREAMS_PER_TOKEN", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_event_streams_per_token: u64,

    /// The service's public base URL (`https://cpts.example.fr`), as browsers and the SAS
    /// reach it: the FHIR answers' `fullUrl`s and agenda links start with it (unset: `http://`
    /// and the request's `Host`), the sign-in callback is `{public-url}/auth/callback`
    /// (registered with the issuer), and `https://` makes the session cookie `Secure`.
    #[arg(long, env = "CPTS_PUBLIC_URL", value_parser = public_url)]
    pub public_url: Option<String>,

    /// Terminate TLS: the server's certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, env = "CPTS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "CPTS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Accept client certificates from these CAs (PEM bundle): machine clients over mutual
    /// TLS, mapped to principals with `cpts cert map`. A certificate of another CA is refused
    /// at the handshake; a client without one may still use a bearer token.
    #[arg(long, env = "CPTS_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<std::path::PathBuf>,

    /// People sign in with this OpenID Connect issuer (Pro Santé Connect:
    /// `https://auth.esante.gouv.fr/auth/realms/esante-wallet`); unset: no sign-in, API tokens
    /// only. Needs --oidc-client-id, --oidc-client-secret and --public-url.
    #[arg(long, env = "CPTS_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// The client id the issuer registered for this service.
    #[arg(long, env = "CPTS_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// The client secret the issuer gave this service.
    #[arg(long, env = "CPTS_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<Secret>,

    /// Scopes asked besides `openid`, space-separated (Pro Santé Connect: `scope_all`).
    #[arg(long, env = "CPTS_OIDC_SCOPES", default_value = "scope_all")]
    pub oidc_scopes: String,

    /// `acr_values` asked of the issuer (Pro Santé Connect: `eidas1`); empty: none.
    #[arg(long, env = "CPTS_OIDC_ACR_VALUES", default_value = "eidas1")]
    pub oidc_acr_values: String,

    /// A session lasts this many hours from sign-in.
    #[arg(long, env = "CPTS_SESSION_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=72))]
    pub session_hours: u64,

    /// The web app's sign-in page also takes an API token (`true`, `false`); by default only
    /// when no --oidc-issuer is set, as in development.
    #[arg(long, env = "CPTS_TOKEN_SIGNIN")]
    pub token_signin: Option<bool>,

    /// A tile URL template for the web app's maps (`https://tile.openstreetmap.org/{z}/{x}/{y}.png`,
    /// an IGN WMTS URL); unset: the maps draw the communes the binary carries, with no tile
    /// server.
    #[arg(long, env = "CPTS_MAP_TILES", value_parser = tile_url)]
    pub map_tiles: Option<String>,

    /// The SAS's FHIR base (`https://…/fhir`): bookings made, cancelled or moved are sent there
    /// as FrAppointmentSAS (INT_R03), over mutual TLS, from the durable outbox; unset: they
    /// wait in the outbox. Needs --sas-client-cert, --sas-client-key and --public-url.
    #[arg(long, env = "CPTS_SAS_URL", value_parser = https_url)]
    pub sas_url: Option<String>,

    /// Our client certificate for the SAS (PEM, leaf first).
    #[arg(long, env = "CPTS_SAS_CLIENT_CERT", requires = "sas_client_key")]
    pub sas_client_cert: Option<std::path::PathBuf>,

    /// The private key of --sas-client-cert (PEM).
    #[arg(long, env = "CPTS_SAS_CLIENT_KEY", requires = "sas_client_cert")]
    pub sas_client_key: Option<std::path::PathBuf>,

    /// Trust only these CAs (PEM bundle) for the SAS's server certificate; unset: the web's
    /// roots (webpki-roots).
    #[arg(long, env = "CPTS_SAS_CA")]
    pub sas_ca: Option<std::path::PathBuf>,

    /// First wait before sending a failed appointment again, in seconds; it doubles at each
    /// failure up to --sas-retry-max-seconds.
    #[arg(long, env = "CPTS_SAS_RETRY_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub sas_retry_seconds: u64,

    /// Longest wait between two sends of a failing appointment, in seconds.
    #[arg(long, env = "CPTS_SAS_RETRY_MAX_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub sas_retry_max_seconds: u64,
}

/// An `https://` or `http://` tile URL template with `{z}`, `{x}` and `{y}`.
fn tile_url(raw: &str) -> Result<String, String> {
    let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
        && ["{z}", "{x}", "{y}"].iter().all(|p| raw.contains(p))
        && !raw
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'');
    ok.then(|| raw.to_owned())
        .ok_or_else(|| "expected an http(s) URL template with {z}, {x} and {y}".to_owned())
}

/// An `https://` base URL without a query or a fragment; a trailing slash dropped.
fn https_url(raw: &str) -> Result<String, String> {
    let url = public_url(raw)?;
    url.starts_with("https://")
        .then_some(url)
        .ok_or_else(|| "expected an https:// URL (the SAS is reached over mutual TLS)".to_owned())
}

/// An `http://` or `https://` base URL without a query, a fragment or a trailing slash.
fn public_url(raw: &str) -> Result<String, String> {
    let uri: axum::http::Uri = raw.parse().map_err(|_| "not a URL".to_owned())?;
    let ok = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.authority().is_some()
        && uri.query().is_none()
        && !raw.contains('#');
    ok.then(|| raw.trim_end_matches('/').to_owned())
        .ok_or_else(|| "expected an http:// or https:// URL without query".to_owned())
}

/// Why a configuration cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("--production requires REDIS_URL")]
    MissingRedis,
    #[error("--production requires CPTS_TOKEN_KEY")]
    MissingTokenKey,
    #[error("CPTS_TOKEN_KEY must be at least {MIN_TOKEN_KEY_BYTES} bytes")]
    ShortTokenKey,
    #[error(
        "--production refuses a weak CPTS_TOKEN_KEY (too few distinct characters, or one \
         repeated); make one with `openssl rand -base64 48`"
    )]
    WeakTokenKey,
    #[error(
        "--oidc-issuer needs --oidc-client-id, --oidc-client-secret and --public-url \
         (CPTS_OIDC_CLIENT_ID, CPTS_OIDC_CLIENT_SECRET, CPTS_PUBLIC_URL)"
    )]
    OidcIncomplete,
    #[error(
        "--sas-url needs --sas-client-cert, --sas-client-key and --public-url \
         (CPTS_SAS_CLIENT_CERT, CPTS_SAS_CLIENT_KEY, CPTS_PUBLIC_URL)"
    )]
    SasIncomplete,
}

impl Config {
    /// A development configuration on `database_url`: no Redis, the development token key,
    /// listening on a free loopback port. Tests start from this and change what they need.
    pub fn for_database(database_url: &str) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: Secret::new(database_url),
            redis_url: None,
            redis_prefix: "cpts:".to_owned(),
            token_key: None,
            production: false,
            hold_seconds: 120,
            rate_limit: 6000,
            job_lease_seconds: 60,
            max_body_bytes: 1024 * 1024,
            max_import_bytes: 64 * 1024 * 1024,
            request_timeout_seconds: 30,
            import_timeout_seconds: 600,
            shutdown_grace_seconds: 30,
            slot_board_seconds: 10,
            token_cache_seconds: 5,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            max_connections: 4096,
            max_connections_per_ip: 256,
            max_event_streams: 1000,
            max_event_streams_per_token: 8,
            public_url: None,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scopes: "scope_all".to_owned(),
            oidc_acr_values: "eidas1".to_owned(),
            session_hours: 12,
            token_signin: None,
            map_tiles: None,
            sas_url: None,
            sas_client_cert: None,
            sas_client_key: None,
            sas_ca: None,
            sas_retry_seconds: 5,
            sas_retry_max_seconds: 300,
        }
    }

    /// The appointment feedback's settings, with a SAS configured (`None`: the outbox only
    /// fills).
    ///
    /// # Errors
    /// [`ConfigError::SasIncomplete`] naming what the SAS needs and lacks.
    pub fn feedback(&self) -> Result<Option<crate::feedback::Settings>, ConfigError> {
        let Some(url) = &self.sas_url else {
            return Ok(None);
        };
        let (Some(cert), Some(key), Some(public_url)) = (
            &self.sas_client_cert,
            &self.sas_client_key,
            &self.public_url,
        ) else {
            return Err(ConfigError::SasIncomplete);
        };
        Ok(Some(crate::feedback::Settings {
            sas_url: url.clone(),
            client_cert: cert.clone(),
            client_key: key.clone(),
            ca: self.sas_ca.clone(),
            public_url: public_url.clone(),
            retry: std::time::Duration::from_secs(self.sas_retry_seconds),
            retry_max: std::time::Duration::from_secs(
                self.sas_retry_max_seconds.max(self.sas_retry_seconds),
            ),
        }))
    }

    /// The sign-in settings, with an issuer configured (`None`: no sign-in).
    ///
    /// # Errors
    /// [`ConfigError::OidcIncomplete`] naming what the issuer needs and lacks.
    pub fn oidc(&self) -> Result<Option<crate::signin::OidcSettings>, ConfigError> {
        let Some(issuer) = &self.oidc_issuer else {
            return Ok(None);
        };
        let (Some(client_id), Some(secret), Some(public_url)) = (
            &self.oidc_client_id,
            &self.oidc_client_secret,
            &self.public_url,
        ) else {
            return Err(ConfigError::OidcIncomplete);
        };
        Ok(Some(crate::signin::OidcSettings {
            issuer: issuer.clone(),
            client_id: client_id.clone(),
            client_secret: secret.expose().to_owned(),
            public_url: public_url.clone(),
            scopes: self
                .oidc_scopes
                .split_whitespace()
                .filter(|s| *s != "openid")
                .map(str::to_owned)
                .collect(),
            acr_values: Some(self.oidc_acr_values.trim())
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
        }))
    }

    /// The TLS files, when `cpts serve` terminates TLS itself.
    pub fn tls_files(&self) -> Option<crate::startup::tls::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::startup::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls_client_ca.clone(),
            }),
            _ => None,
        }
    }

    /// The bounds of the accept loop (`startup::server`).
    pub fn connection_limits(&self) -> crate::startup::ConnectionLimits {
        crate::startup::ConnectionLimits {
            header_read: std::time::Duration::from_secs(self.header_read_timeout_seconds),
            // A request may compute without moving a byte up to its own timeout.
            idle: std::time::Duration::from_secs(
                self.idle_timeout_seconds
                    .max(self.request_timeout_seconds.saturating_add(5)),
            ),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_per_ip: usize::try_from(self.max_connections_per_ip).unwrap_or(usize::MAX),
        }
    }

    /// Checks the rules that flags alone cannot express.
    ///
    /// # Errors
    /// In production: no Redis URL or no token key. Anywhere: a token key shorter than
    /// [`MIN_TOKEN_KEY_BYTES`] when one is given.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(key) = &self.token_key
            && key.expose().len() < MIN_TOKEN_KEY_BYTES
        {
            return Err(ConfigError::ShortTokenKey);
        }
        if self.production {
            if self.redis_url.is_none() {
                return Err(ConfigError::MissingRedis);
            }
            match &self.token_key {
                None => return Err(ConfigError::MissingTokenKey),
                Some(key) if is_weak_key(key.expose().as_bytes()) => {
                    return Err(ConfigError::WeakTokenKey);
                }
                Some(_) => {}
            }
        }
        self.oidc()?;
        self.feedback()?;
        Ok(())
    }

    /// The bytes of the token key: `CPTS_TOKEN_KEY`, or the development key outside production
    /// ([`Config::validate`] refuses the fallback in production).
    pub fn token_key_bytes(&self) -> Vec<u8> {
        match &self.token_key {
            Some(k) => k.expose().as_bytes().to_vec(),
            None => DEV_TOKEN_KEY.as_bytes().to_vec(),
        }
    }
}

/// A key that cannot hold 32 random bytes of entropy however long it is: fewer than 16
/// distinct bytes (32 random bytes as hex have 16, as base64 about 27), or one byte making up
/// more than a quarter of it (`xxxx…`, `abababab…`).
fn is_weak_key(key: &[u8]) -> bool {
    let mut counts = [0_usize; 256];
    for &b in key {
        counts[usize::from(b)] += 1;
    }
    let distinct = counts.iter().filter(|&&n| n > 0).count();
    let most = counts.iter().copied().max().unwrap_or(0);
    distinct < 16 || most * 4 > key.len()
}

/// A string that must not reach logs: its `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself; call it where the secret is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn secrets_never_print() {
        let mut c = Config::for_database("postgres://u:hunter2@db/cpts");
        c.token_key = Some(Secret::new("k".repeat(40)));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("kkkk"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn production_requires_redis_and_a_token_key() {
        let mut c = Config::for_database("sqlite://x.db");
        assert_eq!(c.validate(), Ok(()));
        c.production = true;
        assert_eq!(c.validate(), Err(ConfigError::MissingRedis));
        c.redis_url = Some(Secret::new("redis://127.0.0.1"));
        assert_eq!(c.validate(), Err(ConfigError::MissingTokenKey));
        c.token_key = Some(Secret::new("short"));
        assert_eq!(c.validate(), Err(ConfigError::ShortTokenKey));
        c.token_key = Some(Secret::new("x".repeat(MIN_TOKEN_KEY_BYTES)));
        assert_eq!(c.validate(), Err(ConfigError::WeakTokenKey));
        c.token_key = Some(Secret::new("ab".repeat(MIN_TOKEN_KEY_BYTES)));
        assert_eq!(c.validate(), Err(ConfigError::WeakTokenKey));
        // 32 random bytes, as `openssl rand -hex 32` and `-base64 32` print them.
        let hex = "9f2c4e81a7d03b56c8e1f4a29d7b06e3512f8ca4d9e07b3618c2a5f0e4d7b9c1";
        c.token_key = Some(Secret::new(hex));
        assert_eq!(c.validate(), Ok(()));
        c.token_key = Some(Secret::new("nS4kq0Vb8wLZt2YhR7pXcE1mJ9uAfG3dK6oQyT5iWsM="));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn the_sas_needs_https_a_client_certificate_and_a_public_url() {
        let mut c = Config::for_database("sqlite://x.db");
        assert_eq!(c.feedback(), Ok(None));
        c.sas_url = Some("https://sas.example.fr/fhir".to_owned());
        assert_eq!(c.validate(), Err(ConfigError::SasIncomplete));
        c.sas_client_cert = Some("cert.pem".into());
        c.sas_client_key = Some("key.pem".into());
        assert_eq!(c.validate(), Err(ConfigError::SasIncomplete));
        c.public_url = Some("https://cpts.example.fr".to_owned());
        c.sas_retry_max_seconds = 1;
        let s = c.feedback().unwrap().unwrap();
        assert_eq!(s.sas_url, "https://sas.example.fr/fhir");
        assert_eq!(
            s.retry_max,
            std::time::Duration::from_secs(5),
            "never below the first wait"
        );
        assert!(
            Cli::try_parse_from(["cpts", "--sas-url", "http://sas.example.fr/fhir"]).is_err(),
            "plain HTTP is refused"
        );
    }

    #[test]
    fn the_idle_timeout_outlasts_the_request_timeout() {
        let mut c = Config::for_database("sqlite://x.db");
        assert_eq!(
            c.connection_limits().idle,
            std::time::Duration::from_secs(60)
        );
        c.request_timeout_seconds = 600;
        assert_eq!(
            c.connection_limits().idle,
            std::time::Duration::from_secs(605)
        );
    }

    #[test]
    fn flags_override_the_defaults() {
        let cli = Cli::try_parse_from([
            "cpts",
            "--bind",
            "0.0.0.0:9000",
            "--database-url",
            "postgres://db/cpts",
            "--production",
        ])
        .unwrap();
        assert_eq!(cli.config.bind, SocketAddr::from(([0, 0, 0, 0], 9000)));
        assert_eq!(cli.config.database_url.expose(), "postgres://db/cpts");
        assert!(cli.config.production);
    }
}
