//! Long work off the request path: matching batches and garde plans, run from the durable
//! `jobs` table by a worker (`cpts worker`, or a background task of `cpts serve`).
//!
//! * **Enqueue.** A handler stores the job (status `queued`, parameters as JSON) and answers
//!   202 with `/jobs/{id}`; it then wakes the in-process worker, and other workers find the
//!   job at their next poll ([`POLL`]).
//! * **Claim.** One atomic statement in `store` ([`Store::claim_job`]), so two workers never
//!   take the same job; a job whose worker stopped sending heartbeats for [`STALE_AFTER`] is
//!   claimed again (a crash, a killed container), up to [`crate::store::MAX_ATTEMPTS`] times.
//! * **Run.** The cores (`matching`, `garde`) run on a blocking thread
//!   (`tokio::task::spawn_blocking`); their progress callbacks feed a watch channel that an
//!   async task writes to the job's row (fraction and stage), with a heartbeat every
//!   [`HEARTBEAT`] even when the core is silent.
//! * **Finish.** The results and the `succeeded` status are written in one transaction (no
//!   half-written results); an error marks the job `failed` with a message that carries ids
//!   at most, never patient data.
//!
//! This room holds no SQL (`store`) and no solver logic (`matching`, `garde`): it turns
//! stored rows into the cores' instances and their answers back into rows.

mod batch;
mod garde_plan;

pub use batch::{BatchParams, TerritoryParams};
pub use garde_plan::{DEFAULT_GARDE_MAX_KM, GardePlanParams, slots_of};

use crate::store::{JobRecord, Store};
use anyhow::Context;
use rand::RngCore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The `kind` of a matching batch job.
pub const KIND_BATCH: &str = "matching_batch";
/// The `kind` of a garde plan job.
pub const KIND_GARDE_PLAN: &str = "garde_plan";

/// How often an idle worker looks for jobs enqueued by another process.
pub const POLL: Duration = Duration::from_secs(1);
/// How often a running job's row is touched, at least.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// A running job without a heartbeat for this long is taken over by another worker.
pub const STALE_AFTER: Duration = Duration::from_secs(60);
/// The least time between two progress writes of one job.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A fresh job id: 16 random bytes in hex (ids appear in URLs; they must not be guessable
/// from one another).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs jobs until `stop` turns true: claims one, runs it, and when the queue is empty waits
/// for `wake` (a job enqueued by this process) or [`POLL`]. A job running when `stop` comes
/// is given `grace` to finish; after that the worker returns and the job, left `running`, is
/// taken over by the next worker once its heartbeat is stale. The lease is [`STALE_AFTER`]
/// ([`run_worker_with_lease`] sets another).
pub async fn run_worker(
    store: Store,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
    grace: Duration,
) {
    run_worker_with_lease(store, wake, stop, grace, STALE_AFTER).await;
}

/// [`run_worker`] with a lease of `lease`: a running job without a heartbeat for that long is
/// taken over, and this worker's own jobs send a heartbeat three times per lease (at most
/// every [`HEARTBEAT`]). Every worker of a deployment must use the same lease.
pub async fn run_worker_with_lease(
    store: Store,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
    lease: Duration,
) {
    let lease = lease.max(Duration::from_secs(1));
    let heartbeat = (lease / 3).clamp(Duration::from_millis(250), HEARTBEAT);
    tracing::info!(lease_s = lease.as_secs(), "job worker started");
    loop {
        if *stop.borrow() {
            break;
        }
        match store
            .claim_job(i64::try_from(lease.as_secs()).unwrap_or(i64::MAX))
            .await
        {
            Ok(Some(job)) => {
                let run = execute(&store, job, heartbeat);
                tokio::pin!(run);
                tokio::select! {
                    () = &mut run => {}
                    _ = stop.changed() => {
                        if tokio::time::timeout(grace, run).await.is_err() {
                            tracing::warn!("a job was still running at shutdown; it will be resumed");
                        }
                        break;
                    }
                }
            }
            Ok(None) => {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim a job; retrying");
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
    tracing::info!("job worker stopped");
}

/// Runs one claimed job to its end: `succeeded` with its results, or `failed`.
async fn execute(store: &Store, job: JobRecord, heartbeat: Duration) {
    let span = tracing::info_span!("job", job = %job.id, kind = %job.kind, attempt = job.attempts);
    tracing::info!(parent: &span, "job started");
    let (progress, reporter) =
        Progress::start(store.clone(), job.id.clone(), job.attempts, heartbeat);
    let started = std::time::Instant::now();
    let outcome = match job.kind.as_str() {
        KIND_BATCH => batch::run(store, &job, progress).await,
        KIND_GARDE_PLAN => garde_plan::run(store, &job, progress).await,
        other => Err(anyhow::anyhow!("unknown job kind {other:?}")),
    };
    let kind = match job.kind.as_str() {
        KIND_BATCH | KIND_GARDE_PLAN => job.kind.as_str(),
        _ => "unknown",
    };
    let result = match &outcome {
        Ok(true) => "succeeded",
        Ok(false) => "taken_over",
        Err(_) => "failed",
    };
    crate::metrics::job(kind, result, started.elapsed().as_secs_f64());
    // The reporter ends once every Progress handle is gone; wait so that no late progress
    // write lands after the final status.
    let _ = reporter.await;
    match outcome {
        Ok(true) => tracing::info!(parent: &span, "job succeeded"),
        Ok(false) => {
            tracing::warn!(parent: &span, "job taken over by another worker; results dropped")
        }
        Err(e) => {
            tracing::error!(parent: &span, error = format!("{e:#}"), "job failed");
            if let Err(e) = store
                .fail_job(&job.id, job.attempts, &format!("{e:#}"))
                .await
            {
                tracing::error!(parent: &span, error = %e, "cannot record the job's failure");
            }
        }
    }
}

/// Progress of one job, from any thread: `(fraction, stage)`, written to the job's row by an
/// async task ([`Progress::start`]) at most every [`PROGRESS_EVERY`], with a heartbeat every
/// [`HEARTBEAT`] (less with a short lease). Fractions only move forward.
#[derive(Clone, Debug)]
pub struct Progress {
    tx: Arc<watch::Sender<(f64, String)>>,
}

impl Progress {
    fn start(
        store: Store,
        id: String,
        attempt: i64,
        every: Duration,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = watch::channel((0.0, "starting".to_owned()));
        let task = tokio::spawn(async move {
            let mut heartbeat = tokio::time::interval(every);
            heartbeat.tick().await;
            loop {
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() { break },
                    _ = heartbeat.tick() => {}
                }
                let (fraction, stage) = rx.borrow_and_update().clone();
                if let Err(e) = store.job_progress(&id, attempt, fraction, &stage).await {
                    tracing::warn!(job = %id, error = %e, "cannot record progress");
                }
                tokio::time::sleep(PROGRESS_EVERY).await;
            }
        });
        (Self { tx: Arc::new(tx) }, task)
    }

    /// Reports that the job is at `fraction` (0–1) of its work, in `stage`.
    pub fn report(&self, stage: &str, fraction: f64) {
        self.tx.send_if_modified(|(f, s)| {
            let fraction = fraction.clamp(*f, 1.0);
            if fraction == *f && s == stage {
                return false;
            }
            *f = fraction;
            stage.clone_into(s);
            true
        });
    }
}

/// Runs `work` on a blocking thread (the cores are CPU-bound and synchronous).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("the job's thread panicked")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
