//! What a matching batch reports beside its assignments: the typed `summary.json` of
//! `cpts match` ([`Summary`], read back by `cpts verify`) and the stored result of a batch job
//! ([`JobSummary`], served by `GET /jobs/{id}`). Both are built from one [`Tally`] of the
//! solution, so the two cannot count differently. No I/O: `cli` and `jobs` write them.
//!
//! Fields are declared in alphabetical order: both documents were first written from
//! `serde_json::json!` maps, which sort their keys, and their bytes stay the same.

use super::explain::{Reason, Unmatched};
use super::flow::Counters;
use super::{Instance, Matching, Solution};
use crate::domain::Tier;
use serde::Serialize;

/// The counts both summaries are made of, computed once from a solution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    /// Patients per tier.
    pub patients: [u64; 3],
    /// Matched patients per tier (the objective's first three levels).
    pub matched: [u64; 3],
    /// Σ integer metres of the chosen pairs.
    pub metres: u64,
    /// Unmatched patients per tier, `[no_doctor_in_range, capacity_exhausted]`.
    pub unmatched: [[u64; 3]; 2],
    /// Σ capacity of the instance's doctors.
    pub capacity: u64,
}

impl Tally {
    /// Counts `sol` and its explanations over `inst`.
    ///
    /// # Complexity
    /// O(patients + doctors).
    pub fn new(inst: &Instance, sol: &Solution, unmatched: &[Unmatched]) -> Self {
        let mut by_reason = [[0u64; 3]; 2];
        for u in unmatched {
            let r = usize::from(!matches!(u.reason, Reason::NoDoctorInRange { .. }));
            by_reason[r][u.tier.index()] += 1;
        }
        Self {
            patients: Matching::tier_sizes(inst),
            matched: sol.objective.matched,
            metres: sol.objective.metres,
            unmatched: by_reason,
            capacity: inst.doctors.iter().map(|d| u64::from(d.capacity)).sum(),
        }
    }

    /// Unmatched patients without a doctor in range, all tiers.
    pub fn no_doctor_in_range(&self) -> u64 {
        self.unmatched[0].iter().sum()
    }

    /// Unmatched patients whose doctors in range were full, all tiers.
    pub fn capacity_exhausted(&self) -> u64 {
        self.unmatched[1].iter().sum()
    }
}

/// `summary.json` of `cpts match` (README.md, "Outputs").
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Σ capacity of the doctors.
    pub capacity: u64,
    pub default_max_km: f64,
    pub doctors: u64,
    pub doctors_with_capacity: u64,
    /// `cpts` and its version.
    pub engine: &'static str,
    /// SHA-256 of patients.csv then doctors.csv, as read.
    pub instance_sha256: String,
    pub objective: TierObjective,
    pub patients: TierSizes,
    pub solver: Counters,
    pub timings_ms: MatchTimings,
    pub unmatched: ReasonCounts,
    /// RPPS of the doctors a what-if batch ran without; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub without: Vec<String>,
}

/// `objective` of [`Summary`]: the lexicographic objective vector, one key per level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TierObjective {
    pub matched_tier_1: u64,
    pub matched_tier_2: u64,
    pub matched_tier_3: u64,
    pub total_m: u64,
}

/// `patients` of [`Summary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TierSizes {
    pub tier_1: u64,
    pub tier_2: u64,
    pub tier_3: u64,
}

/// `unmatched` of [`Summary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReasonCounts {
    pub capacity_exhausted: u64,
    pub no_doctor_in_range: u64,
}

/// `timings_ms` of [`Summary`], each from [`crate::telemetry::ms`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct MatchTimings {
    pub candidates: f64,
    pub explain: f64,
    pub flow: f64,
    pub load: f64,
    pub pricing: f64,
}

impl Summary {
    /// The summary of `sol` on `inst`; `without` lists a what-if batch's retired doctors.
    pub fn new(
        inst: &Instance,
        sol: &Solution,
        tally: &Tally,
        instance_sha256: String,
        without: Vec<String>,
        timings_ms: MatchTimings,
    ) -> Self {
        let [p1, p2, p3] = tally.patients;
        let [m1, m2, m3] = tally.matched;
        Self {
            capacity: tally.capacity,
            default_max_km: inst.default_max_km.km(),
            doctors: inst.doctors.len() as u64,
            doctors_with_capacity: sol.certificate.doctors_with_capacity,
            engine: concat!("cpts ", env!("CARGO_PKG_VERSION")),
            instance_sha256,
            objective: TierObjective {
                matched_tier_1: m1,
                matched_tier_2: m2,
                matched_tier_3: m3,
                total_m: tally.metres,
            },
            patients: TierSizes {
                tier_1: p1,
                tier_2: p2,
                tier_3: p3,
            },
            solver: sol.counters,
            timings_ms,
            unmatched: ReasonCounts {
                capacity_exhausted: tally.capacity_exhausted(),
                no_doctor_in_range: tally.no_doctor_in_range(),
            },
            without,
        }
    }
}

/// The stored result of a batch job (`jobs.result`), as `GET /jobs/{id}` serves it.
#[derive(Clone, Debug, Serialize)]
pub struct JobSummary {
    pub default_max_km: f64,
    /// Doctors loaded: the store gives a batch only doctors with capacity.
    pub doctors_with_capacity: u64,
    /// Matched patients, all tiers.
    pub matched: u64,
    pub objective: JobObjective,
    /// Patients of the territory.
    pub patients: u64,
    /// Σ capacity of the doctors.
    pub places: u64,
    pub territory: JobTerritory,
    /// One line per tier, tier 1 first.
    pub tiers: Vec<TierLine>,
    pub timings_ms: JobTimings,
    pub unmatched: JobUnmatched,
}

/// `objective` of [`JobSummary`]: matched per tier, then metres.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct JobObjective {
    pub matched: [u64; 3],
    pub metres: u64,
}

/// `territory` of [`JobSummary`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobTerritory {
    /// Communes in the territory.
    pub communes: u64,
    /// The EPCI they came from, or `null`.
    pub epci: Option<String>,
    /// A what-if: the doctors left out of the batch (their RPPS), as if they had retired.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub without: Vec<String>,
}

/// One tier of [`JobSummary::tiers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TierLine {
    pub capacity_exhausted: u64,
    pub matched: u64,
    pub no_doctor_in_range: u64,
    pub patients: u64,
    /// 1, 2 or 3.
    pub tier: u8,
    pub unmatched: u64,
}

/// `timings_ms` of [`JobSummary`], each from [`crate::telemetry::ms`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct JobTimings {
    pub explain: f64,
    pub load: f64,
    pub solve: f64,
}

/// `unmatched` of [`JobSummary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct JobUnmatched {
    pub capacity_exhausted: u64,
    pub no_doctor_in_range: u64,
    pub total: u64,
}

impl JobSummary {
    /// The job result of a batch with this tally, over `territory`.
    pub fn new(
        inst: &Instance,
        tally: &Tally,
        territory: JobTerritory,
        timings_ms: JobTimings,
    ) -> Self {
        let tiers = Tier::ALL
            .iter()
            .map(|t| {
                let k = t.index();
                TierLine {
                    capacity_exhausted: tally.unmatched[1][k],
                    matched: tally.matched[k],
                    no_doctor_in_range: tally.unmatched[0][k],
                    patients: tally.patients[k],
                    tier: t.number(),
                    unmatched: tally.patients[k] - tally.matched[k],
                }
            })
            .collect();
        let (range, exhausted) = (tally.no_doctor_in_range(), tally.capacity_exhausted());
        Self {
            default_max_km: inst.default_max_km.km(),
            doctors_with_capacity: inst.doctors.len() as u64,
            matched: tally.matched.iter().sum(),
            objective: JobObjective {
                matched: tally.matched,
                metres: tally.metres,
            },
            patients: inst.patients.len() as u64,
            places: tally.capacity,
            territory,
            tiers,
            timings_ms,
            unmatched: JobUnmatched {
                capacity_exhausted: exhausted,
                no_doctor_in_range: range,
                total: range + exhausted,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MaxKm;

    /// Hand-solved: doctor D (capacity 1) at Nancy; P1 (ALD, tier 1) beside it, P2 (age 75,
    /// tier 2) beside it too, P3 (tier 3) in Strasbourg, 116 km away with a 10 km limit.
    /// D takes P1 (tier 1 first); P2 finds D full; P3 has nobody in range.
    fn solved() -> (Instance, Solution, Vec<Unmatched>) {
        let row = |id: &str, lat: f64, lon: f64, age: u8, ald: bool| {
            format!("{id},{lat},{lon},54395,{age},{},0,", u8::from(ald))
        };
        let patients = format!(
            "patient_id,lat,lon,insee,age,ald,css,max_km\n{}\n{}\n{}\n",
            row("P1", 48.6921, 6.1844, 40, true),
            row("P2", 48.6922, 6.1845, 75, false),
            row("P3", 48.5734, 7.7521, 30, false),
        );
        let doctors = "rpps,name,lat,lon,insee,capacity,max_km\n\
                       10000000009,D,48.6921,6.1844,54395,1,\n";
        let patients =
            crate::import::read_patients_from(patients.as_bytes(), "patients.csv").unwrap();
        let doctors = crate::import::read_doctors_from(doctors.as_bytes(), "doctors.csv").unwrap();
        let inst = Instance {
            patients,
            doctors,
            default_max_km: MaxKm::new(10.0).unwrap(),
            excluded: Default::default(),
        };
        let sol = crate::matching::solve(&inst).unwrap();
        let unmatched = crate::matching::explain::explain(&inst, &sol);
        (inst, sol, unmatched)
    }

    #[test]
    fn both_summaries_count_the_same_hand_solved_batch() {
        let (inst, sol, unmatched) = solved();
        let tally = Tally::new(&inst, &sol, &unmatched);
        assert_eq!(tally.patients, [1, 1, 1]);
        assert_eq!(tally.matched, [1, 0, 0]);
        assert_eq!(tally.unmatched, [[0, 0, 1], [0, 1, 0]]);
        assert_eq!(tally.capacity, 1);

        let s = Summary::new(
            &inst,
            &sol,
            &tally,
            "ab".into(),
            vec![],
            MatchTimings::default(),
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["objective"]["matched_tier_1"], 1);
        assert_eq!(v["unmatched"]["no_doctor_in_range"], 1);
        assert_eq!(v["unmatched"]["capacity_exhausted"], 1);
        assert!(v.get("without").is_none());

        let territory = JobTerritory {
            communes: 1,
            epci: None,
            without: Vec::new(),
        };
        let j = JobSummary::new(&inst, &tally, territory, JobTimings::default());
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["objective"]["matched"], serde_json::json!([1, 0, 0]));
        assert_eq!(v["unmatched"]["total"], 2);
        assert_eq!(v["tiers"][1]["capacity_exhausted"], 1);
        assert_eq!(v["tiers"][2]["no_doctor_in_range"], 1);
        assert_eq!(v["territory"]["epci"], serde_json::Value::Null);
    }

    #[test]
    fn keys_are_written_in_sorted_order_as_before() {
        // serde_json's Map (no preserve_order) sorts keys: re-serialising through a Value gives
        // the same text only if every struct declares its fields in sorted order.
        let (inst, sol, unmatched) = solved();
        let tally = Tally::new(&inst, &sol, &unmatched);
        let without = vec!["10000000009".to_owned()];
        let s = Summary::new(
            &inst,
            &sol,
            &tally,
            "ab".into(),
            without,
            MatchTimings::default(),
        );
        let typed = serde_json::to_string_pretty(&s).unwrap();
        let sorted = serde_json::to_string_pretty(&serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(typed, sorted);
        let territory = JobTerritory {
            communes: 3,
            epci: Some("245400676".into()),
            without: Vec::new(),
        };
        let j = JobSummary::new(&inst, &tally, territory, JobTimings::default());
        let typed = serde_json::to_string(&j).unwrap();
        let sorted = serde_json::to_value(&j).unwrap().to_string();
        assert_eq!(typed, sorted);
    }
}
