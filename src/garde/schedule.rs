//! Fills the shifts of a garde instance with the exact lexicographic optimum of FORMATS.md §3:
//! most filled positions, then least Σ load², then least total distance.
//!
//! # Network
//!
//! One min-cost flow with node supplies ([`crate::solver::mcmf`]):
//!
//! ```text
//! s ─(k-th shift of d: 1, M·(2k−1))─▶ d ─(1, 0)─▶ (d, day) ─(1, metres)─▶ shift j
//! s ─(unfilled: P_j, B)─────────────────────────────────────────────────▶ shift j
//! supplies: b(s) = Σ P_j, b(j) = −P_j        (arcs labelled: capacity, cost)
//! ```
//!
//! * `k = 1..cap_d` with `cap_d = min(max_shifts, days with a candidate shift)`: the `k`-th
//!   shift of a doctor costs `M·(2k − 1)`, and `1 + 3 + … + (2L − 1) = L²`, so a min-cost flow
//!   uses them in order and pays `M·load²` per doctor (convex costs as parallel unit arcs).
//! * The node `(d, day)` (one in-arc of capacity 1) enforces one shift per doctor per calendar
//!   day. It exists only when the doctor has two or more candidate shifts that day (several
//!   cabinets in range); otherwise the doctor's arc goes straight to the shift.
//! * An arc `→ j` exists only when the doctor is available for the whole shift and the cabinet
//!   within the doctor's `max_km` ([`Eligibility`]).
//! * Every shift receives exactly `P_j = min(need, candidates)` units: from doctors (filled) or
//!   through its own "unfilled" arc at cost `B`. Positions beyond the number of candidates can
//!   never be filled and stay out of the network.
//!
//! The cost of a flow is `B·unfilled + M·Σ load² + metres`.
//!
//! # Why the weights give the lexicographic optimum
//!
//! Let `D` bound the metres of any feasible roster: `D = min(Σ_d cap_d · far_d, Σ_j P_j ·
//! far_j)`, with `far` the largest candidate distance of a doctor or a shift. Let
//! `K = max cap_d`. Weights: `M = D + 1` and `B = M·(2K − 1) + D + 1`, in `i64` (checked).
//!
//! * **Level 1 (filled).** Take the min-cost flow `g` and any flow `f` with more filled
//!   positions. `f − g` splits into simple cycles of the residual network of `g`, each feasible
//!   on its own; one of them, `C`, fills one more position. A simple cycle passes through `s`
//!   once: it enters `s` by undoing one "unfilled" unit (`−B`) and leaves by one load arc of
//!   some doctor (`+M·(2k+1) ≤ M·(2K − 1)`); its metres change by at most `D`. So
//!   `cost(C) ≤ −B + M·(2K − 1) + D < 0`, and `g` was not min-cost: a contradiction. Hence
//!   `g` fills the most positions.
//! * **Levels 2 and 3.** Among flows with as many filled positions, cost differences are
//!   `M·ΔΣ load² + Δmetres` with `|Δmetres| ≤ D < M`: a smaller Σ load² always wins, and at
//!   equal Σ load² fewer metres win.
//!
//! # Which flow algorithm, and why
//!
//! [`Network::solve`], the network simplex: exact integer flows and duals, and a speed that
//! hardly depends on how far apart the weights are. Successive shortest paths
//! ([`Network::solve_ssp`]) solve the same network exactly, but each search settles every node
//! within one `M` of its start before it can prefer a doctor with a lighter load: most of the
//! network, once per filled position. Flow times measured while building this room (release,
//! the first version of the fixtures, a loaded 2-core machine): successive shortest paths
//! 116 ms on `metz-q` and 46 s on `dept-y`; two stages (min-cost max-flow on the load costs by
//! primal-dual, then metres on the arcs its duals leave tight) 157 ms and 8.2 s, because nearly
//! every arc stays tight; cost scaling without heuristics 46 ms, and its prices overflowed
//! `i64` on `dept-y`; the network simplex 15 ms and 0.85 s. On the committed fixtures the whole
//! solve step takes 8.6 ms and 0.31 s (criterion medians, `cargo bench --bench garde`).
//! [`Network::solve_ssp`] stays as a cross-check ([`Algorithm::ShortestPaths`], property tests).
//!
//! # What this room does not do
//!
//! No I/O and no explanations: [`super::report`] says why a position stays empty.

pub use super::roster::{Assignment, Objective, Roster};

use super::instance::{Candidate, Eligibility, Instance};
use crate::geo::{cost_m, haversine_m};
use crate::solver::mcmf::{self, ArcId, Network};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Why a roster cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// Weights or network beyond exact `i64` arithmetic (far beyond any real territory).
    #[error("instance too large for exact integer weights")]
    TooLarge,
    /// A pinned position on a cabinet without a shift that date: the instance skipped
    /// [`Instance::check_pins`] ([`Instance::with_extensions`] runs it).
    #[error("a pinned position has no shift; check the pins first")]
    BadPin,
    /// The flow solver refused the network: a bug, the network is feasible by construction.
    #[error("flow solver failed")]
    Flow(#[from] mcmf::McmfError),
}

/// Size of the network, the weights used, and the work done.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct NetworkStats {
    pub nodes: u64,
    pub arcs: u64,
    /// `(doctor, day)` nodes (days with two or more candidate shifts).
    pub day_nodes: u64,
    /// Σ P_j: positions that have at least one candidate each.
    pub positions_in_network: u64,
    /// `W`, `M` and `B` of the module documentation (`W = 0` without preferences).
    pub weight_preference: i64,
    pub weight_load: i64,
    pub weight_unfilled: i64,
    /// Flow solver work.
    pub work: mcmf::Work,
}

/// Time spent per stage of [`solve`].
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Timings {
    pub eligibility: Duration,
    pub network: Duration,
    pub flow: Duration,
}

/// The optimum and how it was found.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub eligibility: Eligibility,
    pub roster: Roster,
    pub objective: Objective,
    pub stats: NetworkStats,
    pub timings: Timings,
}

/// Which exact flow algorithm [`solve_with`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// [`Network::solve`]: network simplex, the default.
    Simplex,
    /// [`Network::solve_ssp`]: successive shortest paths, a slower cross-check.
    ShortestPaths,
}

/// Solves `inst` exactly (FORMATS.md §3; module documentation for the network and weights).
///
/// # Errors
/// [`ScheduleError::TooLarge`] when the weights would not fit exact `i64` arithmetic;
/// [`ScheduleError::Flow`] only on a bug.
///
/// # Complexity
/// [`Eligibility::new`], then a network of `O(doctors · K + candidate pairs + shifts)` arcs
/// solved by the network simplex ([`Network::solve`]).
pub fn solve(inst: &Instance) -> Result<Schedule, ScheduleError> {
    solve_with(inst, Algorithm::Simplex)
}

/// [`solve`] with a chosen flow algorithm; both give the same objective.
///
/// # Errors
/// As [`solve`].
pub fn solve_with(inst: &Instance, algorithm: Algorithm) -> Result<Schedule, ScheduleError> {
    let t0 = Instant::now();
    let eligibility = Eligibility::new(inst);
    let t1 = Instant::now();
    let built = Built::new(inst, &eligibility)?;
    let t2 = Instant::now();
    let flow = match algorithm {
        Algorithm::Simplex => built.net.solve()?,
        Algorithm::ShortestPaths => built.net.solve_ssp()?,
    };
    let t3 = Instant::now();
    let pinned = inst.extensions.pinned.iter().map(|p| {
        let (d, c) = (p.doctor as usize, p.cabinet as usize);
        Assignment {
            date: p.date,
            cabinet: p.cabinet,
            doctor: p.doctor,
            metres: cost_m(haversine_m(inst.doctors[d].coords, inst.cabinets[c].coords)),
        }
    });
    let assignments = built
        .pairs
        .iter()
        .filter(|p| flow.flow(p.arc) > 0)
        .map(|p| {
            let s = &eligibility.shifts[p.shift as usize];
            Assignment {
                date: s.date,
                cabinet: s.cabinet as u32,
                doctor: p.doctor,
                metres: p.metres,
            }
        })
        .chain(pinned)
        .collect();
    let roster = Roster::new(assignments);
    let objective = roster.objective(inst);
    let stats = NetworkStats {
        nodes: built.net.node_count() as u64,
        arcs: built.net.arc_count() as u64,
        work: flow.work(),
        ..built.stats
    };
    if cfg!(debug_assertions) {
        // cost = B·unfilled + M·(Σ (base + load)² − Σ base²) + W·score + metres, over the
        // free positions; base = prior + pinned, and the pinned rows' own score and metres.
        let ext = &inst.extensions;
        let free = objective.filled - ext.pinned.len() as u64;
        let mut base = vec![0i128; inst.doctors.len()];
        let (mut pin_score, mut pin_metres) = (0i128, 0i128);
        for p in &ext.pinned {
            base[p.doctor as usize] += 1;
            pin_score += i128::from(ext.score(p.doctor, p.date));
            let (d, c) = (
                &inst.doctors[p.doctor as usize],
                &inst.cabinets[p.cabinet as usize],
            );
            pin_metres += i128::from(cost_m(haversine_m(d.coords, c.coords)));
        }
        let base_sq: i128 = base
            .iter()
            .enumerate()
            .map(|(d, &b)| (b + i128::from(ext.prior(d))).pow(2))
            .sum();
        assert_eq!(
            flow.cost(),
            i128::from(stats.weight_unfilled) * i128::from(stats.positions_in_network - free)
                + i128::from(stats.weight_load)
                    * (i128::from(objective.sum_load_squared) - base_sq)
                + i128::from(stats.weight_preference)
                    * (i128::from(objective.preference_score) - pin_score)
                + i128::from(objective.metres)
                - pin_metres
        );
    }
    Ok(Schedule {
        eligibility,
        roster,
        objective,
        stats,
        timings: Timings {
            eligibility: t1 - t0,
            network: t2 - t1,
            flow: t3 - t2,
        },
    })
}

/// An arc that puts a doctor on a shift.
struct Pair {
    arc: ArcId,
    shift: u32,
    doctor: u32,
    metres: u32,
}

struct Built {
    net: Network,
    pairs: Vec<Pair>,
    stats: NetworkStats,
}

impl Built {
    fn new(inst: &Instance, el: &Eligibility) -> Result<Self, ScheduleError> {
        let ext = &inst.extensions;
        // Pins are fixed flow: they leave the network and reduce needs, max_shifts and the
        // doctors' free days; their load joins the prior load.
        let mut pinned_at = vec![0u32; el.shifts.len()];
        let mut pinned_of = vec![0u32; inst.doctors.len()];
        let mut pinned_days: HashSet<(u32, usize)> = HashSet::new();
        for p in &ext.pinned {
            let j = el
                .shifts
                .binary_search_by(|s| (s.date, s.cabinet).cmp(&(p.date, p.cabinet as usize)))
                .map_err(|_| ScheduleError::BadPin)?;
            pinned_at[j] += 1;
            pinned_of[p.doctor as usize] += 1;
            pinned_days.insert((p.doctor, el.shifts[j].day));
        }
        // Per doctor, its free candidate (shift, metres) in shift order,
        // hence grouped by day.
        let mut of_doctor: Vec<Vec<(u32, u32)>> = vec![Vec::new(); inst.doctors.len()];
        let mut free_candidates = vec![0u32; el.shifts.len()];
        for (j, cands) in el.candidates.iter().enumerate() {
            for c in cands {
                if pinned_days.is_empty() || !pinned_days.contains(&(c.doctor, el.shifts[j].day)) {
                    of_doctor[c.doctor as usize].push((j as u32, c.metres));
                    free_candidates[j] += 1;
                }
            }
        }
        let day_of = |j: u32| el.shifts[j as usize].day;
        let date_of = |j: u32| el.shifts[j as usize].date;
        let positions: Vec<u32> = el
            .shifts
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let need = inst.cabinets[s.cabinet].need.saturating_sub(pinned_at[j]);
                need.min(free_candidates[j])
            })
            .collect();
        // Per doctor: its capacity in free shifts, and its days with a `prefer` or an
        // `avoid` among its free candidates.
        let mut caps = Vec::with_capacity(inst.doctors.len());
        let (mut e_prefer, mut e_avoid) = (0i128, 0i128);
        for (d, list) in of_doctor.iter().enumerate() {
            let (mut days, mut prefer, mut avoid) = (0u32, 0u32, 0u32);
            let mut last = usize::MAX;
            for &(j, _) in list {
                if day_of(j) != last {
                    days += 1;
                    last = day_of(j);
                    match ext.score(d as u32, date_of(j)) {
                        1 => avoid += 1,
                        -1 => prefer += 1,
                        _ => {}
                    }
                }
            }
            let cap = days.min(inst.doctors[d].max_shifts.saturating_sub(pinned_of[d]));
            e_prefer += i128::from(cap.min(prefer));
            e_avoid += i128::from(cap.min(avoid));
            caps.push(cap);
        }
        let base: Vec<i64> = (0..inst.doctors.len())
            .map(|d| i64::from(ext.prior(d)) + i64::from(pinned_of[d]))
            .collect();

        // Weights (module documentation), in i128 then checked into i64.
        let far = |list: &[(u32, u32)]| list.iter().map(|p| i128::from(p.1)).max().unwrap_or(0);
        let by_doctor: i128 = of_doctor
            .iter()
            .zip(&caps)
            .map(|(l, &k)| i128::from(k) * far(l))
            .sum();
        let by_shift: i128 = (0..el.shifts.len())
            .map(|j| {
                let far = of_doctor_far(&el.candidates[j], &pinned_days, el.shifts[j].day);
                i128::from(positions[j]) * far
            })
            .sum();
        let d_max = by_doctor.min(by_shift);
        let e = e_prefer + e_avoid;
        let w = if e > 0 { d_max + 1 } else { 0 };
        let m = w * e + d_max + 1;
        let k_max = (0..inst.doctors.len())
            .filter(|&d| caps[d] > 0)
            .map(|d| i128::from(base[d]) + i128::from(caps[d]))
            .max()
            .unwrap_or(0);
        let b = m * (2 * k_max - 1).max(1) + w * e + d_max + 1;
        // The flow solver needs (max|cost| + 1)·(nodes + 1) ≤ 2^60, and B is the largest
        // cost: check it against an upper bound on the node count.
        let nodes = 1
            + el.shifts.len() as i128
            + inst.doctors.len() as i128
            + of_doctor.iter().map(|l| l.len() as i128).sum::<i128>();
        if (b + 1) * (nodes + 1) > 1 << 60 {
            return Err(ScheduleError::TooLarge);
        }
        let (w, m, b) = (w as i64, m as i64, b as i64);

        let s = 0usize;
        let mut net = Network::new(1);
        let shift_node: Vec<Option<usize>> = positions
            .iter()
            .map(|&p| (p > 0).then(|| net.add_node()))
            .collect();
        let mut total = 0i64;
        for (j, node) in shift_node.iter().enumerate() {
            if let Some(v) = *node {
                let p = i64::from(positions[j]);
                net.add_arc(s, v, p, b);
                net.set_supply(v, -p);
                total += p;
            }
        }
        net.set_supply(s, total);
        let mut pairs = Vec::new();
        let mut day_nodes = 0u64;
        for (d, list) in of_doctor.iter().enumerate() {
            if caps[d] == 0 {
                continue;
            }
            let dn = net.add_node();
            for k in 1..=i64::from(caps[d]) {
                net.add_arc(s, dn, 1, m * (2 * (base[d] + k) - 1));
            }
            let mut i = 0;
            while i < list.len() {
                let day = day_of(list[i].0);
                let mut e = i + 1;
                while e < list.len() && day_of(list[e].0) == day {
                    e += 1;
                }
                let from = if e - i == 1 {
                    dn
                } else {
                    day_nodes += 1;
                    let v = net.add_node();
                    net.add_arc(dn, v, 1, 0);
                    v
                };
                let wish = w * ext.score(d as u32, date_of(list[i].0));
                for &(j, metres) in &list[i..e] {
                    let to = shift_node[j as usize].expect("a shift with a candidate has a node");
                    let arc = net.add_arc(from, to, 1, wish + i64::from(metres));
                    pairs.push(Pair {
                        arc,
                        shift: j,
                        doctor: d as u32,
                        metres,
                    });
                }
                i = e;
            }
        }
        let stats = NetworkStats {
            day_nodes,
            positions_in_network: total as u64,
            weight_preference: w,
            weight_load: m,
            weight_unfilled: b,
            ..NetworkStats::default()
        };
        Ok(Self { net, pairs, stats })
    }
}

/// The largest distance among the candidates of a shift who are not pinned that day.
fn of_doctor_far(cands: &[Candidate], pinned_days: &HashSet<(u32, usize)>, day: usize) -> i128 {
    cands
        .iter()
        .filter(|c| pinned_days.is_empty() || !pinned_days.contains(&(c.doctor, day)))
        .map(|c| i128::from(c.metres))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MaxKm, Rpps};
    use crate::garde::instance::{Cabinet, GardeDoctor, Period, Window};
    use crate::geo::Coordinates;
    use chrono::{DateTime, Utc};

    fn cabinet(id: &str, lat: f64, need: u32) -> Cabinet {
        Cabinet {
            id: id.parse().unwrap(),
            name: String::new(),
            coords: Coordinates::new(lat, 6.18).unwrap(),
            insee: "54395".parse().unwrap(),
            need,
            slot_minutes: 15,
        }
    }

    fn doctor(i: u32, lat: f64, max_shifts: u32, max_km: f64) -> GardeDoctor {
        GardeDoctor {
            rpps: Rpps::with_check_digit(&format!("10000000{i:02}")).unwrap(),
            name: String::new(),
            coords: Coordinates::new(lat, 6.18).unwrap(),
            insee: "54395".parse().unwrap(),
            max_shifts,
            max_km: MaxKm::new(max_km).unwrap(),
        }
    }

    fn window(s: &str, e: &str) -> Window {
        let t = |x: &str| DateTime::parse_from_rfc3339(x).unwrap().with_timezone(&Utc);
        Window {
            start: t(s),
            end: t(e),
        }
    }

    fn week() -> Period {
        // Monday 2 to Saturday 7 March 2026: 5 evening shifts and one Saturday morning.
        Period::new("2026-03-02".parse().unwrap(), "2026-03-07".parse().unwrap()).unwrap()
    }

    #[test]
    fn load_is_spread_before_distance_is_saved() {
        // One cabinet needing 1, two evenings (Mon, Tue). Doctor A is 1 km away, B 5 km: both
        // available both evenings. Σ load² favours 1 + 1 over 2 + 0 even though A is nearer.
        let inst = Instance {
            cabinets: vec![cabinet("C", 48.70, 1)],
            doctors: vec![doctor(1, 48.709, 5, 10.0), doctor(2, 48.745, 5, 10.0)],
            windows: vec![
                vec![window(
                    "2026-03-02T00:00:00+01:00",
                    "2026-03-04T00:00:00+01:00",
                )],
                vec![window(
                    "2026-03-02T00:00:00+01:00",
                    "2026-03-04T00:00:00+01:00",
                )],
            ],
            period: Period::new("2026-03-02".parse().unwrap(), "2026-03-03".parse().unwrap())
                .unwrap(),
            extensions: Default::default(),
        };
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective.filled, 2);
        assert_eq!(s.objective.sum_load_squared, 2);
        s.roster.check(&inst).unwrap();
    }

    #[test]
    fn filling_beats_fairness() {
        // One cabinet needing 1 on Monday and Tuesday evenings; only doctor A can come (B is
        // 111 km away). Two filled positions with load 2 (Σ load² = 4) beat one with load 1.
        let inst = Instance {
            cabinets: vec![cabinet("C", 48.70, 1)],
            doctors: vec![doctor(1, 48.70, 3, 10.0), doctor(2, 49.70, 3, 10.0)],
            windows: vec![
                vec![window("2026-03-02T17:00:00Z", "2026-03-03T19:00:00Z")],
                vec![window("2026-03-02T17:00:00Z", "2026-03-03T19:00:00Z")],
            ],
            period: Period::new("2026-03-02".parse().unwrap(), "2026-03-03".parse().unwrap())
                .unwrap(),
            extensions: Default::default(),
        };
        let s = solve(&inst).unwrap();
        assert_eq!(
            s.objective,
            Objective {
                filled: 2,
                sum_load_squared: 4,
                preference_score: 0,
                metres: 0
            }
        );
    }

    #[test]
    fn distance_decides_only_between_equally_fair_rosters() {
        // Two evenings, need 1; A is 1 km away, B 5 km, both free both evenings and allowed
        // 2 shifts: each gets one (Σ load² 2). Then a third doctor C at 0 km with a single
        // evening (Monday) takes Monday and A keeps Tuesday: metres 0 + 1,001 (haversine of
        // 0.009° of latitude, rounded).
        let mut doctors = vec![doctor(1, 48.709, 2, 10.0), doctor(2, 48.745, 2, 10.0)];
        doctors.push(doctor(3, 48.70, 1, 10.0));
        let both = vec![window(
            "2026-03-02T00:00:00+01:00",
            "2026-03-04T00:00:00+01:00",
        )];
        let inst = Instance {
            cabinets: vec![cabinet("C", 48.70, 1)],
            doctors,
            windows: vec![
                both.clone(),
                both,
                vec![window("2026-03-02T17:00:00Z", "2026-03-02T19:00:00Z")],
            ],
            period: Period::new("2026-03-02".parse().unwrap(), "2026-03-03".parse().unwrap())
                .unwrap(),
            extensions: Default::default(),
        };
        let s = solve(&inst).unwrap();
        assert_eq!(
            s.objective,
            Objective {
                filled: 2,
                sum_load_squared: 2,
                preference_score: 0,
                metres: 1001
            }
        );
        s.roster.check(&inst).unwrap();
    }

    #[test]
    fn one_shift_per_day_across_cabinets() {
        // Two cabinets on the same Monday evening, one doctor in range of both: only one.
        let inst = Instance {
            cabinets: vec![cabinet("A", 48.70, 1), cabinet("B", 48.71, 1)],
            doctors: vec![doctor(1, 48.705, 5, 10.0)],
            windows: vec![vec![window("2026-03-02T17:00:00Z", "2026-03-02T19:00:00Z")]],
            period: week(),
            extensions: Default::default(),
        };
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective.filled, 1);
        assert_eq!(s.stats.day_nodes, 1);
        s.roster.check(&inst).unwrap();
    }
}
