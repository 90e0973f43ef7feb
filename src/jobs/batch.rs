//! A matching batch (FORMATS.md §2) over a territory: the stored patients living in its
//! communes, and every stored doctor with capacity.
//!
//! All doctors with capacity, not only those of the territory: a patient near its border may
//! have its nearest doctors in the next commune, and a doctor out of every patient's reach
//! costs the solver one spatial-index cell, nothing more (pairs are found through a grid).
//! The result is therefore the one `cpts match` gives on the same two files.

use super::{Progress, blocking};
use crate::domain::{AssignmentRow, InseeCode, MaxKm, UnmatchedRow};
use crate::geo::{cost_m, haversine_m};
use crate::matching::explain::{self, Detail};
use crate::matching::report::{JobSummary, JobTerritory, JobTimings, Tally};
use crate::matching::{self, Instance, Matching};
use crate::store::{JobRecord, Store};
use crate::telemetry::ms;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The territory of a batch as enqueued: the communes, resolved when the batch is accepted
/// (so a batch is reproducible whatever the commune list becomes), and the EPCI they came
/// from, if any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TerritoryParams {
    pub communes: Vec<InseeCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epci: Option<String>,
}

/// The parameters of a batch job (`jobs.params`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchParams {
    pub territory: TerritoryParams,
    /// The limit of patients without their own `max_km`.
    pub default_max_km: MaxKm,
    /// A what-if (issue 20): these doctors are left out, as if they had retired. Such a batch
    /// shows the shortfall; it is never committed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without: Vec<crate::domain::Rpps>,
}

/// Loads, solves, explains and stores batch `job`; `Ok(false)` when another worker took it
/// over meanwhile (nothing stored).
pub(super) async fn run(
    store: &Store,
    job: &JobRecord,
    progress: Progress,
) -> anyhow::Result<bool> {
    let params: BatchParams =
        serde_json::from_str(&job.params).context("reading the batch's parameters")?;
    progress.report("loading", 0.0);
    let t0 = Instant::now();
    // The state of the proposals (issue 17): patients proposed, accepted or attached are not
    // orphans any more; each doctor's capacity is his places left; refused pairs are excluded.
    let patients = store
        .orphans_in(&params.territory.communes)
        .await
        .context("loading the territory's patients")?;
    let mut doctors = store
        .doctors_with_places()
        .await
        .context("loading the doctors")?;
    doctors.retain(|d| !params.without.contains(&d.rpps));
    let ids: Vec<_> = patients.iter().map(|p| p.id.clone()).collect();
    let refused = store
        .refused_pairs(&ids)
        .await
        .context("loading the refused pairs")?;
    let load_ms = ms(t0.elapsed());
    tracing::info!(
        patients = patients.len(),
        doctors = doctors.len(),
        "batch loaded"
    );
    let excluded = exclusions_of(&patients, &doctors, &refused);
    // Only the pairs of this instance: a refused doctor with no place left is not in it.
    let kept: Vec<_> = excluded
        .iter()
        .map(|&(p, d)| {
            (
                patients[p as usize].id.clone(),
                doctors[d as usize].rpps.clone(),
            )
        })
        .collect();
    let solved = crate::store::BatchInstance {
        patients: patients.clone(),
        doctors: doctors.clone(),
        exclusions: kept,
    };
    let inst = Instance {
        patients,
        doctors,
        default_max_km: params.default_max_km,
        excluded,
    };
    let worker_progress = progress.clone();
    let (summary, assignments, unmatched) = blocking(move || {
        let t = Instant::now();
        // The flow's own stages take the first 70 %, explanations the next 20 %.
        let sol = matching::flow::solve_with(&inst, &mut |stage, f| {
            worker_progress.report(stage, 0.05 + 0.65 * f);
        })
        .context("solving the batch")?;
        let solve_ms = ms(t.elapsed());
        worker_progress.report("explain", 0.7);
        let t = Instant::now();
        let unmatched = explain::explain(&inst, &sol);
        let explain_ms = ms(t.elapsed());
        worker_progress.report("saving", 0.9);
        let assignments = assignment_rows(&inst, &sol.matching);
        let unmatched_rows = unmatched_rows(&inst, &unmatched);
        let territory = JobTerritory {
            communes: params.territory.communes.len() as u64,
            epci: params.territory.epci.clone(),
            without: params
                .without
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
        };
        let timings = JobTimings {
            explain: explain_ms,
            load: load_ms,
            solve: solve_ms,
        };
        let tally = Tally::new(&inst, &sol, &unmatched);
        let summary = JobSummary::new(&inst, &tally, territory, timings);
        let summary = serde_json::to_string(&summary).context("serialising the summary")?;
        Ok((summary, assignments, unmatched_rows))
    })
    .await?;
    drop(progress);
    store
        .finish_batch(
            &job.id,
            job.attempts,
            &summary,
            &assignments,
            &unmatched,
            &solved,
        )
        .await
        .context("storing the batch's results")
}

/// The refused pairs among `patients` and `doctors` (both sorted by id), by index.
fn exclusions_of(
    patients: &[crate::domain::Patient],
    doctors: &[crate::domain::MatchingDoctor],
    refused: &[(crate::domain::PatientId, crate::domain::Rpps)],
) -> crate::matching::Exclusions {
    refused
        .iter()
        .filter_map(|(p, d)| {
            let p = patients.binary_search_by(|x| x.id.cmp(p)).ok()?;
            let d = doctors.binary_search_by(|x| x.rpps.cmp(d)).ok()?;
            Some((p as u32, d as u32))
        })
        .collect()
}

/// `assignments.csv`'s rows, as `cpts match` writes them.
fn assignment_rows(inst: &Instance, matching: &Matching) -> Vec<AssignmentRow> {
    matching
        .doctor_of
        .iter()
        .enumerate()
        .filter_map(|(q, d)| {
            let (p, doc) = (&inst.patients[q], &inst.doctors[(*d)? as usize]);
            Some(AssignmentRow {
                patient: p.id.clone(),
                rpps: doc.rpps.clone(),
                distance_m: u64::from(cost_m(haversine_m(p.coords, doc.coords))),
            })
        })
        .collect()
}

/// `unmatched.csv`'s rows, with the explanation's detail.
fn unmatched_rows(inst: &Instance, unmatched: &[explain::Unmatched]) -> Vec<UnmatchedRow> {
    unmatched
        .iter()
        .map(|u| UnmatchedRow {
            patient: inst.patients[u.patient as usize].id.clone(),
            tier: u.tier,
            reason: u.reason.code().to_owned(),
            detail: Detail(u, inst).to_string(),
        })
        .collect()
}
