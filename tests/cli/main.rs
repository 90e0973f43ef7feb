#![allow(clippy::unwrap_used)]
//! The `cpts` binary end to end, one file per subcommand: `cpts match` (`matching`), `cpts
//! verify` on what it writes (`verify`) and `cpts garde` (`garde`).

mod garde;
mod matching;
mod purge;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary from the repository's root.
fn cpts(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpts"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A folder of fixtures/.
fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}
