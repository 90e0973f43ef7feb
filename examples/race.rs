//! Régulateurs racing for slots through two API processes (issue 7), over loopback.
//!
//! ```sh
//! cargo build --release --bin cpts --example race
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test TEST_REDIS_URL=redis://127.0.0.1:6379 \
//!     target/release/examples/race --seconds 30
//! ```
//!
//! Makes a throwaway database (`cpts_load_<unix seconds>_<random>`, dropped at the end) and a
//! Redis key prefix of its own (deleted at the end), seeds cabinets around Nancy and
//! `--slots` 15-minute slots, starts two `cpts serve --bind 127.0.0.1:0 --no-worker`
//! processes (the binary next to this example's folder, or `--cpts`) on that database and
//! Redis, opens one Server-Sent Events listener on each, then runs `--clients` régulateurs
//! (one token each, half on each process) for `--seconds`: each holds a random slot, then
//! books it or releases it, sometimes books without a hold, and cancels some of its bookings.
//!
//! At the end it checks, and exits non-zero otherwise:
//! * no double booking: no slot has two active bookings in the database;
//! * no lost booking: every 201 is in the database, and every slot's active booking is the
//!   one the log of answers leaves (201 bookings minus 200 cancellations);
//! * every listener saw every change: the `held`, `released`, `booked` and `freed` events of
//!   each listener are exactly those the answers imply (201 hold, 204 release, 201 booking,
//!   200 cancellation), each once, in increasing id order.
//!
//! It prints requests per second, p50 and p99 per operation, the counts, and how late the
//! listeners heard of bookings. Every process it starts is stopped by its PID (SIGTERM, then
//! SIGKILL after 10 s).
//!
//! # Faults (the chaos tests, `tests/chaos.rs`)
//!
//! `--fault redis|postgres|api` breaks one dependency `--fault-at` seconds into the race and
//! brings it back `--fault-for` seconds later: a Redis of the race's own (free port) is
//! SIGKILLed and restarted; a PostgreSQL cluster of its own (`initdb` in a temporary folder)
//! is stopped (`pg_ctl -m fast`) and started; the first API process is SIGKILLed and started
//! again on its port. The checks become: no double booking, no lost booking (every 201 is in
//! the database, every 200 cancellation too), no error before the fault, and none later than
//! 5 s after the dependency's return; the listeners are not checked (a fault may cut them).
//! It prints the answers by status during the fault and the recovery time (from the return
//! to the last error).
#![allow(clippy::unwrap_used)]

#[path = "common/faults.rs"]
mod faults;
#[path = "common/seed.rs"]
mod seed;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use cpts::domain::Role;
use cpts::store::Store;
use cpts::tokens::{self, TokenKey};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use seed::NANCY;
use sqlx::{Connection, Executor, PgConnection, Row};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "Régulateurs racing for slots through two API processes")]
struct Args {
    /// How long the régulateurs race.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Concurrent régulateurs, one token each.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Slots to race for.
    #[arg(long, default_value_t = 500)]
    slots: usize,
    /// API processes.
    #[arg(long, default_value_t = 2)]
    apis: usize,
    /// A PostgreSQL server URL whose user may create databases (not with `--fault postgres`).
    #[arg(long, env = "TEST_DATABASE_URL", default_value = "")]
    database_url: String,
    /// Redis (not with `--fault redis`).
    #[arg(long, env = "TEST_REDIS_URL", default_value = "")]
    redis_url: String,
    /// Break a dependency during the race (see the module).
    #[arg(long, value_enum)]
    fault: Option<Fault>,
    /// Seconds into the race when the fault starts.
    #[arg(long, default_value_t = 2)]
    fault_at: u64,
    /// Seconds until the dependency is back.
    #[arg(long, default_value_t = 5)]
    fault_for: u64,
    /// The `cpts` binary (default: the one built with this example).
    #[arg(long)]
    cpts: Option<PathBuf>,
}

/// What `--fault` breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Fault {
    /// The race's own Redis: SIGKILL, then a restart.
    Redis,
    /// The race's own PostgreSQL cluster: a fast stop, then a start.
    Postgres,
    /// The first API process: SIGKILL, then a restart on its port.
    Api,
}

/// The most a service may take to answer normally again after the dependency's return.
const RECOVERY_LIMIT: Duration = Duration::from_secs(5);

/// The token key of the API processes (they must verify the tokens made here).
const TOKEN_KEY: &str = "race-token-key-only-for-this-loopback-load-test";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    Hold,
    Release,
    Book,
    Cancel,
}

const OPS: [(Op, &str); 4] = [
    (Op::Hold, "hold"),
    (Op::Release, "release"),
    (Op::Book, "booking"),
    (Op::Cancel, "cancel"),
];

/// One answer, as a client saw it.
#[derive(Clone, Debug)]
struct Answer {
    op: Op,
    slot: i64,
    status: u16,
    /// The problem `type` of an error.
    problem: String,
    /// The booking created (201 booking) or cancelled (cancellation).
    booking: Option<i64>,
    micros: u64,
    at: Instant,
}

/// One event, as a listener saw it.
#[derive(Clone, Debug)]
struct Heard {
    id: (u64, u64),
    kind: String,
    slot: i64,
    booking: Option<i64>,
    at: Instant,
}

fn main() -> Result<()> {
    let mut args = Args::parse();
    // The race's own dependencies for a fault, stopped when dropped.
    let (mut own_redis, mut own_pg) = (None, None);
    match args.fault {
        Some(Fault::Redis) => {
            let r = faults::OwnRedis::start()?;
            args.redis_url = r.url();
            own_redis = Some(r);
        }
        Some(Fault::Postgres) => {
            let pg = faults::OwnPostgres::start()?;
            args.database_url = pg.url();
            own_pg = Some(pg);
        }
        Some(Fault::Api) | None => {}
    }
    ensure!(
        args.database_url.starts_with("postgres"),
        "two API processes share one database: give a postgres:// URL"
    );
    ensure!(
        !args.redis_url.is_empty(),
        "give a Redis URL (TEST_REDIS_URL)"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let deps = Arc::new(Mutex::new(Deps {
        redis: own_redis.take(),
        pg: own_pg.take(),
    }));
    rt.block_on(run(args, deps))
}

/// The dependencies a fault breaks (the race's own).
struct Deps {
    redis: Option<faults::OwnRedis>,
    pg: Option<faults::OwnPostgres>,
}

/// An API process, stopped by its PID when dropped.
struct Api {
    child: Child,
    base: String,
}

impl Api {
    fn start(cpts: &PathBuf, bind: &str, url: &str, redis: &str, prefix: &str) -> Result<Self> {
        let mut child = Command::new(cpts)
            .args(["serve", "--bind", bind, "--no-worker"])
            .env("DATABASE_URL", url)
            .env("REDIS_URL", redis)
            .env("CPTS_REDIS_PREFIX", prefix)
            .env("CPTS_TOKEN_KEY", TOKEN_KEY)
            // One token per régulateur; the limit is not what is measured here.
            .env("CPTS_RATE_LIMIT", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", cpts.display()))?;
        let stderr = child.stderr.take().context("the server's stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the address, then keeps draining (and echoing) the server's log.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("cpts serve: listening on ") {
                    let _ = tx.send(addr.to_owned());
                } else {
                    eprintln!("  [api] {line}");
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let mut api = Api {
                    child,
                    base: String::new(),
                };
                api.stop();
                bail!("the API process did not start within 60 s");
            }
        };
        Ok(Api { child, base })
    }

    /// SIGTERM by PID, then SIGKILL after 10 s.
    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
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
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn run(args: Args, deps: Arc<Mutex<Deps>>) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let tag = format!(
        "{}_{:08x}",
        chrono::Utc::now().timestamp(),
        rng.random::<u32>()
    );
    let name = format!("cpts_load_{tag}");
    let prefix = format!("cpts-race:{tag}:");
    let mut admin = PgConnection::connect(&args.database_url)
        .await
        .context("connecting to the PostgreSQL server")?;
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await?;
    let url = cpts::store::with_database(&args.database_url, &name);
    let outcome = race(&args, &url, &prefix, &mut rng, Arc::clone(&deps)).await;
    // A new connection: a restarted PostgreSQL (`--fault postgres`) closed the first one.
    admin.close().await.ok();
    let mut admin = PgConnection::connect(&args.database_url).await?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await?;
    admin.close().await?;
    if let Ok(client) = redis::Client::open(args.redis_url.as_str())
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
    outcome
}

/// The `--bind` address of the first API process (from its base URL).
fn bases_first(apis: &Mutex<Vec<Api>>) -> String {
    let apis = apis.lock().unwrap();
    apis[0]
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn race(
    args: &Args,
    url: &str,
    prefix: &str,
    rng: &mut ChaCha8Rng,
    deps: Arc<Mutex<Deps>>,
) -> Result<()> {
    // Seed: 10 cabinets within 10 km of Nancy, a published plan, `--slots` slots.
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let now = chrono::Utc::now().timestamp();
    let cabinets = 10;
    let (created, ids) = seed::seed(
        &store,
        url,
        rng,
        &seed::Seed {
            plan: "race",
            cabinets,
            spread: (0.06, 0.09),
            first: now - now.rem_euclid(900) + 3600,
            per_cabinet: args.slots.div_ceil(cabinets),
            total: args.slots,
        },
    )
    .await?;
    let ids = Arc::new(ids);
    // For the checks at the end.
    let pool = sqlx::AnyPool::connect(url).await?;
    let key = TokenKey::new(TOKEN_KEY.as_bytes().to_vec());
    let mut tokens = Vec::new();
    for i in 0..args.clients + args.apis {
        tokens.push(
            tokens::create(
                &store,
                &key,
                Role::Regulateur,
                None,
                "dep:54".parse()?,
                &format!("race-{i}"),
            )
            .await?
            .token,
        );
    }

    let cpts = match &args.cpts {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .and_then(|examples| examples.parent())
            .context("the example's folder")?
            .join("cpts"),
    };
    let mut apis = Vec::new();
    for _ in 0..args.apis {
        // A fixed port, so that a restarted process answers where the first one did.
        let bind = format!("127.0.0.1:{}", faults::free_port()?);
        apis.push(Api::start(&cpts, &bind, url, &args.redis_url, prefix)?);
    }
    let bases: Vec<String> = apis.iter().map(|a| a.base.clone()).collect();
    let apis = Arc::new(Mutex::new(apis));
    eprintln!(
        "seeded {cabinets} cabinets and {created} slots; {} API processes ({}); {} régulateurs \
         for {} s",
        args.apis,
        bases.join(", "),
        args.clients,
        args.seconds
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .timeout(Duration::from_secs(30))
        .build()?;

    // One listener per process, over an area holding every cabinet.
    let mut listeners = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        let token = tokens[args.clients + i].clone();
        let mut response = client
            .get(format!(
                "{base}/slots/events?lat={}&lon={}&radius_km=30",
                NANCY.0, NANCY.1
            ))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(3600))
            .send()
            .await?
            .error_for_status()?;
        let heard: Arc<Mutex<Vec<Heard>>> = Arc::default();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let sink = Arc::clone(&heard);
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let at = Instant::now();
                    let (mut id, mut kind, mut data) =
                        (String::new(), String::new(), String::new());
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("event:") {
                            kind = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim());
                        }
                    }
                    if kind == "ready" {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                        continue;
                    }
                    if kind.is_empty() {
                        continue;
                    }
                    let v: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
                    let id = id
                        .split_once('-')
                        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                        .unwrap_or_default();
                    sink.lock().unwrap().push(Heard {
                        id,
                        kind,
                        slot: v["slot_id"].as_i64().unwrap_or(-1),
                        booking: v["booking_id"].as_i64(),
                        at,
                    });
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .context("a listener's ready event")??;
        listeners.push((heard, task));
    }

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    // The fault: (broken at, back at).
    let fault = args.fault.map(|fault| {
        let (apis, deps, cpts, url) = (
            Arc::clone(&apis),
            Arc::clone(&deps),
            cpts.clone(),
            url.to_owned(),
        );
        let (redis_url, prefix) = (args.redis_url.clone(), prefix.to_owned());
        let (at, for_) = (
            Duration::from_secs(args.fault_at),
            Duration::from_secs(args.fault_for),
        );
        tokio::spawn(async move {
            tokio::time::sleep_until((started + at).into()).await;
            let broken = Instant::now();
            let bind = bases_first(&apis);
            tokio::task::spawn_blocking({
                let (apis, deps) = (Arc::clone(&apis), Arc::clone(&deps));
                move || -> Result<()> {
                    match fault {
                        Fault::Redis => deps.lock().unwrap().redis.as_mut().map(|r| r.kill()),
                        Fault::Postgres => deps
                            .lock()
                            .unwrap()
                            .pg
                            .as_ref()
                            .map(|p| p.stop_server())
                            .transpose()?
                            .map(|_| ()),
                        Fault::Api => {
                            let _ = apis.lock().unwrap()[0].child.kill();
                            Some(())
                        }
                    };
                    Ok(())
                }
            })
            .await??;
            eprintln!(
                "fault: {fault:?} broken at {:.1} s",
                (broken - started).as_secs_f64()
            );
            tokio::time::sleep_until((broken + for_).into()).await;
            tokio::task::spawn_blocking(move || -> Result<()> {
                match fault {
                    Fault::Redis => {
                        if let Some(r) = deps.lock().unwrap().redis.as_mut() {
                            r.restart()?;
                        }
                    }
                    Fault::Postgres => {
                        if let Some(p) = deps.lock().unwrap().pg.as_ref() {
                            p.start_server()?;
                        }
                    }
                    Fault::Api => {
                        let api = Api::start(&cpts, &bind, &url, &redis_url, &prefix)?;
                        apis.lock().unwrap()[0] = api;
                    }
                }
                Ok(())
            })
            .await??;
            let back = Instant::now();
            eprintln!(
                "fault: {fault:?} back at {:.1} s",
                (back - started).as_secs_f64()
            );
            Ok::<_, anyhow::Error>((broken, back))
        })
    });
    let mut tasks = Vec::new();
    for (t, token) in tokens.iter().take(args.clients).enumerate() {
        let (client, base, token, ids) = (
            client.clone(),
            bases[t % bases.len()].clone(),
            token.clone(),
            Arc::clone(&ids),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + t as u64);
        tasks.push(tokio::spawn(async move {
            let mut log: Vec<Answer> = Vec::new();
            let mut errors = 0u64;
            let mut held: Option<i64> = None;
            let mut mine: Vec<(i64, i64)> = Vec::new(); // (booking, slot)
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let roll: f64 = rng.random();
                let (op, slot, request) = if let Some(slot) = held {
                    if roll < 0.7 {
                        let body = serde_json::json!({ "patient_ref": format!("R-{t}-{n}") });
                        (
                            Op::Book,
                            slot,
                            client
                                .post(format!("{base}/slots/{slot}/bookings"))
                                .json(&body),
                        )
                    } else {
                        (
                            Op::Release,
                            slot,
                            client.delete(format!("{base}/slots/{slot}/hold")),
                        )
                    }
                } else if !mine.is_empty() && roll < 0.25 {
                    let (booking, slot) = mine.swap_remove(rng.random_range(0..mine.len()));
                    (
                        Op::Cancel,
                        slot,
                        client.delete(format!("{base}/bookings/{booking}")),
                    )
                } else if roll < 0.35 {
                    // Straight to a booking, without a hold.
                    let slot = ids[rng.random_range(0..ids.len())];
                    let body = serde_json::json!({ "patient_ref": format!("R-{t}-{n}") });
                    (
                        Op::Book,
                        slot,
                        client
                            .post(format!("{base}/slots/{slot}/bookings"))
                            .json(&body),
                    )
                } else {
                    let slot = ids[rng.random_range(0..ids.len())];
                    (
                        Op::Hold,
                        slot,
                        client.post(format!("{base}/slots/{slot}/hold")),
                    )
                };
                let t0 = Instant::now();
                let response = match request.bearer_auth(&token).send().await {
                    Ok(r) => r,
                    Err(_) => {
                        errors += 1;
                        // Status 0: no answer (the process is gone, the connection cut).
                        log.push(Answer {
                            op,
                            slot,
                            status: 0,
                            problem: String::new(),
                            booking: None,
                            micros: t0.elapsed().as_micros() as u64,
                            at: Instant::now(),
                        });
                        if op != Op::Cancel {
                            held = None;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let micros = t0.elapsed().as_micros() as u64;
                let mut booking = None;
                match (op, status) {
                    (Op::Hold, 201) => held = Some(slot),
                    (Op::Release, _) => held = None,
                    (Op::Book, 201) => {
                        let id = body["booking_id"].as_i64().unwrap_or(-1);
                        booking = Some(id);
                        mine.push((id, slot));
                        held = None;
                    }
                    (Op::Book, _) => held = None,
                    (Op::Cancel, _) => {
                        booking = body["booking_id"].as_i64();
                    }
                    _ => {}
                }
                if status >= 500 {
                    errors += 1;
                }
                log.push(Answer {
                    op,
                    slot,
                    status,
                    problem: body["type"].as_str().unwrap_or_default().to_owned(),
                    booking,
                    micros,
                    at: Instant::now(),
                });
            }
            (log, errors)
        }));
    }
    let mut log = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        log.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    let fault_window = match fault {
        Some(f) => Some(f.await??),
        None => None,
    };
    // Events reach listeners within a second; give them two.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let heard: Vec<Vec<Heard>> = listeners
        .iter()
        .map(|(h, task)| {
            task.abort();
            h.lock().unwrap().clone()
        })
        .collect();
    drop(apis); // SIGTERM by PID (once the fault task has let go of them)

    // The answers and the database.
    let mut n = BTreeMap::<(Op, u16), u64>::new();
    for a in &log {
        *n.entry((a.op, a.status)).or_default() += 1;
    }
    let count = |op, status| n.get(&(op, status)).copied().unwrap_or(0);
    let refused = |op, problem: &str| {
        log.iter()
            .filter(|a| a.op == op && a.problem == problem)
            .count()
    };
    let rows = pool
        .fetch_all("SELECT id, slot_id, cancelled_at FROM bookings")
        .await?;
    let mut stored: HashMap<i64, (i64, bool)> = HashMap::new();
    for r in &rows {
        let cancelled: Option<i64> = r.try_get("cancelled_at")?;
        stored.insert(
            r.try_get("id")?,
            (r.try_get("slot_id")?, cancelled.is_some()),
        );
    }
    let doubles = pool
        .fetch_all(
            "SELECT slot_id FROM bookings WHERE cancelled_at IS NULL \
             GROUP BY slot_id HAVING COUNT(*) > 1",
        )
        .await?
        .len();
    pool.close().await;
    store.close().await;
    // Each slot's active booking, as the answers leave it.
    let mut booked_by_answer: HashMap<i64, (i64, bool)> = HashMap::new();
    for a in log.iter().filter(|a| a.op == Op::Book && a.status == 201) {
        booked_by_answer.insert(a.booking.unwrap_or(-1), (a.slot, false));
    }
    for a in log.iter().filter(|a| a.op == Op::Cancel && a.status == 200) {
        if let Some(b) = a.booking.and_then(|id| booked_by_answer.get_mut(&id)) {
            b.1 = true;
        }
    }
    let lost = if fault_window.is_some() {
        // A request cut by the fault may have been committed unanswered: only what was
        // answered counts. Every 201 is stored, and every 200 cancellation is cancelled.
        booked_by_answer
            .iter()
            .filter(|(id, (slot, cancelled))| match stored.get(id) {
                None => true,
                Some((s, c)) => s != slot || (*cancelled && !c),
            })
            .count()
    } else {
        booked_by_answer
            .iter()
            .filter(|(id, state)| stored.get(id) != Some(state))
            .count()
            + stored
                .keys()
                .filter(|id| !booked_by_answer.contains_key(id))
                .count()
    };

    // What each listener had to hear, and what it heard.
    let mut expected: BTreeMap<(String, i64, Option<i64>), i64> = BTreeMap::new();
    for a in &log {
        let e = match (a.op, a.status) {
            (Op::Hold, 201) => ("held", a.slot, None),
            (Op::Release, 204) => ("released", a.slot, None),
            (Op::Book, 201) => ("booked", a.slot, a.booking),
            (Op::Cancel, 200) => ("freed", a.slot, a.booking),
            _ => continue,
        };
        *expected.entry((e.0.to_owned(), e.1, e.2)).or_default() += 1;
    }
    let answered_at: HashMap<i64, Instant> = log
        .iter()
        .filter(|a| a.op == Op::Book && a.status == 201)
        .filter_map(|a| Some((a.booking?, a.at)))
        .collect();
    let mut missed = Vec::new();
    let mut late_ms: Vec<u64> = Vec::new();
    for (i, h) in heard.iter().enumerate() {
        let mut got: BTreeMap<(String, i64, Option<i64>), i64> = BTreeMap::new();
        for e in h {
            *got.entry((e.kind.clone(), e.slot, e.booking)).or_default() += 1;
            if e.kind == "booked"
                && let Some(t) = e.booking.and_then(|b| answered_at.get(&b))
            {
                late_ms.push(e.at.saturating_duration_since(*t).as_millis() as u64);
            }
        }
        let ordered = h.windows(2).all(|w| w[0].id < w[1].id);
        let mut keys: Vec<_> = expected.keys().chain(got.keys()).collect();
        keys.sort();
        keys.dedup();
        let diff: i64 = keys
            .iter()
            .map(|k| {
                (expected.get(*k).copied().unwrap_or(0) - got.get(*k).copied().unwrap_or(0)).abs()
            })
            .sum();
        missed.push((i, h.len(), diff, ordered));
    }
    late_ms.sort_unstable();

    // Report.
    let total = log.len() as f64;
    println!(
        "race: {} régulateurs, {} API processes, {} slots, {:.1} s",
        args.clients,
        args.apis,
        ids.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "  requests   {} in all, {:.0} req/s; {errors} errors (5xx or transport)",
        log.len(),
        total / elapsed.as_secs_f64()
    );
    let mut all: Vec<u64> = log.iter().map(|a| a.micros).collect();
    all.sort_unstable();
    println!(
        "  latency    all      p50 {:>6.2} ms  p99 {:>6.2} ms",
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    for (op, label) in OPS {
        let mut m: Vec<u64> = log
            .iter()
            .filter(|a| a.op == op)
            .map(|a| a.micros)
            .collect();
        m.sort_unstable();
        println!(
            "             {label:<8} p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests)",
            percentile(&m, 0.5),
            percentile(&m, 0.99),
            m.len()
        );
    }
    println!(
        "  holds      {} held (201), refused: {} held by another, {} booked; {} released (204)",
        count(Op::Hold, 201),
        refused(Op::Hold, "/problems/slot-held"),
        refused(Op::Hold, "/problems/slot-taken"),
        count(Op::Release, 204)
    );
    println!(
        "  bookings   {} booked (201), refused: {} held by another, {} taken; {} cancelled (200)",
        count(Op::Book, 201),
        refused(Op::Book, "/problems/slot-held"),
        refused(Op::Book, "/problems/slot-taken"),
        count(Op::Cancel, 200)
    );
    println!(
        "  checks     double bookings {doubles}, lost bookings {lost} ({} bookings in the database)",
        stored.len()
    );
    for (i, n, diff, ordered) in &missed {
        println!(
            "  listener {i} (API {i}): {n} events, {diff} differ from the answers, ids {}",
            if *ordered {
                "increasing"
            } else {
                "OUT OF ORDER"
            }
        );
    }
    println!(
        "  delivery   booking events heard p50 {} ms, p99 {} ms, max {} ms after the 201",
        late_ms.get(late_ms.len() / 2).copied().unwrap_or(0),
        late_ms
            .get((late_ms.len().saturating_sub(1)) * 99 / 100)
            .copied()
            .unwrap_or(0),
        late_ms.last().copied().unwrap_or(0)
    );
    ensure!(doubles == 0, "{doubles} slots are booked twice");
    ensure!(lost == 0, "{lost} bookings differ from the answers");
    ensure!(
        count(Op::Book, 201) > 0,
        "no booking succeeded: nothing was tested"
    );
    if let (Some(fault), Some((broken, back))) = (args.fault, fault_window) {
        return check_fault(fault, &log, started, broken, back, doubles, lost);
    }
    ensure!(errors == 0, "{errors} requests failed");
    for (i, _, diff, ordered) in &missed {
        ensure!(
            *diff == 0 && *ordered,
            "listener {i} missed or repeated events"
        );
    }
    Ok(())
}

/// A fault run's figures and checks: the answers by status during the fault, no error
/// before it, and the recovery: the last error after the dependency's return, within
/// [`RECOVERY_LIMIT`].
fn check_fault(
    fault: Fault,
    log: &[Answer],
    started: Instant,
    broken: Instant,
    back: Instant,
    doubles: usize,
    lost: usize,
) -> Result<()> {
    let failed = |a: &&Answer| a.status == 0 || a.status >= 500;
    let secs = |t: Instant| t.saturating_duration_since(started).as_secs_f64();
    let mut during = BTreeMap::<(Op, u16), u64>::new();
    for a in log.iter().filter(|a| a.at >= broken && a.at <= back) {
        *during.entry((a.op, a.status)).or_default() += 1;
    }
    let before = log.iter().filter(|a| a.at < broken).filter(failed).count();
    let last_error = log
        .iter()
        .filter(failed)
        .map(|a| a.at)
        .filter(|&t| t > back)
        .max();
    let recovery = last_error.map_or(Duration::ZERO, |t| t - back);
    let after_return = log.iter().filter(|a| a.at > back).filter(failed).count();
    println!(
        "chaos: {fault:?} broken at {:.1} s, back at {:.1} s ({:.1} s down)",
        secs(broken),
        secs(back),
        (back - broken).as_secs_f64()
    );
    println!("  requests   {} in all", log.len());
    let label = |op| OPS.iter().find(|(o, _)| *o == op).map_or("?", |(_, l)| l);
    let during_text: Vec<String> = during
        .iter()
        .map(|((op, status), n)| {
            let status = if *status == 0 {
                "no answer".to_owned()
            } else {
                status.to_string()
            };
            format!("{} {status}: {n}", label(*op))
        })
        .collect();
    println!("  during     {}", during_text.join(", "));
    println!(
        "  errors     {before} before the fault, {after_return} after the return (5xx or no answer)"
    );
    println!(
        "  recovery   {:.2} s from the return to the last error (limit {} s)",
        recovery.as_secs_f64(),
        RECOVERY_LIMIT.as_secs()
    );
    println!("  checks     double {doubles}, lost {lost}");
    ensure!(before == 0, "{before} requests failed before the fault");
    ensure!(
        recovery <= RECOVERY_LIMIT,
        "the service still failed {:.2} s after the return",
        recovery.as_secs_f64()
    );
    if fault == Fault::Redis {
        let booked = during.get(&(Op::Book, 201)).copied().unwrap_or(0);
        ensure!(booked > 0, "no booking succeeded while Redis was down");
    }
    Ok(())
}
