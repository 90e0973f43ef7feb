//! Why a patient stayed unmatched (FORMATS.md §2), derived from the optimality argument.
//!
//! * `no_doctor_in_range`: the patient has no eligible pair at all. The detail names the nearest
//!   doctor with capacity and its distance, whatever the limits.
//! * `capacity_exhausted`: the patient has eligible doctors. At the optimum there is no
//!   alternating path from the patient to a doctor with a free place (it would match one more
//!   patient), and none to a place held by a patient of a lower tier (the swap would improve the
//!   objective). So every doctor reachable by alternating paths (eligible doctor → a patient it
//!   holds → that patient's other eligible doctors → …) is saturated, and holds only patients of
//!   the same or a higher tier. The detail gives that set's size and the tiers of the patients
//!   holding its places: the certificate that no room can be made without unmatching a patient
//!   at least as vulnerable.
//!
//! # Complexity
//! Building the doctor graph costs one eligibility query per matched patient. Its strongly
//! connected components (every doctor of one reaches the same set) are condensed into a DAG,
//! whose closures are bitsets over components, built in reverse topological order: O(E_C ·
//! C / 64) word operations at worst for `C` components and `E_C` DAG edges, far fewer in
//! practice because a successor already in the row is skipped. Each unmatched patient then
//! costs one eligibility query and a few bit tests; unions and counts are memoised per set of
//! maximal components. `C²/8` bytes: 112 MB for 30,000 components.

use super::flow::{DoctorIndex, Solution};
use super::instance::Instance;
use crate::domain::Tier;
use crate::solver::scc;
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;

/// The reason of one unmatched patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No eligible doctor. `nearest`: (doctor index, distance in metres) of the nearest doctor
    /// with capacity, if any exists.
    NoDoctorInRange { nearest: Option<(u32, u64)> },
    /// Every reachable doctor is saturated by patients of tiers at least as high.
    CapacityExhausted {
        saturated_doctors: u32,
        held_by_tier: [u64; 3],
    },
}

impl Reason {
    /// The `reason` column of unmatched.csv.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NoDoctorInRange { .. } => "no_doctor_in_range",
            Reason::CapacityExhausted { .. } => "capacity_exhausted",
        }
    }
}

/// One line of unmatched.csv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmatched {
    /// Patient index in the instance.
    pub patient: u32,
    pub tier: Tier,
    pub reason: Reason,
}

/// The `detail` column: human-readable, with ids of doctors only (never patient data).
pub struct Detail<'a>(pub &'a Unmatched, pub &'a Instance);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.reason {
            Reason::NoDoctorInRange {
                nearest: Some((d, m)),
            } => {
                write!(
                    f,
                    "nearest doctor with capacity: {} at {} m",
                    self.1.doctors[*d as usize].rpps, m
                )
            }
            Reason::NoDoctorInRange { nearest: None } => f.write_str("no doctor has capacity"),
            Reason::CapacityExhausted {
                saturated_doctors,
                held_by_tier: [a, b, c],
            } => write!(
                f,
                "{saturated_doctors} saturated doctors in reach; their places are held by tier 1: {a}, tier 2: {b}, tier 3: {c}"
            ),
        }
    }
}

/// The reason of every unmatched patient of `sol`, in patient order.
///
/// # Complexity
/// One eligibility query per patient (split between the cores), an iterative Tarjan over the
/// doctor graph ([`scc::tarjan`]), closures over its condensation (`C` strongly connected components: `C²/8`
/// bytes, one bitset row per component), then per unmatched patient a few bit tests plus, for
/// each distinct set of maximal components, one union and one count, memoised.
pub fn explain(inst: &Instance, sol: &Solution) -> Vec<Unmatched> {
    let idx = DoctorIndex::new(inst);
    let graph = DoctorGraph::build(inst, &idx, &sol.matching.doctor_of);
    let dag = Condensation::new(&graph);
    let unmatched: Vec<u32> = (0..inst.patients.len() as u32)
        .filter(|&q| sol.matching.doctor_of[q as usize].is_none())
        .collect();
    let parts: Vec<Vec<Unmatched>> = unmatched
        .par_chunks(chunk(unmatched.len()))
        .map_init(Scratch::default, |scratch, qs| {
            qs.iter()
                .map(|&q| Unmatched {
                    patient: q,
                    tier: inst.patients[q as usize].tier(),
                    reason: reason(inst, &idx, &dag, q as usize, scratch),
                })
                .collect()
        })
        .collect();
    parts.into_iter().flatten().collect()
}

/// Buffers and memo of one worker. The memo caches a pure function, so how rayon shares it
/// between chunks changes nothing in the output.
#[derive(Default)]
struct Scratch {
    memo: HashMap<Vec<u32>, (u32, [u64; 3])>,
    comps: Vec<u32>,
    roots: Vec<u32>,
}

/// The reason of unmatched patient `q`.
fn reason(
    inst: &Instance,
    idx: &DoctorIndex,
    dag: &Condensation,
    q: usize,
    scratch: &mut Scratch,
) -> Reason {
    let Scratch { memo, comps, roots } = scratch;
    comps.clear();
    idx.for_each_eligible(inst, q, |b, _| comps.push(dag.comp[b as usize]));
    if comps.is_empty() {
        let nearest = idx
            .nearest(inst, q)
            .map(|(s, m)| (idx.doctor_of_sink[s as usize], m.round_ties_even() as u64));
        return Reason::NoDoctorInRange { nearest };
    }
    dag.maximal(comps, roots);
    let (n, tiers) = match memo.get(roots.as_slice()) {
        Some(&v) => v,
        None => {
            let v = dag.count(roots);
            memo.insert(roots.clone(), v);
            v
        }
    };
    Reason::CapacityExhausted {
        saturated_doctors: n,
        held_by_tier: tiers,
    }
}

/// Items per unit of parallel work (patients or doctors): one chunk per thread of rayon's pool,
/// at least [`MIN_CHUNK`], so that each memo and marker array serves many items. The output
/// does not depend on it: the memo caches a pure function, and the parts are joined in order.
fn chunk(items: usize) -> usize {
    items.div_ceil(rayon::current_num_threads()).max(MIN_CHUNK)
}

/// Fewer items than this are not worth a second thread.
const MIN_CHUNK: usize = 1024;

/// Doctors with capacity, and an edge `a → b` when a patient held by `a` is eligible for `b`
/// (the alternating paths of the module documentation), as sorted, deduplicated lists.
struct DoctorGraph {
    /// CSR: edges of sink `a` are `head[start[a]..start[a + 1]]`.
    start: Vec<usize>,
    head: Vec<u32>,
    /// Patients held per sink, per tier.
    held: Vec<[u64; 3]>,
}

impl DoctorGraph {
    fn build(inst: &Instance, idx: &DoctorIndex, doctor_of: &[Option<u32>]) -> Self {
        let s_count = idx.len();
        let mut sink_of_doctor = vec![u32::MAX; inst.doctors.len()];
        for (s, &d) in idx.doctor_of_sink.iter().enumerate() {
            sink_of_doctor[d as usize] = s as u32;
        }
        // Patients grouped by the sink holding them (CSR), in patient order.
        let mut held = vec![[0u64; 3]; s_count];
        let mut first = vec![0usize; s_count + 1];
        for d in doctor_of.iter().flatten() {
            first[sink_of_doctor[*d as usize] as usize + 1] += 1;
        }
        for s in 0..s_count {
            first[s + 1] += first[s];
        }
        let mut fill = first.clone();
        let mut patients = vec![0u32; first[s_count]];
        for (q, d) in doctor_of.iter().enumerate() {
            if let Some(d) = *d {
                let a = sink_of_doctor[d as usize] as usize;
                held[a][inst.patients[q].tier().index()] += 1;
                patients[fill[a]] = q as u32;
                fill[a] += 1;
            }
        }
        let sinks: Vec<u32> = (0..s_count as u32).collect();
        // `seen[b] == a`: b is already in a's list; valid across chunks since every sink is in
        // one chunk only.
        let parts: Vec<Vec<Vec<u32>>> = sinks
            .par_chunks(chunk(sinks.len()))
            .map_init(
                || vec![u32::MAX; s_count],
                |seen, part| {
                    let mut lists = Vec::with_capacity(part.len());
                    for &a in part {
                        let mut list = Vec::new();
                        for &q in &patients[first[a as usize]..first[a as usize + 1]] {
                            idx.for_each_eligible(inst, q as usize, |b, _| {
                                if b != a && seen[b as usize] != a {
                                    seen[b as usize] = a;
                                    list.push(b);
                                }
                            });
                        }
                        list.sort_unstable();
                        lists.push(list);
                    }
                    lists
                },
            )
            .collect();
        let mut start = Vec::with_capacity(s_count + 1);
        let mut head = Vec::new();
        start.push(0);
        for list in parts.into_iter().flatten() {
            head.extend_from_slice(&list);
            start.push(head.len());
        }
        Self { start, head, held }
    }

    fn len(&self) -> usize {
        self.held.len()
    }

    fn edges(&self, a: usize) -> &[u32] {
        &self.head[self.start[a]..self.start[a + 1]]
    }
}

/// The strongly connected components of a [`DoctorGraph`] and the transitive closure of the
/// DAG they form.
struct Condensation {
    /// Component of each sink. Components are numbered as Tarjan's algorithm completes them,
    /// so every edge between two components goes from a higher number to a lower one.
    comp: Vec<u32>,
    count: usize,
    words: usize,
    /// Row `c`: the components reachable from `c`, itself included.
    closure: Vec<u64>,
    /// Sinks and held patients per tier, per component.
    size: Vec<u32>,
    held: Vec<[u64; 3]>,
}

impl Condensation {
    fn new(g: &DoctorGraph) -> Self {
        let (comp, count) = scc::tarjan(&g.start, &g.head);
        let mut size = vec![0u32; count];
        let mut held = vec![[0u64; 3]; count];
        let mut succ: Vec<Vec<u32>> = vec![Vec::new(); count];
        for a in 0..g.len() {
            let c = comp[a] as usize;
            size[c] += 1;
            for (h, x) in held[c].iter_mut().zip(g.held[a]) {
                *h += x;
            }
            for &b in g.edges(a) {
                if comp[b as usize] != comp[a] {
                    succ[c].push(comp[b as usize]);
                }
            }
        }
        let words = count.div_ceil(64);
        let mut closure = vec![0u64; count * words];
        for (c, next) in succ.iter_mut().enumerate() {
            // Highest first: a component's closure often holds the lower ones already.
            next.sort_unstable_by(|x, y| y.cmp(x));
            next.dedup();
            let (done, rest) = closure.split_at_mut(c * words);
            let row = &mut rest[..words];
            row[c / 64] |= 1 << (c % 64);
            for &d in next.iter() {
                let d = d as usize;
                // The row is a union of closures, so it is closed: d in it brings nothing new.
                if row[d / 64] & (1 << (d % 64)) != 0 {
                    continue;
                }
                for (r, x) in row.iter_mut().zip(&done[d * words..(d + 1) * words]) {
                    *r |= x;
                }
            }
        }
        Self {
            comp,
            count,
            words,
            closure,
            size,
            held,
        }
    }

    fn row(&self, c: u32) -> &[u64] {
        &self.closure[c as usize * self.words..(c as usize + 1) * self.words]
    }

    fn reaches(&self, from: u32, to: u32) -> bool {
        self.row(from)[to as usize / 64] & (1 << (to % 64)) != 0
    }

    /// Replaces `roots` by the components of `comps` that no other one of them reaches (their
    /// closures' union is that of all of `comps`), in decreasing order. `comps` is reordered.
    fn maximal(&self, comps: &mut Vec<u32>, roots: &mut Vec<u32>) {
        comps.sort_unstable_by(|x, y| y.cmp(x));
        comps.dedup();
        roots.clear();
        // Edges go from higher to lower numbers: a component is only reached from higher ones.
        for &c in comps.iter() {
            if !roots.iter().any(|&r| self.reaches(r, c)) {
                roots.push(c);
            }
        }
    }

    /// Sinks and held patients per tier in the union of the closures of `roots`.
    fn count(&self, roots: &[u32]) -> (u32, [u64; 3]) {
        let mut reach = vec![0u64; self.words];
        for &r in roots {
            for (x, y) in reach.iter_mut().zip(self.row(r)) {
                *x |= y;
            }
        }
        let (mut n, mut tiers) = (0u32, [0u64; 3]);
        for (w, &bits) in reach.iter().enumerate() {
            let mut b = bits;
            while b != 0 {
                let c = w * 64 + b.trailing_zeros() as usize;
                n += self.size[c];
                for (t, x) in tiers.iter_mut().zip(self.held[c]) {
                    *t += x;
                }
                b &= b - 1;
            }
        }
        debug_assert!(self.count >= roots.len());
        (n, tiers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MatchingDoctor, MaxKm, Patient, Rpps};
    use crate::geo::Coordinates;
    use crate::matching::solve;

    fn patient(i: usize, lat: f64, age: u8, ald: bool) -> Patient {
        Patient {
            id: format!("p{i}").parse().unwrap(),
            coords: Coordinates::new(lat, 6.18).unwrap(),
            insee: "54395".parse().unwrap(),
            age,
            ald,
            css: false,
            max_km: None,
        }
    }

    fn doctor(body: &str, lat: f64, capacity: u32) -> MatchingDoctor {
        MatchingDoctor {
            rpps: Rpps::with_check_digit(body).unwrap(),
            name: String::new(),
            coords: Coordinates::new(lat, 6.18).unwrap(),
            insee: "54395".parse().unwrap(),
            capacity,
            max_km: None,
        }
    }

    #[test]
    fn a_patient_beyond_every_limit_is_out_of_range_with_the_nearest_doctor() {
        // 0.2° of latitude ≈ 22.2 km, beyond the 10 km default.
        let inst = Instance {
            patients: vec![patient(0, 48.9, 40, false)],
            doctors: vec![doctor("1000000001", 48.7, 3)],
            default_max_km: MaxKm::new(10.0).unwrap(),
            excluded: Default::default(),
        };
        let sol = solve(&inst).unwrap();
        let u = explain(&inst, &sol);
        assert_eq!(u.len(), 1);
        match u[0].reason {
            Reason::NoDoctorInRange {
                nearest: Some((0, m)),
            } => assert!((22_000..22_400).contains(&m)),
            ref r => panic!("unexpected {r:?}"),
        }
    }

    #[test]
    fn a_patient_blocked_by_the_same_tier_with_shorter_trips_is_capacity_exhausted() {
        // One seat; two tier-3 patients; the nearer one keeps it (fewer metres).
        let inst = Instance {
            patients: vec![patient(0, 48.70, 40, false), patient(1, 48.75, 40, false)],
            doctors: vec![doctor("1000000001", 48.70, 1)],
            default_max_km: MaxKm::new(10.0).unwrap(),
            excluded: Default::default(),
        };
        let sol = solve(&inst).unwrap();
        let u = explain(&inst, &sol);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].patient, 1);
        assert_eq!(
            u[0].reason,
            Reason::CapacityExhausted {
                saturated_doctors: 1,
                held_by_tier: [0, 0, 1]
            }
        );
    }

    #[test]
    fn the_blocking_set_follows_alternating_paths() {
        // Doctor A (1 seat) holds an ALD patient who could also go to doctor B (1 seat), held by a
        // 75-year-old. A tier-3 patient near A only reaches both through the chain.
        let inst = Instance {
            patients: vec![
                patient(0, 48.70, 40, true),
                patient(1, 48.76, 75, false),
                patient(2, 48.69, 40, false),
            ],
            doctors: vec![
                doctor("1000000001", 48.70, 1),
                doctor("1000000002", 48.76, 1),
            ],
            default_max_km: MaxKm::new(8.0).unwrap(),
            excluded: Default::default(),
        };
        let sol = solve(&inst).unwrap();
        let u = explain(&inst, &sol);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].patient, 2);
        assert_eq!(
            u[0].reason,
            Reason::CapacityExhausted {
                saturated_doctors: 2,
                held_by_tier: [1, 1, 0]
            }
        );
    }

    #[test]
    fn a_patient_when_no_doctor_has_capacity_is_out_of_range_without_a_nearest_doctor() {
        let inst = Instance {
            patients: vec![patient(0, 48.70, 40, true)],
            doctors: vec![doctor("1000000001", 48.70, 0)],
            default_max_km: MaxKm::new(10.0).unwrap(),
            excluded: Default::default(),
        };
        let u = explain(&inst, &solve(&inst).unwrap());
        assert_eq!(u[0].reason, Reason::NoDoctorInRange { nearest: None });
    }

    #[test]
    fn an_ald_patient_blocked_only_by_nearer_ald_patients_is_capacity_exhausted() {
        // One seat, two ALD patients at 0 and 3.3 km: the nearer keeps it (fewer metres), so
        // the other is blocked by tier 1 only, the same tier with a shorter trip.
        let inst = Instance {
            patients: vec![patient(0, 48.73, 40, true), patient(1, 48.70, 40, true)],
            doctors: vec![doctor("1000000001", 48.70, 1)],
            default_max_km: MaxKm::new(10.0).unwrap(),
            excluded: Default::default(),
        };
        let u = explain(&inst, &solve(&inst).unwrap());
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].patient, 0);
        assert_eq!(
            u[0].reason,
            Reason::CapacityExhausted {
                saturated_doctors: 1,
                held_by_tier: [1, 0, 0]
            }
        );
    }

    #[test]
    fn doctors_that_reach_each_other_are_counted_once() {
        // A (48.70) and B (48.72), one seat each, hold the two tier-2 patients at 48.71, each
        // eligible for both: a cycle A → B → A, one component. C (48.80) holds the ALD patient
        // at 48.80, out of everyone else's 4 km reach. The tier-3 patient at 48.69 reaches A and
        // B: 2 saturated doctors, both places held by tier 2; C stays out.
        let inst = Instance {
            patients: vec![
                patient(0, 48.71, 75, false),
                patient(1, 48.71, 75, false),
                patient(2, 48.80, 40, true),
                patient(3, 48.69, 40, false),
            ],
            doctors: vec![
                doctor("1000000001", 48.70, 1),
                doctor("1000000002", 48.72, 1),
                doctor("1000000003", 48.80, 1),
            ],
            default_max_km: MaxKm::new(4.0).unwrap(),
            excluded: Default::default(),
        };
        let u = explain(&inst, &solve(&inst).unwrap());
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].patient, 3);
        assert_eq!(
            u[0].reason,
            Reason::CapacityExhausted {
                saturated_doctors: 2,
                held_by_tier: [0, 2, 0]
            }
        );
    }

    /// The reasons by a plain search per unmatched patient over all pairs (no grid, no
    /// components): the definition of the module documentation.
    /// Per unmatched patient: `None` when out of range, else (saturated doctors, held by tier).
    type Found = Vec<(u32, Option<(u32, [u64; 3])>)>;

    fn reasons_by_search(inst: &Instance, sol: &Solution) -> Found {
        let n_d = inst.doctors.len();
        let eligible = |q: usize| -> Vec<usize> {
            (0..n_d)
                .filter(|&d| inst.eligible_cost(q, d).is_some())
                .collect()
        };
        let mut held: Vec<Vec<usize>> = vec![Vec::new(); n_d];
        for (q, d) in sol.matching.doctor_of.iter().enumerate() {
            if let Some(d) = d {
                held[*d as usize].push(q);
            }
        }
        let mut out = Vec::new();
        for (q, d) in sol.matching.doctor_of.iter().enumerate() {
            if d.is_some() {
                continue;
            }
            let start = eligible(q);
            if start.is_empty() {
                out.push((q as u32, None));
                continue;
            }
            let mut seen = vec![false; n_d];
            let mut stack = start;
            for &d in &stack {
                seen[d] = true;
            }
            let mut stack2 = stack.clone();
            stack.clear();
            while let Some(a) = stack2.pop() {
                stack.push(a);
                for &p in &held[a] {
                    for b in eligible(p) {
                        if !seen[b] {
                            seen[b] = true;
                            stack2.push(b);
                        }
                    }
                }
            }
            let mut tiers = [0u64; 3];
            for &a in &stack {
                for &p in &held[a] {
                    tiers[inst.patients[p].tier().index()] += 1;
                }
            }
            out.push((q as u32, Some((stack.len() as u32, tiers))));
        }
        out
    }

    #[test]
    fn components_and_memos_give_the_same_reasons_as_a_plain_search() {
        use rand::{Rng, SeedableRng};
        // Random crowded instances (seeded): many cycles and chains between doctors.
        for seed in 0..40u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let n_p = rng.random_range(20..120);
            let n_d = rng.random_range(2..14);
            let at = |rng: &mut rand_chacha::ChaCha8Rng| {
                Coordinates::new(rng.random_range(48.60..48.80), rng.random_range(6.05..6.35))
                    .unwrap()
            };
            let patients = (0..n_p)
                .map(|i| {
                    let mut p = patient(i, 48.7, rng.random_range(0..100), rng.random_bool(0.2));
                    p.coords = at(&mut rng);
                    p.css = rng.random_bool(0.2);
                    if rng.random_bool(0.2) {
                        p.max_km = Some(MaxKm::new(rng.random_range(1.0..8.0)).unwrap());
                    }
                    p
                })
                .collect();
            let doctors = (0..n_d)
                .map(|i| {
                    let mut d = doctor(&format!("10000000{i:02}"), 48.7, rng.random_range(0..8));
                    d.coords = at(&mut rng);
                    if rng.random_bool(0.2) {
                        d.max_km = Some(MaxKm::new(rng.random_range(2.0..8.0)).unwrap());
                    }
                    d
                })
                .collect();
            let inst = Instance {
                patients,
                doctors,
                default_max_km: MaxKm::new(rng.random_range(3.0..10.0)).unwrap(),
                excluded: Default::default(),
            };
            let sol = solve(&inst).unwrap();
            let got: Vec<_> = explain(&inst, &sol)
                .into_iter()
                .map(|u| {
                    let r = match u.reason {
                        Reason::NoDoctorInRange { .. } => None,
                        Reason::CapacityExhausted {
                            saturated_doctors,
                            held_by_tier,
                        } => Some((saturated_doctors, held_by_tier)),
                    };
                    (u.patient, r)
                })
                .collect();
            assert_eq!(got, reasons_by_search(&inst, &sol), "seed {seed}");
        }
    }
}
