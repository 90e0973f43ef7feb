//! Warm re-batches (issue 21): a batch started from the previous batch's potentials and
//! assignment, after churn (patients removed and added, capacities changed, exclusions added),
//! reaches the cold batch's objective, with a certificate of its own that holds.

use crate::instances::small_matching_instance;
use cpts::matching::flow::{Previous, solve_warm_with};
use cpts::matching::{self, Instance, Solution};
use proptest::collection::vec;
use proptest::prelude::*;

/// What changes between the two batches.
#[derive(Clone, Debug)]
struct Churn {
    removed: Vec<bool>,
    added: Instance,
    capacity: Vec<Option<u32>>,
    excluded: Vec<bool>,
}

fn churn() -> impl Strategy<Value = Churn> {
    (
        vec(prop::bool::weighted(0.2), 30),
        small_matching_instance(8, 1),
        vec(prop::option::weighted(0.3, 0u32..=6), 8),
        vec(prop::bool::weighted(0.1), 38 * 8),
    )
        .prop_map(|(removed, added, capacity, excluded)| Churn {
            removed,
            added,
            capacity,
            excluded,
        })
}

/// `base` after `churn`: the kept patients in order, then the added ones (fresh ids), the
/// capacities changed, then a tenth of the eligible pairs excluded.
fn churned(base: &Instance, churn: &Churn) -> Instance {
    let mut inst = base.clone();
    inst.excluded = Default::default();
    inst.patients = base
        .patients
        .iter()
        .zip(&churn.removed)
        .filter(|(_, removed)| !**removed)
        .map(|(p, _)| p.clone())
        .collect();
    for (i, p) in churn.added.patients.iter().enumerate() {
        let mut p = p.clone();
        p.id = format!("new{i}").parse().unwrap();
        inst.patients.push(p);
    }
    for (d, c) in inst.doctors.iter_mut().zip(&churn.capacity) {
        if let Some(c) = c {
            d.capacity = *c;
        }
    }
    let doctors = inst.doctors.len();
    for p in 0..inst.patients.len() {
        for d in 0..doctors {
            if churn.excluded[p * doctors + d] && inst.eligible_cost(p, d).is_some() {
                inst.excluded.insert((p as u32, d as u32));
            }
        }
    }
    inst
}

/// The certificate of flow.rs, checked over every eligible pair of the instance.
fn certificate_holds(inst: &Instance, sol: &Solution) -> Result<(), String> {
    let c = &sol.certificate;
    let pot = &c.potential;
    let mut load = vec![0u32; inst.doctors.len()];
    for d in sol.matching.doctor_of.iter().flatten() {
        load[*d as usize] += 1;
    }
    for (d, doc) in inst.doctors.iter().enumerate() {
        if doc.capacity > 0 && load[d] < doc.capacity && pot[d] < 0 {
            return Err(format!("doctor {d} has room but potential {}", pot[d]));
        }
        if load[d] > 0 && pot[d] > 0 {
            return Err(format!("doctor {d} holds patients at potential {}", pot[d]));
        }
    }
    for (p, patient) in inst.patients.iter().enumerate() {
        let penalty = c.penalty[patient.tier().index()];
        let pq = match sol.matching.doctor_of[p] {
            Some(d) => {
                let cost = i64::from(inst.eligible_cost(p, d as usize).ok_or("ineligible")?);
                let pq = pot[d as usize] - cost;
                if penalty + pq < 0 {
                    return Err(format!("patient {p} would rather be unmatched"));
                }
                pq
            }
            None => -penalty,
        };
        for (d, &pd) in pot.iter().enumerate() {
            if let Some(cost) = inst.eligible_cost(p, d)
                && i64::from(cost) + pq - pd < 0
            {
                return Err(format!("pair {p}-{d} has a negative reduced cost"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))] // PROPTEST_CASES overrides

    #[test]
    fn a_warm_batch_after_churn_reaches_the_cold_objective(
        base in small_matching_instance(30, 8),
        churn in churn(),
    ) {
        let first = matching::solve(&base).unwrap();
        let next = churned(&base, &churn);
        let cold = matching::solve(&next).unwrap();
        let warm = solve_warm_with(&next, &Previous::carried_over(&base, &first, &next), &mut |_, _| {})
            .unwrap();
        let checked = warm.matching.check(&next);
        prop_assert!(checked.is_ok(), "warm answer infeasible: {:?}", checked);
        prop_assert_eq!(warm.objective, warm.matching.objective(&next));
        prop_assert_eq!(warm.objective, cold.objective, "warm (left) vs cold (right)");
        let holds = certificate_holds(&next, &warm);
        prop_assert!(holds.is_ok(), "warm certificate: {:?}", holds);
    }

    #[test]
    fn a_warm_batch_on_the_same_instance_keeps_its_objective(
        base in small_matching_instance(30, 8),
    ) {
        let first = matching::solve(&base).unwrap();
        let warm = solve_warm_with(&base, &Previous::carried_over(&base, &first, &base), &mut |_, _| {})
            .unwrap();
        prop_assert_eq!(warm.objective, first.objective);
        let holds = certificate_holds(&base, &warm);
        prop_assert!(holds.is_ok(), "warm certificate: {:?}", holds);
    }
}
