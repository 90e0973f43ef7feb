//! A roster repair at the scale of a real CPTS (issue 18), through the real service: metz-y
//! (3 maisons médicales de garde around Metz, 150 doctors, a year), moved to 2037 (the same
//! calendar as 2026: weekdays, Easter, clock changes), planned and published; régulateurs book
//! slots; five doctors fall ill and are taken off every shift they hold; a repair plan over the
//! year fills the holes; its publication moves the bookings it can. Prints what it did.
//!
//!     cargo run --release --example repair [-- --doctors 5 --bookings 400]
//!
//! The service runs in this process on 127.0.0.1, on a fresh SQLite database (the embedded
//! default) in a temporary directory, with its job worker.

use anyhow::{Context, Result, bail};
use clap::Parser;
use cpts::config::Config;
use cpts::domain::Role;
use cpts::startup::Application;
use cpts::store::Store;
use cpts::tokens::{self, TokenKey};
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Doctors taken off all their shifts.
    #[arg(long, default_value_t = 5)]
    doctors: usize,
    /// Bookings made before the withdrawals, every 7th slot of the year.
    #[arg(long, default_value_t = 400)]
    bookings: usize,
    /// The fixture directory (FORMATS.md §3).
    #[arg(long, default_value = "fixtures/metz-y")]
    dir: std::path::PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

/// The file's text with every 2026 date moved to 2037.
fn to_2037(text: &str) -> String {
    text.replace("2026-", "2037-")
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn csv(&self, path: &str, token: &str, body: String) -> Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await?;
        if !status.is_success() {
            bail!("{path}: {status} {v}");
        }
        Ok(v)
    }

    /// Plans the period and waits for the job; returns the plan id and the solve time.
    async fn plan(&self, token: &str, start: &str, end: &str) -> Result<(String, Duration)> {
        let began = Instant::now();
        let (status, job) = self
            .send(
                reqwest::Method::POST,
                "/garde/plans",
                token,
                Some(json!({"period": {"start": start, "end": end}})),
            )
            .await?;
        if status != 202 {
            bail!("plan: {status} {job}");
        }
        let id = job["id"].as_str().context("a job id")?.to_owned();
        loop {
            let (_, job) = self
                .send(reqwest::Method::GET, &format!("/jobs/{id}"), token, None)
                .await?;
            match job["status"].as_str() {
                Some("succeeded") => return Ok((id, began.elapsed())),
                Some("failed") => bail!("plan failed: {job}"),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cpts.db").display());
    let config = Config::for_database(&url);
    let app = Application::build(&config).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let store = Store::connect(&url).await?;
    let key = TokenKey::new(config.token_key_bytes());
    let token = |role: Role, scope: &str| {
        let store = store.clone();
        let key = key.clone();
        let scope = scope.to_owned();
        async move {
            anyhow::Ok(
                tokens::create(&store, &key, role, None, scope.parse()?, "repair")
                    .await?
                    .token,
            )
        }
    };
    let coordinateur = token(Role::Coordinateur, "cpts:territoire_messin").await?;
    let regulateur = token(Role::Regulateur, "dep:57").await?;
    let c = Client {
        http: reqwest::Client::new(),
        base,
    };

    // The instance, through the coordinator's imports.
    let read = |name: &str| std::fs::read_to_string(args.dir.join(name));
    let cabinets_csv = read("cabinets.csv")?;
    let mut cabinets = csv::Reader::from_reader(cabinets_csv.as_bytes());
    for row in cabinets.records() {
        let row = row?;
        let slot_minutes: u32 = row[6].parse().unwrap_or(15);
        let (status, v) = c
            .send(
                reqwest::Method::POST,
                "/cabinets",
                &coordinateur,
                Some(json!({"cabinet_id": &row[0], "name": &row[1],
                    "lat": row[2].parse::<f64>()?, "lon": row[3].parse::<f64>()?,
                    "insee": &row[4], "need": row[5].parse::<u32>()?,
                    "slot_minutes": slot_minutes})),
            )
            .await?;
        if status != 201 {
            bail!("cabinet {}: {status} {v}", &row[0]);
        }
    }
    c.csv(
        "/imports/garde-doctors",
        &coordinateur,
        read("doctors.csv")?,
    )
    .await?;
    c.csv(
        "/imports/availability",
        &coordinateur,
        to_2037(&read("availability.csv")?),
    )
    .await?;
    let period = to_2037(&read("period.csv")?);
    let dates: Vec<&str> = period
        .lines()
        .nth(1)
        .context("period.csv has a row")?
        .split(',')
        .collect();
    let (start, end) = (dates[0].trim(), dates[1].trim());

    // The year's plan, published.
    let (plan, took) = c.plan(&coordinateur, start, end).await?;
    let (_, published) = c
        .send(
            reqwest::Method::POST,
            &format!("/garde/plans/{plan}/publish"),
            &coordinateur,
            None,
        )
        .await?;
    let (_, roster) = c
        .send(
            reqwest::Method::GET,
            &format!("/garde/plans/{plan}/roster"),
            &coordinateur,
            None,
        )
        .await?;
    let positions = roster["items"].as_array().context("a roster")?;
    let (_, job) = c
        .send(
            reqwest::Method::GET,
            &format!("/jobs/{plan}"),
            &coordinateur,
            None,
        )
        .await?;
    println!(
        "metz-y in 2037: plan of {start}..{end} in {:.2} s, {} positions published, {} slots; \
         left empty: {}",
        took.as_secs_f64(),
        positions.len(),
        published["slots"],
        job["result"]["unfilled"]
    );

    // Régulateurs book every 7th slot, up to --bookings.
    let slot_ids: Vec<i64> = sqlx::query("SELECT id FROM slots ORDER BY start_at, id")
        .fetch_all(&sqlx::AnyPool::connect(&url).await?)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    let mut booked = 0;
    for (i, slot) in slot_ids.iter().step_by(7).take(args.bookings).enumerate() {
        let (status, v) = c
            .send(
                reqwest::Method::POST,
                &format!("/slots/{slot}/bookings"),
                &regulateur,
                Some(json!({"patient_ref": format!("C15-METZ-{i:05}")})),
            )
            .await?;
        if status != 201 {
            bail!("booking {slot}: {status} {v}");
        }
        booked += 1;
    }

    // The doctors with the most shifts fall ill: every shift of theirs is withdrawn.
    let mut by_doctor: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for p in positions {
        by_doctor
            .entry(p["rpps"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push((
                p["cabinet_id"].as_str().unwrap_or_default().to_owned(),
                p["date"].as_str().unwrap_or_default().to_owned(),
            ));
    }
    let mut busiest: Vec<(&String, &Vec<(String, String)>)> = by_doctor.iter().collect();
    busiest.sort_by_key(|(rpps, shifts)| (std::cmp::Reverse(shifts.len()), (*rpps).clone()));
    let (mut withdrawn, mut slots_withdrawn, mut flagged) = (0, 0, 0);
    let began = Instant::now();
    for (rpps, shifts) in busiest.iter().take(args.doctors) {
        for (cabinet_id, date) in shifts.iter() {
            let (status, v) = c
                .send(
                    reqwest::Method::POST,
                    "/garde/withdrawals",
                    &coordinateur,
                    Some(json!({"cabinet_id": cabinet_id, "date": date, "rpps": rpps,
                                "reason": "illness"})),
                )
                .await?;
            if status != 201 {
                bail!("withdrawal {rpps} {cabinet_id} {date}: {status} {v}");
            }
            withdrawn += 1;
            slots_withdrawn += v["slots_withdrawn"].as_u64().unwrap_or(0);
            flagged += v["withdrawal"]["bookings_flagged"].as_u64().unwrap_or(0);
        }
    }
    // Ill for the rest of the year: each also withdraws his availability windows, which no
    // published shift of his holds any more.
    let mut windows_withdrawn = 0;
    for (rpps, _) in busiest.iter().take(args.doctors) {
        let medecin = tokens::create(
            &store,
            &key,
            Role::Medecin,
            Some(rpps.parse()?),
            "national".parse()?,
            "repair",
        )
        .await?
        .token;
        let (_, windows) = c
            .send(
                reqwest::Method::GET,
                &format!("/doctors/{rpps}/availability"),
                &medecin,
                None,
            )
            .await?;
        for w in windows.as_array().context("windows")? {
            if !w["withdrawn_at"].is_null() {
                continue;
            }
            let (status, v) = c
                .send(
                    reqwest::Method::DELETE,
                    &format!("/doctors/{rpps}/availability/{}", w["id"]),
                    &medecin,
                    None,
                )
                .await?;
            if status != 200 {
                bail!("window {} of {rpps}: {status} {v}", w["id"]);
            }
            windows_withdrawn += 1;
        }
    }
    println!(
        "{} doctors taken off all their shifts: {withdrawn} positions, {slots_withdrawn} slots \
         withdrawn, {flagged} of {booked} bookings flagged, {windows_withdrawn} availability \
         windows withdrawn ({:.2} s)",
        args.doctors.min(busiest.len()),
        began.elapsed().as_secs_f64()
    );

    // The repair plan over the year: every other published position pinned.
    let (repair, took) = c.plan(&coordinateur, start, end).await?;
    let (_, job) = c
        .send(
            reqwest::Method::GET,
            &format!("/jobs/{repair}"),
            &coordinateur,
            None,
        )
        .await?;
    println!("repair plan: left empty: {}", job["result"]["unfilled"]);
    let (_, diff) = c
        .send(
            reqwest::Method::GET,
            &format!("/garde/plans/{repair}/diff"),
            &coordinateur,
            None,
        )
        .await?;
    let gains = diff["items"].as_array().context("a diff")?;
    let refilled = gains
        .iter()
        .filter(|g| g["replaces"].as_array().is_some_and(|r| !r.is_empty()))
        .count();
    let began = Instant::now();
    let (status, published) = c
        .send(
            reqwest::Method::POST,
            &format!("/garde/plans/{repair}/publish"),
            &coordinateur,
            None,
        )
        .await?;
    if status != 200 {
        bail!("repair publish: {status} {published}");
    }
    let publish_took = began.elapsed();
    let (_, still) = c
        .send(reqwest::Method::GET, "/bookings/flagged", &regulateur, None)
        .await?;
    println!(
        "repair plan in {:.2} s: {} positions gained, {refilled} of them on a withdrawn doctor's \
         shift ({} of the {withdrawn} withdrawn positions left empty: no doctor available, in \
         range, free that day and under max_shifts); published in {:.2} s",
        took.as_secs_f64(),
        gains.len(),
        withdrawn - refilled,
        publish_took.as_secs_f64()
    );
    println!(
        "bookings: {flagged} flagged, {} moved to a free slot at the same cabinet and time, {} \
         still flagged",
        published["bookings_moved"],
        still.as_array().map_or(0, Vec::len)
    );
    let _ = stop.send(());
    server.await??;
    Ok(())
}
