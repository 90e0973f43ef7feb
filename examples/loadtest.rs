//! Latency of slot search and booking under load (issue 6), on PostgreSQL, over loopback.
//!
//! ```sh
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run --release --example loadtest -- --seconds 20 --clients 32 \
//!     [--redis-url redis://127.0.0.1:6379 | --redis-down]
//! ```
//!
//! `--redis-down` configures a Redis that nothing answers (issue 15: Redis is an accelerator,
//! not a dependency): the searches and bookings then go through the circuit breaker.
//!
//! Makes a throwaway database on that server (`cpts_load_<unix seconds>_<random>`, dropped at
//! the end), starts the real service on 127.0.0.1:0 in this process, seeds cabinets around
//! Nancy and their 15-minute slots over the next 48 hours (through the store, as a published
//! plan would), then runs `--clients` concurrent HTTP clients for `--seconds`: each one
//! searches free slots near a random point of the Nancy area (default radius and window),
//! and one request in five books a random slot, cancelling at once when it got it (so the
//! slots stay free and the searches comparable). Prints p50, p99 and max per operation, and
//! requests per second. Client, server and database share the machine's cores.
//!
//! By default each client sends its next request as soon as the last is answered (a closed
//! loop: latency then grows with the queue, clients / throughput); `--rate R` paces the
//! clients to R requests per second in all (an open loop).
#![allow(clippy::unwrap_used)]

#[path = "common/seed.rs"]
mod seed;

use anyhow::{Context, Result, ensure};
use clap::Parser;
use cpts::config::Config;
use cpts::domain::Role;
use cpts::startup::Application;
use cpts::store::Store;
use cpts::tokens::{self, TokenKey};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use seed::NANCY;
use sqlx::{Connection, Executor, PgConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "Latency of slot search and booking under load, on PostgreSQL")]
struct Args {
    /// How long the clients run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Requests per second over all clients, each client pacing its requests evenly (an open
    /// loop, like régulateurs between calls); 0: every client sends its next request as soon
    /// as the last one is answered (a closed loop, the service's saturation).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Cabinets around Nancy; each has one doctor on duty for the whole 48 hours.
    #[arg(long, default_value_t = 24)]
    cabinets: usize,
    /// Keep the database afterwards (its name is printed), for EXPLAIN.
    #[arg(long)]
    keep: bool,
    /// A PostgreSQL server URL whose user may create databases.
    #[arg(long, env = "TEST_DATABASE_URL")]
    database_url: String,
    /// Also use this Redis, as production does (`--production` requires it): per-token rate
    /// limit on every request, a booking's claim on its slot, `booked`/`freed` events on the
    /// slot stream. Keys under a throwaway prefix, deleted at the end. Without it, the
    /// service runs on PostgreSQL alone.
    #[arg(long, conflicts_with = "redis_down")]
    redis_url: Option<String>,
    /// Configure a Redis that is down (a loopback port nothing listens on), as after a crash:
    /// measures search and booking through the circuit breaker, on PostgreSQL alone.
    #[arg(long)]
    redis_down: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Search,
    Book,
    Cancel,
}

const OPS: [(Op, &str); 3] = [
    (Op::Search, "search"),
    (Op::Book, "booking"),
    (Op::Cancel, "cancel"),
];

#[derive(Default)]
struct Samples {
    /// Per operation (index in OPS): latencies in microseconds.
    micros: [Vec<u64>; 3],
    /// Bookings answered 409 (slot taken by another client meanwhile).
    taken: u64,
    errors: u64,
}

/// A Redis URL on a loopback port that nothing listens on: every connection is refused, as
/// when the Redis process has died.
fn closed_port_url() -> Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(format!("redis://127.0.0.1:{port}"))
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.database_url.starts_with("postgres"),
        "the latency targets are for PostgreSQL; give a postgres:// URL"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let name = format!(
        "cpts_load_{}_{:08x}",
        chrono::Utc::now().timestamp(),
        rng.random::<u32>()
    );
    let mut admin = PgConnection::connect(&args.database_url)
        .await
        .context("connecting to the PostgreSQL server")?;
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await?;
    let url = cpts::store::with_database(&args.database_url, &name);
    let outcome = load(&args, &url, &mut rng).await;
    if args.keep {
        eprintln!("kept the database {name}");
        return outcome;
    }
    admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await?;
    admin.close().await?;
    outcome
}

async fn load(args: &Args, url: &str, rng: &mut ChaCha8Rng) -> Result<()> {
    let mut config = Config::for_database(url);
    let prefix = format!("cpts-load:{:08x}:", rng.random::<u32>());
    let redis_url = if args.redis_down {
        Some(closed_port_url()?)
    } else {
        args.redis_url.clone()
    };
    if let Some(redis) = &redis_url {
        config.redis_url = Some(cpts::config::Secret::new(redis.clone()));
        config.redis_prefix = prefix.clone();
        // The clients share one token: the limit must not be what is measured.
        config.rate_limit = 100_000_000;
    }
    let app = Application::build(&config).await?;
    let board = app.board();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.without_worker().run_until(async {
        let _ = stopped.await;
    }));

    // Seed: cabinets within 12 km of Nancy, a published plan, 15-minute slots for 48 hours.
    let store = Store::connect(url).await?;
    let now = chrono::Utc::now().timestamp();
    let (created, ids) = seed::seed(
        &store,
        url,
        rng,
        &seed::Seed {
            plan: "load",
            cabinets: args.cabinets,
            spread: (0.1, 0.15),
            first: now - now.rem_euclid(900) + 900,
            per_cabinet: 48 * 4,
            total: usize::MAX,
        },
    )
    .await?;
    // Slots written beside the API, as a publication would: the board loads them.
    if let Some(board) = &board {
        let t0 = Instant::now();
        board.load().await?;
        eprintln!(
            "slot board loaded in {:.1} ms",
            t0.elapsed().as_secs_f64() * 1000.0
        );
    }
    let ids = Arc::new(ids);
    let key = TokenKey::new(config.token_key_bytes());
    let token = tokens::create(
        &store,
        &key,
        Role::Regulateur,
        None,
        "dep:54".parse()?,
        "loadtest",
    )
    .await?
    .token;
    eprintln!(
        "seeded {} cabinets and {created} slots; {} clients for {} s against {base}",
        args.cabinets, args.clients, args.seconds
    );

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let token = Arc::new(token);
    // Warm-up: connections, prepared statements, the commune list.
    for _ in 0..50 {
        client
            .get(format!("{base}/slots?insee=54395"))
            .bearer_auth(token.as_str())
            .send()
            .await?
            .error_for_status()?;
    }

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for t in 0..args.clients {
        let (client, base, token, ids) = (
            client.clone(),
            base.clone(),
            Arc::clone(&token),
            Arc::clone(&ids),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(t as u64);
        // Clients staggered over one period, so their requests do not arrive in bursts.
        let mut pace = (args.rate > 0.0).then(|| {
            let period = Duration::from_secs_f64(args.clients as f64 / args.rate);
            let first =
                tokio::time::Instant::now() + period.mul_f64(t as f64 / args.clients as f64);
            let mut i = tokio::time::interval_at(first, period);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        tasks.push(tokio::spawn(async move {
            let mut s = Samples::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                if let Some(p) = pace.as_mut() {
                    p.tick().await;
                }
                n += 1;
                if n.is_multiple_of(5) {
                    let slot = ids[rng.random_range(0..ids.len())];
                    let patient = format!("LOAD-{t}-{n}");
                    let t0 = Instant::now();
                    let r = client
                        .post(format!("{base}/slots/{slot}/bookings"))
                        .bearer_auth(token.as_str())
                        .json(&serde_json::json!({ "patient_ref": patient }))
                        .send()
                        .await;
                    let booked = match r {
                        Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                            let body: serde_json::Value = r.json().await.unwrap_or_default();
                            body["booking_id"].as_i64()
                        }
                        Ok(r) if r.status() == reqwest::StatusCode::CONFLICT => {
                            let _ = r.bytes().await;
                            s.taken += 1;
                            None
                        }
                        _ => {
                            s.errors += 1;
                            continue;
                        }
                    };
                    s.micros[1].push(t0.elapsed().as_micros() as u64);
                    if let Some(id) = booked {
                        let t0 = Instant::now();
                        match client
                            .delete(format!("{base}/bookings/{id}"))
                            .bearer_auth(token.as_str())
                            .send()
                            .await
                        {
                            Ok(r) if r.status().is_success() => {
                                let _ = r.bytes().await;
                                s.micros[2].push(t0.elapsed().as_micros() as u64);
                            }
                            _ => s.errors += 1,
                        }
                    }
                } else {
                    let lat = NANCY.0 + rng.random_range(-0.08..0.08);
                    let lon = NANCY.1 + rng.random_range(-0.12..0.12);
                    let t0 = Instant::now();
                    match client
                        .get(format!("{base}/slots?lat={lat:.5}&lon={lon:.5}"))
                        .bearer_auth(token.as_str())
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            s.micros[0].push(t0.elapsed().as_micros() as u64);
                        }
                        _ => s.errors += 1,
                    }
                }
            }
            s
        }));
    }
    let mut all = Samples::default();
    for t in tasks {
        let s = t.await?;
        for (a, b) in all.micros.iter_mut().zip(s.micros) {
            a.extend(b);
        }
        all.taken += s.taken;
        all.errors += s.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    server.await??;
    store.close().await;
    if let Some(redis) = &args.redis_url {
        let client = redis::Client::open(redis.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut conn)
                .await?;
        }
    }

    let total: usize = all.micros.iter().map(Vec::len).sum();
    let mode = if args.rate > 0.0 {
        format!("paced at {} req/s in all", args.rate)
    } else {
        "closed loop".to_owned()
    };
    let stack = if args.redis_down {
        "PostgreSQL + Redis down (circuit open)"
    } else if args.redis_url.is_some() {
        "PostgreSQL + Redis"
    } else {
        "PostgreSQL"
    };
    println!(
        "{stack}, loopback, {} clients ({mode}), {elapsed:.1} s: {total} requests, \
         {:.0} req/s, {} errors",
        args.clients,
        total as f64 / elapsed,
        all.errors
    );
    println!(
        "{:<8} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "op", "count", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    for ((_, name), v) in OPS.iter().zip(all.micros.iter_mut()) {
        v.sort_unstable();
        let pct = |p: usize| {
            v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
                .map_or(f64::NAN, |&us| us as f64 / 1000.0)
        };
        println!(
            "{name:<8} {:>8} {:>8.0} {:>9.2} {:>9.2} {:>9.2}",
            v.len(),
            v.len() as f64 / elapsed,
            pct(50),
            pct(99),
            v.last().map_or(f64::NAN, |&us| us as f64 / 1000.0)
        );
    }
    println!("bookings refused as taken (409): {}", all.taken);
    Ok(())
}
