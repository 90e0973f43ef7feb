//! Subcommands of the `cpts` binary.

mod garde;
mod matching;
mod output;
mod progress;
mod service;
mod verify;

pub use garde::GardeArgs;
pub use service::{
    CertAction, CertArgs, GrantAction, GrantArgs, ServeArgs, TerritoryAction, TerritoryArgs,
    TokenAction, TokenArgs,
};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit code for refused input (a CSV with errors, a bad argument value).
///
/// The batch commands (`match`, `check-exact`, `garde`, `fixtures`) map their result to an
/// exit code in one place, `exit_code`: 0 done; 2 refused input (`Refused`); 1 anything
/// else (a solver or self-check failure, an unwritable output, a `check-exact` mismatch).
pub const EXIT_BAD_INPUT: u8 = 2;

/// Input a command refused, for exit code 2. Its text is the whole report for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refused(pub String);

/// The one mapping from a batch command's result to its exit code ([`EXIT_BAD_INPUT`]);
/// prints the error on stderr.
fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<Refused>() {
            Some(refused) => {
                eprintln!("error: {refused}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// CPTS matching & garde engine.
#[derive(Debug, Parser)]
#[command(name = "cpts", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a matching batch on an instance folder (patients.csv, doctors.csv).
    Match(matching::MatchArgs),
    /// Check a batch's result (feasibility, objective, certificate of optimality), no solver.
    Verify(verify::VerifyArgs),
    /// Plan a garde period (cabinets.csv, doctors.csv, availability.csv, period.csv).
    Garde(garde::GardeArgs),
    /// Solve an instance with the flow and with the independent MILP, and compare objectives.
    CheckExact(matching::CheckExactArgs),
    /// Regenerate the in-repo fixtures, or write one large instance with --area.
    Fixtures(crate::fixtures::FixturesArgs),
    /// Run the HTTP service (migrates the database first) and, unless --no-worker, a job
    /// worker; stops on SIGTERM or Ctrl-C.
    Serve(service::ServeArgs),
    /// Run jobs (matching batches, garde plans) from the service's database until SIGTERM or
    /// Ctrl-C; as many workers as wanted may run at once.
    Worker(crate::config::Config),
    /// Create or revoke API tokens.
    Token(TokenArgs),
    /// Manage the CPTS (territories) tokens and cabinets are bound to.
    Territory(TerritoryArgs),
    /// Map client certificates (mutual TLS) to principals.
    Cert(CertArgs),
    /// Grant roles to people who sign in with OpenID Connect (Pro Santé Connect).
    Grant(GrantArgs),
    /// Retention: erase the patients attached to a médecin traitant before a date.
    Purge(service::PurgeArgs),
    /// Apply the pending database migrations and exit.
    Migrate(crate::config::Config),
}

/// Structured logs on stderr; `RUST_LOG` sets the level (default `warn`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Match(a) => exit_code(matching::run(&a)),
        Command::Verify(a) => verify::run(&a),
        Command::CheckExact(a) => exit_code(matching::check_exact(&a)),
        Command::Garde(a) => exit_code(garde::run_cli(&a)),
        Command::Serve(a) => service::serve(&a),
        Command::Worker(config) => service::worker(&config),
        Command::Token(a) => service::token(a),
        Command::Territory(a) => service::territory(a),
        Command::Cert(a) => service::cert(a),
        Command::Grant(a) => service::grant(a),
        Command::Purge(a) => service::purge(a),
        Command::Migrate(config) => service::migrate(&config),
        Command::Fixtures(a) => exit_code(crate::fixtures::run(&a)),
    }
}
