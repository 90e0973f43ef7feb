//! The SAS's slot search (INT_R04) at the size the IG allows: 25 practitioners over 3 days,
//! against the published garde roster of dept-y (15 maisons médicales de garde of
//! Meurthe-et-Moselle, 800 doctors), through the real service over loopback HTTP (issue 19).
//!
//!     cargo run --release --example fhir_search [-- --requests 2000 --weeks 5]
//!     cargo run --profile test --example fhir_search   # opt-level 1, reuses the tests' build
//!     cargo run --profile test --example fhir_search -- --requests 100 --save target/sas.json
//!
//! The service runs in this process on 127.0.0.1, on a fresh SQLite database in a temporary
//! directory. The fixture's year is moved by whole weeks (weekdays kept) so that it starts this
//! week; `--weeks` of it are planned and published through the API, as a coordinator does.
//! Then `--requests` searches, each the SAS's full request (every `_include`, Paris times with
//! their offset) for 25 doctors holding slots in the next 3 days, rotating among them, one
//! after the other on one keep-alive connection. Prints the median, p90, p99 and max latency
//! as the client sees it, and the size of the answers. `--no-board` makes every search read
//! the database (`--slot-board-seconds 0`).

use anyhow::{Context, Result, bail, ensure};
use chrono::{Duration as Days, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Europe::Paris;
use clap::Parser;
use cpts::config::Config;
use cpts::domain::Role;
use cpts::startup::Application;
use cpts::store::Store;
use cpts::tokens::{self, TokenKey};
use serde_json::{Value, json};
use sqlx::Row;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Searches to time.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Weeks of the roster planned and published, from this week.
    #[arg(long, default_value_t = 5)]
    weeks: i64,
    /// Doctors per search (the SAS sends at most 25).
    #[arg(long, default_value_t = 25)]
    doctors: usize,
    /// Every search reads the database instead of the slot board.
    #[arg(long)]
    no_board: bool,
    /// Writes the first timed answer (the whole Bundle) to this file, and prints its request:
    /// `node tests/fhir/validate.mjs fixtures/fhir-sas/package.tgz FILE` validates it.
    #[arg(long)]
    save: Option<std::path::PathBuf>,
    /// The fixture directory (FORMATS.md §3).
    #[arg(long, default_value = "fixtures/dept-y")]
    dir: std::path::PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

/// A time of the fixture (naive Paris time, or with its offset) moved by `shift`, as naive
/// Paris time.
fn shifted(raw: &str, shift: Days) -> Result<String> {
    let local = match chrono::DateTime::parse_from_rfc3339(raw) {
        Ok(t) => t.with_timezone(&Paris).naive_local(),
        Err(_) => NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S")
            .with_context(|| format!("a time: {raw}"))?,
    };
    Ok((local + shift).format("%Y-%m-%dT%H:%M:%S").to_string())
}

/// The percentile `p` (0 to 1) of sorted `v`, nearest rank.
fn percentile(v: &[Duration], p: f64) -> Duration {
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn run(args: Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cpts.db").display());
    let mut config = Config::for_database(&url);
    if args.no_board {
        config.slot_board_seconds = 0;
    }
    let app = Application::build(&config).await?;
    let board = app.board();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let store = Store::connect(&url).await?;
    let key = TokenKey::new(config.token_key_bytes());
    let coordinateur = tokens::create(
        &store,
        &key,
        Role::Coordinateur,
        None,
        "cpts:grand_nancy".parse()?,
        "fhir_search",
    )
    .await?
    .token;
    let regulateur = tokens::create(
        &store,
        &key,
        Role::Regulateur,
        None,
        "dep:54".parse()?,
        "fhir_search",
    )
    .await?
    .token;
    let http = reqwest::Client::new();
    let post = |path: &str, body: reqwest::Body, media: &str| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&coordinateur)
            .header("content-type", media)
            .body(body)
    };

    // The fixture, moved by whole weeks to start this week.
    let read = |name: &str| std::fs::read_to_string(args.dir.join(name));
    let period = read("period.csv")?;
    let first: NaiveDate = period
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .context("period.csv has a row")?
        .trim()
        .parse()?;
    let today = chrono::Utc::now().with_timezone(&Paris).date_naive();
    let shift = Days::weeks((today - first).num_days().div_euclid(7));
    let start = first + shift;
    let end = start + Days::weeks(args.weeks) - Days::days(1);

    let cabinets_csv = read("cabinets.csv")?;
    let mut cabinets = csv::Reader::from_reader(cabinets_csv.as_bytes());
    for row in cabinets.records() {
        let row = row?;
        let body = json!({"cabinet_id": &row[0], "name": &row[1],
            "lat": row[2].parse::<f64>()?, "lon": row[3].parse::<f64>()?,
            "insee": &row[4], "need": row[5].parse::<u32>()?,
            "slot_minutes": row[6].parse::<u32>().unwrap_or(15)});
        let r = post("/cabinets", body.to_string().into(), "application/json")
            .send()
            .await?;
        ensure!(
            r.status() == 201,
            "cabinet {}: {}",
            &row[0],
            r.text().await?
        );
    }
    let r = post(
        "/imports/garde-doctors",
        read("doctors.csv")?.into(),
        "text/csv",
    )
    .send()
    .await?;
    ensure!(r.status().is_success(), "doctors: {}", r.text().await?);
    let mut availability = String::from("rpps,start,end\n");
    for line in read("availability.csv")?.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        ensure!(f.len() == 3, "availability.csv: {line}");
        availability.push_str(&format!(
            "{},{},{}\n",
            f[0],
            shifted(f[1], shift)?,
            shifted(f[2], shift)?
        ));
    }
    let r = post("/imports/availability", availability.into(), "text/csv")
        .send()
        .await?;
    ensure!(r.status().is_success(), "availability: {}", r.text().await?);

    let began = Instant::now();
    let body = json!({"period": {"start": start.to_string(), "end": end.to_string()}});
    let r = post("/garde/plans", body.to_string().into(), "application/json")
        .send()
        .await?;
    let job: Value = r.json().await?;
    let plan = job["id"].as_str().context("a job id")?.to_owned();
    loop {
        let job: Value = http
            .get(format!("{base}/jobs/{plan}"))
            .bearer_auth(&coordinateur)
            .send()
            .await?
            .json()
            .await?;
        match job["status"].as_str() {
            Some("succeeded") => break,
            Some("failed") => bail!("plan failed: {job}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let r = post(
        &format!("/garde/plans/{plan}/publish"),
        "".into(),
        "application/json",
    )
    .send()
    .await?;
    ensure!(r.status().is_success(), "publish: {}", r.text().await?);
    let published: Value = r.json().await?;
    if let Some(board) = &board {
        board.load().await?;
    }
    println!(
        "dept-y, {start}..{end}: planned and published in {:.1} s, {} slots",
        began.elapsed().as_secs_f64(),
        published["slots"]
    );

    // The doctors with the most slots in the next 3 days.
    let now = chrono::Utc::now();
    let (from, to) = (now, now + Days::days(3));
    let pool = sqlx::AnyPool::connect(&url).await?;
    let doctors: Vec<String> = sqlx::query(
        "SELECT rpps, COUNT(*) AS n FROM slots WHERE start_at >= $1 AND start_at < $2 \
         GROUP BY rpps ORDER BY n DESC, rpps",
    )
    .bind(from.timestamp())
    .bind(to.timestamp())
    .fetch_all(&pool)
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>("rpps"))
    .collect::<Result<_, _>>()?;
    pool.close().await;
    ensure!(
        doctors.len() >= args.doctors,
        "only {} doctors hold slots in the next 3 days",
        doctors.len()
    );
    let paris = |t: chrono::DateTime<chrono::Utc>| {
        Paris
            .from_utc_datetime(&t.naive_utc())
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    let request = |i: usize| {
        let ids: Vec<String> = (0..args.doctors)
            .map(|k| {
                format!(
                    "urn:oid:1.2.250.1.71.4.2.1|8{}",
                    doctors[(i + k) % doctors.len()]
                )
            })
            .collect();
        // As the SAS sends it: `+` of the offset left unencoded (read as a space), `|` raw.
        format!(
            "{base}/fhir/Slot?_include=Slot:schedule&_include:iterate=Schedule:actor\
             &_include=Slot:service-type-reference\
             &_include:iterate=HealthcareService:organization\
             &start=ge{}&start=le{}&schedule.actor:Practitioner.identifier={}&status=free",
            paris(from),
            paris(to),
            ids.join(",")
        )
    };

    let search = |i: usize| {
        let (http, url, token) = (&http, request(i), &regulateur);
        async move {
            let began = Instant::now();
            let r = http
                .get(url)
                .bearer_auth(token)
                .header("accept", "application/fhir+json")
                .send()
                .await?;
            ensure!(r.status() == 200, "search: {}", r.status());
            let bundle: Value = r.json().await?;
            anyhow::Ok((began.elapsed(), bundle))
        }
    };
    // Warm-up: connections, the board, the database's caches.
    for i in 0..20 {
        search(i).await?;
    }
    let mut times = Vec::with_capacity(args.requests);
    let (mut slots, mut entries) = (0_u64, 0_usize);
    for i in 0..args.requests {
        let (took, bundle) = search(i).await?;
        times.push(took);
        if i == 0
            && let Some(path) = &args.save
        {
            std::fs::write(path, serde_json::to_vec_pretty(&bundle)?)
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "GET {}\n  → {} entries, written to {}",
                request(i),
                bundle["entry"].as_array().map_or(0, Vec::len),
                path.display()
            );
        }
        slots += bundle["total"].as_u64().unwrap_or(0);
        entries += bundle["entry"].as_array().map_or(0, Vec::len);
    }
    times.sort();
    let n = times.len().max(1);
    println!(
        "{} searches of {} practitioners over 3 days ({}): {} slots and {} entries per \
         answer on average",
        times.len(),
        args.doctors,
        if args.no_board {
            "database"
        } else {
            "slot board"
        },
        slots / n as u64,
        entries / n
    );
    println!(
        "latency: median {}, p90 {}, p99 {}, max {}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.9)),
        ms(percentile(&times, 0.99)),
        ms(percentile(&times, 1.0))
    );
    let _ = stop.send(());
    server.await??;
    Ok(())
}
