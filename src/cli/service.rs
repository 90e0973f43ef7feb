//! `cpts serve`, `cpts token create|revoke` and `cpts migrate`: the service's commands.

use crate::config::Config;
use crate::domain::{Role, Rpps};
use crate::startup::Application;
use crate::store::Store;
use crate::tokens::{self, CreateError, TokenKey};
use anyhow::Context;
use std::process::ExitCode;

/// `cpts token …`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: TokenAction,
}

/// What to do with tokens.
#[derive(Debug, clap::Subcommand)]
pub enum TokenAction {
    /// Create a token and print it once (stdout); only its keyed hash is stored.
    Create {
        /// cpam, regulateur, medecin, coordinateur or auditeur.
        #[arg(long)]
        role: Role,
        /// The médecin's RPPS (required for, and only for, --role medecin).
        #[arg(long)]
        rpps: Option<Rpps>,
        /// Free text to recognise the token later (who holds it).
        #[arg(long, default_value = "")]
        label: String,
        /// The token stops working after this long: a number and d, h, m or s (`30d`).
        #[arg(long, conflicts_with = "expires_at")]
        expires_in: Option<String>,
        /// The token stops working at this instant (RFC 3339, `2026-12-31T23:59:59Z`).
        #[arg(long)]
        expires_at: Option<chrono::DateTime<chrono::FixedOffset>>,
        #[command(flatten)]
        db: TokenStore,
    },
    /// Revoke a token by its id (printed at creation); it stops working at once.
    Revoke {
        id: String,
        #[command(flatten)]
        db: TokenStore,
    },
    /// List the tokens, newest first: id, role, RPPS, label, state, dates (never a secret).
    List {
        #[command(flatten)]
        db: TokenStore,
    },
}

/// Where tokens live, and the key their hashes are made with: the only settings the token
/// commands read (so `cpts token create --help` lists only its own flags).
#[derive(Debug, clap::Args)]
pub struct TokenStore {
    /// Database URL: `sqlite://…` (the default, a file here) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://cpts.db?mode=rwc",
        hide_env_values = true
    )]
    pub database_url: crate::config::Secret,
    /// The server key tokens are hashed with (the server's own CPTS_TOKEN_KEY).
    #[arg(long, env = "CPTS_TOKEN_KEY", hide_env_values = true)]
    pub token_key: Option<crate::config::Secret>,
}

impl TokenStore {
    fn config(&self) -> Config {
        let mut c = Config::for_database(self.database_url.expose());
        c.token_key = self.token_key.clone();
        c
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}

/// `cpts serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Run no job worker in this process; jobs then wait for a `cpts worker`.
    #[arg(long, env = "CPTS_NO_WORKER")]
    pub no_worker: bool,
    #[command(flatten)]
    pub config: Config,
}

/// `cpts serve`: migrate, listen, serve (and run jobs) until SIGTERM or Ctrl-C.
pub fn serve(args: &ServeArgs) -> ExitCode {
    let config = &args.config;
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            let mut app = Application::build(config)
                .await
                .context("starting the service")?;
            if args.no_worker {
                app = app.without_worker();
            }
            let stop = crate::startup::shutdown_signal();
            eprintln!("cpts serve: listening on http://{}", app.local_addr());
            app.run_until(stop).await.context("serving")?;
            eprintln!("cpts serve: stopped");
            Ok(ExitCode::SUCCESS)
        })
    }))
}

/// `cpts worker`: run jobs until SIGTERM or Ctrl-C.
pub fn worker(config: &Config) -> ExitCode {
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            eprintln!("cpts worker: running jobs");
            crate::startup::run_worker_until_stopped(config)
                .await
                .context("running the worker")?;
            eprintln!("cpts worker: stopped");
            Ok(ExitCode::SUCCESS)
        })
    }))
}

/// `cpts migrate`: apply the pending migrations and exit.
pub fn migrate(config: &Config) -> ExitCode {
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            let store = open(config).await?;
            store.migrate().await.context("migrating")?;
            store.close().await;
            eprintln!("cpts migrate: the database is up to date");
            Ok(ExitCode::SUCCESS)
        })
    }))
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    config.validate()?;
    Store::connect(config.database_url.expose())
        .await
        .context("opening the database")
}

/// `cpts token create|revoke`.
pub fn token(args: TokenArgs) -> ExitCode {
    report(runtime().and_then(|rt| rt.block_on(token_async(args))))
}

async fn token_async(args: TokenArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        TokenAction::Create {
            role,
            rpps,
            label,
            expires_in,
            expires_at,
            db,
        } => {
            let config = db.config();
            let now = chrono::Utc::now().timestamp();
            let expires_at = match (expires_in, expires_at) {
                (Some(d), _) => match tokens::parse_expires_in(&d, now) {
                    Ok(at) => Some(at),
                    Err(e) => {
                        eprintln!("error: --expires-in {e}");
                        return Ok(ExitCode::from(super::EXIT_BAD_INPUT));
                    }
                },
                (None, Some(at)) if at.timestamp() <= now => {
                    eprintln!("error: --expires-at is in the past");
                    return Ok(ExitCode::from(super::EXIT_BAD_INPUT));
                }
                (None, at) => at.map(|a| a.timestamp()),
            };
            let store = open(&config).await?;
            // The server migrates at startup; a token may be created before it first runs.
            store.migrate().await.context("migrating")?;
            let key = TokenKey::new(config.token_key_bytes());
            let created =
                tokens::create_expiring(&store, &key, role, rpps.clone(), &label, expires_at);
            let minted = match created.await {
                Ok(m) => m,
                Err(e @ (CreateError::MissingRpps | CreateError::UnexpectedRpps)) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(super::EXIT_BAD_INPUT));
                }
                Err(e) => return Err(e).context("creating the token"),
            };
            store.close().await;
            let bound = rpps.map(|r| format!(", rpps {r}")).unwrap_or_default();
            let until = expires_at
                .and_then(|at| chrono::DateTime::from_timestamp(at, 0))
                .map(|at| format!(", expires {}", at.format("%Y-%m-%dT%H:%M:%SZ")))
                .unwrap_or_default();
            eprintln!("created token {} (role {role}{bound}{until})", minted.id);
            println!("{}", minted.token);
            eprintln!(
                "this is the only time the token is shown; revoke: cpts token revoke {}",
                minted.id
            );
            Ok(ExitCode::SUCCESS)
        }
        TokenAction::Revoke { id, db } => {
            let config = db.config();
            let store = open(&config).await?;
            let revoked = store
                .revoke_token(&id)
                .await
                .context("revoking the token")?;
            store.close().await;
            if revoked {
                eprintln!(
                    "revoked token {id}; running servers refuse it within their \
                     --token-cache-seconds (5 s by default)"
                );
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: no active token with id {id}");
                Ok(ExitCode::from(super::EXIT_BAD_INPUT))
            }
        }
        TokenAction::List { db } => {
            let store = open(&db.config()).await?;
            store.migrate().await.context("migrating")?;
            let tokens = store.tokens().await.context("reading the tokens")?;
            store.close().await;
            let now = chrono::Utc::now().timestamp();
            let date = |t: i64| {
                chrono::DateTime::from_timestamp(t, 0)
                    .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .unwrap_or_default()
            };
            println!("id\trole\trpps\tstate\tcreated\texpires\tlabel");
            for t in &tokens {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(at), _) => format!("revoked {}", date(at)),
                    (None, Some(at)) if at <= now => "expired".to_owned(),
                    _ => "active".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\t{state}\t{}\t{}\t{}",
                    t.id,
                    t.role,
                    t.rpps.as_ref().map(ToString::to_string).unwrap_or_default(),
                    date(t.created_at),
                    t.expires_at.map(date).unwrap_or_default(),
                    t.label.replace(['\t', '\n'], " ")
                );
            }
            eprintln!("{} token(s)", tokens.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
