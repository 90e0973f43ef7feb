//! Proposals (issue 17): a committed batch's assignments offered to the GPs, their answers,
//! and what the next batch reads of them.
//!
//! What the database enforces, whatever the callers do:
//! * one live proposal (`proposed`, `accepted`, `attached`) per patient: a unique partial
//!   index, so two commits that race cannot propose one patient twice;
//! * a batch is committed once (`batch_commits`' primary key);
//! * a transition happens only from the states [`Action::from_states`] allows: the `UPDATE`
//!   carries them in its `WHERE` clause, so of two racing answers one wins and the other is
//!   told the state it found.
//!
//! A doctor's *places held* are his `proposed` and `accepted` proposals, and those `attached`
//! since his capacity was last stated (his own declaration, else the CPAM import): a
//! declaration states the places open from then on. His places left are his capacity minus
//! those; the next batch solves with them ([`Store::doctors_with_places`]).

use super::{AuditEntry, Error, NULLABLE_FLOAT, Store, append_audit_in, float_or_absent};
use super::{random_id, templated_values_clause, values_clause};
use crate::domain::{
    Action, InseeCode, MatchingDoctor, MaxKm, Patient, PatientId, ProposalState, RefusalReason,
    RefusedBy, Rpps, Scope, Tier,
};
use crate::geo::Coordinates;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Rows per multi-row insert (9 columns at most).
const CHUNK: usize = 500;

/// The places a doctor (`d`) holds: see the module doc.
pub(super) const HELD: &str = "(SELECT COUNT(*) FROM proposals pr WHERE pr.rpps = d.rpps AND \
     (pr.state IN ('proposed', 'accepted') OR (pr.state = 'attached' AND \
     pr.attached_at >= COALESCE(d.capacity_updated_at, d.imported_at, 0))))";

/// The states that hold their patient.
const LIVE: &str = "('proposed', 'accepted', 'attached')";

const COLUMNS: &str = "id, job_id, patient_id, rpps, tier, insee, distance_m, state, reason, \
     refused_by, deadline_at, created_at, answered_at, attached_at, updated_at";

/// A stored proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalRecord {
    pub id: String,
    /// The batch it came from.
    pub job_id: String,
    pub patient: PatientId,
    pub rpps: Rpps,
    pub tier: Tier,
    /// The patient's commune.
    pub insee: InseeCode,
    pub distance_m: u64,
    pub state: ProposalState,
    /// Why, and by whom, when refused.
    pub refusal: Option<(RefusedBy, RefusalReason)>,
    /// Unix seconds: the GP answers before this.
    pub deadline_at: i64,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub attached_at: Option<i64>,
    pub updated_at: i64,
}

impl TryFrom<AnyRow> for ProposalRecord {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let text = |name: &'static str| -> Result<String, Error> { Ok(row.try_get(name)?) };
        let reason: Option<String> = row.try_get("reason")?;
        let refused_by: Option<String> = row.try_get("refused_by")?;
        let refusal = match (refused_by, reason) {
            (Some(by), Some(r)) => Some((
                by.parse()
                    .map_err(|_| Error::Corrupt("proposals.refused_by"))?,
                r.parse().map_err(|_| Error::Corrupt("proposals.reason"))?,
            )),
            _ => None,
        };
        let tier: i64 = row.try_get("tier")?;
        let distance: i64 = row.try_get("distance_m")?;
        Ok(Self {
            id: text("id")?,
            job_id: text("job_id")?,
            patient: text("patient_id")?
                .parse()
                .map_err(|_| Error::Corrupt("proposals.patient_id"))?,
            rpps: text("rpps")?
                .parse()
                .map_err(|_| Error::Corrupt("proposals.rpps"))?,
            tier: u8::try_from(tier)
                .ok()
                .and_then(Tier::from_number)
                .ok_or(Error::Corrupt("proposals.tier"))?,
            insee: text("insee")?
                .parse()
                .map_err(|_| Error::Corrupt("proposals.insee"))?,
            distance_m: u64::try_from(distance)
                .map_err(|_| Error::Corrupt("proposals.distance_m"))?,
            state: text("state")?
                .parse()
                .map_err(|_| Error::Corrupt("proposals.state"))?,
            refusal,
            deadline_at: row.try_get("deadline_at")?,
            created_at: row.try_get("created_at")?,
            answered_at: row.try_get("answered_at")?,
            attached_at: row.try_get("attached_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// Whose proposals a caller sees.
#[derive(Clone, Copy, Debug)]
pub enum Viewer<'a> {
    /// A GP: those addressed to him.
    Doctor(&'a Rpps),
    /// CPAM staff: those of patients living in the scope's départements.
    Within(&'a Scope),
}

/// Which proposals [`Store::proposals`] lists; every bound is optional.
#[derive(Clone, Debug, Default)]
pub struct ProposalFilter {
    pub state: Option<ProposalState>,
    pub rpps: Option<Rpps>,
    pub insee: Option<InseeCode>,
    pub job_id: Option<String>,
}

/// What became of a transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Done(ProposalRecord),
    /// No such proposal, or not the caller's.
    NotFound,
    /// The proposal is in a state the action may not be taken from (it may just have
    /// expired).
    NotAllowed(ProposalState),
}

/// What committing a batch did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed {
        /// The proposals made, one per assignment, as stored.
        proposals: Vec<ProposalRecord>,
        /// Assignments of patients erased, or withdrawn, since the batch ran.
        skipped: u64,
        deadline_at: i64,
    },
    /// The batch was committed before.
    AlreadyCommitted,
    /// Another commit since this batch ran took one of its patients or places: it names
    /// which (`patient` or `places`); run a new batch.
    Stale(&'static str),
}

/// The exact instance a batch solved (FORMATS.md §2).
#[derive(Clone, Debug, Default)]
pub struct BatchInstance {
    pub patients: Vec<Patient>,
    /// With the places they had left then as `capacity`.
    pub doctors: Vec<MatchingDoctor>,
    pub exclusions: Vec<(PatientId, Rpps)>,
}

/// The scope condition of a row whose patient's commune is `column`: it (`column`) lies in one of
/// the scope's départements; every commune for a national scope.
pub(super) fn commune_within(column: &str, within: &Scope, first: usize) -> (String, Vec<String>) {
    match departement_patterns(within) {
        None => ("1 = 1".to_owned(), Vec::new()),
        Some(patterns) => communes_like(column, &patterns, first),
    }
}

/// The communes of `within`'s départements as the patterns [`Store::patient_statuses`] and
/// [`Store::attachment_report`] take (`54%`); `None` for a national scope (every commune).
pub fn departement_patterns(within: &Scope) -> Option<Vec<String>> {
    (*within != Scope::National).then(|| {
        within
            .departements()
            .map(|d| format!("{}%", d.as_str()))
            .collect()
    })
}

/// `column LIKE $first OR …` over `patterns` (a département's `54%`, or an exact INSEE code);
/// never true for no pattern.
pub(super) fn communes_like(
    column: &str,
    patterns: &[String],
    first: usize,
) -> (String, Vec<String>) {
    if patterns.is_empty() {
        return ("1 = 0".to_owned(), Vec::new());
    }
    let terms: Vec<String> = (0..patterns.len())
        .map(|i| format!("{column} LIKE ${}", first + i))
        .collect();
    (format!("({})", terms.join(" OR ")), patterns.to_vec())
}

impl Store {
    /// The patients of `communes` a batch may propose: not withdrawn, and without a live
    /// proposal (proposed, accepted or attached), by `patient_id`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn orphans_in(&self, communes: &[InseeCode]) -> Result<Vec<Patient>, Error> {
        self.patients_where(
            communes,
            &format!(
                " AND left_at IS NULL AND NOT EXISTS (SELECT 1 FROM proposals pr \
                 WHERE pr.patient_id = p.patient_id AND pr.state IN {LIVE})"
            ),
        )
        .await
    }

    /// Every doctor with places left, by RPPS, with those places as `capacity`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn doctors_with_places(&self) -> Result<Vec<MatchingDoctor>, Error> {
        let rows = sqlx::query(&format!(
            "SELECT rpps, name, lat, lon, insee, capacity - {HELD} AS places, max_km \
             FROM doctors d WHERE capacity > 0 ORDER BY rpps"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let places: i64 = row.try_get("places")?;
            if places > 0 {
                out.push(doctor_of(&row, places, "doctors")?);
            }
        }
        // Sorted as the batch's exclusions are looked up, whatever the database's collation.
        out.sort_by(|a, b| a.rpps.cmp(&b.rpps));
        Ok(out)
    }

    /// Every refused pair (by the GP or by the patient) of `patients`: the next batch's
    /// exclusions.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn refused_pairs(
        &self,
        patients: &[PatientId],
    ) -> Result<Vec<(PatientId, Rpps)>, Error> {
        let mut out = Vec::new();
        for chunk in patients.chunks(CHUNK) {
            let list = values_clause(chunk.len(), 1, 1).replace(['(', ')'], "");
            let sql = format!(
                "SELECT DISTINCT patient_id, rpps FROM proposals \
                 WHERE state = 'refused' AND patient_id IN ({list})"
            );
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q.bind(p.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                let p: String = row.try_get("patient_id")?;
                let d: String = row.try_get("rpps")?;
                out.push((
                    p.parse()
                        .map_err(|_| Error::Corrupt("proposals.patient_id"))?,
                    d.parse().map_err(|_| Error::Corrupt("proposals.rpps"))?,
                ));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The instance batch `job_id` solved, as stored with its results.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn batch_instance(&self, job_id: &str) -> Result<BatchInstance, Error> {
        let patients = sqlx::query(
            "SELECT patient_id, lat, lon, insee, age, ald, css, max_km FROM batch_patients \
             WHERE job_id = $1 ORDER BY patient_id",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Patient::try_from)
        .collect::<Result<Vec<_>, _>>()?;
        let mut doctors = Vec::new();
        for row in sqlx::query(
            "SELECT rpps, name, lat, lon, insee, capacity AS places, max_km FROM batch_doctors \
             WHERE job_id = $1 ORDER BY rpps",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?
        {
            let places: i64 = row.try_get("places")?;
            doctors.push(doctor_of(&row, places, "batch_doctors")?);
        }
        let mut exclusions = Vec::new();
        for row in sqlx::query(
            "SELECT patient_id, rpps FROM batch_exclusions WHERE job_id = $1 \
             ORDER BY patient_id, rpps",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?
        {
            let p: String = row.try_get("patient_id")?;
            let d: String = row.try_get("rpps")?;
            exclusions.push((
                p.parse()
                    .map_err(|_| Error::Corrupt("batch_exclusions.patient_id"))?,
                d.parse()
                    .map_err(|_| Error::Corrupt("batch_exclusions.rpps"))?,
            ));
        }
        Ok(BatchInstance {
            patients,
            doctors,
            exclusions,
        })
    }

    /// Commits batch `job_id`: each of its assignments becomes a proposal answerable until
    /// `deadline_at`, all or none (one transaction). See [`CommitOutcome`].
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error.
    pub async fn commit_batch(
        &self,
        job_id: &str,
        deadline_at: i64,
        at: i64,
    ) -> Result<CommitOutcome, Error> {
        let mut tx = self.begin_write().await?;
        let first = sqlx::query(
            "INSERT INTO batch_commits (job_id, deadline_at, committed_at) VALUES ($1, $2, $3)",
        )
        .bind(job_id)
        .bind(deadline_at)
        .bind(at)
        .execute(&mut *tx)
        .await;
        match first.map_err(Error::from) {
            Ok(_) => {}
            Err(Error::Conflict(_)) => {
                tx.rollback().await?;
                return Ok(CommitOutcome::AlreadyCommitted);
            }
            Err(e) => return Err(e),
        }
        if self.backend == super::Backend::Postgres {
            // Commits touching one doctor take turns, so each counts the other's places.
            sqlx::query(
                "SELECT rpps FROM doctors WHERE rpps IN \
                 (SELECT rpps FROM batch_assignments WHERE job_id = $1) ORDER BY rpps FOR UPDATE",
            )
            .bind(job_id)
            .fetch_all(&mut *tx)
            .await?;
        }
        // The assignments whose patient is still there and has not left since.
        let rows = sqlx::query(
            "SELECT a.patient_id, a.rpps, a.distance_m, p.insee, p.age, p.ald, p.css \
             FROM batch_assignments a JOIN patients p ON p.patient_id = a.patient_id \
             WHERE a.job_id = $1 AND p.left_at IS NULL ORDER BY a.patient_id",
        )
        .bind(job_id)
        .fetch_all(&mut *tx)
        .await?;
        let assigned: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM batch_assignments WHERE job_id = $1")
                .bind(job_id)
                .fetch_one(&mut *tx)
                .await?;
        let mut made = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK / 2) {
            let sql = format!(
                "INSERT INTO proposals (id, job_id, patient_id, rpps, tier, insee, distance_m, \
                 state, deadline_at, created_at, updated_at) VALUES {} RETURNING {COLUMNS}",
                values_clause(chunk.len(), 11, 1)
            );
            let mut q = sqlx::query(&sql);
            for row in chunk {
                let tier = tier_of_row(row)?;
                q = q
                    .bind(random_id().to_string())
                    .bind(job_id)
                    .bind(row.try_get::<String, _>("patient_id")?)
                    .bind(row.try_get::<String, _>("rpps")?)
                    .bind(i64::from(tier.number()))
                    .bind(row.try_get::<String, _>("insee")?)
                    .bind(row.try_get::<i64, _>("distance_m")?)
                    .bind(ProposalState::Proposed.as_str())
                    .bind(deadline_at)
                    .bind(at)
                    .bind(at);
            }
            match q.fetch_all(&mut *tx).await.map_err(Error::from) {
                Ok(stored) => {
                    for r in stored {
                        made.push(ProposalRecord::try_from(r)?);
                    }
                }
                Err(Error::Conflict(_)) => {
                    tx.rollback().await?;
                    return Ok(CommitOutcome::Stale("patient"));
                }
                Err(e) => return Err(e),
            }
        }
        let over: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM doctors d WHERE d.rpps IN \
             (SELECT rpps FROM batch_assignments WHERE job_id = $1) AND {HELD} > d.capacity"
        ))
        .bind(job_id)
        .fetch_one(&mut *tx)
        .await?;
        if over > 0 {
            tx.rollback().await?;
            return Ok(CommitOutcome::Stale("places"));
        }
        let proposals = rows.len() as u64;
        let skipped = u64::try_from(assigned).unwrap_or(0) - proposals;
        let entry = AuditEntry::new("batch.commit", "batch", Some(job_id.to_owned())).with_detail(
            serde_json::json!({"proposals": proposals, "skipped": skipped, "deadline_at": deadline_at}),
        );
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(CommitOutcome::Committed {
            proposals: made,
            skipped,
            deadline_at,
        })
    }

    /// Expires every proposal whose deadline is `at` or before and that is still unanswered;
    /// returns them, as they now stand. Each is audited.
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error.
    pub async fn expire_proposals(&self, at: i64) -> Result<Vec<ProposalRecord>, Error> {
        // Reads call this first: a read that finds nothing due takes no write lock.
        let due: Option<String> = sqlx::query_scalar(
            "SELECT id FROM proposals WHERE state = 'proposed' AND deadline_at <= $1 LIMIT 1",
        )
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let expired = sqlx::query(&format!(
            "UPDATE proposals SET state = 'expired', updated_at = $1 \
             WHERE state = 'proposed' AND deadline_at <= $1 RETURNING {COLUMNS}"
        ))
        .bind(at)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(ProposalRecord::try_from)
        .collect::<Result<Vec<_>, _>>()?;
        for p in &expired {
            let entry =
                AuditEntry::new(Action::Expire.audit_name(), "proposal", Some(p.id.clone()))
                    .with_detail(serde_json::json!({
                        "from": "proposed",
                        "to": "expired",
                        "rpps": p.rpps.as_str(),
                    }));
            append_audit_in(&mut tx, self.actor(), &entry).await?;
        }
        tx.commit().await?;
        Ok(expired)
    }

    /// The proposal `id`, if `viewer` may see it.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn proposal(
        &self,
        id: &str,
        viewer: Viewer<'_>,
    ) -> Result<Option<ProposalRecord>, Error> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM proposals WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(record) = row.map(ProposalRecord::try_from).transpose()? else {
            return Ok(None);
        };
        Ok(visible(&record, viewer).then_some(record))
    }

    /// The proposals `viewer` sees that pass `filter`: pending first (proposed, then
    /// accepted), then by deadline and id; `limit` from `offset`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn proposals(
        &self,
        viewer: Viewer<'_>,
        filter: &ProposalFilter,
        limit: u64,
        offset: u64,
    ) -> Result<super::Page<ProposalRecord>, Error> {
        let mut conditions = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        match viewer {
            Viewer::Doctor(rpps) => {
                binds.push(rpps.to_string());
                conditions.push(format!("rpps = ${}", binds.len()));
            }
            Viewer::Within(scope) => {
                let (cond, values) = commune_within("insee", scope, binds.len() + 1);
                conditions.push(cond);
                binds.extend(values);
            }
        }
        let mut push = |column: &str, value: Option<String>| {
            if let Some(v) = value {
                binds.push(v);
                conditions.push(format!("{column} = ${}", binds.len()));
            }
        };
        push("state", filter.state.map(|s| s.as_str().to_owned()));
        push("rpps", filter.rpps.as_ref().map(ToString::to_string));
        push("insee", filter.insee.as_ref().map(ToString::to_string));
        push("job_id", filter.job_id.clone());
        let wher = conditions.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) AS n FROM proposals WHERE {wher}");
        let mut q = sqlx::query(&count_sql);
        for b in &binds {
            q = q.bind(b);
        }
        let total: i64 = q.fetch_one(&self.pool).await?.try_get("n")?;
        let sql = format!(
            "SELECT {COLUMNS} FROM proposals WHERE {wher} ORDER BY \
             CASE state WHEN 'proposed' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END, \
             deadline_at, id LIMIT {} OFFSET {}",
            limit.min(i64::MAX as u64),
            offset.min(i64::MAX as u64)
        );
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(b);
        }
        let items = q
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(ProposalRecord::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(super::Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// Takes `action` on proposal `id` for `viewer`, at `at`, with its audit row (one
    /// transaction). A GP's answer after the deadline first expires the proposal, and is then
    /// not allowed. A withdrawal marks the patient as gone from the list of orphans.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`]; nothing is written on any error.
    pub async fn transition(
        &self,
        id: &str,
        action: Action,
        viewer: Viewer<'_>,
        at: i64,
    ) -> Result<Transition, Error> {
        let from: Vec<String> = action
            .from_states()
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let (reason, by) = match action {
            Action::Refuse(by, reason) => (Some(reason.as_str()), Some(by.as_str())),
            _ => (None, None),
        };
        let deadline = if action.before_deadline() {
            " AND deadline_at > $2"
        } else {
            ""
        };
        let answered = if action.before_deadline() {
            "$2"
        } else {
            "answered_at"
        };
        let attached = if action == Action::Attach {
            "$2"
        } else {
            "attached_at"
        };
        let doctor = match viewer {
            Viewer::Doctor(_) => " AND rpps = $6",
            Viewer::Within(_) => "",
        };
        // The UPDATE comes first: on SQLite it takes the write lock at once (waiting for it
        // within the busy timeout), where a read first would have to upgrade its lock and be
        // refused when another writer got there meanwhile.
        let sql = format!(
            "UPDATE proposals SET state = $1, updated_at = $2, answered_at = {answered}, \
             attached_at = {attached}, reason = $3, refused_by = $4 \
             WHERE id = $5 AND state IN ({}){deadline}{doctor} RETURNING {COLUMNS}",
            from.join(", ")
        );
        let mut tx = self.begin_write().await?;
        let mut q = sqlx::query(&sql)
            .bind(action.to_state().as_str())
            .bind(at)
            .bind(reason)
            .bind(by)
            .bind(id);
        if let Viewer::Doctor(rpps) = viewer {
            q = q.bind(rpps.as_str());
        }
        let updated = q.fetch_optional(&mut *tx).await?;
        let updated = match updated.map(ProposalRecord::try_from).transpose()? {
            Some(p) if visible(&p, viewer) => p,
            _ => {
                tx.rollback().await?;
                let Some(current) = self.proposal(id, viewer).await? else {
                    return Ok(Transition::NotFound);
                };
                if current.state == ProposalState::Proposed && current.deadline_at <= at {
                    self.expire_proposals(at).await?;
                    return Ok(Transition::NotAllowed(ProposalState::Expired));
                }
                return Ok(Transition::NotAllowed(current.state));
            }
        };
        // Where it came from: the single state the action leaves, or, for those taken from
        // proposed or accepted, accepted exactly when the GP had answered.
        let was = match action.from_states() {
            [one] => *one,
            _ if updated.answered_at.is_some() => ProposalState::Accepted,
            _ => ProposalState::Proposed,
        };
        if action == Action::Withdraw {
            sqlx::query("UPDATE patients SET left_at = $1 WHERE patient_id = $2")
                .bind(at)
                .bind(updated.patient.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let mut detail = serde_json::json!({
            "from": was.as_str(),
            "to": updated.state.as_str(),
            "rpps": updated.rpps.as_str(),
        });
        if let Some((by, reason)) = updated.refusal {
            detail["refused_by"] = by.as_str().into();
            detail["reason"] = reason.as_str().into();
        }
        let entry = AuditEntry::new(action.audit_name(), "proposal", Some(updated.id.clone()))
            .with_detail(detail);
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(Transition::Done(updated))
    }

    /// The places doctor `rpps` declared (his capacity) and holds now; `None` for an unknown
    /// doctor.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn doctor_places_held(&self, rpps: &Rpps) -> Result<Option<(u32, u32)>, Error> {
        let row = sqlx::query(&format!(
            "SELECT capacity, {HELD} AS held FROM doctors d WHERE rpps = $1"
        ))
        .bind(rpps.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let capacity: i64 = r.try_get("capacity")?;
            let held: i64 = r.try_get("held")?;
            Ok((
                u32::try_from(capacity).unwrap_or(0),
                u32::try_from(held).unwrap_or(0),
            ))
        })
        .transpose()
    }
}

/// Whether `viewer` may see `p`.
fn visible(p: &ProposalRecord, viewer: Viewer<'_>) -> bool {
    match viewer {
        Viewer::Doctor(rpps) => p.rpps == *rpps,
        Viewer::Within(scope) => scope.covers_commune(&p.insee),
    }
}

/// A doctor of a row with `rpps, name, lat, lon, insee, max_km`, with `places` as capacity.
fn doctor_of(row: &AnyRow, places: i64, table: &'static str) -> Result<MatchingDoctor, Error> {
    let rpps: String = row.try_get("rpps")?;
    let insee: String = row.try_get("insee")?;
    let max_km: Option<f64> = row.try_get("max_km")?;
    Ok(MatchingDoctor {
        rpps: rpps.parse().map_err(|_| Error::Corrupt(table))?,
        name: row.try_get("name")?,
        coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
            .map_err(|_| Error::Corrupt(table))?,
        insee: insee.parse().map_err(|_| Error::Corrupt(table))?,
        capacity: u32::try_from(places).map_err(|_| Error::Corrupt(table))?,
        max_km: max_km
            .map(MaxKm::new)
            .transpose()
            .map_err(|_| Error::Corrupt(table))?,
    })
}

/// Stores the instance a batch solved, inside the transaction that stores its results.
pub(super) async fn store_instance(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job_id: &str,
    inst: &BatchInstance,
) -> Result<(), Error> {
    for table in ["batch_patients", "batch_doctors", "batch_exclusions"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE job_id = $1"))
            .bind(job_id)
            .execute(&mut **tx)
            .await?;
    }
    for chunk in inst.patients.chunks(CHUNK / 2) {
        let sql = format!(
            "INSERT INTO batch_patients (job_id, patient_id, lat, lon, insee, age, ald, css, \
             max_km) VALUES {}",
            templated_values_clause(
                chunk.len(),
                &[
                    "{}",
                    "{}",
                    "{}",
                    "{}",
                    "{}",
                    "{}",
                    "{}",
                    "{}",
                    NULLABLE_FLOAT
                ],
                1
            )
        );
        let mut q = sqlx::query(&sql);
        for p in chunk {
            q = q
                .bind(job_id)
                .bind(p.id.as_str())
                .bind(p.coords.lat())
                .bind(p.coords.lon())
                .bind(p.insee.as_str())
                .bind(i64::from(p.age))
                .bind(i64::from(p.ald))
                .bind(i64::from(p.css))
                .bind(float_or_absent(p.max_km.map(MaxKm::km)));
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in inst.doctors.chunks(CHUNK / 2) {
        let sql = format!(
            "INSERT INTO batch_doctors (job_id, rpps, name, lat, lon, insee, capacity, max_km) \
             VALUES {}",
            templated_values_clause(
                chunk.len(),
                &["{}", "{}", "{}", "{}", "{}", "{}", "{}", NULLABLE_FLOAT],
                1
            )
        );
        let mut q = sqlx::query(&sql);
        for d in chunk {
            q = q
                .bind(job_id)
                .bind(d.rpps.as_str())
                .bind(&d.name)
                .bind(d.coords.lat())
                .bind(d.coords.lon())
                .bind(d.insee.as_str())
                .bind(i64::from(d.capacity))
                .bind(float_or_absent(d.max_km.map(MaxKm::km)));
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in inst.exclusions.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO batch_exclusions (job_id, patient_id, rpps) VALUES {}",
            values_clause(chunk.len(), 3, 1)
        );
        let mut q = sqlx::query(&sql);
        for (p, d) in chunk {
            q = q.bind(job_id).bind(p.as_str()).bind(d.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Where a patient of the list stands (issue 17), most advanced first: the state of its live
/// proposal (`proposed`, `accepted`, `attached`); `withdrawn` when it left the list; else
/// `unmatched` when the last batch that took it left it unmatched (with the reason); else
/// `orphan`.
pub const PATIENT_STATUSES: [&str; 6] = [
    "orphan",
    "unmatched",
    "proposed",
    "accepted",
    "attached",
    "withdrawn",
];

/// One patient of the list, with its status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientStatus {
    pub patient: PatientId,
    pub insee: InseeCode,
    pub tier: Tier,
    /// One of [`PATIENT_STATUSES`].
    pub status: String,
    /// The reason of `unmatched` (`no_doctor_in_range`, `capacity_exhausted`).
    pub reason: Option<String>,
    /// The live proposal, for `proposed`, `accepted` and `attached`.
    pub proposal: Option<String>,
}

/// The statuses of the patients of communes passing `cond` (on `p.insee`).
fn status_cte(cond: &str) -> String {
    format!(
        "WITH base AS (SELECT p.patient_id, p.insee, p.age, p.ald, p.css, p.left_at, \
           (SELECT pr.state FROM proposals pr WHERE pr.patient_id = p.patient_id \
             AND pr.state IN {LIVE}) AS live, \
           (SELECT pr.id FROM proposals pr WHERE pr.patient_id = p.patient_id \
             AND pr.state IN {LIVE}) AS proposal_id, \
           (SELECT u.reason FROM batch_unmatched u WHERE u.patient_id = p.patient_id \
             AND u.job_id = (SELECT bp.job_id FROM batch_patients bp \
               JOIN jobs j ON j.id = bp.job_id WHERE bp.patient_id = p.patient_id \
               ORDER BY j.finished_at DESC, j.id DESC LIMIT 1)) AS reason \
         FROM patients p WHERE {cond}), \
         st AS (SELECT base.*, CASE WHEN live IS NOT NULL THEN live \
           WHEN left_at IS NOT NULL THEN 'withdrawn' \
           WHEN reason IS NOT NULL THEN 'unmatched' ELSE 'orphan' END AS status FROM base) "
    )
}

/// One commune of the attachment report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommuneReport {
    pub insee: String,
    /// Patients on the list with no médecin traitant yet (every status but attached and
    /// withdrawn).
    pub orphans: u64,
    /// Proposals of the commune's patients, by state (in [`ProposalState::ALL`]'s order).
    pub proposals: [u64; 6],
    pub attached_this_month: u64,
    pub attached: u64,
    /// Unmatched by the last batch: no doctor in range, capacity exhausted.
    pub unmatched_no_doctor_in_range: u64,
    pub unmatched_capacity_exhausted: u64,
    /// The capacity of the commune's doctors, and what is left of it.
    pub places_declared: u64,
    pub places_left: u64,
}

impl Store {
    /// The patients of communes matching `patterns` ([`communes_like`]; all with `None`) with
    /// their status, by `patient_id`, optionally only those of `status`; `limit` from
    /// `offset`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn patient_statuses(
        &self,
        patterns: Option<&[String]>,
        status: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<super::Page<PatientStatus>, Error> {
        let (cond, mut binds) = match patterns {
            Some(p) => communes_like("p.insee", p, 1),
            None => ("1 = 1".to_owned(), Vec::new()),
        };
        let mut wher = "1 = 1".to_owned();
        if let Some(s) = status {
            binds.push(s.to_owned());
            wher = format!("status = ${}", binds.len());
        }
        let cte = status_cte(&cond);
        let count_sql = format!("{cte} SELECT COUNT(*) FROM st WHERE {wher}");
        let mut q = sqlx::query_scalar::<_, i64>(&count_sql).persistent(false);
        for b in &binds {
            q = q.bind(b);
        }
        let total = q.fetch_one(&self.pool).await?;
        let sql = format!(
            "{cte} SELECT patient_id, insee, age, ald, css, status, reason, proposal_id FROM st \
             WHERE {wher} ORDER BY patient_id LIMIT {} OFFSET {}",
            limit.min(i64::MAX as u64),
            offset.min(i64::MAX as u64)
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for b in &binds {
            q = q.bind(b);
        }
        let mut items = Vec::new();
        for row in q.fetch_all(&self.pool).await? {
            let id: String = row.try_get("patient_id")?;
            let insee: String = row.try_get("insee")?;
            let tier = tier_of_row(&row)?;
            let status: String = row.try_get("status")?;
            let unmatched = status == "unmatched";
            items.push(PatientStatus {
                patient: id
                    .parse()
                    .map_err(|_| Error::Corrupt("patients.patient_id"))?,
                insee: insee
                    .parse()
                    .map_err(|_| Error::Corrupt("patients.insee"))?,
                tier,
                status,
                reason: if unmatched {
                    row.try_get("reason")?
                } else {
                    None
                },
                proposal: row.try_get("proposal_id")?,
            });
        }
        Ok(super::Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// The attachment report of the communes matching `patterns` (all with `None`), by INSEE
    /// code: see [`CommuneReport`]. `month_start` (Unix seconds) begins "this month".
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    /// When each patient of the communes matching `patterns` (all: `None`) was attached, for
    /// attachments at or after `since` (Unix seconds): the instants, unsorted. The report
    /// buckets them by Europe/Paris month.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn attachment_instants(
        &self,
        patterns: Option<&[String]>,
        since: i64,
    ) -> Result<Vec<i64>, Error> {
        let (c, binds) = match patterns {
            Some(p) => communes_like("insee", p, 2),
            None => ("1 = 1".to_owned(), Vec::new()),
        };
        let sql = format!(
            "SELECT attached_at FROM proposals WHERE state = 'attached' \
             AND attached_at >= $1 AND {c}"
        );
        let mut q = sqlx::query_scalar(&sql).persistent(false).bind(since);
        for b in &binds {
            q = q.bind(b);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    pub async fn attachment_report(
        &self,
        patterns: Option<&[String]>,
        month_start: i64,
    ) -> Result<Vec<CommuneReport>, Error> {
        use std::collections::BTreeMap;
        let mut out: BTreeMap<String, CommuneReport> = BTreeMap::new();
        let cond = |column: &str, first: usize| match patterns {
            Some(p) => communes_like(column, p, first),
            None => ("1 = 1".to_owned(), Vec::new()),
        };
        let entry = |out: &mut BTreeMap<String, CommuneReport>, insee: String| {
            out.entry(insee.clone())
                .or_insert_with(|| CommuneReport {
                    insee,
                    ..CommuneReport::default()
                })
                .insee
                .clone()
        };
        let n = |row: &AnyRow, c: &str| -> Result<u64, Error> {
            let v: i64 = row.try_get(c)?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        // Patients by status.
        let (c, binds) = cond("p.insee", 1);
        let sql = format!(
            "{} SELECT insee, status, reason, COUNT(*) AS n FROM st GROUP BY insee, status, reason",
            status_cte(&c)
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for b in &binds {
            q = q.bind(b);
        }
        for row in q.fetch_all(&self.pool).await? {
            let insee: String = row.try_get("insee")?;
            let status: String = row.try_get("status")?;
            let reason: Option<String> = row.try_get("reason")?;
            let count = n(&row, "n")?;
            let key = entry(&mut out, insee);
            let r = out.get_mut(&key).ok_or(Error::Corrupt("report"))?;
            if status != "attached" && status != "withdrawn" {
                r.orphans += count;
            }
            if status == "unmatched" {
                match reason.as_deref() {
                    Some("capacity_exhausted") => r.unmatched_capacity_exhausted += count,
                    _ => r.unmatched_no_doctor_in_range += count,
                }
            }
        }
        // Proposals by state, and attachments.
        let (c, binds) = cond("insee", 2);
        let sql = format!(
            "SELECT insee, state, COUNT(*) AS n, \
             CAST(SUM(CASE WHEN attached_at >= $1 THEN 1 ELSE 0 END) AS BIGINT) AS recent \
             FROM proposals WHERE {c} GROUP BY insee, state"
        );
        let mut q = sqlx::query(&sql).persistent(false).bind(month_start);
        for b in &binds {
            q = q.bind(b);
        }
        for row in q.fetch_all(&self.pool).await? {
            let insee: String = row.try_get("insee")?;
            let state: String = row.try_get("state")?;
            let state: ProposalState = state
                .parse()
                .map_err(|_| Error::Corrupt("proposals.state"))?;
            let count = n(&row, "n")?;
            let recent = n(&row, "recent")?;
            let key = entry(&mut out, insee);
            let r = out.get_mut(&key).ok_or(Error::Corrupt("report"))?;
            let i = ProposalState::ALL
                .iter()
                .position(|s| *s == state)
                .unwrap_or(0);
            r.proposals[i] += count;
            if state == ProposalState::Attached {
                r.attached += count;
                r.attached_this_month += recent;
            }
        }
        // Places.
        let (c, binds) = cond("d.insee", 1);
        let sql = format!(
            "SELECT insee, CAST(SUM(capacity) AS BIGINT) AS declared, \
             CAST(SUM(CASE WHEN capacity > {HELD} THEN capacity - {HELD} ELSE 0 END) AS BIGINT) \
             AS places_left \
             FROM doctors d WHERE {c} GROUP BY insee"
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for b in &binds {
            q = q.bind(b);
        }
        for row in q.fetch_all(&self.pool).await? {
            let insee: String = row.try_get("insee")?;
            let declared = n(&row, "declared")?;
            let left = n(&row, "places_left")?;
            let key = entry(&mut out, insee);
            let r = out.get_mut(&key).ok_or(Error::Corrupt("report"))?;
            r.places_declared += declared;
            r.places_left += left;
        }
        Ok(out.into_values().collect())
    }
}

/// The priority tier ([`Tier::of`]) of a row with the patient's `age`, `ald` and `css`.
fn tier_of_row(row: &AnyRow) -> Result<Tier, Error> {
    let age: i64 = row.try_get("age")?;
    let ald: i64 = row.try_get("ald")?;
    let css: i64 = row.try_get("css")?;
    let age = u8::try_from(age).map_err(|_| Error::Corrupt("patients.age"))?;
    Ok(Tier::of(age, ald == 1, css == 1))
}
