//! Check `certificate`: the shape of certificate.json before any reduced cost is read. The
//! penalties must be `3B, 2B, B` with `B ≥ (D + 1)(c_max + 1)`, `D` the doctors with capacity
//! and `c_max` a bound on every eligible pair's cost, so that the weighted optimum is the
//! lexicographic one (see [`crate::matching::flow`]); and every doctor with capacity, and only
//! those, must have a potential.
//!
//! The bound tried first is `⌈largest patient limit⌉` (a pair's distance never exceeds its
//! patient's limit); when the certificate's `B` is below what it gives, `c_max` is recomputed
//! exactly by a second pass over the pairs.

use super::claims::CertificateClaim;
use super::{Check, Outcome, Report, Sinks};
use crate::geo::EARTH_RADIUS_M;
use crate::matching::Instance;
use std::collections::HashMap;

/// The certificate, checked and indexed by sink.
pub(super) struct Cert {
    /// Penalty of leaving a patient of tier 1, 2, 3 unmatched.
    pub penalty: [i128; 3],
    /// Potential per sink.
    pub potential: Vec<i128>,
}

/// Runs the check and records its outcome; the certificate when it passed.
pub(super) fn check(
    inst: &Instance,
    c: &CertificateClaim,
    sinks: &Sinks,
    report: &mut Report,
) -> Option<Cert> {
    let mut o = Outcome::running();
    let d = sinks.doctor.len() as i128;
    let b = i128::from(c.bound);
    report.stats.bound = c.bound;
    report.stats.doctors_with_capacity = d as u64;
    if b <= 0 {
        o.push(format!("bound B is {}; it must be positive", c.bound));
    }
    let penalty = [c.penalty_tier_1, c.penalty_tier_2, c.penalty_tier_3].map(i128::from);
    for (k, &p) in penalty.iter().enumerate() {
        let want = (3 - k as i128) * b;
        if p != want {
            o.push(format!(
                "penalty_tier_{} is {p}; with B = {b} it must be {want} (3B, 2B, B)",
                k + 1
            ));
        }
    }
    if c.doctors_with_capacity != d as u64 {
        o.push(format!(
            "doctors_with_capacity is {}; doctors.csv has {d}",
            c.doctors_with_capacity
        ));
    }
    // A pair's distance is at most its patient's limit, and at most half the Earth's
    // circumference (haversine's asin is capped at π/2); cost_m rounds it, so ⌈·⌉ bounds it.
    let limit = inst
        .max_patient_limit_m()
        .min(std::f64::consts::PI * EARTH_RADIUS_M);
    let mut c_max = limit.ceil() as u64;
    let mut exact = false;
    let needed = |c_max: u64| (d + 1) * (i128::from(c_max) + 1);
    if b < needed(c_max) {
        // The certificate may rest on the true largest cost: compute it.
        c_max = exact_max_cost(inst, sinks);
        exact = true;
    }
    report.stats.c_max = c_max;
    report.stats.c_max_exact = exact;
    report.stats.needed_bound = needed(c_max);
    if b < needed(c_max) {
        o.push(format!(
            "bound B = {b} is below (D + 1)(c_max + 1) = {} (D = {d} doctors with capacity, \
             c_max = {c_max} m, the largest eligible cost): the penalties do not make the \
             weighted optimum the lexicographic one",
            needed(c_max)
        ));
    }
    let mut potential: Vec<Option<i128>> = vec![None; sinks.doctor.len()];
    let by_rpps: HashMap<&str, u32> = inst
        .doctors
        .iter()
        .enumerate()
        .map(|(i, doc)| (doc.rpps.as_str(), i as u32))
        .collect();
    for (rpps, &p) in &c.doctor_potential {
        match by_rpps.get(rpps.as_str()) {
            None => o.push(format!(
                "doctor_potential: {rpps} is not a doctor of doctors.csv"
            )),
            Some(&doc) if sinks.sink_of[doc as usize] == u32::MAX => o.push(format!(
                "doctor_potential: doctor {rpps} has no capacity in this batch"
            )),
            Some(&doc) => potential[sinks.sink_of[doc as usize] as usize] = Some(i128::from(p)),
        }
    }
    for (s, p) in potential.iter().enumerate() {
        if p.is_none() {
            o.push(format!(
                "doctor_potential: doctor {} has capacity but no potential",
                inst.doctors[sinks.doctor[s] as usize].rpps
            ));
        }
    }
    let ok = o.problems == 0;
    report.outcomes.insert(Check::Certificate, o);
    ok.then(|| Cert {
        penalty,
        potential: potential.into_iter().map(|p| p.unwrap_or(0)).collect(),
    })
}

/// The largest cost of an eligible pair, by one pass over every pair.
fn exact_max_cost(inst: &Instance, sinks: &Sinks) -> u64 {
    let mut max = 0u64;
    for q in 0..inst.patients.len() {
        sinks.for_each_near(inst, q, |s, _| {
            if let Some(c) = inst.eligible_cost(q, sinks.doctor[s as usize] as usize) {
                max = max.max(u64::from(c));
            }
        });
    }
    max
}

#[cfg(test)]
mod tests {
    use super::super::example;
    use super::super::{Report, Sinks};
    use super::check;

    #[test]
    fn the_hand_solved_certificate_passes_on_the_limit_bound() {
        // D = 2 doctors with capacity, c_max ≤ ⌈10 km⌉ = 10,000 m: B must reach
        // 3 × 10,001 = 30,003, which the example's certificate states exactly.
        let (inst, result, _) = example::solved();
        let mut report = Report::default();
        let cert = check(&inst, &result.certificate, &Sinks::new(&inst), &mut report);
        let cert = cert.expect("the example's certificate is well formed");
        assert_eq!(cert.penalty, [90_009, 60_006, 30_003]);
        assert_eq!(cert.potential, [-21_107, -21_107]);
        assert_eq!(report.stats.needed_bound, 30_003);
        assert!(!report.stats.c_max_exact);
    }

    #[test]
    fn a_smaller_bound_is_checked_against_the_exact_largest_cost() {
        // The costliest eligible pair is p2–B at 8,896 m: B ≥ 3 × 8,897 = 26,691 suffices.
        let (inst, mut result, _) = example::solved();
        example::set_bound(&mut result.certificate, 26_691);
        let mut report = Report::default();
        assert!(check(&inst, &result.certificate, &Sinks::new(&inst), &mut report).is_some());
        assert_eq!((report.stats.c_max, report.stats.c_max_exact), (8896, true));

        example::set_bound(&mut result.certificate, 26_690);
        let mut report = Report::default();
        assert!(check(&inst, &result.certificate, &Sinks::new(&inst), &mut report).is_none());
        let o = &report.outcomes[&super::super::Check::Certificate];
        assert_eq!(o.problems, 1);
        assert!(
            o.listed[0].starts_with("bound B = 26690 is below (D + 1)(c_max + 1) = 26691"),
            "{o:?}"
        );
    }

    #[test]
    fn a_bad_certificate_is_refused() {
        let (inst, mut result, _) = example::solved();
        // Penalties not (3B, 2B, B), a potential missing, one for an unknown doctor.
        result.certificate.penalty_tier_2 = 60_005;
        let a = result.certificate.doctor_potential.pop_first();
        assert!(a.is_some());
        result
            .certificate
            .doctor_potential
            .insert("10990000035".to_owned(), 0);
        let mut report = Report::default();
        assert!(check(&inst, &result.certificate, &Sinks::new(&inst), &mut report).is_none());
        assert_eq!(
            report.outcomes[&super::super::Check::Certificate].listed,
            [
                "penalty_tier_2 is 60005; with B = 30003 it must be 60006 (3B, 2B, B)",
                "doctor_potential: 10990000035 is not a doctor of doctors.csv",
                "doctor_potential: doctor 10990000019 has capacity but no potential",
            ]
        );
    }
}
