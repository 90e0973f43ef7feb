//! A matching instance (FORMATS.md §2) and what every solver returns: [`Matching`], its
//! [`Objective`] and its feasibility check.

use crate::domain::{MatchingDoctor, MaxKm, Patient};
use crate::geo::{cost_m, haversine_m};
use serde::{Deserialize, Serialize};

/// The batch default for patients without their own `max_km` (FORMATS.md §2).
pub const DEFAULT_MAX_KM: f64 = 10.0;

/// Patients, doctors, the batch default limit, and the excluded pairs.
#[derive(Clone, Debug)]
pub struct Instance {
    pub patients: Vec<Patient>,
    pub doctors: Vec<MatchingDoctor>,
    pub default_max_km: MaxKm,
    /// Pairs `(patient index, doctor index)` that may not be proposed again (FORMATS.md §2,
    /// `exclusions.csv`: the doctor or the patient refused that pairing before). An excluded
    /// pair is not eligible; everything else is unchanged. Empty without the file.
    pub excluded: Exclusions,
}

/// Excluded pairs by `(patient index, doctor index)`.
pub type Exclusions = std::collections::HashSet<(u32, u32)>;

impl Instance {
    /// Whether pair (p, d) is excluded (FORMATS.md §2, `exclusions.csv`).
    pub fn is_excluded(&self, p: usize, d: usize) -> bool {
        !self.excluded.is_empty() && self.excluded.contains(&(p as u32, d as u32))
    }

    /// The limit in metres of a pair: `min(p.max_km or default, d.max_km or ∞) × 1000`.
    pub fn limit_m(&self, p: &Patient, d: &MatchingDoctor) -> f64 {
        let pl = p.max_km.unwrap_or(self.default_max_km).metres();
        match d.max_km {
            Some(dl) => pl.min(dl.metres()),
            None => pl,
        }
    }

    /// The cost in integer metres of pair (p, d) if it is eligible (FORMATS.md §2):
    /// `d(p, d) ≤ limit`, `d.capacity > 0`, and the pair is not excluded.
    pub fn eligible_cost(&self, p: usize, d: usize) -> Option<u32> {
        let (pat, doc) = (&self.patients[p], &self.doctors[d]);
        if doc.capacity == 0 || self.is_excluded(p, d) {
            return None;
        }
        let dist = haversine_m(pat.coords, doc.coords);
        (dist <= self.limit_m(pat, doc)).then(|| cost_m(dist))
    }

    /// The largest limit any patient has, in metres (the default or their own).
    pub fn max_patient_limit_m(&self) -> f64 {
        self.patients
            .iter()
            .map(|p| p.max_km.unwrap_or(self.default_max_km).metres())
            .fold(self.default_max_km.metres(), f64::max)
    }
}

/// The lexicographic objective of FORMATS.md §2: matched per tier (maximised, tier 1 first),
/// then total metres (minimised).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Objective {
    /// Matched patients of tiers 1, 2, 3.
    pub matched: [u64; 3],
    /// Σ integer metres of the chosen pairs.
    pub metres: u64,
}

impl Objective {
    /// True when `self` is strictly better than `other` in the lexicographic order.
    pub fn better_than(&self, other: &Objective) -> bool {
        for k in 0..3 {
            if self.matched[k] != other.matched[k] {
                return self.matched[k] > other.matched[k];
            }
        }
        self.metres < other.metres
    }
}

/// An assignment: for each patient (by index in the instance) its doctor's index, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matching {
    pub doctor_of: Vec<Option<u32>>,
}

/// Why an assignment is not feasible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeasibilityError {
    #[error("the assignment has {got} patients, the instance {want}")]
    Length { got: usize, want: usize },
    #[error("patient #{patient} is given doctor #{doctor}, which does not exist")]
    UnknownDoctor { patient: usize, doctor: u32 },
    #[error("patient #{patient} and doctor #{doctor} are not an eligible pair")]
    NotEligible { patient: usize, doctor: u32 },
    #[error("doctor #{doctor} gets {load} patients for a capacity of {capacity}")]
    OverCapacity {
        doctor: usize,
        load: u64,
        capacity: u32,
    },
}

impl Matching {
    /// Checks every rule of FORMATS.md §2: eligible pairs only, capacities respected.
    ///
    /// # Errors
    /// The first violated rule.
    pub fn check(&self, inst: &Instance) -> Result<(), FeasibilityError> {
        if self.doctor_of.len() != inst.patients.len() {
            return Err(FeasibilityError::Length {
                got: self.doctor_of.len(),
                want: inst.patients.len(),
            });
        }
        let mut load = vec![0u64; inst.doctors.len()];
        for (p, d) in self.doctor_of.iter().enumerate() {
            let Some(d) = *d else { continue };
            if d as usize >= inst.doctors.len() {
                return Err(FeasibilityError::UnknownDoctor {
                    patient: p,
                    doctor: d,
                });
            }
            if inst.eligible_cost(p, d as usize).is_none() {
                return Err(FeasibilityError::NotEligible {
                    patient: p,
                    doctor: d,
                });
            }
            load[d as usize] += 1;
        }
        for (d, &l) in load.iter().enumerate() {
            let capacity = inst.doctors[d].capacity;
            if l > u64::from(capacity) {
                return Err(FeasibilityError::OverCapacity {
                    doctor: d,
                    load: l,
                    capacity,
                });
            }
        }
        Ok(())
    }

    /// The objective recomputed from the assignment alone.
    pub fn objective(&self, inst: &Instance) -> Objective {
        let mut obj = Objective {
            matched: [0; 3],
            metres: 0,
        };
        for (p, d) in self.doctor_of.iter().enumerate() {
            if let Some(d) = *d {
                let pat = &inst.patients[p];
                obj.matched[pat.tier().index()] += 1;
                let dist = haversine_m(pat.coords, inst.doctors[d as usize].coords);
                obj.metres += u64::from(cost_m(dist));
            }
        }
        obj
    }

    /// Number of patients per tier in the instance.
    pub fn tier_sizes(inst: &Instance) -> [u64; 3] {
        let mut n = [0u64; 3];
        for p in &inst.patients {
            n[p.tier().index()] += 1;
        }
        n
    }
}

/// Tier of each patient, as an index 0..3 (kept beside the instance by solvers).
pub fn tier_indices(inst: &Instance) -> Vec<u8> {
    inst.patients
        .iter()
        .map(|p| p.tier().index() as u8)
        .collect()
}
