//! Instance → transportation network → [`Matching`]: the exact lexicographic optimum of
//! FORMATS.md §2, with a certificate.
//!
//! # How the lexicographic order holds
//!
//! Patients are sources with one unit each; doctors with capacity are sinks; a patient left
//! unmatched pays a penalty `W(tier)`: `W3 = B`, `W2 = 2B`, `W1 = 3B` with
//! `B = (D + 1)·(c_max + 1)`, where `D` is the number of doctors with capacity and `c_max` the
//! largest pair cost. Every change between two assignments splits into simple residual cycles;
//! a simple cycle crosses each doctor at most once, so its change in metres is below `B`, and it
//! changes the tier counts by at most `+1` in one tier and `−1` in another. Hence a cycle that
//! improves the lexicographic objective (one more tier-`k` patient, or a tier-`j` for a
//! tier-`k > j`, or the same counts for fewer metres) has a negative weighted cost: the weighted
//! optimum is the lexicographic optimum, in `i64` (B < 2^50 for any instance on Earth).
//!
//! # Candidates and pricing
//!
//! The network never holds every eligible pair. Each patient starts with its `K` nearest eligible
//! doctors, found by a ring walk ([`PointIndex::nearest_k`]) on cells about half the usual K-th
//! distance wide, and costed from the chord already computed ([`cost_within`], the haversine's
//! exact answer). After a solve, every other eligible pair is *priced*
//! with the optimal potentials: a pair with a negative reduced cost joins and the solver resumes
//! from its current flow. When no pair is left, the potentials prove optimality over all pairs
//! ([`Certificate`]). A patient is skipped when the distance to its K-th candidate already rules
//! out any negative reduced cost, so pricing touches few pairs.

use super::instance::{Instance, Matching, Objective};
use crate::geo::{EARTH_RADIUS_M, PointIndex, chord2_bound, cost_m, cost_within, haversine_m};
use crate::solver::transport::{self, Arcs, Transport, UNASSIGNED};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// Candidate doctors per patient before pricing.
pub const CANDIDATES: usize = 12;

/// Why a batch cannot be solved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the network is malformed")]
    Network(#[from] transport::Error),
}

/// Dual potentials proving optimality (FORMATS.md §2, checked by `cpts verify`).
///
/// With `p(q) = p(d) − cost(q, d)` for a patient matched to `d` and `p(q) = −penalty[tier]`
/// for an unmatched one, every eligible pair satisfies `cost + p(q) − p(d) ≥ 0`, every matched
/// patient `penalty + p(q) ≥ 0`, every doctor with spare capacity `p(d) ≥ 0` and every doctor
/// with patients `p(d) ≤ 0`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Certificate {
    /// Penalty of leaving a patient of tier 1, 2, 3 unmatched.
    pub penalty: [i64; 3],
    /// The `B` of the module documentation, and what it was derived from.
    pub bound: i64,
    pub doctors_with_capacity: u64,
    pub max_cost_m: u64,
    /// Potential of each doctor, in instance order (0 for doctors without capacity).
    pub potential: Vec<i64>,
}

/// Time spent per stage of [`solve`].
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Timings {
    pub candidates: Duration,
    pub flow: Duration,
    pub pricing: Duration,
}

/// Work counters of [`solve`].
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Counters {
    /// Arcs in the network at the end.
    pub arcs: u64,
    /// Arcs added by pricing.
    pub priced_in: u64,
    /// Pricing rounds (the last one adds nothing).
    pub pricing_rounds: u32,
    /// Shortest-path searches of the flow solver.
    pub searches: u64,
}

/// The exact lexicographic optimum of FORMATS.md §2, with its proof.
#[derive(Clone, Debug)]
pub struct Solution {
    pub matching: Matching,
    pub objective: Objective,
    pub certificate: Certificate,
    pub timings: Timings,
    pub counters: Counters,
}

/// Solves `inst` exactly (FORMATS.md §2).
///
/// # Errors
/// [`Error::Network`] only if the instance breaks the solver's input rules, which a parsed
/// instance cannot do.
///
/// # Complexity
/// Candidates: O(P · doctors within the limit) chord tests and O(P · K) haversines. Flow: see
/// [`crate::solver::transport`]. Pricing: O(P) plus the pairs near patients whose reduced costs
/// could be negative.
pub fn solve(inst: &Instance) -> Result<Solution, Error> {
    solve_with(inst, &mut |_, _| {})
}

/// [`solve`], reporting progress as `(stage, fraction done)`.
///
/// # Errors
/// As [`solve`].
pub fn solve_with(inst: &Instance, progress: &mut dyn FnMut(&str, f64)) -> Result<Solution, Error> {
    solve_from(inst, None, progress)
}

/// What a previous batch leaves for the next one on a changed instance (patients added or
/// removed, capacities changed, exclusions added): a warm re-batch starts from it.
#[derive(Clone, Debug, Default)]
pub struct Previous {
    /// The `B` of the previous batch's certificate (its penalties are `3B`, `2B`, `B`).
    pub bound: i64,
    /// Per doctor of the new instance, its potential in the previous certificate, if it had
    /// capacity there.
    pub potential: Vec<Option<i64>>,
    /// Per patient of the new instance, the doctor (index in the new instance) that the
    /// previous batch gave it, if any.
    pub doctor_of: Vec<Option<u32>>,
}

impl Previous {
    /// What `sol`, solved on `base`, leaves for a warm batch on `next`, an instance with the
    /// same doctors in the same order (patients are matched by id; a patient new to `next`
    /// starts unassigned).
    pub fn carried_over(base: &Instance, sol: &Solution, next: &Instance) -> Self {
        let doctor_of: std::collections::HashMap<&str, Option<u32>> = base
            .patients
            .iter()
            .zip(&sol.matching.doctor_of)
            .map(|(p, d)| (p.id.as_str(), *d))
            .collect();
        Self {
            bound: sol.certificate.bound,
            potential: base
                .doctors
                .iter()
                .zip(&sol.certificate.potential)
                .map(|(d, p)| (d.capacity > 0).then_some(*p))
                .collect(),
            doctor_of: next
                .patients
                .iter()
                .map(|p| doctor_of.get(p.id.as_str()).copied().flatten())
                .collect(),
        }
    }
}

/// [`solve_with`], started from a previous batch's potentials and assignment
/// ([`Transport::warm`]). The previous prices are mapped to this batch's penalties tier band by
/// tier band (a price `k·B_old − x` becomes `k·B − x`, `0 ≤ x < B_old`), since `B` changes with the
/// number of doctors with capacity. The result is the same exact optimum with a fresh
/// certificate: the start only changes the work.
///
/// # Errors
/// As [`solve`].
///
/// # Panics
/// If `previous` does not hold one entry per doctor and per patient of `inst`.
pub fn solve_warm_with(
    inst: &Instance,
    previous: &Previous,
    progress: &mut dyn FnMut(&str, f64),
) -> Result<Solution, Error> {
    assert_eq!(previous.potential.len(), inst.doctors.len());
    assert_eq!(previous.doctor_of.len(), inst.patients.len());
    solve_from(inst, Some(previous), progress)
}

/// The starting potentials and hints of a warm solve on `net`.
fn warm_start(net: &Network, previous: &Previous) -> (Vec<i64>, Vec<u32>) {
    let doctors = &net.sparse.doctors.doctor_of_sink;
    let old = previous.bound.max(1);
    let potentials = doctors
        .iter()
        .map(|&d| {
            // A price is `W(tier) − x`, `0 ≤ x < B`, for the tier of the doctor's marginal
            // patient (the potentials' differences along a path stay below `B`).
            // Saturating: the certificate is read from a file, and any start is valid.
            let price = previous.potential[d as usize].map_or(0, |p| p.saturating_neg().max(0));
            let band = price.saturating_add(old - 1) / old;
            let rest = price.saturating_sub(band.saturating_mul(old));
            -(band.saturating_mul(net.bound).saturating_add(rest)).max(0)
        })
        .collect();
    let mut sink_of = vec![UNASSIGNED; previous.potential.len()];
    for (s, &d) in doctors.iter().enumerate() {
        sink_of[d as usize] = s as u32;
    }
    let hint = previous
        .doctor_of
        .iter()
        .map(|d| d.map_or(UNASSIGNED, |d| sink_of[d as usize]))
        .collect();
    (potentials, hint)
}

fn solve_from(
    inst: &Instance,
    previous: Option<&Previous>,
    progress: &mut dyn FnMut(&str, f64),
) -> Result<Solution, Error> {
    let t0 = Instant::now();
    let net = Network::build(inst, progress);
    let t1 = Instant::now();
    let mut tr = match previous {
        Some(previous) => {
            let (potentials, hint) = warm_start(&net, previous);
            Transport::warm(
                net.capacity.clone(),
                net.penalties(inst),
                &net.arcs,
                &potentials,
                &hint,
            )?
        }
        None => Transport::new(net.capacity.clone(), net.penalties(inst), &net.arcs)?,
    };
    tracing::debug!(
        ms = crate::telemetry::ms(t1.elapsed()),
        excess = tr.stats().start_excess,
        deficit = tr.stats().start_deficit,
        "flow start"
    );
    let arcs_at_start = tr.arc_count();
    drop(net.arcs);
    progress("flow", 0.0);
    let mut pricing_time = Duration::ZERO;
    let mut last = None;
    if previous.is_some() || inst.patients.len() >= transport::SCALED_START_SOURCES {
        // The starting prices came from a coarser copy or a previous batch and are near the
        // optimal ones: pricing against them now brings in almost every pair the optimum needs,
        // routed once in the first solve rather than in a second one (3,875 of the region's
        // 3,927 priced patients).
        let tp = Instant::now();
        let (new, priced) = net.sparse.price(inst, &tr, None);
        pricing_time += tp.elapsed();
        last = Some(priced);
        tr.add_arcs(&new)?;
    }
    tr.solve();
    let mut flow_time = t1.elapsed();
    tracing::debug!(
        ms = crate::telemetry::ms(flow_time),
        searches = tr.stats().searches,
        "first solve"
    );
    let mut rounds = 0;
    loop {
        rounds += 1;
        let tp = Instant::now();
        let (new, priced) = net.sparse.price(inst, &tr, last.as_ref());
        pricing_time += tp.elapsed();
        last = Some(priced);
        if new.is_empty() {
            break;
        }
        let tf = Instant::now();
        tr.add_arcs(&new)?;
        tr.solve();
        flow_time += tf.elapsed();
        tracing::debug!(
            round = rounds,
            sources = new.len(),
            ms = crate::telemetry::ms(tf.elapsed()),
            "priced in"
        );
    }
    let doctor_of: Vec<Option<u32>> = tr
        .assignment()
        .iter()
        .map(|&s| (s != UNASSIGNED).then(|| net.sparse.doctors.doctor_of_sink[s as usize]))
        .collect();
    let matching = Matching { doctor_of };
    let objective = matching.objective(inst);
    let mut potential = vec![0i64; inst.doctors.len()];
    for (s, &d) in net.sparse.doctors.doctor_of_sink.iter().enumerate() {
        potential[d as usize] = tr.potentials()[s];
    }
    let certificate = Certificate {
        penalty: net.penalty,
        bound: net.bound,
        doctors_with_capacity: net.capacity.len() as u64,
        max_cost_m: net.max_cost,
        potential,
    };
    let st = tr.stats();
    tracing::debug!(
        searches = st.searches,
        settled = st.settled,
        relaxed = st.relaxed,
        phases = st.phases,
        start_excess = st.start_excess,
        start_deficit = st.start_deficit,
        rounds,
        "flow solved"
    );
    let counters = Counters {
        arcs: tr.arc_count() as u64,
        priced_in: (tr.arc_count() - arcs_at_start) as u64,
        pricing_rounds: rounds,
        searches: tr.stats().searches,
    };
    let timings = Timings {
        candidates: t1 - t0,
        flow: flow_time,
        pricing: pricing_time,
    };
    Ok(Solution {
        matching,
        objective,
        certificate,
        timings,
        counters,
    })
}

/// Doctors with capacity (the *sinks*), indexed for "which doctors are eligible for this
/// patient".
pub struct DoctorIndex {
    /// Sink index → doctor index in the instance.
    pub doctor_of_sink: Vec<u32>,
    /// Cells sized by the distance limit, for "every doctor within the limit".
    index: PointIndex,
    /// Finer cells sized by the distance to the K-th nearest doctor, for "the K nearest", when
    /// that is below the limit's.
    nearest: Option<PointIndex>,
    /// Per sink: squared-chord bound of the doctor's own limit (∞ when none).
    doctor_bound2: Vec<f64>,
}

impl DoctorIndex {
    /// Indexes the doctors of `inst` that have capacity.
    pub fn new(inst: &Instance) -> Self {
        let doctor_of_sink: Vec<u32> = (0..inst.doctors.len() as u32)
            .filter(|&d| inst.doctors[d as usize].capacity > 0)
            .collect();
        let coords: Vec<_> = doctor_of_sink
            .iter()
            .map(|&d| inst.doctors[d as usize].coords)
            .collect();
        let coarse = (inst.default_max_km.metres() / 4.0).clamp(500.0, 20_000.0);
        let index = PointIndex::new(&coords, coarse);
        let cell = candidate_cell_m(inst, &index, coarse);
        let nearest = (cell < coarse).then(|| PointIndex::new(&coords, cell));
        let doctor_bound2 = doctor_of_sink
            .iter()
            .map(|&d| {
                inst.doctors[d as usize]
                    .max_km
                    .map_or(f64::INFINITY, |k| chord2_bound(k.metres()))
            })
            .collect();
        Self {
            doctor_of_sink,
            index,
            nearest,
            doctor_bound2,
        }
    }

    /// The exact cost of pair (patient q, sink s) if eligible (FORMATS.md §2).
    pub fn cost(&self, inst: &Instance, q: usize, s: u32) -> Option<i64> {
        let d = self.doctor_of_sink[s as usize] as usize;
        if inst.is_excluded(q, d) {
            return None;
        }
        let (p, doc) = (&inst.patients[q], &inst.doctors[d]);
        let dist = haversine_m(p.coords, doc.coords);
        (dist <= inst.limit_m(p, doc)).then(|| i64::from(cost_m(dist)))
    }

    /// [`DoctorIndex::cost`] given the squared chord `c2` of the pair, which usually spares
    /// the haversine ([`cost_within`]): the same answer.
    fn cost_with_chord(&self, inst: &Instance, q: usize, s: u32, c2: f64) -> Option<i64> {
        let d = self.doctor_of_sink[s as usize] as usize;
        if inst.is_excluded(q, d) {
            return None;
        }
        let (p, doc) = (&inst.patients[q], &inst.doctors[d]);
        cost_within(p.coords, doc.coords, c2, inst.limit_m(p, doc)).map(i64::from)
    }

    /// Calls `f(sink, cost)` for every eligible pair of patient `q`, in index order.
    pub fn for_each_eligible(&self, inst: &Instance, q: usize, mut f: impl FnMut(u32, i64)) {
        let p = &inst.patients[q];
        let limit = p.max_km.unwrap_or(inst.default_max_km).metres();
        self.index.for_each_near(p.coords, limit, |s, c2| {
            if c2 <= self.doctor_bound2[s as usize]
                && let Some(c) = self.cost_with_chord(inst, q, s, c2)
            {
                f(s, c);
            }
        });
    }

    /// The nearest sink to patient `q` whatever the limits, with its distance in metres.
    pub fn nearest(&self, inst: &Instance, q: usize) -> Option<(u32, f64)> {
        let p = &inst.patients[q];
        let mut radius = p.max_km.unwrap_or(inst.default_max_km).metres().max(1000.0);
        while !self.index.is_empty() {
            let mut best: Option<(u32, f64)> = None;
            self.index.for_each_near(p.coords, radius, |s, _| {
                let d = inst.doctors[self.doctor_of_sink[s as usize] as usize].coords;
                let m = haversine_m(p.coords, d);
                if m <= radius && best.is_none_or(|b| (m, s) < (b.1, b.0)) {
                    best = Some((s, m));
                }
            });
            if best.is_some() || radius > 2.1e7 {
                return best;
            }
            radius *= 4.0;
        }
        None
    }

    /// Number of sinks.
    pub fn len(&self) -> usize {
        self.doctor_of_sink.len()
    }

    /// True when no doctor has capacity.
    pub fn is_empty(&self) -> bool {
        self.doctor_of_sink.is_empty()
    }
}

/// Patients sampled to size the index's cells.
const CELL_SAMPLE: usize = 256;

/// The cell size for the candidate search: half the median distance from a patient to its
/// K-th nearest doctor, over an even sample of patients (at most `coarse`, at least 200 m). The
/// ring walk of [`PointIndex::nearest_k`] then stops after two or three rings wherever doctors
/// are as dense as usual, where cells sized by the distance limit would hold most of a town.
fn candidate_cell_m(inst: &Instance, index: &PointIndex, coarse: f64) -> f64 {
    let n = inst.patients.len();
    if n == 0 || index.len() <= CANDIDATES {
        return coarse;
    }
    let stride = n.div_ceil(CELL_SAMPLE);
    let mut near = Vec::new();
    let mut kth: Vec<f64> = (0..n)
        .step_by(stride)
        .map(|q| {
            let p = &inst.patients[q];
            let limit = p.max_km.unwrap_or(inst.default_max_km).metres();
            index.nearest_k(p.coords, limit, CANDIDATES, |_, _| true, &mut near);
            if near.len() < CANDIDATES {
                return limit;
            }
            let by_chord = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0);
            near.select_nth_unstable_by(CANDIDATES - 1, by_chord);
            crate::geo::chord_distance_m(near[CANDIDATES - 1].0)
        })
        .collect();
    kth.sort_unstable_by(f64::total_cmp);
    (kth[kth.len() / 2] / 2.0).clamp(200.0, coarse)
}

/// The index and what candidate generation learnt, for pricing.
struct Sparse {
    doctors: DoctorIndex,
    /// Per patient: a lower bound in metres on the distance to any eligible doctor that is not a
    /// candidate (∞ when every eligible doctor is a candidate).
    beyond_m: Vec<f64>,
}

struct Network {
    sparse: Sparse,
    capacity: Vec<u32>,
    arcs: Vec<Arcs>,
    penalty: [i64; 3],
    bound: i64,
    max_cost: u64,
}

impl Network {
    fn build(inst: &Instance, progress: &mut dyn FnMut(&str, f64)) -> Self {
        let doctors = DoctorIndex::new(inst);
        let capacity = doctors
            .doctor_of_sink
            .iter()
            .map(|&d| inst.doctors[d as usize].capacity)
            .collect();
        let mut sparse = Sparse {
            doctors,
            beyond_m: Vec::new(),
        };
        let n = inst.patients.len();
        let chunks = in_parallel(n, &mut |done| progress("candidates", done), |range| {
            let mut near: Vec<(f64, u32)> = Vec::new();
            range
                .map(|q| sparse.candidates(inst, q, &mut near))
                .collect::<Vec<_>>()
        });
        let mut arcs = Vec::with_capacity(n);
        let mut beyond = Vec::with_capacity(n);
        let mut max_cost = 0u64;
        for (list, b) in chunks.into_iter().flatten() {
            max_cost = list.iter().fold(max_cost, |m, &(_, c)| m.max(c as u64));
            arcs.push(list);
            beyond.push(b);
        }
        sparse.beyond_m = beyond;
        // Pricing may bring in pairs costlier than any candidate: bound c_max by the largest limit.
        let limit_cap = inst
            .max_patient_limit_m()
            .min(std::f64::consts::PI * EARTH_RADIUS_M);
        let max_cost = max_cost.max(limit_cap.ceil() as u64);
        let d = sparse.doctors.len() as i64;
        let bound = (d + 1) * (max_cost as i64 + 1);
        Self {
            sparse,
            capacity,
            arcs,
            penalty: [3 * bound, 2 * bound, bound],
            bound,
            max_cost,
        }
    }

    fn penalties(&self, inst: &Instance) -> Vec<i64> {
        inst.patients
            .iter()
            .map(|p| self.penalty[p.tier().index()])
            .collect()
    }
}

impl Sparse {
    /// The K nearest eligible doctors of patient `q`, and the bound on the others' distance.
    fn candidates(&self, inst: &Instance, q: usize, near: &mut Vec<(f64, u32)>) -> (Arcs, f64) {
        let p = &inst.patients[q];
        let limit = p.max_km.unwrap_or(inst.default_max_km).metres();
        let index = &self.doctors;
        let in_reach = |s: u32, c2: f64| c2 <= index.doctor_bound2[s as usize];
        let grid = index.nearest.as_ref().unwrap_or(&index.index);
        grid.nearest_k(p.coords, limit, CANDIDATES, in_reach, near);
        if near.len() > CANDIDATES {
            // Squared chords are ≥ 0, so their bits order them as the numbers do: an integer
            // comparison, the same order as `(chord, sink)`.
            near.select_nth_unstable_by_key(CANDIDATES - 1, |&(c2, s)| (c2.to_bits(), s));
        }
        let take = near.len().min(CANDIDATES);
        let mut list: Arcs = near[..take]
            .iter()
            .filter_map(|&(c2, s)| index.cost_with_chord(inst, q, s, c2).map(|c| (s, c)))
            .collect();
        if near.len() <= CANDIDATES {
            return (list, f64::INFINITY);
        }
        if list.len() < take {
            // Some of the nearest fail the exact test (within a metre of a limit): take every
            // eligible one instead, so the bound below stays true.
            list.clear();
            index.for_each_eligible(inst, q, |s, c| list.push((s, c)));
            return (list, f64::INFINITY);
        }
        let kth = near[..take].iter().map(|x| x.0).fold(0.0, f64::max);
        // Distance of a chord, less a metre for rounding: no non-candidate is nearer.
        let d = 2.0 * EARTH_RADIUS_M * (kth.sqrt() / 2.0).min(1.0).asin() - 1.0;
        (list, d)
    }

    /// Eligible pairs outside the network with a negative reduced cost, per patient, and the
    /// potentials they were priced at.
    ///
    /// With `last`, the potentials of the previous round (when every eligible pair outside the
    /// network had a reduced cost ≥ 0), a pair's reduced cost has fallen since by at most its
    /// sink's rise in potential less its patient's: a patient whose own rise is at least the
    /// largest rise of any sink is skipped, exactly. After a re-solve that moved few patients
    /// this skips most of them.
    fn price(
        &self,
        inst: &Instance,
        tr: &Transport,
        last: Option<&Priced>,
    ) -> (Vec<(u32, Arcs)>, Priced) {
        let pot = tr.potentials();
        let pmax = pot.iter().copied().max().unwrap_or(0);
        let source: Vec<i64> = (0..inst.patients.len())
            .map(|q| tr.source_potential(q))
            .collect();
        let rise = last.map(|l| {
            let sinks = pot.iter().zip(&l.sink).map(|(p, p0)| p - p0);
            (l, sinks.max().unwrap_or(0))
        });
        let chunks = in_parallel(inst.patients.len(), &mut |_| {}, |range| {
            let mut out = Vec::new();
            for q in range {
                let lb = self.beyond_m[q];
                if lb.is_infinite() {
                    continue;
                }
                let pq = source[q];
                if let Some((l, rise)) = rise
                    && pq - l.source[q] >= rise
                {
                    continue;
                }
                // A new pair (q, s) enters iff cost + p(q) − p(s) < 0, and cost ≥ distance − 0.5.
                let reach = (pmax - pq) as f64 + 0.5;
                if lb >= reach {
                    continue;
                }
                let p = &inst.patients[q];
                let radius = p.max_km.unwrap_or(inst.default_max_km).metres().min(reach);
                let mut found: Arcs = Vec::new();
                self.doctors.index.for_each_near(p.coords, radius, |s, c2| {
                    // The chord is shorter than the arc, so `R·chord − 1.5` is below the cost:
                    // when that already makes the reduced cost ≥ 0, skip the haversine.
                    let floor = EARTH_RADIUS_M * c2.sqrt() - 1.5;
                    if floor + (pq - pot[s as usize]) as f64 >= 0.0 {
                        return;
                    }
                    if tr.arcs(q).any(|(d, _)| d == s) {
                        return;
                    }
                    if let Some(c) = self.doctors.cost_with_chord(inst, q, s, c2)
                        && c + pq - pot[s as usize] < 0
                    {
                        found.push((s, c));
                    }
                });
                if !found.is_empty() {
                    out.push((q as u32, found));
                }
            }
            out
        });
        let priced = Priced {
            sink: pot.to_vec(),
            source,
        };
        (chunks.into_iter().flatten().collect(), priced)
    }
}

/// The potentials of a pricing round ([`Sparse::price`]).
struct Priced {
    sink: Vec<i64>,
    source: Vec<i64>,
}

/// Patients per unit of parallel work.
const CHUNK: usize = 1 << 15;

/// Runs `work` on consecutive ranges of `0..n` ([`CHUNK`] patients each) on rayon's pool, and
/// returns the results in range order, so the output does not depend on the number of threads.
/// `progress` gets the fraction of ranges done, from the calling thread only (it need not be
/// `Send`): the ranges run on a scoped thread that joins the pool, and report through a channel.
fn in_parallel<T: Send>(
    n: usize,
    progress: &mut dyn FnMut(f64),
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let count = n.div_ceil(CHUNK);
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let work = &work;
    std::thread::scope(|scope| {
        let ranges = scope.spawn(move || {
            (0..count)
                .into_par_iter()
                .map_with(done, |done, i| {
                    let out = work(i * CHUNK..((i + 1) * CHUNK).min(n));
                    // The receiver lives until every sender is dropped.
                    let _ = done.send(());
                    out
                })
                .collect::<Vec<T>>()
        });
        // Ends when the last sender is dropped: every range ran, or one panicked.
        for (k, ()) in finished.iter().enumerate() {
            progress((k + 1) as f64 / count as f64);
        }
        ranges
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MatchingDoctor, MaxKm, Patient};
    use crate::geo::Coordinates;

    fn patient(i: usize, lat: f64, lon: f64, ald: bool) -> Patient {
        Patient {
            id: format!("p{i}").parse().unwrap(),
            coords: Coordinates::new(lat, lon).unwrap(),
            insee: "54395".parse().unwrap(),
            age: 40,
            ald,
            css: false,
            max_km: None,
        }
    }

    fn doctor(body: &str, lat: f64, lon: f64, capacity: u32) -> MatchingDoctor {
        MatchingDoctor {
            rpps: crate::domain::Rpps::with_check_digit(body).unwrap(),
            name: String::new(),
            coords: Coordinates::new(lat, lon).unwrap(),
            insee: "54395".parse().unwrap(),
            capacity,
            max_km: None,
        }
    }

    #[test]
    fn a_far_ald_patient_beats_a_near_other_one() {
        // One seat: tier 1 first (FORMATS.md §2), whatever the distance.
        let inst = Instance {
            patients: vec![
                patient(0, 48.69, 6.18, false),
                patient(1, 48.72, 6.18, true),
            ],
            doctors: vec![doctor("1000000001", 48.69, 6.181, 1)],
            default_max_km: MaxKm::new(10.0).unwrap(),
            excluded: Default::default(),
        };
        let s = solve(&inst).unwrap();
        assert_eq!(s.matching.doctor_of, vec![None, Some(0)]);
        assert_eq!(s.objective.matched, [1, 0, 0]);
    }

    #[test]
    fn pricing_brings_in_far_doctors_when_near_ones_are_full() {
        // CANDIDATES + 4 patients at one point, as many doctors of capacity 1 at growing
        // distances: only CANDIDATES of them are candidates, pricing must bring in the others so
        // that every patient is matched.
        let n = CANDIDATES + 4;
        let patients = (0..n).map(|i| patient(i, 48.69, 6.18, false)).collect();
        let doctors = (0..n)
            .map(|i| {
                doctor(
                    &format!("10000000{i:02}"),
                    48.69 + 0.001 * i as f64,
                    6.18,
                    1,
                )
            })
            .collect();
        let inst = Instance {
            patients,
            doctors,
            default_max_km: MaxKm::new(10.0).unwrap(),
            excluded: Default::default(),
        };
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective.matched, [0, 0, n as u64]);
        assert!(s.counters.priced_in >= 4);
        s.matching.check(&inst).unwrap();
    }
}
