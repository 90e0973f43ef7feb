//! Subcommands of the `cpts` binary.

mod matching;
mod progress;
mod service;
mod verify;

pub use service::{ServeArgs, TokenAction, TokenArgs};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit code for refused input (a CSV with errors, a bad argument value).
pub const EXIT_BAD_INPUT: u8 = 2;

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
    Garde(crate::garde::cli::GardeArgs),
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
        Command::Match(a) => matching::run(&a),
        Command::Verify(a) => verify::run(&a),
        Command::CheckExact(a) => matching::check_exact(&a),
        Command::Garde(a) => match crate::garde::cli::run_cli(&a) {
            Ok(()) => ExitCode::SUCCESS,
            // run_cli has printed the full report of a refused instance.
            Err(e) if e.downcast_ref::<crate::import::Error>().is_some() => {
                ExitCode::from(EXIT_BAD_INPUT)
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Serve(a) => service::serve(&a),
        Command::Worker(config) => service::worker(&config),
        Command::Token(a) => service::token(a),
        Command::Migrate(config) => service::migrate(&config),
        Command::Fixtures(a) => match crate::fixtures::run(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
