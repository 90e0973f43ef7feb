//! A worker killed with SIGKILL in the middle of a batch: another worker takes the job over
//! once its lease runs out, finishes it, and the stored result equals a clean run's.
//!
//! Runs the real binary (`cpts worker`) on a throwaway PostgreSQL database made from
//! `TEST_DATABASE_URL` (named like tests/api's, so their sweep drops a leftover). Without
//! that variable the test says it skips; with `CI=true` it fails.
#![allow(clippy::unwrap_used)]

#[path = "common/server.rs"]
mod server;

use cpts::domain::{InseeCode, MaxKm};
use cpts::jobs::{BatchParams, KIND_BATCH, TerritoryParams};
use cpts::store::{JobStatus, NewJob, Store};
use server::Process;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The lease of both workers: a job without a heartbeat for this long is taken over.
const LEASE_S: u64 = 2;

/// `cpts worker` on `url`, with a short lease.
fn worker(url: &str) -> Process {
    Process::worker(
        url,
        &["--job-lease-seconds", &LEASE_S.to_string()],
        &[("RUST_LOG", "cpts=info")],
    )
}

/// Polls `job` every 20 ms until `done` says so; panics after `limit`.
async fn wait_for(
    store: &Store,
    job: &str,
    limit: Duration,
    what: &str,
    done: impl Fn(&cpts::store::JobRecord) -> bool,
) -> cpts::store::JobRecord {
    let deadline = Instant::now() + limit;
    loop {
        let j = store.job(job).await.unwrap().unwrap();
        if done(&j) {
            return j;
        }
        assert!(
            j.status != JobStatus::Failed,
            "job {job} failed while waiting for {what}: {:?}",
            j.error
        );
        assert!(
            Instant::now() < deadline,
            "no {what} after {limit:?}: {j:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A batch's stored result: summary objective, assignments, unmatched rows.
async fn result_of(store: &Store, job: &str) -> (serde_json::Value, Vec<String>, Vec<String>) {
    let j = store.job(job).await.unwrap().unwrap();
    let summary: serde_json::Value = serde_json::from_str(j.result.as_deref().unwrap()).unwrap();
    let a = store.batch_assignments(job, u64::MAX / 4, 0).await.unwrap();
    let u = store
        .batch_unmatched(job, &Default::default(), u64::MAX / 4, 0)
        .await
        .unwrap();
    assert_eq!(a.total as usize, a.items.len());
    assert_eq!(u.total as usize, u.items.len());
    let a: Vec<String> = a
        .items
        .iter()
        .map(|r| format!("{},{},{}", r.patient, r.rpps, r.distance_m))
        .collect();
    let u: Vec<String> = u
        .items
        .iter()
        .map(|r| {
            format!(
                "{},{},{},{}",
                r.patient,
                r.tier.number(),
                r.reason,
                r.detail
            )
        })
        .collect();
    let mut objective = summary["objective"].clone();
    objective["unmatched"] = summary["unmatched"].clone();
    (objective, a, u)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_survives_its_worker_being_killed() {
    let Some(admin) = server::test_database_url() else {
        eprintln!("skipping: TEST_DATABASE_URL is not set");
        return;
    };
    let (url, name) = server::create_database(&admin, "crash").await;
    let dir = tempfile::tempdir().unwrap();
    // On a panic the database is left behind; tests/api's sweep drops it an hour later.
    crash_and_take_over(url, dir.path().to_owned()).await;
    server::drop_database(&admin, &name).await;
}

async fn crash_and_take_over(url: String, dir: std::path::PathBuf) {
    // A regional instance large enough for a batch of a few seconds.
    let instance = dir.join("instance");
    let status = Command::new(env!("CARGO_BIN_EXE_cpts"))
        .args(["fixtures", "--area", "grand-est", "--patients", "60000"])
        .args(["--doctors", "600", "--seed", "7", "--out"])
        .arg(&instance)
        .arg("--data")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "cpts fixtures failed");
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let patients = cpts::import::read_patients(&instance.join("patients.csv")).unwrap();
    let doctors = cpts::import::read_doctors(&instance.join("doctors.csv")).unwrap();
    store.import_patients(&patients).await.unwrap();
    store.import_doctors(&doctors).await.unwrap();
    let communes: BTreeSet<InseeCode> = patients.iter().map(|p| p.insee).collect();
    let params = serde_json::to_string(&BatchParams {
        territory: TerritoryParams {
            communes: communes.into_iter().collect(),
            epci: None,
        },
        default_max_km: MaxKm::new(10.0).unwrap(),
        without: Vec::new(),
    })
    .unwrap();
    let enqueue = |id: &'static str| {
        let (store, params) = (store.clone(), params.clone());
        async move {
            store
                .enqueue_job(&NewJob {
                    id,
                    kind: KIND_BATCH,
                    params: &params,
                    created_by: None,
                    territory: &cpts::domain::Scope::National,
                })
                .await
                .unwrap();
        }
    };

    // The first worker starts the batch and dies in the middle of it.
    enqueue("crashed").await;
    let mut first = worker(&url);
    let started = wait_for(
        &store,
        "crashed",
        Duration::from_secs(120),
        "progress",
        |j| j.status == JobStatus::Running && j.progress > 0.0,
    )
    .await;
    first.kill(); // SIGKILL: no shutdown, no last write
    let killed = Instant::now();
    let at_kill = store.job("crashed").await.unwrap().unwrap();
    assert_eq!(
        at_kill.status,
        JobStatus::Running,
        "the batch ended before the kill; make the instance larger"
    );
    eprintln!(
        "killed worker 1 at {:.0} % ({}), attempt {}",
        at_kill.progress * 100.0,
        at_kill.stage,
        started.attempts
    );

    // A second worker takes it over once the lease has run out.
    let mut second = worker(&url);
    let taken = wait_for(
        &store,
        "crashed",
        Duration::from_secs(60),
        "takeover",
        |j| j.attempts == 2,
    )
    .await;
    let takeover = killed.elapsed();
    assert_eq!(taken.status, JobStatus::Running);
    let done = wait_for(
        &store,
        "crashed",
        Duration::from_secs(300),
        "success",
        |j| j.status == JobStatus::Succeeded,
    )
    .await;
    let finished = killed.elapsed();
    assert_eq!(done.attempts, 2);
    assert_eq!(done.progress, 1.0);

    // A clean run of the same batch, by the same worker.
    enqueue("clean").await;
    let clean = wait_for(&store, "clean", Duration::from_secs(300), "success", |j| {
        j.status == JobStatus::Succeeded
    })
    .await;
    assert_eq!(clean.attempts, 1);
    second.kill();

    let (crashed, clean) = (
        result_of(&store, "crashed").await,
        result_of(&store, "clean").await,
    );
    assert!(!crashed.1.is_empty(), "the batch assigned nobody");
    assert_eq!(crashed.0, clean.0, "objective and counts");
    assert_eq!(crashed.1, clean.1, "assignments (each patient once)");
    assert_eq!(crashed.2, clean.2, "unmatched patients and reasons");
    eprintln!(
        "takeover: job running again {:.2} s after SIGKILL (lease {LEASE_S} s, poll 1 s); \
         finished {:.2} s after it; {} assignments, {} unmatched, as the clean run",
        takeover.as_secs_f64(),
        finished.as_secs_f64(),
        crashed.1.len(),
        crashed.2.len()
    );
    store.close().await;
}
