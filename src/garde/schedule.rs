//! Fills the shifts of a garde instance with the exact lexicographic optimum of FORMATS.md §3:
//! most filled positions, then least Σ (prior + load)², then least preference score, then
//! least total distance. Without optional data (no history, preferences or pins) the network,
//! its weights and hence its flow are exactly those of the three-level model.
//!
//! # Network
//!
//! One min-cost flow with node supplies ([`crate::solver::mcmf`]):
//!
//! ```text
//! s ─(k-th free shift of d: 1, M·(2(base_d + k)−1))─▶ d ─(1, 0)─▶ (d, day) ─(1, W·p + metres)─▶ j
//! s ─(unfilled: P_j, B)──────────────────────────────────────────────────────────────────────▶ j
//! supplies: b(s) = Σ P_j, b(j) = −P_j        (arcs labelled: capacity, cost)
//! ```
//!
//! * **Pins are fixed flow.** A pinned position is taken out of the network: its shift needs
//!   `need − pinned` more, its doctor may take `max_shifts − pinned` more, and none on a day
//!   he is pinned. The roster is the pinned rows plus the flow's rows, and the objective is
//!   computed on all of them.
//! * `base_d = prior_d + pinned_d`, and `k = 1..cap_d` with `cap_d = min(max_shifts − pinned_d,
//!   free days with a candidate shift)`: the `k`-th free shift of a doctor costs
//!   `M·(2(base_d + k) − 1)`, and `Σ_{k=1..L} (2(base + k) − 1) = (base + L)² − base²`, so a
//!   min-cost flow uses them in order (they increase) and pays `M·((base_d + L)² − base_d²)`
//!   per doctor: `M·Σ (prior + load)²` up to a constant, load counting pinned and free shifts.
//! * The node `(d, day)` (one in-arc of capacity 1) enforces one shift per doctor per calendar
//!   day. It exists only when the doctor has two or more candidate shifts that day (several
//!   cabinets in range); otherwise the doctor's arc goes straight to the shift.
//! * An arc `→ j` exists only when the doctor is available for the whole shift and the cabinet
//!   within the doctor's `max_km` ([`Eligibility`]), and the doctor is not pinned that day. It
//!   costs `W·p + metres`, `p = +1` (avoid), `−1` (prefer) or `0`: the preference score of the
//!   position (level 3).
//! * Every shift receives exactly `P_j = min(need − pinned_j, free candidates)` units: from
//!   doctors (filled) or through its own "unfilled" arc at cost `B`. Positions beyond the
//!   number of candidates can never be filled and stay out of the network.
//!
//! The cost of a flow is `B·unfilled + M·(Σ (base + load)² − Σ base²) + W·score + metres`,
//! over the free positions; the pinned rows add constants to levels 2 to 4.
//!
//! # Why the weights give the lexicographic optimum
//!
//! Let `D` bound the metres of any feasible set of free positions: `D = min(Σ_d cap_d · far_d,
//! Σ_j P_j · far_j)`, with `far` the largest free candidate distance of a doctor or a shift.
//! Let `E⁻` (`E⁺`) bound the free positions scored `prefer` (`avoid`): `Σ_d min(cap_d, days
//! on which d prefers (avoids) and has a free candidate)`, and `E = E⁻ + E⁺`: the score of any
//! feasible flow lies in `[−E⁻, E⁺]`, so two flows differ by at most `E` in score and `D` in
//! metres. Let `K = max (base_d + cap_d)`. Weights:
//!
//! ```text
//! W = D + 1 (0 when E = 0)      M = W·E + D + 1      B = M·(2K − 1) + W·E + D + 1
//! ```
//!
//! With `E = 0` (no preferences) this is `M = D + 1`, `B = M·(2K − 1) + D + 1`: the weights
//! of the three-level model.
//!
//! * **Level 4 under level 3.** Two flows with the same filled count and Σ (prior + load)²
//!   differ in cost by `W·Δscore + Δmetres` with `|Δmetres| ≤ D < W`: a smaller score (an
//!   integer, so smaller by at least 1) always wins, and at equal score fewer metres win.
//! * **Levels 3 and 4 under level 2.** With the same filled count the cost differs by
//!   `M·ΔΣ (prior + load)² + W·Δscore + Δmetres`, and `|W·Δscore + Δmetres| ≤ W·E + D < M`.
//! * **Level 1 (filled).** Take the min-cost flow `g` and any flow `f` with more filled
//!   positions. `f − g` splits into simple cycles of the residual network of `g`, each feasible
//!   on its own; one of them, `C`, fills one more position. A simple cycle passes through `s`
//!   once: it enters `s` by undoing one "unfilled" unit (`−B`) and leaves by one load arc of
//!   some doctor (`+M·(2(base + k) − 1) ≤ M·(2K − 1)`); its pair arcs change score and metres
//!   between two feasible flows, by at most `W·E + D`. So `cost(C) ≤ −B + M·(2K − 1) + W·E + D
//!   < 0`, and `g` was not min-cost: a contradiction. Hence `g` fills the most positions.
//!
//! **Integer range.** Every arc cost lies in `[−W, B]`: the load arcs cost at most
//! `M·(2K − 1) < B`, a pair arc between `−W` and `W + far ≤ W + D < M`. The weights are
//! computed in `i128` and the network refused ([`ScheduleError::TooLarge`]) unless
//! `(B + 1)·(n + 1) ≤ 2^60` for its node count `n` (counted before any arc is added), the
//! flow solver's condition for exact `i64` potentials ([`crate::solver::mcmf`]). `B` grows like
//! `2K·(E + 1)·(D + 1)`: on `dept-y` (`D ≈ 9.6·10⁷`, `K = 36`, 2.3·10⁴ nodes) the bound
//! allows `E` up to about 7,000 preference positions.
//!
//! # Which flow algorithm, and why
//!
//! [`Network::solve`], the network simplex: exact integer flows and duals, and a speed that
//! hardly depends on how far apart the weights are. Successive shortest paths
//! ([`Network::solve_ssp`]) solve the same network exactly, but each search settles every node
//! within one `M` of its start before it can prefer a doctor with a lighter load: most of the
//! network, once per filled position. Two stages (min-cost max-flow on the load costs, then
//! metres on the arcs its duals leave tight) gain little, because nearly every arc stays
//! tight; cost scaling's prices overflow `i64` on the largest fixture. The measured times of
//! each candidate are in benches/garde.rs. [`Network::solve_ssp`] stays as a cross-check
//! ([`Algorithm::ShortestPaths`], property tests).
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
    Flow(#[from] mcmf::Error),
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
            if pinned_at[j] >= inst.cabinets[el.shifts[j].cabinet].need {
                continue; // full with its pins
            }
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
        // cost: checked here once the nodes are counted (below, before any arc is added).
        if b >= 1 << 60 {
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
        let nodes = net.node_count()
            + caps.iter().filter(|&&c| c > 0).count()
            + day_node_count(&of_doctor, &caps, day_of);
        if (i128::from(b) + 1) * (nodes as i128 + 1) > 1 << 60 {
            return Err(ScheduleError::TooLarge);
        }
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
        debug_assert_eq!(net.node_count(), nodes);
        Ok(Self { net, pairs, stats })
    }
}

/// Days on which a doctor of non-zero capacity has two or more free candidate shifts: the
/// `(d, day)` nodes of the network.
fn day_node_count(
    of_doctor: &[Vec<(u32, u32)>],
    caps: &[u32],
    day_of: impl Fn(u32) -> usize,
) -> usize {
    // Lists are grouped by day: count the runs of two or more.
    let mut n = 0;
    for (list, _) in of_doctor.iter().zip(caps).filter(|(_, c)| **c > 0) {
        for i in 1..list.len() {
            let day = day_of(list[i].0);
            if day == day_of(list[i - 1].0) && (i == 1 || day != day_of(list[i - 2].0)) {
                n += 1;
            }
        }
    }
    n
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

    /// Mon 2 and Tue 3 March 2026, one cabinet needing 1 at latitude 48.70; doctor 1 at
    /// 0.009° (1,001 m: 0.009·π/180·6,371,008.8 = 1,000.75), doctor 2 at 0.045° (5,004 m:
    /// 5,003.76), both available both evenings and within 10 km.
    fn two_evenings(max_a: u32, max_b: u32) -> Instance {
        let both = vec![window(
            "2026-03-02T00:00:00+01:00",
            "2026-03-04T00:00:00+01:00",
        )];
        Instance {
            cabinets: vec![cabinet("C", 48.70, 1)],
            doctors: vec![
                doctor(1, 48.709, max_a, 10.0),
                doctor(2, 48.745, max_b, 10.0),
            ],
            windows: vec![both.clone(), both],
            period: Period::new("2026-03-02".parse().unwrap(), "2026-03-03".parse().unwrap())
                .unwrap(),
            extensions: Default::default(),
        }
    }

    fn date(s: &str) -> chrono::NaiveDate {
        s.parse().unwrap()
    }

    fn objective(
        filled: u64,
        sum_load_squared: u64,
        preference_score: i64,
        metres: u64,
    ) -> Objective {
        Objective {
            filled,
            sum_load_squared,
            preference_score,
            metres,
        }
    }

    #[test]
    fn level_1_filling_beats_a_heavy_history() {
        // Only doctor 1 in range (max_km 2 for doctor 2, 5 km away), prior 10: filling both
        // evenings gives (10 + 2)² = 144 > (10 + 1)² = 121, and still wins.
        let mut inst = two_evenings(2, 2);
        inst.doctors[1].max_km = MaxKm::new(2.0).unwrap();
        inst.extensions.prior_shifts = vec![10, 0];
        let s = solve(&inst).unwrap();
        // filled 2; Σ (prior + load)² = 12² + 0² = 144; no preference; 2 × 1,001 m.
        assert_eq!(s.objective, objective(2, 144, 0, 2002));
        s.roster.check(&inst).unwrap();
    }

    #[test]
    fn level_2_counts_prior_shifts() {
        // Doctor 1 (near) served 3 shifts before: (3+0)² + (0+2)² = 13 < split (3+1)² + 1² = 17
        // < (3+2)² = 25, so doctor 2 takes both evenings although farther: 2 × 5,004 m.
        let mut inst = two_evenings(5, 5);
        inst.extensions.prior_shifts = vec![3, 0];
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective, objective(2, 13, 0, 10_008));
        assert!(s.roster.assignments.iter().all(|a| a.doctor == 1));
        s.roster.check(&inst).unwrap();
    }

    #[test]
    fn level_2_beats_preferences() {
        // Doctor 1 prefers both evenings: all to him would score −2 but Σ load² = 4; a split
        // gives 1 + 1 = 2, score −1 (he takes one preferred evening), metres 1,001 + 5,004.
        let mut inst = two_evenings(2, 2);
        for d in ["2026-03-02", "2026-03-03"] {
            inst.extensions
                .preferences
                .insert((0, date(d)), crate::garde::instance::Preference::Prefer);
        }
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective, objective(2, 2, -1, 6005));
        s.roster.check(&inst).unwrap();
    }

    #[test]
    fn level_3_beats_distance() {
        // Max 1 shift each: a split either way (Σ load² 2, metres 6,005). Doctor 2 avoids
        // Monday, doctor 1 avoids Tuesday: doctor 1 Monday + doctor 2 Tuesday scores 0, the
        // swap +2.
        let mut inst = two_evenings(1, 1);
        use crate::garde::instance::Preference::{Avoid, Prefer};
        inst.extensions
            .preferences
            .insert((1, date("2026-03-02")), Avoid);
        inst.extensions
            .preferences
            .insert((0, date("2026-03-03")), Avoid);
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective, objective(2, 2, 0, 6005));
        assert_eq!(s.roster.assignments[0].doctor, 0); // Monday: doctor 1
        // One evening only (Monday): doctor 1 is nearer (1,001 m) but avoids it; doctor 2
        // (5,004 m) takes it: score 0 beats score +1 whatever the metres.
        let mut inst = two_evenings(1, 1);
        inst.period = Period::new(date("2026-03-02"), date("2026-03-02")).unwrap();
        inst.extensions
            .preferences
            .insert((0, date("2026-03-02")), Avoid);
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective, objective(1, 1, 0, 5004));
        // And a preference pulls the far doctor in: doctor 2 prefers Monday, score −1.
        inst.extensions.preferences.clear();
        inst.extensions
            .preferences
            .insert((1, date("2026-03-02")), Prefer);
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective, objective(1, 1, -1, 5004));
        s.roster.check(&inst).unwrap();
    }

    #[test]
    fn level_4_without_extensions_is_todays_model() {
        // Nothing optional: one evening, the nearer doctor: (1, 1, 0, 1,001), W = 0.
        let mut inst = two_evenings(1, 1);
        inst.period = Period::new(date("2026-03-02"), date("2026-03-02")).unwrap();
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective, objective(1, 1, 0, 1001));
        assert_eq!(s.stats.weight_preference, 0);
    }

    #[test]
    fn pins_are_kept_and_count_in_every_level() {
        // Doctor 2 (prior 1) is pinned on Monday; Tuesday remains. Doctor 1 takes it:
        // Σ (prior + load)² = (0 + 1)² + (1 + 1)² = 5, against (1 + 2)² = 9 for doctor 2.
        // Doctor 2 avoids Monday: the pin still counts, score +1. Metres 5,004 + 1,001.
        let mut inst = two_evenings(2, 2);
        inst.extensions.prior_shifts = vec![0, 1];
        inst.extensions.preferences.insert(
            (1, date("2026-03-02")),
            crate::garde::instance::Preference::Avoid,
        );
        inst.extensions.pinned = vec![crate::garde::instance::Pin {
            cabinet: 0,
            date: date("2026-03-02"),
            doctor: 1,
        }];
        inst.check_pins().unwrap();
        let s = solve(&inst).unwrap();
        assert_eq!(s.objective, objective(2, 5, 1, 6005));
        assert_eq!(s.stats.positions_in_network, 1);
        s.roster.check(&inst).unwrap();
        // A roster without the pinned row fails the check.
        let mut r = s.roster.clone();
        r.assignments.retain(|a| a.doctor != 1);
        assert!(r.check(&inst).is_err());
    }
}
