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
//! Building the doctor graph costs one eligibility query per matched patient; closures cost
//! O(S · E_S / 64) word operations for `S` doctors with capacity and `E_S` graph edges.

use super::flow::{DoctorIndex, Solution};
use super::instance::Instance;
use crate::domain::Tier;
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
pub fn explain(inst: &Instance, sol: &Solution) -> Vec<Unmatched> {
    let idx = DoctorIndex::new(inst);
    let s_count = idx.len();
    let words = s_count.div_ceil(64);
    let mut sink_of_doctor = vec![u32::MAX; inst.doctors.len()];
    for (s, &d) in idx.doctor_of_sink.iter().enumerate() {
        sink_of_doctor[d as usize] = s as u32;
    }
    // Doctor graph: a → b when a patient held by a is eligible for b. Tiers held per doctor.
    let mut adj = vec![vec![0u64; words]; s_count];
    let mut held = vec![[0u64; 3]; s_count];
    for (q, d) in sol.matching.doctor_of.iter().enumerate() {
        let Some(d) = *d else { continue };
        let a = sink_of_doctor[d as usize] as usize;
        held[a][inst.patients[q].tier().index()] += 1;
        let row = &mut adj[a];
        idx.for_each_eligible(inst, q, |b, _| row[b as usize / 64] |= 1 << (b % 64));
    }
    // Closure of each doctor, by search over the bit rows.
    let mut closure = vec![vec![0u64; words]; s_count];
    let mut stack = Vec::new();
    for a in 0..s_count {
        let seen = &mut closure[a];
        seen[a / 64] |= 1 << (a % 64);
        stack.push(a);
        while let Some(u) = stack.pop() {
            for w in 0..words {
                let mut fresh = adj[u][w] & !seen[w];
                seen[w] |= fresh;
                while fresh != 0 {
                    stack.push(w * 64 + fresh.trailing_zeros() as usize);
                    fresh &= fresh - 1;
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut reach = vec![0u64; words];
    for (q, d) in sol.matching.doctor_of.iter().enumerate() {
        if d.is_some() {
            continue;
        }
        reach.fill(0);
        let mut any = false;
        idx.for_each_eligible(inst, q, |b, _| {
            any = true;
            for (r, c) in reach.iter_mut().zip(&closure[b as usize]) {
                *r |= c;
            }
        });
        let reason = if any {
            let mut n = 0u32;
            let mut tiers = [0u64; 3];
            for (w, &bits) in reach.iter().enumerate() {
                let mut b = bits;
                while b != 0 {
                    let s = w * 64 + b.trailing_zeros() as usize;
                    n += 1;
                    for k in 0..3 {
                        tiers[k] += held[s][k];
                    }
                    b &= b - 1;
                }
            }
            Reason::CapacityExhausted {
                saturated_doctors: n,
                held_by_tier: tiers,
            }
        } else {
            let nearest = idx
                .nearest(inst, q)
                .map(|(s, m)| (idx.doctor_of_sink[s as usize], m.round_ties_even() as u64));
            Reason::NoDoctorInRange { nearest }
        };
        out.push(Unmatched {
            patient: q as u32,
            tier: inst.patients[q].tier(),
            reason,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Doctor, MaxKm, Patient, Rpps};
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

    fn doctor(body: &str, lat: f64, capacity: u32) -> Doctor {
        Doctor {
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
}
