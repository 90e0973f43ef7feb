//! Check `feasibility` (FORMATS.md §2): every patient listed exactly once, in
//! `assignments.csv` or `unmatched.csv`, with the tier patients.csv gives; every assignment an
//! eligible pair at its stated `distance_m`; no doctor over capacity. It also recounts, from the
//! rows, what the summary must state ([`Recount`]).

use super::{BatchResult, Check, Listed, Outcome, Report};
use crate::geo::{cost_m, haversine_m};
use crate::matching::Instance;
use std::collections::HashMap;

/// What the rows give, whatever the summary says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Recount {
    /// True when the feasibility check found nothing; the rest of the fields is then the
    /// complete assignment.
    pub feasible: bool,
    /// The doctor of each patient (index in the instance).
    pub doctor_of: Vec<Option<u32>>,
    /// Where each patient was listed.
    pub listed: Vec<Listed>,
    /// `(n1, n2, n3, metres)` of the rows as written, first listing of each patient.
    pub objective: [u64; 4],
    /// Unmatched rows per reason: `no_doctor_in_range`, `capacity_exhausted`.
    pub reasons: [u64; 2],
}

/// Runs the check, records its outcome and the row counts in `report`, and returns the recount.
pub(super) fn check(inst: &Instance, result: &BatchResult, report: &mut Report) -> Recount {
    let n = inst.patients.len();
    let patient_of: HashMap<&str, u32> = inst
        .patients
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i as u32))
        .collect();
    let doctor_of_rpps: HashMap<&str, u32> = inst
        .doctors
        .iter()
        .enumerate()
        .map(|(i, d)| (d.rpps.as_str(), i as u32))
        .collect();
    let mut o = Outcome::running();
    let mut listed = vec![Listed::Nowhere; n];
    let mut doctor_of: Vec<Option<u32>> = vec![None; n];
    let mut load = vec![0u64; inst.doctors.len()];
    let mut obj = [0u64; 4];
    for a in &result.assignments {
        let (line, row) = (a.line, &a.row);
        let Some(&q) = patient_of.get(row.patient.as_str()) else {
            o.push(format!(
                "assignments.csv:{line}: patient {} is not in patients.csv",
                row.patient
            ));
            continue;
        };
        let q = q as usize;
        if listed[q] != Listed::Nowhere {
            o.push(format!(
                "assignments.csv:{line}: patient {} is already listed on {}",
                row.patient, listed[q]
            ));
            continue;
        }
        listed[q] = Listed::Assigned(line);
        let Some(&d) = doctor_of_rpps.get(row.rpps.as_str()) else {
            o.push(format!(
                "assignments.csv:{line}: doctor {} is not in doctors.csv",
                row.rpps
            ));
            continue;
        };
        let (p, doc) = (&inst.patients[q], &inst.doctors[d as usize]);
        let dist = haversine_m(p.coords, doc.coords);
        let cost = u64::from(cost_m(dist));
        obj[p.tier().index()] += 1;
        obj[3] += cost;
        load[d as usize] += 1;
        doctor_of[q] = Some(d);
        if inst.eligible_cost(q, d as usize).is_none() {
            let why = if doc.capacity == 0 {
                "the doctor has no capacity".to_owned()
            } else {
                format!("{cost} m for a limit of {} m", inst.limit_m(p, doc))
            };
            o.push(format!(
                "assignments.csv:{line}: patient {} and doctor {} are not an eligible pair ({why})",
                row.patient, row.rpps
            ));
        } else if row.distance_m != cost {
            o.push(format!(
                "assignments.csv:{line}: distance_m is {} but patient {} is {cost} m from doctor {}",
                row.distance_m, row.patient, row.rpps
            ));
        }
    }
    let mut reasons = [0u64; 2];
    for u in &result.unmatched {
        let (line, row) = (u.line, &u.row);
        let Some(&q) = patient_of.get(row.patient.as_str()) else {
            o.push(format!(
                "unmatched.csv:{line}: patient {} is not in patients.csv",
                row.patient
            ));
            continue;
        };
        let q = q as usize;
        if listed[q] != Listed::Nowhere {
            o.push(format!(
                "unmatched.csv:{line}: patient {} is already listed on {}",
                row.patient, listed[q]
            ));
            continue;
        }
        let range = row.reason == "no_doctor_in_range";
        listed[q] = Listed::Unmatched(line, range);
        let tier = inst.patients[q].tier();
        if row.tier != tier {
            o.push(format!(
                "unmatched.csv:{line}: patient {} is given tier {}, but is tier {} by patients.csv",
                row.patient,
                row.tier.number(),
                tier.number()
            ));
        }
        match row.reason.as_str() {
            "no_doctor_in_range" => reasons[0] += 1,
            "capacity_exhausted" => reasons[1] += 1,
            other => o.push(format!("unmatched.csv:{line}: unknown reason `{other}`")),
        }
    }
    for (q, l) in listed.iter().enumerate() {
        if *l == Listed::Nowhere {
            o.push(format!(
                "patient {} is in neither assignments.csv nor unmatched.csv",
                inst.patients[q].id
            ));
        }
    }
    for (d, &l) in load.iter().enumerate() {
        let doc = &inst.doctors[d];
        if l > u64::from(doc.capacity) {
            o.push(format!(
                "doctor {} has {l} patients for a capacity of {}",
                doc.rpps, doc.capacity
            ));
        }
    }
    let feasible = o.problems == 0;
    report.outcomes.insert(Check::Feasibility, o);
    report.stats.patients = n as u64;
    report.stats.assignments = result.assignments.len() as u64;
    report.stats.unmatched = result.unmatched.len() as u64;
    report.stats.objective = obj;
    Recount {
        feasible,
        doctor_of,
        listed,
        objective: obj,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::super::example;
    use super::super::{Check, Listed, Report};
    use super::check;

    #[test]
    fn the_hand_solved_rows_are_feasible_and_recounted() {
        let (inst, result, _) = example::solved();
        let mut report = Report::default();
        let recount = check(&inst, &result, &mut report);
        assert!(recount.feasible, "{report:#?}");
        // p0 → A (1112 m), p1 → B (1112 m), p2 unmatched (capacity_exhausted) on line 2.
        assert_eq!(recount.doctor_of, [Some(0), Some(1), None]);
        assert_eq!(
            recount.listed,
            [
                Listed::Assigned(2),
                Listed::Assigned(3),
                Listed::Unmatched(2, false)
            ]
        );
        assert_eq!(recount.objective, [1, 0, 1, 2224]);
        assert_eq!(recount.reasons, [0, 1]);
    }

    #[test]
    fn a_pair_beyond_the_limit_is_refused() {
        // p2 → A instead of unmatched: 0.10° of latitude = 11,119.5 m > 10 km.
        let (inst, mut result, expected) = example::solved();
        let p2 = result.unmatched.remove(0).row.patient;
        result
            .assignments
            .push(example::assigned(4, p2, "1099000001", 11120));
        let report = super::super::verify(&inst, &result, &expected);
        assert!(report.failed().contains(&Check::Feasibility));
        // A then holds p0 and p2 for one place: counted too.
        assert_eq!(
            report.outcomes[&Check::Feasibility].listed,
            [
                "assignments.csv:4: patient p2 and doctor 10990000019 are not an eligible pair \
                 (11120 m for a limit of 10000 m)",
                "doctor 10990000019 has 2 patients for a capacity of 1",
            ]
        );
        // Infeasible: the certificate and optimality are not even looked at.
        assert!(!report.outcomes.contains_key(&Check::Certificate));
    }

    #[test]
    fn an_overfull_doctor_a_missing_patient_and_a_wrong_distance_are_refused() {
        let (inst, mut result, _) = example::solved();
        // p2 moves onto B, who already has p1: 2 patients for a capacity of 1; p0's distance
        // is misstated; and the unmatched row goes, so nobody is missing but B is over.
        let p2 = result.unmatched.remove(0).row.patient;
        result
            .assignments
            .push(example::assigned(4, p2, "1099000002", 8896));
        result.assignments[0].row.distance_m = 1111;
        let mut report = Report::default();
        let recount = check(&inst, &result, &mut report);
        assert!(!recount.feasible);
        let f = &report.outcomes[&Check::Feasibility];
        assert_eq!(
            f.listed,
            [
                "assignments.csv:2: distance_m is 1111 but patient p0 is 1112 m from doctor \
                 10990000019",
                "doctor 10990000027 has 2 patients for a capacity of 1",
            ]
        );
        // Dropping a row altogether leaves a patient nowhere.
        let (inst, mut result, _) = example::solved();
        result.unmatched.clear();
        let recount = check(&inst, &result, &mut Report::default());
        assert!(!recount.feasible);
    }
}
