//! A connection flood against a real `cpts serve` process (issue 15, "Bounded resources"), over
//! loopback:
//!
//! ```sh
//! cargo build --release --bin cpts --example flood
//! target/release/examples/flood --connections 10000
//! ```
//!
//! Starts `cpts serve --bind 127.0.0.1:0` (the binary next to this example's folder, or
//! `--cpts`) on a throwaway SQLite file, then one client on 127.0.0.1 opens `--connections`
//! TCP connections, each sending half a request head and nothing more (slow-loris), and holds
//! them for `--hold-seconds`. Before, during and after the flood it prints the server's
//! resident memory (VmRSS) and open file descriptors (from /proc), and the latency of
//! `GET /healthz` from another loopback address (127.0.0.2, a different client), median and
//! worst of 20. It also counts how many of the flood's connections the server closed by
//! itself: at once (the per-address cap) and later (the header read timeout).
//!
//! Exits non-zero when `/healthz` fails during the flood, or when the server does not come
//! back within 50 % of its memory before the flood (plus 16 MiB) once the client has left.
//! The server is stopped by its PID (SIGTERM, then SIGKILL).
#![allow(clippy::unwrap_used)]

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[derive(Debug, Parser)]
struct Args {
    /// Half-open connections the flooding client opens.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// How long the client holds them before leaving (longer than the server's 10 s header
    /// read timeout, to see it work).
    #[arg(long, default_value_t = 15)]
    hold_seconds: u64,
    /// The `cpts` binary (default: next to this example's folder).
    #[arg(long)]
    cpts: Option<PathBuf>,
}

/// The server process, stopped by its PID when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(cpts: &PathBuf, db: &str) -> Result<Self> {
        let mut child = Command::new(cpts)
            .args(["serve", "--bind", "127.0.0.1:0", "--no-worker"])
            .env("DATABASE_URL", db)
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", cpts.display()))?;
        let stderr = child.stderr.take().context("the server's stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("cpts serve: listening on ") {
                    let _ = tx.send(addr.trim_start_matches("http://").to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .context("the server did not start within 60 s")?;
        Ok(Self {
            child,
            addr: addr.parse().context("the server's address")?,
        })
    }

    /// Resident memory in KiB.
    fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmRSS")
    }

    fn open_fds(&self) -> Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))?.count())
    }
}

/// One `GET /healthz` from 127.0.0.2 on a new connection: its latency, or an error.
async fn healthz(addr: SocketAddr) -> Result<Duration> {
    let started = Instant::now();
    let socket = TcpSocket::new_v4()?;
    socket.bind("127.0.0.2:0".parse()?)?;
    let mut stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(addr)).await??;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await??;
    ensure!(
        answer.starts_with(b"HTTP/1.1 200"),
        "healthz answered {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(40)])
    );
    Ok(started.elapsed())
}

/// Median and worst of 20 `/healthz`, in ms; the number that failed.
async fn probe(addr: SocketAddr) -> (f64, f64, usize) {
    let mut times = Vec::new();
    let mut failed = 0;
    for _ in 0..20 {
        match healthz(addr).await {
            Ok(t) => times.push(t.as_secs_f64() * 1e3),
            Err(_) => failed += 1,
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
    let worst = times.last().copied().unwrap_or(f64::NAN);
    (median, worst, failed)
}

fn report(label: &str, server: &Server, healthz: (f64, f64, usize)) -> Result<u64> {
    let rss = server.rss_kib()?;
    println!(
        "{label:<8} RSS {:>7.1} MiB   fds {:>6}   /healthz median {:>6.2} ms, worst {:>6.2} ms, failed {}/20",
        rss as f64 / 1024.0,
        server.open_fds()?,
        healthz.0,
        healthz.1,
        healthz.2
    );
    Ok(rss)
}

/// Whether the server has closed `stream` (read gives 0 or an error, without waiting).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0_u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let cpts = match args.cpts.clone() {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .and_then(|p| p.parent())
            .context("the example's folder")?
            .join("cpts"),
    };
    let dir = tempfile::tempdir()?;
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("flood.db").display()
    );
    let server = Server::start(&cpts, &db)?;
    println!(
        "cpts serve on {} (pid {}); flood: {} half-open connections from 127.0.0.1, held {} s",
        server.addr,
        server.child.id(),
        args.connections,
        args.hold_seconds
    );
    let before = report("before", &server, probe(server.addr).await)?;

    let started = Instant::now();
    let mut flood = Vec::with_capacity(args.connections);
    let mut connect_failed = 0;
    for _ in 0..args.connections {
        match TcpStream::connect(server.addr).await {
            Ok(mut s) => {
                let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
                flood.push(s);
            }
            Err(_) => connect_failed += 1,
        }
    }
    println!(
        "flood    {} connections opened in {:.1} s ({connect_failed} refused by the kernel)",
        flood.len(),
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during_probe = probe(server.addr).await;
    let during = report("during", &server, during_probe)?;
    let mut closed_at_once = 0;
    for s in &mut flood {
        if closed(s).await {
            closed_at_once += 1;
        }
    }
    println!(
        "         closed by the server at once: {closed_at_once}; held open: {}",
        flood.len() - closed_at_once
    );
    let hold = Duration::from_secs(args.hold_seconds);
    tokio::time::sleep(hold.saturating_sub(started.elapsed())).await;
    let mut closed_by_now = 0;
    for s in &mut flood {
        if closed(s).await {
            closed_by_now += 1;
        }
    }
    println!(
        "         after {:.0} s, closed by the server: {closed_by_now} (the rest by the header read timeout: {})",
        started.elapsed().as_secs_f64(),
        closed_by_now - closed_at_once
    );
    drop(flood);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = report("after", &server, probe(server.addr).await)?;
    println!(
        "RSS after / before: {:.2}; during / before: {:.2}",
        after as f64 / before as f64,
        during as f64 / before as f64
    );
    if during_probe.2 > 0 {
        bail!("/healthz failed during the flood");
    }
    ensure!(
        after <= before + before / 2 + 16 * 1024,
        "memory did not come back: {after} KiB after, {before} KiB before"
    );
    Ok(())
}
