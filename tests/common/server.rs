//! The harness of the process tests (crash_import, logs, worker_crash): the real `cpts` binary
//! as a child process, `cpts serve` on a free port or `cpts worker`, with its environment, its
//! stderr captured line by line, and a SIGKILL by PID. Included by each of them with
//! `#[path = "common/server.rs"] mod server;`, so each uses only part of it.
#![allow(dead_code)]

use sqlx::{Connection, Executor};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

/// With `CI=true` a missing service fails the test instead of skipping it.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `TEST_DATABASE_URL`, or `None` (the caller says it skips); a panic naming it with `CI=true`.
pub fn test_database_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if is_ci() => panic!("CI=true but TEST_DATABASE_URL is not set"),
        _ => None,
    }
}

/// A fresh PostgreSQL database beside `admin`'s, named like tests/api's
/// (`cpts_test_<unix seconds>_…`) so that their sweep drops a leftover; returns its URL and
/// name.
pub async fn create_database(admin: &str, tag: &str) -> (String, String) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let name = format!(
        "cpts_test_{}_{:08x}{tag}{}",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id()
    );
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
    (cpts::store::with_database(admin, &name), name)
}

/// Drops a database of [`create_database`], even with connections left open.
pub async fn drop_database(admin: &str, name: &str) {
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// `cpts token create --role ROLE [--rpps RPPS]` on `database_url`, with the role's test
/// territory (CPAM staff and régulateurs: `dep:54`; a coordinator: `cpts:grand_nancy`; an
/// auditeur: national): the token printed.
pub fn token(database_url: &str, role: &str, rpps: Option<&str>, env: &[(&str, &str)]) -> String {
    let mut args = vec!["token", "create", "--role", role];
    if let Some(r) = rpps {
        args.extend(["--rpps", r]);
    }
    match role {
        "cpam" | "regulateur" => args.extend(["--territory", "dep:54"]),
        "coordinateur" => args.extend(["--territory", "cpts:grand_nancy"]),
        "auditeur" => args.push("--national"),
        _ => {}
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cpts"))
        .args(&args)
        .env("DATABASE_URL", database_url)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A running `cpts` process; killed when dropped, so a failing test leaves no server behind.
pub struct Process {
    child: Child,
    /// `http://…` of `cpts serve`; empty for a worker.
    pub address: String,
    /// Lines read while waiting for readiness, not taken yet.
    early: Vec<String>,
    log: Receiver<String>,
    drain: Option<JoinHandle<()>>,
}

impl Process {
    /// `cpts serve` on `database_url`, bound to a free port, once it says it listens.
    /// `REDIS_URL` and `RUST_LOG` are removed from the inherited environment, then `env` is set.
    pub fn serve(database_url: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = Self::command(&["serve"], database_url, env);
        cmd.env("CPTS_BIND", "127.0.0.1:0");
        let mut p = Self::spawn(cmd);
        p.address = loop {
            let line = p.log.recv().expect("cpts serve exited before listening");
            let found = line
                .strip_prefix("cpts serve: listening on ")
                .map(|a| a.trim().to_owned());
            p.early.push(line);
            if let Some(a) = found {
                break a;
            }
        };
        p
    }

    /// `cpts worker ARGS` on `database_url`, with the environment of [`Process::serve`].
    pub fn worker(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut all = vec!["worker"];
        all.extend_from_slice(args);
        Self::spawn(Self::command(&all, database_url, env))
    }

    fn command(args: &[&str], database_url: &str, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cpts"));
        cmd.args(args)
            .env("DATABASE_URL", database_url)
            .env_remove("REDIS_URL")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts `cmd`; a thread forwards its stderr lines, so it never blocks on a full pipe.
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = channel();
        let drain = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            address: String::new(),
            early: Vec::new(),
            log: rx,
            drain: Some(drain),
        }
    }

    /// SIGKILL by PID: no shutdown, no last write; returns once the process is reaped and its
    /// stderr read to the end.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        self.child.wait().unwrap();
        if let Some(d) = self.drain.take() {
            d.join().unwrap();
        }
    }

    /// The stderr lines not taken yet (all of them after [`Process::kill`]).
    pub fn log(&mut self) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.early);
        lines.extend(self.log.try_iter());
        lines
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
