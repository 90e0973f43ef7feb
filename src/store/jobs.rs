//! The `jobs` table: a durable queue of long work (matching batches, garde plans).
//!
//! A job is `queued` when enqueued, `running` once a worker claims it, then `succeeded` (with
//! its result JSON) or `failed` (with its error). A claim is one atomic statement, so two
//! workers never run the same job; a running job whose worker stopped sending heartbeats is
//! claimed again, up to [`MAX_ATTEMPTS`] times in all. The results of a job are written in
//! the same transaction that marks it `succeeded` (see `batches.rs`, `garde_plans.rs`).

use super::{Backend, Error, Store, now};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// Claims of one job, at most; a job still stale after that many fails.
pub const MAX_ATTEMPTS: i64 = 3;

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    /// The `status` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "queued" => Ok(JobStatus::Queued),
            "running" => Ok(JobStatus::Running),
            "succeeded" => Ok(JobStatus::Succeeded),
            "failed" => Ok(JobStatus::Failed),
            _ => Err(Error::Corrupt("jobs.status")),
        }
    }
}

/// A stored job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub id: String,
    /// What to run (`matching_batch`, `garde_plan`): the runner's dispatch key.
    pub kind: String,
    pub status: JobStatus,
    /// Fraction done, 0 to 1.
    pub progress: f64,
    /// What the job is doing now (`flow`, `explain`, `saving`…); empty before it starts.
    pub stage: String,
    /// The parameters, JSON.
    pub params: String,
    /// The summary, JSON, once succeeded.
    pub result: Option<String>,
    /// Why it failed (no patient data).
    pub error: Option<String>,
    /// The token that enqueued it.
    pub created_by: Option<String>,
    /// The territory it was launched on (a canonical [`crate::domain::Scope`]).
    pub territory: String,
    pub attempts: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, kind, status, progress, stage, params, result, error, created_by, \
                       territory, attempts, created_at, started_at, finished_at";

impl TryFrom<AnyRow> for JobRecord {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let status: String = row.try_get("status")?;
        Ok(Self {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            status: JobStatus::parse(&status)?,
            progress: row.try_get("progress")?,
            stage: row.try_get("stage")?,
            params: row.try_get("params")?,
            result: row.try_get("result")?,
            error: row.try_get("error")?,
            created_by: row.try_get("created_by")?,
            territory: row.try_get("territory")?,
            attempts: row.try_get("attempts")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
        })
    }
}

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    /// JSON.
    pub params: &'a str,
    pub created_by: Option<&'a str>,
    /// The territory it is launched on: who may read it ([`crate::domain::Scope::covers`]).
    pub territory: &'a crate::domain::Scope,
}

pub(super) async fn insert_job(
    tx: &mut Transaction<'_, Any>,
    job: &NewJob<'_>,
    at: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, status, params, created_by, created_at, territory) \
         VALUES ($1, $2, 'queued', $3, $4, $5, $6)",
    )
    .bind(job.id)
    .bind(job.kind)
    .bind(job.params)
    .bind(job.created_by)
    .bind(at)
    .bind(job.territory.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks a running job `succeeded` with its result, inside the transaction that wrote its
/// results; `Ok(false)` when the job is no longer this run's (another worker took it over
/// after a missed heartbeat), and the caller must roll back.
pub(super) async fn succeed_in(
    tx: &mut Transaction<'_, Any>,
    id: &str,
    attempt: i64,
    result: &str,
) -> Result<bool, Error> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'succeeded', progress = 1, stage = 'done', result = $1, \
         finished_at = $2, heartbeat_at = $2 \
         WHERE id = $3 AND status = 'running' AND attempts = $4",
    )
    .bind(result)
    .bind(now())
    .bind(id)
    .bind(attempt)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// Enqueues a job on its own.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the id is taken, [`Error::Unavailable`].
    pub async fn enqueue_job(&self, job: &NewJob<'_>) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        insert_job(&mut tx, job, now()).await?;
        // A matching batch is the job's only use through this method today; a garde plan
        // is created with its plan row (create_garde_plan).
        let (action, kind) = match job.kind {
            "matching_batch" => ("batch.launch", "batch"),
            _ => ("job.enqueue", "job"),
        };
        let entry = super::AuditEntry::new(action, kind, Some(job.id.to_owned()))
            .with_detail(serde_json::json!({ "kind": job.kind }));
        super::append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The job with this id.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, Error> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(JobRecord::try_from)
            .transpose()
    }

    /// The jobs of `kind` launched on a territory `within` covers, newest first, of `status`
    /// when given; at most `limit` after skipping `offset`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn jobs(
        &self,
        kind: &str,
        within: &crate::domain::Scope,
        status: Option<JobStatus>,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<JobRecord>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let (covered, names) = super::covered_by("territory", within, 5);
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE kind = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR status = $2) AND {covered} \
             ORDER BY created_at DESC, id LIMIT $3 OFFSET $4"
        );
        let mut query = sqlx::query(&sql)
            .bind(kind)
            .bind(status.map(JobStatus::as_str))
            .bind(limit)
            .bind(offset);
        for name in names {
            query = query.bind(name);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.into_iter().map(JobRecord::try_from).collect()
    }

    /// Claims the oldest queued job, or a running one whose last heartbeat is older than
    /// `stale_after_s` seconds (its worker died) and which has attempts left; `None` when
    /// there is nothing to do. Stale jobs out of attempts are failed first.
    ///
    /// One statement: an `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`, with `FOR
    /// UPDATE SKIP LOCKED` on PostgreSQL so concurrent workers take different jobs (SQLite
    /// has one writer at a time, so its statement is atomic as it is).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn claim_job(&self, stale_after_s: i64) -> Result<Option<JobRecord>, Error> {
        let at = now();
        let stale = at - stale_after_s;
        sqlx::query(
            "UPDATE jobs SET status = 'failed', finished_at = $1, \
             error = 'the worker running it stopped, too many times' \
             WHERE status = 'running' AND heartbeat_at < $2 AND attempts >= $3",
        )
        .bind(at)
        .bind(stale)
        .bind(MAX_ATTEMPTS)
        .execute(&self.pool)
        .await?;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        sqlx::query(&format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = $1, \
             heartbeat_at = $1, stage = 'starting' \
             WHERE id = (SELECT id FROM jobs \
                         WHERE status = 'queued' \
                            OR (status = 'running' AND heartbeat_at < $2 AND attempts < $3) \
                         ORDER BY created_at, id LIMIT 1{lock}) \
             RETURNING {COLUMNS}"
        ))
        .bind(at)
        .bind(stale)
        .bind(MAX_ATTEMPTS)
        .fetch_optional(&self.pool)
        .await?
        .map(JobRecord::try_from)
        .transpose()
    }

    /// Records the progress of a running job (and that its worker is alive); `false` when
    /// the job is no longer this attempt's.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn job_progress(
        &self,
        id: &str,
        attempt: i64,
        progress: f64,
        stage: &str,
    ) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE jobs SET progress = $1, stage = $2, heartbeat_at = $3 \
             WHERE id = $4 AND status = 'running' AND attempts = $5",
        )
        .bind(progress.clamp(0.0, 1.0))
        .bind(stage)
        .bind(now())
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a running job `failed` with `error` (no patient data in it).
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn fail_job(&self, id: &str, attempt: i64, error: &str) -> Result<(), Error> {
        sqlx::query(
            "UPDATE jobs SET status = 'failed', error = $1, finished_at = $2 \
             WHERE id = $3 AND status = 'running' AND attempts = $4",
        )
        .bind(error)
        .bind(now())
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many jobs are queued or running.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn active_jobs(&self) -> Result<i64, Error> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running')")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("n")?)
    }
}
