//! Properties on random small instances: the flow against the MILP oracle, the oracle against
//! brute force, and both checked for feasibility. Objective vectors are compared, never
//! assignments (FORMATS.md §2: the optimum is unique in its objective only).

use crate::instances::{small_matching_instance, small_matching_instance_with_exclusions};
use cpts::matching::{self, Instance, Matching, Objective, exact};
use cpts::solver::milp::Options;
use proptest::prelude::*;

/// The best objective over every assignment, by exhaustive search: each patient in turn gets
/// nobody or an eligible doctor with room left. (D + 1)^P leaves at most.
fn brute_force(inst: &Instance) -> Objective {
    fn go(
        inst: &Instance,
        p: usize,
        room: &mut [u32],
        current: &mut Matching,
        best: &mut Objective,
    ) {
        if p == inst.patients.len() {
            let obj = current.objective(inst);
            if obj.better_than(best) {
                *best = obj;
            }
            return;
        }
        go(inst, p + 1, room, current, best);
        for d in 0..inst.doctors.len() {
            if room[d] > 0 && inst.eligible_cost(p, d).is_some() {
                room[d] -= 1;
                current.doctor_of[p] = Some(u32::try_from(d).unwrap());
                go(inst, p + 1, room, current, best);
                current.doctor_of[p] = None;
                room[d] += 1;
            }
        }
    }
    let mut room: Vec<u32> = inst.doctors.iter().map(|d| d.capacity).collect();
    let mut current = Matching {
        doctor_of: vec![None; inst.patients.len()],
    };
    let mut best = current.objective(inst);
    go(inst, 0, &mut room, &mut current, &mut best);
    best
}

fn flow(inst: &Instance) -> Result<matching::Solution, TestCaseError> {
    matching::solve(inst).map_err(|e| TestCaseError::fail(format!("flow failed: {e}")))
}

fn oracle(inst: &Instance) -> Result<Matching, TestCaseError> {
    exact::solve(inst).map_err(|e| TestCaseError::fail(format!("oracle failed: {e}")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))] // PROPTEST_CASES overrides

    #[test]
    fn flow_matches_the_exact_model(inst in small_matching_instance(30, 8)) {
        let fast = flow(&inst)?;
        let checked = fast.matching.check(&inst);
        prop_assert!(checked.is_ok(), "flow answer infeasible: {:?}", checked);
        prop_assert_eq!(fast.objective, fast.matching.objective(&inst),
            "the flow's reported objective is not that of its own matching");
        let exact = oracle(&inst)?.objective(&inst);
        prop_assert_eq!(fast.objective, exact, "flow (left) vs exact MILP (right)");
    }

    #[test]
    fn flow_matches_the_exact_model_with_exclusions(
        inst in small_matching_instance_with_exclusions(30, 8)
    ) {
        let fast = flow(&inst)?;
        let checked = fast.matching.check(&inst);
        prop_assert!(checked.is_ok(), "flow answer infeasible: {:?}", checked);
        for (p, d) in fast.matching.doctor_of.iter().enumerate() {
            if let Some(d) = d {
                prop_assert!(!inst.excluded.contains(&(p as u32, *d)), "excluded pair {p}-{d} assigned");
            }
        }
        let exact = oracle(&inst)?.objective(&inst);
        prop_assert_eq!(fast.objective, exact, "flow (left) vs exact MILP (right)");
    }

    #[test]
    fn exact_model_matches_brute_force_with_exclusions(
        inst in small_matching_instance_with_exclusions(6, 3)
    ) {
        let best = brute_force(&inst);
        let exact = oracle(&inst)?.objective(&inst);
        prop_assert_eq!(exact, best, "exact MILP (left) vs brute force (right)");
    }

    #[test]
    fn flow_is_deterministic(inst in small_matching_instance(30, 8)) {
        let first = flow(&inst)?;
        let second = flow(&inst.clone())?;
        prop_assert_eq!(first.matching, second.matching);
    }

    #[test]
    fn exact_model_answer_is_feasible_and_within_bounds(inst in small_matching_instance(30, 8)) {
        let m = oracle(&inst)?;
        let checked = m.check(&inst);
        prop_assert!(checked.is_ok(), "oracle answer infeasible: {:?}", checked);
        let obj = m.objective(&inst);
        let sizes = Matching::tier_sizes(&inst);
        for (matched, size) in obj.matched.iter().zip(sizes) {
            prop_assert!(*matched <= size);
        }
        let capacity: u64 = inst.doctors.iter().map(|d| u64::from(d.capacity)).sum();
        prop_assert!(obj.matched.iter().sum::<u64>() <= capacity);
    }

    #[test]
    fn exact_model_matches_brute_force_on_tiny_instances(inst in small_matching_instance(6, 3)) {
        let best = brute_force(&inst);
        let exact = oracle(&inst)?.objective(&inst);
        prop_assert_eq!(exact, best, "exact MILP (left) vs brute force (right)");
        // The same stages through branch and bound, which the LP relaxation usually spares.
        let branch_and_bound = Options { skip_relaxation: true, ..Options::default() };
        let bb = exact::solve_with(&inst, &branch_and_bound)
            .map_err(|e| TestCaseError::fail(format!("oracle (branch and bound) failed: {e}")))?;
        prop_assert_eq!(bb.objective(&inst), best, "branch and bound (left) vs brute force (right)");
    }
}
