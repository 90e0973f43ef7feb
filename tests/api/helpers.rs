//! [`TestApp`]: the real service on a throwaway database, and one helper per endpoint.
#![allow(clippy::unwrap_used)]

use cpts::config::{Config, Secret};
use cpts::domain::{MatchingDoctor, Role, Rpps, Scope};
use cpts::startup::Application;
use cpts::store::Store;
use cpts::tokens::{self, TokenKey};
use rand::Rng;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{OnceCell, oneshot};
use tokio::task::JoinHandle;

/// Runs one test function against SQLite and PostgreSQL: `both_backends!(name);` next to
/// `async fn name(app: Arc<TestApp>)` makes the tests `name::sqlite` and `name::postgres`.
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                $crate::helpers::run(
                    $crate::helpers::Backend::Sqlite, super::$name).await;
            }
            #[tokio::test]
            async fn postgres() {
                $crate::helpers::run(
                    $crate::helpers::Backend::Postgres, super::$name).await;
            }
        }
    )+};
}
pub(crate) use both_backends;

/// [`both_backends`] with a change to the configuration: `$tweak` is a `fn(&mut Config)`.
macro_rules! both_backends_with {
    ($tweak:ident; $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                $crate::helpers::run_with($crate::helpers::Backend::Sqlite, super::$tweak, super::$name).await;
            }
            #[tokio::test]
            async fn postgres() {
                $crate::helpers::run_with($crate::helpers::Backend::Postgres, super::$tweak, super::$name).await;
            }
        }
    )+};
}
pub(crate) use both_backends_with;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// PostgreSQL databases made by these tests are named `cpts_test_<unix seconds>_<random>`.
const PG_PREFIX: &str = "cpts_test_";
/// Leftovers (a test that panicked before its teardown, a killed run) older than this are
/// dropped at the next start; younger ones may belong to a run in progress elsewhere.
const SWEEP_AFTER: Duration = Duration::from_secs(3600);

pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether Node.js (`node` and `npm`) can run the scripts of `tests/{dir}`, whose packages
/// are installed once (`npm ci`) when `node_modules/{probe}` is missing there. Without
/// Node.js: with `CI=true` a panic naming `purpose`, locally a message and `false`.
pub fn node_packages(dir: &str, probe: &str, purpose: &str) -> bool {
    use std::process::{Command, Stdio};
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let have = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !have("node") || !have("npm") {
        assert!(
            !is_ci(),
            "CI=true but Node.js (node, npm) is not installed: it runs {purpose}"
        );
        eprintln!("skipping {purpose}: Node.js is not installed");
        return false;
    }
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    if !root.join("node_modules").join(probe).exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&root)
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm ci in tests/{dir} failed");
    }
    true
}

/// The value of `name`, or `None` (locally) / a panic naming it (with `CI=true`).
fn required_env(name: &str, purpose: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if is_ci() => panic!("CI=true but {name} is not set; it is needed {purpose}"),
        _ => None,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn random_suffix() -> String {
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

static SWEPT: OnceCell<()> = OnceCell::const_new();

async fn sweep_leftovers(admin_url: &str) {
    SWEPT
        .get_or_init(|| async {
            let mut conn = PgConnection::connect(admin_url).await.unwrap();
            let names: Vec<(String,)> = sqlx::query_as(
                "SELECT datname FROM pg_database WHERE datname LIKE 'cpts\\_test\\_%'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            let cutoff = unix_now().saturating_sub(SWEEP_AFTER.as_secs());
            for (name,) in names {
                let made: Option<u64> = name
                    .strip_prefix(PG_PREFIX)
                    .and_then(|r| r.split('_').next())
                    .and_then(|s| s.parse().ok());
                if made.is_some_and(|t| t < cutoff) {
                    let _ = conn
                        .execute(
                            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                        )
                        .await;
                }
            }
            conn.close().await.unwrap();
        })
        .await;
}

/// The service, started for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub client: reqwest::Client,
    /// The service's database, for seeding and for checking the stored state.
    pub store: Store,
    /// Its URL, for seeding tables the store has no writer for yet.
    pub database_url: String,
    key: TokenKey,
    stop: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    server: std::sync::Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    db: TestDb,
    redis: Option<(String, String)>,
    /// The server's slot board; whoever writes slots or bookings beside the API loads it.
    pub board: Option<cpts::slots::Board>,
    /// The server's `--token-cache-seconds`.
    pub token_cache: Duration,
    /// The server's clock: a test moves it forward to pass deadlines.
    pub clock: cpts::clock::Clock,
}

impl TestApp {
    /// Starts the service on a fresh database of `backend`, with `tweak` as a last change to
    /// the configuration, or `None` when that backend is not configured locally (with
    /// `CI=true`: a panic naming the missing variable).
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let (db, url) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("cpts.db").display());
                (TestDb::Sqlite(dir), url)
            }
            Backend::Postgres => {
                let Some(admin_url) = required_env(
                    "TEST_DATABASE_URL",
                    "for the PostgreSQL variant of tests/api",
                ) else {
                    eprintln!("skipping the PostgreSQL variant: TEST_DATABASE_URL is not set");
                    return None;
                };
                sweep_leftovers(&admin_url).await;
                let name = format!("{PG_PREFIX}{}_{}", unix_now(), random_suffix());
                let mut conn = PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to TEST_DATABASE_URL: {e}"));
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                let url = cpts::store::with_database(&admin_url, &name);
                (TestDb::Postgres { admin_url, name }, url)
            }
        };
        let mut config = Config::for_database(&url);
        let redis = required_env("TEST_REDIS_URL", "for readiness checks in tests/api");
        if redis.is_none() {
            eprintln!("running without Redis: TEST_REDIS_URL is not set");
        }
        let redis = redis.map(|u| (u, format!("cpts-test:{}:", random_suffix())));
        if let Some((u, prefix)) = &redis {
            config.redis_url = Some(Secret::new(u.clone()));
            config.redis_prefix = prefix.clone();
        }
        // Revocations reach the server within a second (tests wait for them).
        config.token_cache_seconds = 1;
        tweak(&mut config);
        let key = TokenKey::new(config.token_key_bytes());
        let app = Application::build(&config).await.unwrap();
        let board = app.board();
        let clock = app.clock();
        let token_cache = Duration::from_secs(config.token_cache_seconds);
        let address = format!("http://127.0.0.1:{}", app.port());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let store = Store::connect(&url).await.unwrap();
        Some(TestApp {
            address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            store,
            database_url: url,
            key,
            stop: std::sync::Mutex::new(Some(stop)),
            server: std::sync::Mutex::new(Some(server)),
            db,
            redis,
            board,
            token_cache,
            clock,
        })
    }

    /// Stops the server (draining), drops the PostgreSQL database and this test's Redis keys.
    pub async fn teardown(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
        let server = self.server.lock().unwrap().take();
        if let Some(server) = server {
            server.await.unwrap().unwrap();
        }
        self.store.close().await;
        if let TestDb::Postgres { admin_url, name } = &self.db {
            let mut conn = PgConnection::connect(admin_url).await.unwrap();
            conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
        if let Some((url, prefix)) = &self.redis
            && let Ok(client) = redis::Client::open(url.as_str())
            && let Ok(mut conn) = client.get_multiplexed_async_connection().await
        {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
            }
        }
    }

    /// This app's Redis as another process would use it (same key prefix), if it has one.
    pub fn cache(&self) -> Option<cpts::cache::Cache> {
        self.redis
            .as_ref()
            .map(|(url, prefix)| cpts::cache::Cache::new(url, prefix).unwrap())
    }

    /// Loads the slot board now, after slots or bookings were written beside the API.
    pub async fn load_board(&self) {
        if let Some(board) = &self.board {
            board.load().await.unwrap();
        }
    }

    /// Waits until `token`, revoked beside the server, is refused on `GET path`: within the
    /// token cache's delay (and a second of slack), else panics. Returns the last answer.
    pub async fn refused_after_revoke(&self, token: &str, path: &str) -> Response {
        let deadline = std::time::Instant::now() + self.token_cache + Duration::from_secs(1);
        loop {
            let r = self.get(path, Some(token)).await;
            if r.status() == StatusCode::UNAUTHORIZED {
                return r;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "a revoked token still answered {} after {:?}",
                r.status(),
                self.token_cache
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether this app has Redis (from `TEST_REDIS_URL`).
    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// A fresh token of `role` (a médecin's bound to `rpps`), made the way `cpts token create`
    /// makes it, with the role's default test scope ([`default_scope`]).
    pub async fn token(&self, role: Role, rpps: Option<&Rpps>) -> String {
        self.token_in(role, rpps, default_scope(role)).await
    }

    /// A fresh token of `role` bound to `scope` (`dep:54,dep:57`, `cpts:grand_nancy`,
    /// `national`).
    pub async fn token_in(&self, role: Role, rpps: Option<&Rpps>, scope: &str) -> String {
        let scope: Scope = scope.parse().unwrap();
        tokens::create(&self.store, &self.key, role, rpps.cloned(), scope, "test")
            .await
            .unwrap()
            .token
    }

    /// A médecin token for `rpps`.
    pub async fn medecin(&self, rpps: &Rpps) -> String {
        self.token(Role::Medecin, Some(rpps)).await
    }

    /// Stores doctors as a CPAM import would.
    pub async fn seed_doctors(&self, doctors: &[MatchingDoctor]) {
        self.store.upsert_doctors(doctors).await.unwrap();
    }

    /// Waits until no job is queued or running (the in-process worker runs them), polling
    /// the jobs table; panics after two minutes.
    pub async fn run_jobs_until_idle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if self.store.active_jobs().await.unwrap() == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs still queued or running after two minutes"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A request to `path`, with `token` as bearer when given.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self
            .client
            .request(method, format!("{}{path}", self.address));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token).send().await.unwrap()
    }

    /// `PUT /doctors/{rpps}/capacity`.
    pub async fn put_capacity(&self, token: Option<&str>, rpps: &str, body: &Value) -> Response {
        self.request(Method::PUT, &format!("/doctors/{rpps}/capacity"), token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET /doctors/{rpps}`.
    pub async fn get_doctor(&self, token: Option<&str>, rpps: &str) -> Response {
        self.get(&format!("/doctors/{rpps}"), token).await
    }
}

/// Starts an app on `backend`, runs `test` on it, and tears the app down even when the test
/// panics (the panic is then re-raised).
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Arc<TestApp>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(backend, |_| {}, test).await;
}

/// Asserts a problem+json response of `status` and `type`; returns its body.
pub async fn assert_problem(response: Response, status: StatusCode, kind: &str) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "errors are problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], kind, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The single entry of a 422's `errors`.
pub fn only_error(body: &Value) -> &Value {
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    &errors[0]
}

/// [`run`] with `tweak` applied to the configuration first.
pub async fn run_with<F, Fut>(backend: Backend, tweak: fn(&mut Config), test: F)
where
    F: FnOnce(Arc<TestApp>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(app) = TestApp::spawn_with(backend, tweak).await else {
        return;
    };
    let app = Arc::new(app);
    let outcome = tokio::spawn(test(Arc::clone(&app))).await;
    app.teardown().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The scope a test token of `role` gets unless the test says otherwise: CPAM staff of the
/// Grand Est départements the fixtures use, the SAS of Meurthe-et-Moselle, the coordinator
/// of the Grand Nancy CPTS, a national auditeur.
pub fn default_scope(role: Role) -> &'static str {
    match role {
        Role::Cpam => "dep:08,dep:10,dep:51,dep:52,dep:54,dep:55,dep:57,dep:67,dep:68,dep:88",
        Role::Regulateur => "dep:54",
        Role::Coordinateur => "cpts:grand_nancy",
        Role::Medecin | Role::Auditeur | Role::Admin => "national",
    }
}
