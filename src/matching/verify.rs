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

use super::instance::Instance;
use crate::domain::{PatientId, Rpps, Tier};
use crate::geo::{EARTH_RADIUS_M, PointIndex, cost_m, haversine_m};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

/// Problems listed per check; the others are only counted.
pub const MAX_LISTED: usize = 20;

/// One line of `assignments.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentRow {
    /// Physical line in the file (the header is line 1).
    pub line: u64,
    pub patient: PatientId,
    pub rpps: Rpps,
    pub distance_m: u64,
}

/// One line of `unmatched.csv` (the `detail` column is not read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnmatchedRow {
    pub line: u64,
    pub patient: PatientId,
    pub tier: Tier,
    pub reason: String,
}

/// `objective` of summary.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ObjectiveClaim {
    pub matched_tier_1: u64,
    pub matched_tier_2: u64,
    pub matched_tier_3: u64,
    pub total_m: u64,
}

/// `patients` of summary.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct TierCounts {
    pub tier_1: u64,
    pub tier_2: u64,
    pub tier_3: u64,
}

/// `unmatched` of summary.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ReasonCounts {
    pub no_doctor_in_range: u64,
    pub capacity_exhausted: u64,
}

/// The fields of summary.json that `verify` checks.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct SummaryClaim {
    pub objective: ObjectiveClaim,
    pub patients: Option<TierCounts>,
    pub unmatched: Option<ReasonCounts>,
    pub default_max_km: Option<f64>,
    pub instance_sha256: Option<String>,
    /// RPPS of the doctors retired in a what-if batch (`cpts match --without`).
    #[serde(default)]
    pub without: Vec<String>,
}

/// certificate.json.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct CertificateClaim {
    pub penalty_tier_1: i64,
    pub penalty_tier_2: i64,
    pub penalty_tier_3: i64,
    pub bound: i64,
    pub doctors_with_capacity: u64,
    pub max_cost_m: u64,
    /// RPPS → potential, for every doctor with capacity.
    pub doctor_potential: BTreeMap<String, i64>,
}

/// The four files of a batch's output folder, read (`import::read_batch_result`).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchResult {
    pub assignments: Vec<AssignmentRow>,
    pub unmatched: Vec<UnmatchedRow>,
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
    fn push(&mut self, message: String) {
        self.problems += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(message);
        }
    }

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
#[derive(Clone, Copy, PartialEq, Eq)]
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

/// Checks `result` against `inst` (FORMATS.md §2); see the module documentation for what an
/// accepted report proves. Never panics on any result content.
///
/// # Complexity
/// See the module documentation.
pub fn verify(inst: &Instance, result: &BatchResult, expected: &Expected) -> Report {
    let mut report = Report::default();
    check_batch(inst, result, expected, &mut report);
    let t = Instant::now();
    let feasible = check_feasibility(inst, result, &mut report);
    report.stats.feasibility_time = t.elapsed();
    let Some((doctor_of, listed)) = feasible else {
        return report;
    };
    let t = Instant::now();
    let sinks = Sinks::new(inst);
    if let Some(cert) = check_certificate(inst, &result.certificate, &sinks, &mut report) {
        check_optimality(inst, &doctor_of, &listed, &sinks, &cert, &mut report);
    }
    report.stats.optimality_time = t.elapsed();
    report
}

fn check_batch(inst: &Instance, result: &BatchResult, expected: &Expected, report: &mut Report) {
    let s = &result.summary;
    let o = report.outcome(Check::Batch);
    if let Some(want) = &expected.instance_sha256 {
        match &s.instance_sha256 {
            Some(got) if got == want => {}
            Some(_) => o.push(
                "summary.json: instance_sha256 is not the checksum of these patients.csv and \
                 doctors.csv: the result was computed for other files"
                    .to_owned(),
            ),
            None => o.push("summary.json: instance_sha256 is missing".to_owned()),
        }
    }
    if let Some(km) = s.default_max_km
        && km != inst.default_max_km.km()
    {
        o.push(format!(
            "summary.json: the batch ran with a default limit of {km} km, this check with {} km \
             (pass --default-max-km {km})",
            inst.default_max_km.km()
        ));
    }
    let mut claimed: Vec<&str> = s.without.iter().map(String::as_str).collect();
    let mut given: Vec<&str> = expected.without.iter().map(Rpps::as_str).collect();
    claimed.sort_unstable();
    claimed.dedup();
    given.sort_unstable();
    given.dedup();
    if claimed != given {
        let list = |v: &[&str]| {
            if v.is_empty() {
                "no doctor".to_owned()
            } else {
                v.join(",")
            }
        };
        o.push(format!(
            "summary.json: the batch ran without {}, this check without {} (pass --without with \
             the batch's list)",
            list(&claimed),
            list(&given)
        ));
    }
}

/// Feasibility, the objective and the tiers. Returns the assignment and where each patient was
/// listed when the result is feasible.
fn check_feasibility(
    inst: &Instance,
    result: &BatchResult,
    report: &mut Report,
) -> Option<(Vec<Option<u32>>, Vec<Listed>)> {
    let n = inst.patients.len();
    let patient_of: HashMap<&str, u32> = inst
        .patients
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i as u32))
        .collect();
    let doctor_of_rpps: HashMap<&str, u32> = inst
        .doctors
        .iter()
        .enumerate()
        .map(|(i, d)| (d.rpps.as_str(), i as u32))
        .collect();
    let mut o = Outcome {
        ran: true,
        ..Outcome::default()
    };
    let mut listed = vec![Listed::Nowhere; n];
    let mut doctor_of: Vec<Option<u32>> = vec![None; n];
    let mut load = vec![0u64; inst.doctors.len()];
    // (n1, n2, n3, metres) of the rows as written, first listing of each patient.
    let mut obj = [0u64; 4];
    for row in &result.assignments {
        let Some(&q) = patient_of.get(row.patient.as_str()) else {
            o.push(format!(
                "assignments.csv:{}: patient {} is not in patients.csv",
                row.line, row.patient
            ));
            continue;
        };
        let q = q as usize;
        if listed[q] != Listed::Nowhere {
            o.push(format!(
                "assignments.csv:{}: patient {} is already listed on {}",
                row.line, row.patient, listed[q]
            ));
            continue;
        }
        listed[q] = Listed::Assigned(row.line);
        let Some(&d) = doctor_of_rpps.get(row.rpps.as_str()) else {
            o.push(format!(
                "assignments.csv:{}: doctor {} is not in doctors.csv",
                row.line, row.rpps
            ));
            continue;
        };
        let (p, doc) = (&inst.patients[q], &inst.doctors[d as usize]);
        let dist = haversine_m(p.coords, doc.coords);
        let cost = u64::from(cost_m(dist));
        obj[p.tier().index()] += 1;
        obj[3] += cost;
        load[d as usize] += 1;
        doctor_of[q] = Some(d);
        if inst.eligible_cost(q, d as usize).is_none() {
            let why = if doc.capacity == 0 {
                "the doctor has no capacity".to_owned()
            } else {
                format!("{cost} m for a limit of {} m", inst.limit_m(p, doc))
            };
            o.push(format!(
                "assignments.csv:{}: patient {} and doctor {} are not an eligible pair ({why})",
                row.line, row.patient, row.rpps
            ));
        } else if row.distance_m != cost {
            o.push(format!(
                "assignments.csv:{}: distance_m is {} but patient {} is {cost} m from doctor {}",
                row.line, row.distance_m, row.patient, row.rpps
            ));
        }
    }
    let mut reasons = [0u64; 2];
    for row in &result.unmatched {
        let Some(&q) = patient_of.get(row.patient.as_str()) else {
            o.push(format!(
                "unmatched.csv:{}: patient {} is not in patients.csv",
                row.line, row.patient
            ));
            continue;
        };
        let q = q as usize;
        if listed[q] != Listed::Nowhere {
            o.push(format!(
                "unmatched.csv:{}: patient {} is already listed on {}",
                row.line, row.patient, listed[q]
            ));
            continue;
        }
        let range = row.reason == "no_doctor_in_range";
        listed[q] = Listed::Unmatched(row.line, range);
        let tier = inst.patients[q].tier();
        if row.tier != tier {
            o.push(format!(
                "unmatched.csv:{}: patient {} is given tier {}, but is tier {} by patients.csv",
                row.line,
                row.patient,
                row.tier.number(),
                tier.number()
            ));
        }
        match row.reason.as_str() {
            "no_doctor_in_range" => reasons[0] += 1,
            "capacity_exhausted" => reasons[1] += 1,
            other => o.push(format!(
                "unmatched.csv:{}: unknown reason `{other}`",
                row.line
            )),
        }
    }
    for (q, l) in listed.iter().enumerate() {
        if *l == Listed::Nowhere {
            o.push(format!(
                "patient {} is in neither assignments.csv nor unmatched.csv",
                inst.patients[q].id
            ));
        }
    }
    for (d, &l) in load.iter().enumerate() {
        let doc = &inst.doctors[d];
        if l > u64::from(doc.capacity) {
            o.push(format!(
                "doctor {} has {l} patients for a capacity of {}",
                doc.rpps, doc.capacity
            ));
        }
    }
    let feasible = o.problems == 0;
    report.outcomes.insert(Check::Feasibility, o);
    report.stats.patients = n as u64;
    report.stats.assignments = result.assignments.len() as u64;
    report.stats.unmatched = result.unmatched.len() as u64;
    report.stats.objective = obj;

    let s = &result.summary;
    let o = report.outcome(Check::Objective);
    let stated = [
        s.objective.matched_tier_1,
        s.objective.matched_tier_2,
        s.objective.matched_tier_3,
        s.objective.total_m,
    ];
    let names = [
        "matched_tier_1",
        "matched_tier_2",
        "matched_tier_3",
        "total_m",
    ];
    for k in 0..4 {
        if stated[k] != obj[k] {
            o.push(format!(
                "summary.json: objective.{} is {}; the assignments give {}",
                names[k], stated[k], obj[k]
            ));
        }
    }
    if let Some(t) = s.patients {
        let sizes = super::Matching::tier_sizes(inst);
        for (k, got) in [t.tier_1, t.tier_2, t.tier_3].into_iter().enumerate() {
            if got != sizes[k] {
                o.push(format!(
                    "summary.json: patients.tier_{} is {got}; patients.csv has {}",
                    k + 1,
                    sizes[k]
                ));
            }
        }
    }
    if let Some(u) = s.unmatched {
        for (name, got, want) in [
            ("no_doctor_in_range", u.no_doctor_in_range, reasons[0]),
            ("capacity_exhausted", u.capacity_exhausted, reasons[1]),
        ] {
            if got != want {
                o.push(format!(
                    "summary.json: unmatched.{name} is {got}; unmatched.csv has {want}"
                ));
            }
        }
    }
    feasible.then_some((doctor_of, listed))
}

/// Doctors with capacity (the sinks of the transportation problem), indexed in space.
struct Sinks {
    doctor: Vec<u32>,
    index: PointIndex,
}

impl Sinks {
    fn new(inst: &Instance) -> Self {
        let doctor: Vec<u32> = (0..inst.doctors.len() as u32)
            .filter(|&d| inst.doctors[d as usize].capacity > 0)
            .collect();
        let coords: Vec<_> = doctor
            .iter()
            .map(|&d| inst.doctors[d as usize].coords)
            .collect();
        let cell = (inst.default_max_km.metres() / 4.0).clamp(500.0, 20_000.0);
        Self {
            index: PointIndex::new(&coords, cell),
            doctor,
        }
    }

    /// Calls `f(sink, chord2)` for a superset of the eligible pairs of patient `q`.
    fn for_each_near(&self, inst: &Instance, q: usize, f: impl FnMut(u32, f64)) {
        let p = &inst.patients[q];
        let limit = p.max_km.unwrap_or(inst.default_max_km).metres();
        self.index.for_each_near(p.coords, limit, f);
    }
}

/// The certificate, checked and indexed by sink.
struct Cert {
    penalty: [i128; 3],
    /// Potential per sink.
    potential: Vec<i128>,
}

fn check_certificate(
    inst: &Instance,
    c: &CertificateClaim,
    sinks: &Sinks,
    report: &mut Report,
) -> Option<Cert> {
    let mut o = Outcome {
        ran: true,
        ..Outcome::default()
    };
    let d = sinks.doctor.len() as i128;
    let b = i128::from(c.bound);
    report.stats.bound = c.bound;
    report.stats.doctors_with_capacity = d as u64;
    if b <= 0 {
        o.push(format!("bound B is {}; it must be positive", c.bound));
    }
    let penalty = [c.penalty_tier_1, c.penalty_tier_2, c.penalty_tier_3].map(i128::from);
    for (k, &p) in penalty.iter().enumerate() {
        let want = (3 - k as i128) * b;
        if p != want {
            o.push(format!(
                "penalty_tier_{} is {p}; with B = {b} it must be {want} (3B, 2B, B)",
                k + 1
            ));
        }
    }
    if c.doctors_with_capacity != d as u64 {
        o.push(format!(
            "doctors_with_capacity is {}; doctors.csv has {d}",
            c.doctors_with_capacity
        ));
    }
    // A pair's distance is at most its patient's limit, and at most half the Earth's
    // circumference (haversine's asin is capped at π/2); cost_m rounds it, so ⌈·⌉ bounds it.
    let limit = inst
        .max_patient_limit_m()
        .min(std::f64::consts::PI * EARTH_RADIUS_M);
    let mut c_max = limit.ceil() as u64;
    let mut exact = false;
    let needed = |c_max: u64| (d + 1) * (i128::from(c_max) + 1);
    if b < needed(c_max) {
        // The certificate may rest on the true largest cost: compute it.
        c_max = exact_max_cost(inst, sinks);
        exact = true;
    }
    report.stats.c_max = c_max;
    report.stats.c_max_exact = exact;
    report.stats.needed_bound = needed(c_max);
    if b < needed(c_max) {
        o.push(format!(
            "bound B = {b} is below (D + 1)(c_max + 1) = {} (D = {d} doctors with capacity, \
             c_max = {c_max} m, the largest eligible cost): the penalties do not make the \
             weighted optimum the lexicographic one",
            needed(c_max)
        ));
    }
    let mut potential: Vec<Option<i128>> = vec![None; sinks.doctor.len()];
    let mut sink_of = vec![u32::MAX; inst.doctors.len()];
    for (s, &doc) in sinks.doctor.iter().enumerate() {
        sink_of[doc as usize] = s as u32;
    }
    let by_rpps: HashMap<&str, u32> = inst
        .doctors
        .iter()
        .enumerate()
        .map(|(i, doc)| (doc.rpps.as_str(), i as u32))
        .collect();
    for (rpps, &p) in &c.doctor_potential {
        match by_rpps.get(rpps.as_str()) {
            None => o.push(format!(
                "doctor_potential: {rpps} is not a doctor of doctors.csv"
            )),
            Some(&doc) if sink_of[doc as usize] == u32::MAX => o.push(format!(
                "doctor_potential: doctor {rpps} has no capacity in this batch"
            )),
            Some(&doc) => potential[sink_of[doc as usize] as usize] = Some(i128::from(p)),
        }
    }
    for (s, p) in potential.iter().enumerate() {
        if p.is_none() {
            o.push(format!(
                "doctor_potential: doctor {} has capacity but no potential",
                inst.doctors[sinks.doctor[s] as usize].rpps
            ));
        }
    }
    let ok = o.problems == 0;
    report.outcomes.insert(Check::Certificate, o);
    ok.then(|| Cert {
        penalty,
        potential: potential.into_iter().map(|p| p.unwrap_or(0)).collect(),
    })
}

/// The largest cost of an eligible pair, by one pass over every pair.
fn exact_max_cost(inst: &Instance, sinks: &Sinks) -> u64 {
    let mut max = 0u64;
    for q in 0..inst.patients.len() {
        sinks.for_each_near(inst, q, |s, _| {
            if let Some(c) = inst.eligible_cost(q, sinks.doctor[s as usize] as usize) {
                max = max.max(u64::from(c));
            }
        });
    }
    max
}

/// What one thread found over a range of patients.
#[derive(Default)]
struct Part {
    optimality: Outcome,
    reasons: Outcome,
    examined: u64,
    exact: u64,
}

fn check_optimality(
    inst: &Instance,
    doctor_of: &[Option<u32>],
    listed: &[Listed],
    sinks: &Sinks,
    cert: &Cert,
    report: &mut Report,
) {
    let mut opt = Outcome {
        ran: true,
        ..Outcome::default()
    };
    let mut sink_of = vec![u32::MAX; inst.doctors.len()];
    for (s, &doc) in sinks.doctor.iter().enumerate() {
        sink_of[doc as usize] = s as u32;
    }
    let mut load = vec![0u64; sinks.doctor.len()];
    for d in doctor_of.iter().flatten() {
        load[sink_of[*d as usize] as usize] += 1;
    }
    for (s, &doc) in sinks.doctor.iter().enumerate() {
        let (doc, p) = (&inst.doctors[doc as usize], cert.potential[s]);
        if load[s] < u64::from(doc.capacity) && p < 0 {
            opt.push(format!(
                "doctor {} has a free place ({} of {}) but potential {p} < 0: a patient could \
                 move there for less",
                doc.rpps, load[s], doc.capacity
            ));
        }
        if load[s] > 0 && p > 0 {
            opt.push(format!(
                "doctor {} has patients but potential {p} > 0",
                doc.rpps
            ));
        }
    }
    let n = inst.patients.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8);
    let chunk = n.div_ceil(threads).max(1);
    let parts: Vec<Part> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(n);
                let sink_of = &sink_of;
                scope.spawn(move || {
                    stream(inst, doctor_of, listed, sinks, sink_of, cert, start..end)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a verify thread does not panic"))
            .collect()
    });
    let mut reasons = Outcome {
        ran: true,
        ..Outcome::default()
    };
    for part in parts {
        opt.merge(part.optimality);
        reasons.merge(part.reasons);
        report.stats.pairs_examined += part.examined;
        report.stats.pairs_exact += part.exact;
    }
    report.outcomes.insert(Check::Optimality, opt);
    report.outcomes.insert(Check::Reasons, reasons);
}

/// The reduced-cost and reason checks of patients `range`.
fn stream(
    inst: &Instance,
    doctor_of: &[Option<u32>],
    listed: &[Listed],
    sinks: &Sinks,
    sink_of: &[u32],
    cert: &Cert,
    range: std::ops::Range<usize>,
) -> Part {
    let mut part = Part::default();
    for q in range {
        let p = &inst.patients[q];
        let penalty = cert.penalty[p.tier().index()];
        let pq = match doctor_of[q] {
            Some(d) => {
                let s = sink_of[d as usize] as usize;
                let cost = inst.eligible_cost(q, d as usize).map_or(0, i128::from);
                let pq = cert.potential[s] - cost;
                if penalty + pq < 0 {
                    part.optimality.push(format!(
                        "patient {}: leaving them unmatched would lower the weighted cost \
                         (penalty {penalty} + p(q) {pq} < 0)",
                        p.id
                    ));
                }
                pq
            }
            None => -penalty,
        };
        let mut any_eligible: Option<(u32, u32)> = None;
        sinks.for_each_near(inst, q, |s, c2| {
            part.examined += 1;
            let threshold = cert.potential[s as usize] - pq;
            // cost ≥ distance − 0.5 ≥ R·chord − 1.5 (module documentation).
            let lower = EARTH_RADIUS_M * c2.sqrt() * (1.0 - 1e-9) - 1.5;
            // An unmatched patient's reason needs one eligible pair decided exactly first.
            if (doctor_of[q].is_some() || any_eligible.is_some()) && lower >= threshold as f64 {
                return;
            }
            part.exact += 1;
            let d = sinks.doctor[s as usize];
            let Some(cost) = inst.eligible_cost(q, d as usize) else {
                return;
            };
            if any_eligible.is_none() {
                any_eligible = Some((d, cost));
            }
            let reduced = i128::from(cost) - threshold;
            if reduced < 0 {
                let what = match doctor_of[q] {
                    Some(_) => "moving them there",
                    None => "matching them there",
                };
                part.optimality.push(format!(
                    "patient {} and doctor {}: {what} would lower the weighted cost (cost \
                     {cost} + p(q) {pq} − p(d) {} = reduced cost {reduced} < 0)",
                    p.id, inst.doctors[d as usize].rpps, cert.potential[s as usize],
                ));
            }
        });
        if let Listed::Unmatched(line, range) = listed[q] {
            match (range, any_eligible) {
                (true, Some((d, cost))) => part.reasons.push(format!(
                    "unmatched.csv:{line}: patient {} is no_doctor_in_range, but doctor {} is \
                     eligible at {cost} m",
                    p.id, inst.doctors[d as usize].rpps
                )),
                (false, None) => part.reasons.push(format!(
                    "unmatched.csv:{line}: patient {} is capacity_exhausted, but has no eligible \
                     doctor",
                    p.id
                )),
                _ => {}
            }
        }
    }
    part
}
