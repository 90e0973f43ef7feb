//! `cpts serve`, `cpts token create|revoke|list`, `cpts territory list|load|delete` and
//! `cpts migrate`: the service's commands.

use crate::config::Config;
use crate::domain::{CptsId, Finess, InseeCode, Role, Rpps, Scope, Territory};
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
        /// A territory the token is bound to, repeatable: `dep:54` (cpam, regulateur: one or
        /// more départements; a régulateur's set is its SAS), `cpts:<id>` (coordinateur:
        /// exactly one CPTS); auditeur: either kind.
        #[arg(long = "territory", value_name = "TERRITORY")]
        territories: Vec<Territory>,
        /// An auditeur of the whole country (instead of --territory).
        #[arg(long, conflicts_with = "territories")]
        national: bool,
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
            eprintln!(
                "cpts serve: listening on {}://{}",
                app.scheme(),
                app.local_addr()
            );
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
            territories,
            national,
            label,
            expires_in,
            expires_at,
            db,
        } => {
            let config = db.config();
            let scope = match Scope::for_role(role, territories, national) {
                Ok(scope) => scope,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(super::EXIT_BAD_INPUT));
                }
            };
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
            let created = tokens::create_expiring(
                &store,
                &key,
                role,
                rpps.clone(),
                scope.clone(),
                &label,
                expires_at,
            );
            let minted = match created.await {
                Ok(m) => m,
                Err(
                    e @ (CreateError::MissingRpps
                    | CreateError::UnexpectedRpps
                    | CreateError::Scope(_)
                    | CreateError::UnknownCpts(_)),
                ) => {
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
            let scope = if role == Role::Medecin {
                String::new()
            } else {
                format!(", scope {scope}")
            };
            eprintln!(
                "created token {} (role {role}{bound}{scope}{until})",
                minted.id
            );
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
            println!("id\trole\trpps\tscope\tstate\tcreated\texpires\tlabel\tcertificate");
            for t in &tokens {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(at), _) => format!("revoked {}", date(at)),
                    (None, Some(at)) if at <= now => "expired".to_owned(),
                    _ => "active".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{state}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.role,
                    t.rpps.as_ref().map(ToString::to_string).unwrap_or_default(),
                    t.scope,
                    date(t.created_at),
                    t.expires_at.map(date).unwrap_or_default(),
                    t.label.replace(['\t', '\n'], " "),
                    t.certificate
                        .as_ref()
                        .map(|(cn, ou)| format!("CN={cn} OU={ou}").replace(['\t', '\n'], " "))
                        .unwrap_or_default()
                );
            }
            eprintln!("{} token(s)", tokens.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `cpts territory …`: the CPTS an administrator manages (issue 16), as the API's
/// `/territories` does; every change is audited (actor: the command line).
#[derive(Debug, clap::Args)]
pub struct TerritoryArgs {
    #[command(subcommand)]
    pub action: TerritoryAction,
}

/// What to do with territories.
#[derive(Debug, clap::Subcommand)]
pub enum TerritoryAction {
    /// List the CPTS: id, name, FINESS, number of communes, départements.
    List {
        #[command(flatten)]
        db: TokenStore,
    },
    /// Create or replace CPTS from a CSV with the columns `territory_id`, `territory_name`,
    /// `insee` (one row per commune; fixtures/data/territories.csv has this shape) and an
    /// optional `finess`. Each CPTS of the file is replaced whole; all or nothing.
    Load {
        file: std::path::PathBuf,
        #[command(flatten)]
        db: TokenStore,
    },
    /// Delete a CPTS no cabinet belongs to.
    Delete {
        id: CptsId,
        #[command(flatten)]
        db: TokenStore,
    },
}

/// Arguments of `cpts purge`.
#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Erase every patient attached to a médecin traitant before this day (YYYY-MM-DD,
    /// midnight Europe/Paris): its row, its proposals and the batch rows naming it.
    #[arg(long, value_parser = parse_purge_date)]
    pub attached_before: chrono::NaiveDate,
    #[command(flatten)]
    pub db: TokenStore,
}

fn parse_purge_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date YYYY-MM-DD"))
}

/// `cpts purge --attached-before DATE`: the retention policy of attached patients.
pub fn purge(args: PurgeArgs) -> ExitCode {
    report(runtime().and_then(|rt| rt.block_on(purge_async(args))))
}

async fn purge_async(args: PurgeArgs) -> anyhow::Result<ExitCode> {
    use chrono::TimeZone;
    let midnight = args
        .attached_before
        .and_hms_opt(0, 0, 0)
        .context("midnight exists")?;
    let before = chrono_tz::Europe::Paris
        .from_local_datetime(&midnight)
        .earliest()
        .context("midnight exists in Europe/Paris")?
        .timestamp();
    let store = open(&args.db.config()).await?;
    store.migrate().await.context("migrating")?;
    let [patients, assignments, unmatched, proposals] = store
        .purge_attached_before(before)
        .await
        .context("purging")?;
    store.close().await;
    eprintln!(
        "cpts purge: {patients} patients attached before {} erased ({proposals} proposals, \
         {assignments} batch assignments, {unmatched} unmatched rows)",
        args.attached_before
    );
    Ok(ExitCode::SUCCESS)
}

/// `cpts territory list|load|delete`.
pub fn territory(args: TerritoryArgs) -> ExitCode {
    report(runtime().and_then(|rt| rt.block_on(territory_async(args))))
}

async fn territory_async(args: TerritoryArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        TerritoryAction::List { db } => {
            let store = open(&db.config()).await?;
            store.migrate().await.context("migrating")?;
            let all = store.cpts_list().await.context("reading the CPTS")?;
            store.close().await;
            println!("id\tname\tfiness\tcommunes\tdepartements");
            for c in all {
                let deps: Vec<String> = c.departements().iter().map(ToString::to_string).collect();
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    c.id,
                    c.name,
                    c.finess.as_ref().map(Finess::as_str).unwrap_or(""),
                    c.communes.len(),
                    deps.join(",")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TerritoryAction::Load { file, db } => {
            let cpts = match read_territories(&file) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(super::EXIT_BAD_INPUT));
                }
            };
            let store = open(&db.config()).await?;
            store.migrate().await.context("migrating")?;
            let mut created = 0;
            for c in &cpts {
                if store.put_cpts(c).await.context("storing a CPTS")? {
                    created += 1;
                }
            }
            store.close().await;
            eprintln!(
                "cpts territory load: {} CPTS ({created} created, {} replaced)",
                cpts.len(),
                cpts.len() - created
            );
            Ok(ExitCode::SUCCESS)
        }
        TerritoryAction::Delete { id, db } => {
            let store = open(&db.config()).await?;
            store.migrate().await.context("migrating")?;
            let done = store.delete_cpts(&id).await.context("deleting the CPTS")?;
            store.close().await;
            match done {
                crate::store::CptsDeletion::Deleted => {
                    eprintln!("deleted CPTS {id}");
                    Ok(ExitCode::SUCCESS)
                }
                crate::store::CptsDeletion::NotFound => {
                    eprintln!("error: no CPTS with id {id}");
                    Ok(ExitCode::from(super::EXIT_BAD_INPUT))
                }
                crate::store::CptsDeletion::InUse => {
                    eprintln!("error: cabinets belong to CPTS {id}; it is kept");
                    Ok(ExitCode::from(super::EXIT_BAD_INPUT))
                }
            }
        }
    }
}

/// The CPTS of a territories CSV, validated whole: the first bad row is named by file, line
/// and column.
fn read_territories(path: &std::path::Path) -> Result<Vec<crate::store::NewCpts>, String> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id_col), Some(name_col), Some(insee_col)) = (
        column("territory_id"),
        column("territory_name"),
        column("insee"),
    ) else {
        return Err(format!(
            "{}: line 1: expected the columns territory_id, territory_name, insee",
            path.display()
        ));
    };
    let finess_col = column("finess");
    let mut out: Vec<crate::store::NewCpts> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        let at = |col: usize, what: &str, e: &dyn std::fmt::Display| {
            format!("{}:{line}:{}: {what}: {e}", path.display(), col + 1)
        };
        let field = |col: usize| record.get(col).unwrap_or("");
        let id: CptsId = field(id_col)
            .parse()
            .map_err(|e| at(id_col, "territory_id", &e))?;
        let insee: InseeCode = field(insee_col)
            .parse()
            .map_err(|e| at(insee_col, "insee", &e))?;
        let name = field(name_col).trim().to_owned();
        if name.is_empty() {
            return Err(at(name_col, "territory_name", &"empty"));
        }
        let finess: Option<Finess> = match finess_col.map(field).filter(|f| !f.is_empty()) {
            Some(f) => Some(
                f.parse()
                    .map_err(|e| at(finess_col.unwrap_or(0), "finess", &e))?,
            ),
            None => None,
        };
        match out.iter_mut().find(|c| c.id == id) {
            Some(c) => c.communes.push(insee),
            None => out.push(crate::store::NewCpts {
                id,
                name,
                finess,
                communes: vec![insee],
                garde_year_start: None,
                swap_approval: None,
            }),
        }
    }
    if out.is_empty() {
        return Err(format!("{}: no CPTS in the file", path.display()));
    }
    Ok(out)
}

/// `cpts grant …`: roles of people who sign in with OpenID Connect (issue 16).
#[derive(Debug, clap::Args)]
pub struct GrantArgs {
    #[command(subcommand)]
    pub action: GrantAction,
}

/// What to do with grants.
#[derive(Debug, clap::Subcommand)]
pub enum GrantAction {
    /// Grant a role and its territory to an identity: `rpps:<RPPS>` for a professional signing
    /// in with Pro Santé Connect, `sub:<subject>` for a staff identity of another issuer. A
    /// médecin is granted to its own RPPS. Revoke with `cpts token revoke ID`.
    Add {
        /// `rpps:10000000009` or `sub:alice`.
        #[arg(long)]
        identity: crate::domain::Identity,
        #[arg(long)]
        role: Role,
        /// As `cpts token create --territory`.
        #[arg(long = "territory", value_name = "TERRITORY")]
        territories: Vec<Territory>,
        #[arg(long, conflicts_with = "territories")]
        national: bool,
        #[arg(long, default_value = "")]
        label: String,
        #[command(flatten)]
        db: TokenStore,
    },
    /// Every grant, live or revoked.
    List {
        #[command(flatten)]
        db: TokenStore,
    },
}

/// `cpts grant add|list`.
pub fn grant(args: GrantArgs) -> ExitCode {
    report(runtime().and_then(|rt| rt.block_on(grant_async(args))))
}

async fn grant_async(args: GrantArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        GrantAction::List { db } => {
            let config = db.config();
            let store = open(&config).await?;
            store.migrate().await.context("migrating")?;
            let grants = store.grants().await.context("reading the grants")?;
            store.close().await;
            println!("id\tidentity\trole\tscope\tstate");
            for g in grants {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    g.id,
                    g.oidc_subject.unwrap_or_default(),
                    g.role,
                    g.scope,
                    if g.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "live"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        GrantAction::Add {
            identity,
            role,
            territories,
            national,
            label,
            db,
        } => {
            let scope = match Scope::for_role(role, territories, national) {
                Ok(scope) => scope,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(super::EXIT_BAD_INPUT));
                }
            };
            let config = db.config();
            let store = open(&config).await?;
            store.migrate().await.context("migrating")?;
            let key = TokenKey::new(config.token_key_bytes());
            let granted = tokens::grant(&store, &key, &identity, role, scope.clone(), &label).await;
            store.close().await;
            match granted {
                Ok(id) => {
                    eprintln!(
                        "granted {role} ({scope}) to {identity}: {id}; revoke: cpts token revoke {id}"
                    );
                    println!("{id}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ CreateError::Store(_)) => Err(e).context("granting"),
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(super::EXIT_BAD_INPUT))
                }
            }
        }
    }
}

/// `cpts cert …`: machine clients over mutual TLS (issue 16).
#[derive(Debug, clap::Args)]
pub struct CertArgs {
    #[command(subcommand)]
    pub action: CertAction,
}

/// What to do with client certificates.
#[derive(Debug, clap::Subcommand)]
pub enum CertAction {
    /// Map a client certificate subject (CN and OU, as the SAS platform checks them) to a
    /// principal of a role and territory; `cpts serve --tls-client-ca` then lets a client with
    /// such a certificate in without a token. Revoke with `cpts token revoke ID`.
    Map {
        /// The certificate's subject CN.
        #[arg(long)]
        cn: String,
        /// The certificate's subject OU (empty when it has none).
        #[arg(long, default_value = "")]
        ou: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        rpps: Option<Rpps>,
        /// As `cpts token create --territory`.
        #[arg(long = "territory", value_name = "TERRITORY")]
        territories: Vec<Territory>,
        #[arg(long, conflicts_with = "territories")]
        national: bool,
        #[arg(long, default_value = "")]
        label: String,
        #[command(flatten)]
        db: TokenStore,
    },
}

/// `cpts cert map`.
pub fn cert(args: CertArgs) -> ExitCode {
    report(runtime().and_then(|rt| rt.block_on(cert_async(args))))
}

async fn cert_async(args: CertArgs) -> anyhow::Result<ExitCode> {
    let CertAction::Map {
        cn,
        ou,
        role,
        rpps,
        territories,
        national,
        label,
        db,
    } = args.action;
    let scope = match Scope::for_role(role, territories, national) {
        Ok(scope) => scope,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(super::EXIT_BAD_INPUT));
        }
    };
    let config = db.config();
    let store = open(&config).await?;
    store.migrate().await.context("migrating")?;
    let key = TokenKey::new(config.token_key_bytes());
    let mapped =
        tokens::map_certificate(&store, &key, role, rpps, scope.clone(), &label, &cn, &ou).await;
    store.close().await;
    match mapped {
        Ok(id) => {
            eprintln!(
                "mapped certificate CN={cn} OU={ou} to {id} (role {role}, scope {scope}); \
                 revoke: cpts token revoke {id}"
            );
            println!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ CreateError::Store(_)) => Err(e).context("mapping the certificate"),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(super::EXIT_BAD_INPUT))
        }
    }
}
