//! Checks `optimality` and `reasons`, from a certificate that passed [`super::certificate`].
//!
//! With `p(q) = p(d) − cost(q, d)` for a patient matched to `d` and `p(q) = −penalty(tier)` for
//! an unmatched one: every eligible pair has `cost + p(q) − p(d) ≥ 0`, every matched patient
//! `penalty + p(q) ≥ 0`, every doctor with a spare place `p(d) ≥ 0` and every doctor with
//! patients `p(d) ≤ 0`. These are the reduced costs of every arc of the residual network, so the
//! assignment is the weighted optimum, hence the lexicographic one. The reasons are checked on
//! the way: `no_doctor_in_range` exactly for the unmatched patients without an eligible pair.
//!
//! The patients are checked in fixed chunks on rayon's pool; the parts are merged in patient
//! order, so the report does not depend on the number of threads.

use super::certificate::Cert;
use super::feasibility::Recount;
use super::{Check, Listed, Outcome, Report, Sinks};
use crate::geo::EARTH_RADIUS_M;
use crate::matching::Instance;
use rayon::prelude::*;

/// Patients per unit of parallel work.
const CHUNK: usize = 4096;

/// What one chunk of patients gave.
#[derive(Default)]
struct Part {
    optimality: Outcome,
    reasons: Outcome,
    examined: u64,
    exact: u64,
}

/// Runs both checks on the feasible assignment `recount` and records their outcomes.
pub(super) fn check(
    inst: &Instance,
    recount: &Recount,
    sinks: &Sinks,
    cert: &Cert,
    report: &mut Report,
) {
    let mut opt = Outcome::running();
    let mut load = vec![0u64; sinks.doctor.len()];
    for d in recount.doctor_of.iter().flatten() {
        load[sinks.sink_of[*d as usize] as usize] += 1;
    }
    for (s, &doc) in sinks.doctor.iter().enumerate() {
        let (doc, p) = (&inst.doctors[doc as usize], cert.potential[s]);
        if load[s] < u64::from(doc.capacity) && p < 0 {
            opt.push(format!(
                "doctor {} has a free place ({} of {}) but potential {p} < 0: a patient could \
                 move there for less",
                doc.rpps, load[s], doc.capacity
            ));
        }
        if load[s] > 0 && p > 0 {
            opt.push(format!(
                "doctor {} has patients but potential {p} > 0",
                doc.rpps
            ));
        }
    }
    let n = inst.patients.len();
    let parts: Vec<Part> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|i| {
            stream(
                inst,
                recount,
                sinks,
                cert,
                i * CHUNK..((i + 1) * CHUNK).min(n),
            )
        })
        .collect();
    let mut reasons = Outcome::running();
    for part in parts {
        opt.merge(part.optimality);
        reasons.merge(part.reasons);
        report.stats.pairs_examined += part.examined;
        report.stats.pairs_exact += part.exact;
    }
    report.outcomes.insert(Check::Optimality, opt);
    report.outcomes.insert(Check::Reasons, reasons);
}

/// The reduced-cost and reason checks of patients `range`.
fn stream(
    inst: &Instance,
    recount: &Recount,
    sinks: &Sinks,
    cert: &Cert,
    range: std::ops::Range<usize>,
) -> Part {
    let (doctor_of, listed) = (&recount.doctor_of, &recount.listed);
    let mut part = Part::default();
    for q in range {
        let p = &inst.patients[q];
        let penalty = cert.penalty[p.tier().index()];
        let pq = match doctor_of[q] {
            Some(d) => {
                let s = sinks.sink_of[d as usize] as usize;
                let cost = inst.eligible_cost(q, d as usize).map_or(0, i128::from);
                let pq = cert.potential[s] - cost;
                if penalty + pq < 0 {
                    part.optimality.push(format!(
                        "patient {}: leaving them unmatched would lower the weighted cost \
                         (penalty {penalty} + p(q) {pq} < 0)",
                        p.id
                    ));
                }
                pq
            }
            None => -penalty,
        };
        let mut any_eligible: Option<(u32, u32)> = None;
        sinks.for_each_near(inst, q, |s, c2| {
            part.examined += 1;
            let threshold = cert.potential[s as usize] - pq;
            // cost ≥ distance − 0.5 ≥ R·chord − 1.5 (module documentation of `verify`).
            let lower = EARTH_RADIUS_M * c2.sqrt() * (1.0 - 1e-9) - 1.5;
            // An unmatched patient's reason needs one eligible pair decided exactly first.
            if (doctor_of[q].is_some() || any_eligible.is_some()) && lower >= threshold as f64 {
                return;
            }
            part.exact += 1;
            let d = sinks.doctor[s as usize];
            let Some(cost) = inst.eligible_cost(q, d as usize) else {
                return;
            };
            if any_eligible.is_none() {
                any_eligible = Some((d, cost));
            }
            let reduced = i128::from(cost) - threshold;
            if reduced < 0 {
                let what = match doctor_of[q] {
                    Some(_) => "moving them there",
                    None => "matching them there",
                };
                part.optimality.push(format!(
                    "patient {} and doctor {}: {what} would lower the weighted cost (cost \
                     {cost} + p(q) {pq} − p(d) {} = reduced cost {reduced} < 0)",
                    p.id, inst.doctors[d as usize].rpps, cert.potential[s as usize],
                ));
            }
        });
        if let Listed::Unmatched(line, range) = listed[q] {
            match (range, any_eligible) {
                (true, Some((d, cost))) => part.reasons.push(format!(
                    "unmatched.csv:{line}: patient {} is no_doctor_in_range, but doctor {} is \
                     eligible at {cost} m",
                    p.id, inst.doctors[d as usize].rpps
                )),
                (false, None) => part.reasons.push(format!(
                    "unmatched.csv:{line}: patient {} is capacity_exhausted, but has no eligible \
                     doctor",
                    p.id
                )),
                _ => {}
            }
        }
    }
    part
}

#[cfg(test)]
mod tests {
    use super::super::{Check, example, verify};

    #[test]
    fn potentials_one_below_the_tight_value_are_refused() {
        // p2 is unmatched (tier 3): p(p2) = −B = −30,003. Its pair with B costs 8,896 m, so
        // the reduced cost 8,896 − 30,003 − p(B) is ≥ 0 iff p(B) ≤ −21,107. With −21,106
        // matching p2 to B would lower the weighted cost by 1.
        let (inst, mut result, expected) = example::solved();
        result
            .certificate
            .doctor_potential
            .insert(example::rpps("1099000002").as_str().to_owned(), -21_106);
        let report = verify(&inst, &result, &expected);
        assert_eq!(report.failed(), vec![Check::Optimality]);
        assert_eq!(
            report.outcomes[&Check::Optimality].listed,
            [
                "patient p2 and doctor 10990000027: matching them there would lower the weighted \
                 cost (cost 8896 + p(q) -30003 − p(d) -21106 = reduced cost -1 < 0)"
            ]
        );
    }

    #[test]
    fn a_worse_assignment_has_no_valid_certificate() {
        // p2 on B and p1 unmatched costs 8,896 m instead of 1,112: p(p1) = −30,003 and its
        // pair with B (1,112 m) needs p(B) ≤ −28,891, but then p2's penalty check fails:
        // 30,003 + p(B) − 8,896 < 0. With the example's p(B) = −21,107 the pair p1–B is
        // refused: 1,112 − 30,003 + 21,107 = −7,784 (and p1–A: 3,336 − 30,003 + 21,107 =
        // −5,560).
        let (inst, mut result, expected) = example::solved();
        let p1 = result.assignments.remove(1).row.patient;
        let p2 = result.unmatched.remove(0).row.patient;
        result
            .assignments
            .push(example::assigned(3, p2, "1099000002", 8896));
        result.unmatched.push(example::unmatched(2, p1));
        result.summary.objective.total_m = 1112 + 8896;
        let report = verify(&inst, &result, &expected);
        assert_eq!(report.failed(), vec![Check::Optimality]);
        let o = &report.outcomes[&Check::Optimality];
        assert_eq!(o.problems, 2, "{:?}", o.listed);
        assert!(
            o.listed
                .iter()
                .any(|m| m.contains("reduced cost -7784 < 0")),
            "{:?}",
            o.listed
        );
    }

    #[test]
    fn a_free_place_with_a_negative_potential_and_a_wrong_reason_are_refused() {
        let (mut inst, mut result, expected) = example::solved();
        // A gets a second place it does not use: p(A) = −21,107 < 0 would let a patient move
        // there for less. p2, out of A's 10 km, is still capacity_exhausted (B is eligible).
        inst.doctors[0].capacity = 2;
        result.unmatched[0].row.reason = "no_doctor_in_range".to_owned();
        if let Some(u) = result.summary.unmatched.as_mut() {
            (u.no_doctor_in_range, u.capacity_exhausted) = (1, 0);
        }
        let report = verify(&inst, &result, &expected);
        assert_eq!(report.failed(), vec![Check::Optimality, Check::Reasons]);
        assert!(
            report.outcomes[&Check::Optimality].listed[0]
                .starts_with("doctor 10990000019 has a free place (1 of 2) but potential -21107"),
            "{:?}",
            report.outcomes[&Check::Optimality].listed
        );
        assert_eq!(
            report.outcomes[&Check::Reasons].listed,
            [
                "unmatched.csv:2: patient p2 is no_doctor_in_range, but doctor 10990000027 is \
                 eligible at 8896 m"
            ]
        );
    }
}
