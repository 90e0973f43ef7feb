//! Subcommands of the `cpts` binary.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    /// Placeholder while the crate is being laid out.
    Version,
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
        Command::Version => {
            println!("cpts {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}
