//! `cpts verify` (FORMATS.md §2): checks a batch result against its instance using only the
//! instance, the result files and the certificate. It never calls a solver and shares nothing
//! with [`super::flow`] but the instance types, the distance of FORMATS.md §1 and the grid index
//! of `geo` (which only prunes; every decision is taken with the exact distance).
//!
//! # What acceptance proves
//!
//! 1. **Feasibility.** Every patient is listed once, in `assignments.csv` or `unmatched.csv`,
//!    with the tier of FORMATS.md §2; every assignment is an eligible pair at its stated
//!    `distance_m`; no doctor gets more patients than their capacity.
//! 2. **Objective.** The vector `(n1, n2, n3, metres)` recomputed from the assignments is the
//!    one `summary.json` states.
//! 3. **Certificate.** The penalties are `3B, 2B, B` with `B ≥ (D + 1)(c_max + 1)`, `D` the
//!    doctors with capacity and `c_max` an upper bound on every eligible pair's cost. The bound
//!    used is `⌈largest patient limit⌉` (a pair's distance never exceeds its patient's limit);
//!    when the certificate's `B` is below what that gives, `c_max` is recomputed exactly by a
//!    second pass over the pairs. With such a `B`, the weighted optimum is the lexicographic
//!    one (the argument is in the documentation of [`super::flow`]).
//! 4. **Optimality.** With `p(q) = p(d) − cost(q, d)` for a patient matched to `d` and
//!    `p(q) = −penalty(tier)` for an unmatched one: every eligible pair has
//!    `cost + p(q) − p(d) ≥ 0`, every matched patient `penalty + p(q) ≥ 0`, every doctor with a
//!    spare place `p(d) ≥ 0` and every doctor with patients `p(d) ≤ 0`. These are the
//!    reduced costs of every arc of the residual network of the transportation problem
//!    (pair arcs, "leave unmatched" arcs and capacity arcs), so the assignment minimises
//!    Σ costs + Σ penalties over all feasible assignments, hence it is the lexicographic optimum
//!    at all four levels.
//! 5. **Reasons.** `no_doctor_in_range` exactly for the unmatched patients without an eligible
//!    pair (the detail column is not checked).
//!
//! # Pruning without trusting it
//!
//! The pairs of patient `q` come from a grid query of radius `q`'s limit (a superset of its
//! eligible pairs). A pair needs no exact distance when the chord between the two points
//! already proves its reduced cost non-negative: the great-circle distance is at least
//! `R · chord`, so `cost ≥ R · chord − 1.5` (a metre for floating-point error, half a metre for
//! rounding). Every other pair is decided with [`Instance::eligible_cost`].
//!
//! # Complexity
//! O(P + lines) with hash maps of the ids for feasibility and the objective; O(grid candidates)
//! for optimality, split between the available cores, with a haversine only for pairs whose
//! reduced cost is below a metre and for the pairs of unmatched patients. Memory: O(P + D).
//!
//! # Layout
//! - [`claims`]: what the output folder states (summary.json, certificate.json) and the checks
//!   of those statements against the instance and the recount (checks 2, and `batch`);
//! - [`feasibility`]: the rows themselves: ids, one listing per patient, eligibility, stated
//!   distances, tiers, capacities; it recounts the objective (check 1);
//! - [`certificate`]: the certificate's shape: penalties, the bound `B`, one potential per doctor
//!   with capacity (check 3);
//! - [`optimality`]: every reduced cost from the certificate, and the reasons (checks 4 and 5).

pub mod certificate;
pub mod claims;
#[cfg(test)]
mod example;
pub mod feasibility;
pub mod optimality;

pub use claims::{CertificateClaim, ObjectiveClaim, ReasonCounts, SummaryClaim, TierCounts};

use super::instance::Instance;
use crate::domain::{AssignmentRow, Rpps, UnmatchedRow};
use crate::geo::PointIndex;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

/// Problems listed per check; the others are only counted.
pub const MAX_LISTED: usize = 20;

/// A row read from a file, with the physical line it was on (the header is line 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lined<T> {
    pub line: u64,
    pub row: T,
}

/// The four files of a batch's output folder, read (`import::read_batch_result`).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchResult {
    pub assignments: Vec<Lined<AssignmentRow>>,
    pub unmatched: Vec<Lined<UnmatchedRow>>,
    pub summary: SummaryClaim,
    pub certificate: CertificateClaim,
}

/// What the caller knows about the batch beyond the instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// SHA-256 of patients.csv then doctors.csv, as `cpts match` writes it; `None`: not checked.
    pub instance_sha256: Option<String>,
    /// Doctors retired for a what-if batch (their capacity already set to 0 in the instance).
    pub without: Vec<Rpps>,
}

/// The checks, in the order they run and print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// The result belongs to this instance and these parameters.
    Batch,
    Feasibility,
    Objective,
    Certificate,
    Optimality,
    Reasons,
}

impl Check {
    pub const ALL: [Check; 6] = [
        Check::Batch,
        Check::Feasibility,
        Check::Objective,
        Check::Certificate,
        Check::Optimality,
        Check::Reasons,
    ];

    /// Lowercase name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Check::Batch => "batch",
            Check::Feasibility => "feasibility",
            Check::Objective => "objective",
            Check::Certificate => "certificate",
            Check::Optimality => "optimality",
            Check::Reasons => "reasons",
        }
    }
}

/// Outcome of one check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// False when the check could not run (an earlier one failed).
    pub ran: bool,
    /// Problems found in all.
    pub problems: u64,
    /// The first [`MAX_LISTED`] problems, in file or patient order.
    pub listed: Vec<String>,
}

impl Outcome {
    /// An outcome of a check that ran, with no problem yet.
    fn running() -> Self {
        Self {
            ran: true,
            ..Self::default()
        }
    }

    fn push(&mut self, message: String) {
        self.problems += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(message);
        }
    }

    /// Appends `other`'s problems after `self`'s: merging the parts of a split check in order
    /// lists the same first [`MAX_LISTED`] problems as one pass would.
    fn merge(&mut self, other: Outcome) {
        self.problems += other.problems;
        let room = MAX_LISTED.saturating_sub(self.listed.len());
        self.listed.extend(other.listed.into_iter().take(room));
    }
}

/// Numbers worth printing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub patients: u64,
    pub assignments: u64,
    pub unmatched: u64,
    /// `(n1, n2, n3, metres)` recomputed from the assignments.
    pub objective: [u64; 4],
    pub doctors_with_capacity: u64,
    /// The bound on every pair's cost that was used, and whether it is the exact maximum.
    pub c_max: u64,
    pub c_max_exact: bool,
    /// `(D + 1)(c_max + 1)`, which the certificate's `B` must reach.
    pub needed_bound: i128,
    pub bound: i64,
    /// Pairs of the grid query examined, and those decided with the exact distance.
    pub pairs_examined: u64,
    pub pairs_exact: u64,
    pub feasibility_time: Duration,
    pub optimality_time: Duration,
}

/// The result of [`verify`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub outcomes: BTreeMap<Check, Outcome>,
    pub stats: Stats,
}

impl Report {
    /// True when every check ran and found nothing.
    pub fn accepted(&self) -> bool {
        Check::ALL.iter().all(|c| {
            self.outcomes
                .get(c)
                .is_some_and(|o| o.ran && o.problems == 0)
        })
    }

    /// The checks that found problems.
    pub fn failed(&self) -> Vec<Check> {
        Check::ALL
            .into_iter()
            .filter(|c| self.outcomes.get(c).is_some_and(|o| o.problems > 0))
            .collect()
    }

    fn outcome(&mut self, c: Check) -> &mut Outcome {
        let o = self.outcomes.entry(c).or_default();
        o.ran = true;
        o
    }
}

/// Where a patient was listed: the file and its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listed {
    Nowhere,
    Assigned(u64),
    /// `no_doctor_in_range` (true) or any other reason.
    Unmatched(u64, bool),
}

impl fmt::Display for Listed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listed::Nowhere => f.write_str("nowhere"),
            Listed::Assigned(l) => write!(f, "assignments.csv:{l}"),
            Listed::Unmatched(l, _) => write!(f, "unmatched.csv:{l}"),
        }
    }
}

/// Doctors with capacity (the sinks of the transportation problem), indexed in space; shared by
/// the certificate and optimality checks.
struct Sinks {
    /// Doctor index of each sink.
    doctor: Vec<u32>,
    /// Sink of each doctor (`u32::MAX`: no capacity).
    sink_of: Vec<u32>,
    index: PointIndex,
}

impl Sinks {
    fn new(inst: &Instance) -> Self {
        let doctor: Vec<u32> = (0..inst.doctors.len() as u32)
            .filter(|&d| inst.doctors[d as usize].capacity > 0)
            .collect();
        let mut sink_of = vec![u32::MAX; inst.doctors.len()];
        for (s, &d) in doctor.iter().enumerate() {
            sink_of[d as usize] = s as u32;
        }
        let coords: Vec<_> = doctor
            .iter()
            .map(|&d| inst.doctors[d as usize].coords)
            .collect();
        let cell = (inst.default_max_km.metres() / 4.0).clamp(500.0, 20_000.0);
        Self {
            index: PointIndex::new(&coords, cell),
            doctor,
            sink_of,
        }
    }

    /// Calls `f(sink, chord2)` for a superset of the eligible pairs of patient `q`.
    fn for_each_near(&self, inst: &Instance, q: usize, f: impl FnMut(u32, f64)) {
        let p = &inst.patients[q];
        let limit = p.max_km.unwrap_or(inst.default_max_km).metres();
        self.index.for_each_near(p.coords, limit, f);
    }
}

/// Checks `result` against `inst` (FORMATS.md §2); see the module documentation for what an
/// accepted report proves. Never panics on any result content.
///
/// # Complexity
/// See the module documentation.
pub fn verify(inst: &Instance, result: &BatchResult, expected: &Expected) -> Report {
    let mut report = Report::default();
    claims::check_batch(inst, &result.summary, expected, &mut report);
    let t = Instant::now();
    let recount = feasibility::check(inst, result, &mut report);
    claims::check_objective(inst, &result.summary, &recount, &mut report);
    report.stats.feasibility_time = t.elapsed();
    if !recount.feasible {
        return report;
    }
    let t = Instant::now();
    let sinks = Sinks::new(inst);
    if let Some(cert) = certificate::check(inst, &result.certificate, &sinks, &mut report) {
        optimality::check(inst, &recount, &sinks, &cert, &mut report);
    }
    report.stats.optimality_time = t.elapsed();
    report
}
