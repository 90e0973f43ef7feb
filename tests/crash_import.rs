//! Crash safety of imports (issues 8 and 15): the real `cpts serve` binary receives a
//! 100,000-patient `patients.csv`, is killed with SIGKILL while it writes them, and is started
//! again on the same database. An import stages its rows in a temporary table, then merges them
//! in one transaction (`src/store/staging.rs`), so the database holds none or all of the
//! patients, passes its integrity check, and takes the next import and queries. The kill comes
//! at the two moments the server's log marks: on SQLite as the merge begins, on PostgreSQL while
//! the rows are staged.
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

/// `cpts serve` on `database_url`, bound to a free port, with a long request timeout, logging
/// the store's progress (counts only).
fn serve(database_url: &str) -> Process {
    Process::serve(
        database_url,
        &[
            ("CPTS_REQUEST_TIMEOUT_SECONDS", "600"),
            ("RUST_LOG", "warn,cpts::store=info"),
        ],
    )
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

/// Kills the server as soon as its log shows `marker`, after the whole body is sent. Returns
/// when it was killed, and whether the server answered first (it may, if the merge ended in the
/// few milliseconds between the mark and the kill: then every row must be stored).
async fn kill_during_import(database_url: &str, marker: &str) -> (Duration, bool) {
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
        if server.log().iter().any(|line| line.contains(marker)) {
            break;
        }
        if request.is_finished() {
            let answer = request.await.unwrap();
            let text = match answer {
                Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            panic!("the import finished before the log showed {marker:?}: {text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the log never showed {marker:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let at = started.elapsed();
    server.kill(); // SIGKILL
    let answer = request.await.unwrap();
    if let Ok(r) = &answer {
        assert!(r.status().is_success(), "{answer:?}");
    }
    (at, answer.is_ok())
}

/// After the kill: none or all (all if the server had `answered`), a second server on the same
/// database, a usable database.
async fn check_after_restart(database_url: &str, answered: bool) {
    let stored = patients_stored(database_url).await;
    eprintln!("after SIGKILL mid-import: {stored} of {PATIENTS} patients stored");
    assert!(
        stored == 0 || stored == PATIENTS as i64,
        "a partial import survived the crash: {stored} patients"
    );
    if answered {
        assert_eq!(
            stored, PATIENTS as i64,
            "the import answered, then lost rows"
        );
    }
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
    let (at, answered) = kill_during_import(&url, "import staged; merging").await;
    eprintln!("killed {at:?} after sending the import, as its merge began");
    check_after_restart(&url, answered).await;
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
    let (at, answered) = kill_during_import(&url, "import staging").await;
    eprintln!("killed {at:?} after sending the import, while it was staged");
    assert!(!answered, "the server answered while staging");
    check_after_restart(&url, false).await;
    server::drop_database(&admin, &name).await;
}
