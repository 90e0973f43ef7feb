//! The hand-solved instance of the unit tests of `verify`'s parts.
//!
//! Two doctors with one place each and three patients on the meridian 6.18° E, where a
//! hundredth of a degree of latitude is R·π/18,000 = 1,111.95 m:
//!
//! | who | latitude | tier | to A (48.70) | to B (48.72) |
//! |-----|----------|------|--------------|--------------|
//! | p0  | 48.69    | 1    | 1,112 m      | 3,336 m      |
//! | p1  | 48.73    | 3    | 3,336 m      | 1,112 m      |
//! | p2  | 48.80    | 3    | 11,120 m (beyond 10 km) | 8,896 m |
//!
//! The optimum: p0 → A, p1 → B, p2 unmatched (`capacity_exhausted`: B is its only eligible
//! doctor, and full); objective (1, 0, 1, 2,224 m). Certificate: D = 2, c_max ≤ 10,000 m,
//! so B = 3 × 10,001 = 30,003 and penalties (90,009, 60,006, 30,003). Potentials: p(p2) = −30,003
//! and the pair p2–B needs 8,896 − 30,003 − p(B) ≥ 0, so p(B) ≤ −21,107; p1's penalty needs
//! 30,003 + p(B) − 1,112 ≥ 0, so p(B) ≥ −28,891; the cross pairs need |p(A) − p(B)| ≤ 2,224.
//! p(A) = p(B) = −21,107 satisfies all.

use super::claims::{ObjectiveClaim, ReasonCounts, TierCounts};
use super::{BatchResult, CertificateClaim, Expected, Lined, SummaryClaim};
use crate::domain::{
    AssignmentRow, MatchingDoctor, MaxKm, Patient, PatientId, Rpps, Tier, UnmatchedRow,
};
use crate::geo::Coordinates;
use crate::matching::Instance;
use std::collections::BTreeMap;

/// The checksum the example's summary and expectation agree on.
pub const SHA: &str = "0123abcd";

pub fn rpps(body: &str) -> Rpps {
    Rpps::with_check_digit(body).expect("10 digits")
}

fn at(lat: f64) -> Coordinates {
    Coordinates::new(lat, 6.18).expect("on Earth")
}

fn patient(i: usize, lat: f64, ald: bool) -> Patient {
    Patient {
        id: format!("p{i}").parse().expect("a patient id"),
        coords: at(lat),
        insee: "54395".parse().expect("an INSEE code"),
        age: 40,
        ald,
        css: false,
        max_km: None,
    }
}

fn doctor(body: &str, lat: f64) -> MatchingDoctor {
    MatchingDoctor {
        rpps: rpps(body),
        name: String::new(),
        coords: at(lat),
        insee: "54395".parse().expect("an INSEE code"),
        capacity: 1,
        max_km: None,
    }
}

/// A row of assignments.csv on `line`.
pub fn assigned(
    line: u64,
    patient: PatientId,
    doctor: &str,
    distance_m: u64,
) -> Lined<AssignmentRow> {
    Lined {
        line,
        row: AssignmentRow {
            patient,
            rpps: rpps(doctor),
            distance_m,
        },
    }
}

/// A tier-3 `capacity_exhausted` row of unmatched.csv on `line`.
pub fn unmatched(line: u64, patient: PatientId) -> Lined<UnmatchedRow> {
    Lined {
        line,
        row: UnmatchedRow {
            patient,
            tier: Tier::Other,
            reason: "capacity_exhausted".to_owned(),
            detail: String::new(),
        },
    }
}

/// Sets the certificate's `B` and the penalties that go with it.
pub fn set_bound(c: &mut CertificateClaim, b: i64) {
    c.bound = b;
    (c.penalty_tier_1, c.penalty_tier_2, c.penalty_tier_3) = (3 * b, 2 * b, b);
}

/// The instance, its optimal result with the certificate of the module documentation, and what
/// the caller expects.
pub fn solved() -> (Instance, BatchResult, Expected) {
    let inst = Instance {
        patients: vec![
            patient(0, 48.69, true),
            patient(1, 48.73, false),
            patient(2, 48.80, false),
        ],
        doctors: vec![doctor("1099000001", 48.70), doctor("1099000002", 48.72)],
        default_max_km: MaxKm::new(10.0).expect("a limit"),
        excluded: Default::default(),
    };
    let id = |q: usize| inst.patients[q].id.clone();
    let mut certificate = CertificateClaim {
        penalty_tier_1: 0,
        penalty_tier_2: 0,
        penalty_tier_3: 0,
        bound: 0,
        doctors_with_capacity: 2,
        max_cost_m: 10_000,
        doctor_potential: BTreeMap::from([
            (rpps("1099000001").into(), -21_107),
            (rpps("1099000002").into(), -21_107),
        ]),
    };
    set_bound(&mut certificate, 30_003);
    let result = BatchResult {
        assignments: vec![
            assigned(2, id(0), "1099000001", 1112),
            assigned(3, id(1), "1099000002", 1112),
        ],
        unmatched: vec![unmatched(2, id(2))],
        summary: SummaryClaim {
            objective: ObjectiveClaim {
                matched_tier_1: 1,
                matched_tier_2: 0,
                matched_tier_3: 1,
                total_m: 2224,
            },
            patients: Some(TierCounts {
                tier_1: 1,
                tier_2: 0,
                tier_3: 2,
            }),
            unmatched: Some(ReasonCounts {
                no_doctor_in_range: 0,
                capacity_exhausted: 1,
            }),
            default_max_km: Some(10.0),
            instance_sha256: Some(SHA.to_owned()),
            without: Vec::new(),
        },
        certificate,
    };
    let expected = Expected {
        instance_sha256: Some(SHA.to_owned()),
        without: Vec::new(),
    };
    (inst, result, expected)
}
