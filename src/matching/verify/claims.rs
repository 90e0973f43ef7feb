//! What a batch's output folder claims, and the checks of those claims: `summary.json` names
//! the instance and parameters it was computed for (check `batch`) and states the objective and
//! the counts that the rows must give (check `objective`); `certificate.json` is read here and
//! checked by [`super::certificate`].

use super::feasibility::Recount;
use super::{Check, Expected, Report};
use crate::domain::Rpps;
use crate::matching::{Instance, Matching};
use std::collections::BTreeMap;

/// `objective` of summary.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ObjectiveClaim {
    pub matched_tier_1: u64,
    pub matched_tier_2: u64,
    pub matched_tier_3: u64,
    pub total_m: u64,
}

/// `patients` of summary.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct TierCounts {
    pub tier_1: u64,
    pub tier_2: u64,
    pub tier_3: u64,
}

/// `unmatched` of summary.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ReasonCounts {
    pub no_doctor_in_range: u64,
    pub capacity_exhausted: u64,
}

/// The fields of summary.json that `verify` checks.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct SummaryClaim {
    pub objective: ObjectiveClaim,
    pub patients: Option<TierCounts>,
    pub unmatched: Option<ReasonCounts>,
    pub default_max_km: Option<f64>,
    pub instance_sha256: Option<String>,
    /// RPPS of the doctors retired in a what-if batch (`cpts match --without`).
    #[serde(default)]
    pub without: Vec<String>,
}

/// certificate.json.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct CertificateClaim {
    pub penalty_tier_1: i64,
    pub penalty_tier_2: i64,
    pub penalty_tier_3: i64,
    pub bound: i64,
    pub doctors_with_capacity: u64,
    pub max_cost_m: u64,
    /// RPPS → potential, for every doctor with capacity.
    pub doctor_potential: BTreeMap<String, i64>,
}

/// Check `batch`: the summary was computed for these files (checksum), this default limit and
/// these retired doctors.
pub(super) fn check_batch(
    inst: &Instance,
    s: &SummaryClaim,
    expected: &Expected,
    report: &mut Report,
) {
    let o = report.outcome(Check::Batch);
    if let Some(want) = &expected.instance_sha256 {
        match &s.instance_sha256 {
            Some(got) if got == want => {}
            Some(_) => o.push(
                "summary.json: instance_sha256 is not the checksum of these patients.csv and \
                 doctors.csv: the result was computed for other files"
                    .to_owned(),
            ),
            None => o.push("summary.json: instance_sha256 is missing".to_owned()),
        }
    }
    if let Some(km) = s.default_max_km
        && km != inst.default_max_km.km()
    {
        o.push(format!(
            "summary.json: the batch ran with a default limit of {km} km, this check with {} km \
             (pass --default-max-km {km})",
            inst.default_max_km.km()
        ));
    }
    let mut claimed: Vec<&str> = s.without.iter().map(String::as_str).collect();
    let mut given: Vec<&str> = expected.without.iter().map(Rpps::as_str).collect();
    claimed.sort_unstable();
    claimed.dedup();
    given.sort_unstable();
    given.dedup();
    if claimed != given {
        let list = |v: &[&str]| {
            if v.is_empty() {
                "no doctor".to_owned()
            } else {
                v.join(",")
            }
        };
        o.push(format!(
            "summary.json: the batch ran without {}, this check without {} (pass --without with \
             the batch's list)",
            list(&claimed),
            list(&given)
        ));
    }
}

/// Check `objective`: the objective, the patients per tier and the unmatched per reason that
/// the summary states are those recounted from the rows and the instance.
pub(super) fn check_objective(
    inst: &Instance,
    s: &SummaryClaim,
    recount: &Recount,
    report: &mut Report,
) {
    let o = report.outcome(Check::Objective);
    let obj = recount.objective;
    let stated = [
        s.objective.matched_tier_1,
        s.objective.matched_tier_2,
        s.objective.matched_tier_3,
        s.objective.total_m,
    ];
    let names = [
        "matched_tier_1",
        "matched_tier_2",
        "matched_tier_3",
        "total_m",
    ];
    for k in 0..4 {
        if stated[k] != obj[k] {
            o.push(format!(
                "summary.json: objective.{} is {}; the assignments give {}",
                names[k], stated[k], obj[k]
            ));
        }
    }
    if let Some(t) = s.patients {
        let sizes = Matching::tier_sizes(inst);
        for (k, got) in [t.tier_1, t.tier_2, t.tier_3].into_iter().enumerate() {
            if got != sizes[k] {
                o.push(format!(
                    "summary.json: patients.tier_{} is {got}; patients.csv has {}",
                    k + 1,
                    sizes[k]
                ));
            }
        }
    }
    if let Some(u) = s.unmatched {
        for (name, got, want) in [
            (
                "no_doctor_in_range",
                u.no_doctor_in_range,
                recount.reasons[0],
            ),
            (
                "capacity_exhausted",
                u.capacity_exhausted,
                recount.reasons[1],
            ),
        ] {
            if got != want {
                o.push(format!(
                    "summary.json: unmatched.{name} is {got}; unmatched.csv has {want}"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::example::{self, SHA};
    use super::super::{Check, verify};

    #[test]
    fn the_hand_solved_summary_is_accepted() {
        let (inst, result, expected) = example::solved();
        let report = verify(&inst, &result, &expected);
        assert!(report.accepted(), "{report:#?}");
        // (n1, n2, n3, metres): p0 (tier 1) and p1 (tier 3) matched, 1112 m each.
        assert_eq!(report.stats.objective, [1, 0, 1, 2224]);
    }

    #[test]
    fn a_wrong_claimed_total_is_refused() {
        let (inst, mut result, expected) = example::solved();
        result.summary.objective.total_m = 2223;
        let report = verify(&inst, &result, &expected);
        assert_eq!(report.failed(), vec![Check::Objective]);
        assert_eq!(
            report.outcomes[&Check::Objective].listed,
            ["summary.json: objective.total_m is 2223; the assignments give 2224"]
        );
    }

    #[test]
    fn wrong_reason_counts_and_tier_sizes_are_refused() {
        let (inst, mut result, expected) = example::solved();
        // patients.csv has tiers (1, 0, 2); unmatched.csv one capacity_exhausted.
        if let Some(t) = result.summary.patients.as_mut() {
            t.tier_3 = 1;
        }
        if let Some(u) = result.summary.unmatched.as_mut() {
            u.no_doctor_in_range = 1;
        }
        let report = verify(&inst, &result, &expected);
        assert_eq!(report.failed(), vec![Check::Objective]);
        assert_eq!(
            report.outcomes[&Check::Objective].listed,
            [
                "summary.json: patients.tier_3 is 1; patients.csv has 2",
                "summary.json: unmatched.no_doctor_in_range is 1; unmatched.csv has 0",
            ]
        );
    }

    #[test]
    fn a_result_of_other_files_or_parameters_is_refused() {
        let (inst, mut result, mut expected) = example::solved();
        result.summary.instance_sha256 = Some(format!("{SHA}0"));
        result.summary.default_max_km = Some(12.0);
        expected.without = vec![example::rpps("1099000001")];
        let report = verify(&inst, &result, &expected);
        assert_eq!(report.failed(), vec![Check::Batch]);
        let listed = &report.outcomes[&Check::Batch].listed;
        assert_eq!(listed.len(), 3);
        assert!(listed[0].contains("computed for other files"), "{listed:?}");
        assert!(listed[1].contains("default limit of 12 km"), "{listed:?}");
        assert!(
            listed[2].contains("without no doctor, this check without"),
            "{listed:?}"
        );
    }
}
