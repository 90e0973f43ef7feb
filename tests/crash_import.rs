//! Crash safety of imports (issue 8): the real `cpts serve` binary receives a
//! 100,000-patient `patients.csv`, is killed with SIGKILL while it writes them, and is started
//! again on the same database. The import is one transaction, so the database holds none or
//! all of the patients, passes its integrity check, and takes the next import and queries.
//!
//! SQLite always runs; PostgreSQL runs with `TEST_DATABASE_URL` (required with `CI=true`).
#![allow(clippy::unwrap_used)]

#[path = "common/server.rs"]
mod server;

use server::Process;
use sqlx::{Connection, Executor, Row};
use std::time::{Duration, Instant};

const PATIENTS: usize = 100_000;

/// `patients.csv` with `n` patients around Nancy, ids `K000000`…, every value valid.
fn patients_csv(n: usize) -> String {
    let mut out = String::from("patient_id,lat,lon,insee,age,ald,css,max_km\n");
    for i in 0..n {
        let lat = 48.60 + (i % 1000) as f64 * 0.0002;
        let lon = 6.10 + (i / 1000) as f64 * 0.002;
        out.push_str(&format!(
            "K{i:06},{lat:.6},{lon:.6},54395,{},{},{},\n",
            i % 100,
            u8::from(i % 7 == 0),
            u8::from(i % 5 == 0)
        ));
    }
    out
}

/// `cpts serve` on `database_url`, bound to a free port, with a long request timeout.
fn serve(database_url: &str) -> Process {
    Process::serve(database_url, &[("CPTS_REQUEST_TIMEOUT_SECONDS", "600")])
}

fn cpam_token(database_url: &str) -> String {
    server::token(database_url, "cpam", None, &[])
}

async fn patients_stored(database_url: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(database_url).await.unwrap();
    let n = conn
        .fetch_one("SELECT COUNT(*) AS n FROM patients")
        .await
        .unwrap()
        .get::<i64, _>("n");
    conn.close().await.unwrap();
    n
}

/// Kills the server while its import transaction is open: after the whole body is sent and
/// before the answer, as soon as the database shows the import writing (`writing` says so).
async fn kill_during_import<F, Fut>(database_url: &str, mut writing: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let token = cpam_token(database_url);
    let mut server = serve(database_url);
    let address = server.address.clone();
    let body = patients_csv(PATIENTS);
    let client = reqwest::Client::new();
    let request = tokio::spawn(
        client
            .post(format!("{address}/imports/patients"))
            .bearer_auth(&token)
            .header("content-type", "text/csv")
            .body(body)
            .send(),
    );
    let started = Instant::now();
    loop {
        if request.is_finished() {
            let answer = request.await.unwrap();
            let text = match answer {
                Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            panic!("the import finished before the database showed it writing: {text}");
        }
        if writing().await {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the import never started writing"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let at = started.elapsed();
    server.kill(); // SIGKILL
    let answer = request.await.unwrap();
    assert!(
        answer.is_err(),
        "the server answered before it was killed: {answer:?}"
    );
    at
}

/// After the kill: none or all, a second server on the same database, a usable database.
async fn check_after_restart(database_url: &str) {
    let stored = patients_stored(database_url).await;
    eprintln!("after SIGKILL mid-import: {stored} of {PATIENTS} patients stored");
    assert!(
        stored == 0 || stored == PATIENTS as i64,
        "a partial import survived the crash: {stored} patients"
    );
    let token = cpam_token(database_url);
    let mut server = serve(database_url);
    let address = server.address.clone();
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert!(ready.status().is_success(), "{ready:?}");
    // A subsequent import and a query work.
    let r = client
        .post(format!("{address}/imports/patients"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(
            "patient_id,lat,lon,insee,age,ald,css,max_km\n\
             AFTER-1,48.69,6.18,54395,70,1,0,\nAFTER-2,48.70,6.19,54395,30,0,0,\n",
        )
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["inserted"], 2, "{body}");
    let r = client
        .post(format!("{address}/batches"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"territory": {"insee": ["54395"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    server.kill();
    assert_eq!(patients_stored(database_url).await, stored + 2);
}

#[tokio::test]
async fn a_sigkill_during_a_sqlite_import_leaves_none_or_all() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cpts.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let wal = dir.path().join("cpts.db-wal");
    // The WAL grows as soon as the transaction spills its first pages.
    let mut initial = None;
    let at = kill_during_import(&url, || {
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        let base = *initial.get_or_insert(size);
        async move { size > base + 1024 * 1024 }
    })
    .await;
    eprintln!("killed {at:?} after sending the import");
    check_after_restart(&url).await;
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let check: String = conn
        .fetch_one("PRAGMA integrity_check")
        .await
        .unwrap()
        .get(0);
    assert_eq!(check, "ok");
}

#[tokio::test]
async fn a_sigkill_during_a_postgres_import_leaves_none_or_all() {
    let Some(admin) = server::test_database_url() else {
        eprintln!("skipping: TEST_DATABASE_URL is not set");
        return;
    };
    sqlx::any::install_default_drivers();
    let (url, name) = server::create_database(&admin, "crash").await;
    // The import's transaction is writing once PostgreSQL shows its INSERT running.
    let watched = url.clone();
    kill_during_import(&url, || {
        let watched = watched.clone();
        async move {
            let Ok(mut c) = sqlx::AnyConnection::connect(&watched).await else {
                return false;
            };
            let n: i64 = c
                .fetch_one(
                    "SELECT COUNT(*) AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND state = 'active' \
                     AND query LIKE 'INSERT INTO patients%'",
                )
                .await
                .map(|r| r.get("n"))
                .unwrap_or(0);
            let _ = c.close().await;
            n > 0
        }
    })
    .await;
    check_after_restart(&url).await;
    server::drop_database(&admin, &name).await;
}
