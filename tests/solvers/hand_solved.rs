//! Small instances solved by hand. People stand on one meridian through Nancy, so a distance is
//! the difference of the offsets in metres (`north_of`); each expected value says where it
//! comes from. The oracle is asserted first, so a failure names the solver that is wrong.

use crate::instances::{doctor, instance, km, nancy, north_of, patient};
use cpts::geo::{cost_m, haversine_m};
use cpts::matching::{self, Instance, Matching, Objective, exact};

fn objective(matched: [u64; 3], metres: u64) -> Objective {
    Objective { matched, metres }
}

/// Both solvers reach `want`; returns (flow, oracle) matchings.
fn assert_optimum(inst: &Instance, want: Objective) -> (Matching, Matching) {
    let exact = exact::solve(inst).unwrap();
    assert_eq!(exact.objective(inst), want, "exact MILP");
    let fast = matching::solve(inst).unwrap();
    assert_eq!(fast.matching.check(inst), Ok(()), "flow answer infeasible");
    assert_eq!(
        fast.objective,
        fast.matching.objective(inst),
        "flow recount"
    );
    assert_eq!(fast.objective, want, "flow");
    (fast.matching, exact)
}

#[test]
fn tier_1_patient_is_matched_before_a_closer_tier_3_patient() {
    // One place: the tier-1 patient at 5,000 m beats the tier-3 one at 100 m.
    let d = nancy();
    let inst = instance(
        vec![
            patient(0, north_of(d, 100.0), 3),
            patient(1, north_of(d, -5_000.0), 1),
        ],
        vec![doctor(0, d, 1)],
        10.0,
    );
    let (fast, exact) = assert_optimum(&inst, objective([1, 0, 0], 5_000));
    // The only optimal assignment.
    assert_eq!(fast.doctor_of, vec![None, Some(0)]);
    assert_eq!(exact.doctor_of, vec![None, Some(0)]);
}

#[test]
fn tier_2_patient_is_matched_before_a_closer_tier_3_patient() {
    // One place: tier 2 (here by CSS, age 30) at 4,000 m beats tier 3 at 100 m.
    let d = nancy();
    let mut css = patient(1, north_of(d, 4_000.0), 3);
    css.css = true;
    css.age = 30;
    let inst = instance(
        vec![patient(0, north_of(d, 100.0), 3), css],
        vec![doctor(0, d, 1)],
        10.0,
    );
    let (fast, _) = assert_optimum(&inst, objective([0, 1, 0], 4_000));
    assert_eq!(fast.doctor_of, vec![None, Some(0)]);
}

#[test]
fn same_tier_minimises_the_total_distance_not_each_patients() {
    // Doctors at 0 m and 2,500 m (one place each); p0 at 1,000 m, p1 at -100 m. Giving p0 its
    // nearest doctor costs 1,000 + 2,600 = 3,600 m; the optimum is p1 → 0 m (100) and
    // p0 → 2,500 m (1,500): 1,600 m.
    let o = nancy();
    let inst = instance(
        vec![
            patient(0, north_of(o, 1_000.0), 3),
            patient(1, north_of(o, -100.0), 3),
        ],
        vec![doctor(0, o, 1), doctor(1, north_of(o, 2_500.0), 1)],
        10.0,
    );
    let (fast, _) = assert_optimum(&inst, objective([0, 0, 2], 1_600));
    assert_eq!(fast.doctor_of, vec![Some(1), Some(0)]);
}

#[test]
fn tier_2_patient_is_moved_to_make_room_for_tier_1() {
    // A at 0 m, B at 8,000 m, one place each, default 10 km. p0 (tier 1) at -3,000 m reaches
    // only A (B is 11,000 m away); p1 (tier 2) at 3,000 m reaches both (3,000 and 5,000 m);
    // p2 (tier 3) at 15,000 m reaches only B (7,000 m). Best: p0 → A, p1 → B, p2 unmatched:
    // (1, 1, 0) and 3,000 + 5,000 = 8,000 m.
    let o = nancy();
    let inst = instance(
        vec![
            patient(0, north_of(o, -3_000.0), 1),
            patient(1, north_of(o, 3_000.0), 2),
            patient(2, north_of(o, 15_000.0), 3),
        ],
        vec![doctor(0, o, 1), doctor(1, north_of(o, 8_000.0), 1)],
        10.0,
    );
    let (fast, _) = assert_optimum(&inst, objective([1, 1, 0], 8_000));
    assert_eq!(fast.doctor_of, vec![Some(0), Some(1), None]);
}

#[test]
fn patient_out_of_range_stays_unmatched() {
    // Default 10 km: p0 at 12,000 m is out; p1 at 12,000 m with its own 15 km is in; p2 at
    // 3,000 m with its own 2 km is out. Only p1: (0, 0, 1), 12,000 m.
    let d = nancy();
    let mut far_but_willing = patient(1, north_of(d, 12_000.0), 3);
    far_but_willing.max_km = km(15.0);
    let mut near_but_unwilling = patient(2, north_of(d, 3_000.0), 3);
    near_but_unwilling.max_km = km(2.0);
    let inst = instance(
        vec![
            patient(0, north_of(d, 12_000.0), 3),
            far_but_willing,
            near_but_unwilling,
        ],
        vec![doctor(0, d, 5)],
        10.0,
    );
    let (fast, _) = assert_optimum(&inst, objective([0, 0, 1], 12_000));
    assert_eq!(fast.doctor_of, vec![None, Some(0), None]);
}

#[test]
fn doctor_max_km_refuses_a_far_patient() {
    // The doctor takes patients within 2 km: p0 (tier 1) at 3,000 m is refused although within
    // the 10 km default; p1 at 1,500 m is taken. (0, 0, 1), 1,500 m.
    let d = nancy();
    let mut doc = doctor(0, d, 5);
    doc.max_km = km(2.0);
    let inst = instance(
        vec![
            patient(0, north_of(d, 3_000.0), 1),
            patient(1, north_of(d, 1_500.0), 3),
        ],
        vec![doc],
        10.0,
    );
    let (fast, _) = assert_optimum(&inst, objective([0, 0, 1], 1_500));
    assert_eq!(fast.doctor_of, vec![None, Some(0)]);
}

/// A point north of `from` whose distance `d` is exactly `km × 1000` for `km = d / 1000`, so a
/// limit of `km` is exactly at the distance; `km`'s predecessor is then just short of it.
fn exactly_reachable(from: cpts::geo::Coordinates) -> (cpts::geo::Coordinates, f64, f64) {
    for m in 1_000..2_000 {
        let at = north_of(from, f64::from(m) + 0.25);
        let dist = haversine_m(from, at);
        let limit_km = dist / 1000.0;
        if limit_km * 1000.0 == dist && limit_km.next_down() * 1000.0 < dist {
            return (at, dist, limit_km);
        }
    }
    panic!("no offset in 1,000–2,000 m gives an exactly representable limit");
}

#[test]
fn eligibility_is_inclusive_at_the_exact_limit() {
    // FORMATS.md §2: eligible when distance ≤ limit, the unrounded distance against
    // max_km × 1000. Both patients stand at the same point, `dist` away: p0's limit equals
    // `dist` exactly, p1's is one float below. Only p0: (0, 0, 1), round(dist) metres.
    let d = nancy();
    let (at, dist, limit_km) = exactly_reachable(d);
    let mut at_limit = patient(0, at, 3);
    at_limit.max_km = km(limit_km);
    let mut just_short = patient(1, at, 3);
    just_short.max_km = km(limit_km.next_down());
    let inst = instance(vec![at_limit, just_short], vec![doctor(0, d, 2)], 10.0);
    let want = objective([0, 0, 1], u64::from(cost_m(dist)));
    let (fast, _) = assert_optimum(&inst, want);
    assert_eq!(fast.doctor_of, vec![Some(0), None]);
}

#[test]
fn doctor_limit_is_inclusive_at_the_exact_limit() {
    // As above, but the limit is the doctor's: exactly `dist` takes the patient, one float
    // below does not.
    let d = nancy();
    let (at, dist, limit_km) = exactly_reachable(d);
    let mut at_limit = doctor(0, d, 1);
    at_limit.max_km = km(limit_km);
    let inst = instance(vec![patient(0, at, 3)], vec![at_limit.clone()], 10.0);
    assert_optimum(&inst, objective([0, 0, 1], u64::from(cost_m(dist))));

    let mut just_short = at_limit;
    just_short.max_km = km(limit_km.next_down());
    let inst = instance(vec![patient(0, at, 3)], vec![just_short], 10.0);
    assert_optimum(&inst, objective([0, 0, 0], 0));
}

#[test]
fn doctor_without_capacity_gets_nobody() {
    // Capacity 0 makes no pair eligible (FORMATS.md §2), even at distance 0.
    let d = nancy();
    let inst = instance(vec![patient(0, d, 1)], vec![doctor(0, d, 0)], 10.0);
    assert_optimum(&inst, objective([0, 0, 0], 0));
}

#[test]
fn instances_without_eligible_pairs_have_the_zero_objective() {
    let d = nancy();
    // Nobody at all; patients without doctors; doctors without patients.
    assert_optimum(&instance(vec![], vec![], 10.0), objective([0, 0, 0], 0));
    assert_optimum(
        &instance(vec![patient(0, d, 2)], vec![], 10.0),
        objective([0, 0, 0], 0),
    );
    assert_optimum(
        &instance(vec![], vec![doctor(0, d, 3)], 10.0),
        objective([0, 0, 0], 0),
    );
}

#[test]
fn patients_at_the_same_place_tie_and_the_answer_is_repeatable() {
    // Three tier-3 patients at one point 700 m from a doctor with two places: two are matched,
    // 2 × 700 m, whichever two; the flow picks the same two every time.
    let d = nancy();
    let at = north_of(d, 700.0);
    let inst = instance(
        (0..3).map(|i| patient(i, at, 3)).collect(),
        vec![doctor(0, d, 2)],
        10.0,
    );
    let (fast, _) = assert_optimum(&inst, objective([0, 0, 2], 1_400));
    assert_eq!(matching::solve(&inst).unwrap().matching, fast);
}
