//! `cpts match` on fixtures and on refused input.

use super::{cpts, read, root};

#[test]
fn match_writes_the_three_outputs_and_the_certificate() {
    let out = tempfile::tempdir().unwrap();
    let o = cpts(&[
        "match",
        "fixtures/tiny-tiers",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("tier 1"), "{stdout}");
    // fixtures/README.md: tiny-tiers has the objective (2, 1, 0, 7000).
    let summary: serde_json::Value =
        serde_json::from_str(&read(&out.path().join("summary.json"))).unwrap();
    assert_eq!(summary["objective"]["matched_tier_1"], 2);
    assert_eq!(summary["objective"]["matched_tier_2"], 1);
    assert_eq!(summary["objective"]["matched_tier_3"], 0);
    assert_eq!(summary["objective"]["total_m"], 7000);
    let assignments = read(&out.path().join("assignments.csv"));
    assert_eq!(
        assignments.lines().next(),
        Some("patient_id,rpps,distance_m")
    );
    assert_eq!(assignments.lines().count(), 1 + 3);
    let unmatched = read(&out.path().join("unmatched.csv"));
    assert_eq!(
        unmatched.lines().next(),
        Some("patient_id,tier,reason,detail")
    );
    assert_eq!(unmatched.lines().count(), 1 + 3);
    assert!(
        unmatched
            .lines()
            .skip(1)
            .all(|l| l.contains(",capacity_exhausted,")),
        "{unmatched}"
    );
    assert!(out.path().join("certificate.json").exists());
}

#[test]
fn patients_out_of_every_range_are_reported_with_the_nearest_doctor() {
    let out = tempfile::tempdir().unwrap();
    let o = cpts(&[
        "match",
        "fixtures/tiny-out-of-range",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let unmatched = read(&out.path().join("unmatched.csv"));
    let far: Vec<&str> = unmatched
        .lines()
        .filter(|l| l.contains(",no_doctor_in_range,"))
        .collect();
    // fixtures/README.md: four patients of tiny-out-of-range are out of range.
    assert_eq!(far.len(), 4, "{unmatched}");
    assert!(
        far.iter()
            .all(|l| l.contains("nearest doctor with capacity"))
    );
}

#[test]
fn the_same_input_gives_the_same_output_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [&a, &b] {
        assert!(
            cpts(&[
                "match",
                "fixtures/nancy",
                "--out",
                d.path().to_str().unwrap()
            ])
            .status
            .success()
        );
    }
    for f in ["assignments.csv", "unmatched.csv", "certificate.json"] {
        assert_eq!(read(&a.path().join(f)), read(&b.path().join(f)), "{f}");
    }
}

#[test]
fn a_patients_file_with_several_faults_is_refused_whole_with_exit_code_2() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("result");
    let o = cpts(&[
        "match",
        "tests/data/bad-patients",
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    // Each fault of tests/data/bad-patients/patients.csv, by line and column.
    for want in [
        "patients.csv:1:0: field `css`",
        "patients.csv:3:2: field `lat`",
        "patients.csv:4:1: field `patient_id`",
        "patients.csv:5:1: field `patient_id`",
        "patients.csv:6:5: field `age`",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(!target.exists(), "nothing may be written");
    // Health data: the refused values themselves are never echoed.
    let bad = read(&root().join("tests/data/bad-patients/patients.csv"));
    let nir = bad.lines().nth(3).unwrap().split(',').next().unwrap();
    assert!(!err.contains(nir));
}

#[test]
fn a_doctors_file_with_a_bad_rpps_key_is_refused_with_exit_code_2() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("result");
    let o = cpts(&[
        "match",
        "tests/data/bad-doctors",
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("doctors.csv:4:1: field `rpps`: check digit does not match (Luhn)"),
        "{err}"
    );
    assert!(!target.exists());
}

#[test]
fn a_bad_default_limit_is_refused_by_the_argument_parser() {
    let o = cpts(&["match", "fixtures/tiny-tiers", "--default-max-km=0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--default-max-km"));
}

/// A what-if instance checked by hand: A (Nancy, 54395, 2 places) and B (Vandœuvre, 54547,
/// 3 places). P1 (ALD) and P2 live next to A, P3 and P4 (aged 75) next to B; everyone is within
/// 10 km of both. Base: P1, P2 → A and P3, P4 → B. Without A, B's three places go to P1 (tier 1),
/// P4 (tier 2) and P3, the tier-3 patient nearer B; P2 loses out.
fn whatif_instance() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("doctors.csv"),
        "rpps,name,lat,lon,insee,capacity,max_km\n\
         10990000118,Dr A,48.692100,6.184400,54395,2,\n\
         10990000126,Dr B,48.660000,6.160000,54547,3,\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("patients.csv"),
        "patient_id,lat,lon,insee,age,ald,css,max_km\n\
         P1,48.695000,6.185000,54395,40,1,0,\n\
         P2,48.690000,6.180000,54395,40,0,0,\n\
         P3,48.662000,6.162000,54547,40,0,0,\n\
         P4,48.658000,6.158000,54547,75,0,0,\n",
    )
    .unwrap();
    dir
}

#[test]
fn match_without_a_doctor_compares_the_what_if_batch_with_the_base_one() {
    let inst = whatif_instance();
    let out = tempfile::tempdir().unwrap();
    let o = cpts(&[
        "match",
        inst.path().to_str().unwrap(),
        "--without",
        "10990000118",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("lose out   1 (tier 1: 0, tier 2: 0, tier 3: 1)"),
        "{stdout}"
    );
    // The outputs are the what-if batch's: P2 unmatched, B full.
    let unmatched = read(&out.path().join("unmatched.csv"));
    assert_eq!(unmatched.lines().count(), 2, "{unmatched}");
    assert!(
        unmatched.contains("P2,3,capacity_exhausted,"),
        "{unmatched}"
    );
    let w: serde_json::Value =
        serde_json::from_str(&read(&out.path().join("whatif.json"))).unwrap();
    assert_eq!(w["lose_out"]["tier_3"], 1);
    assert_eq!(w["lose_out"]["total"], 1);
    assert_eq!(w["gain"]["total"], 0);
    assert_eq!(w["reassigned"], 1); // P1, from A to B
    assert_eq!(w["retired_capacity"], 2);
    assert_eq!(w["without"][0]["patients_in_base"], 2);
    assert_eq!(w["base"]["matched_tier_3"], 2);
    assert_eq!(w["whatif"]["matched_tier_3"], 1);
    // Nancy: P2 now unmatched (0 → 1), A's 2 places retired; Vandœuvre unchanged, not listed.
    assert_eq!(
        read(&out.path().join("whatif_communes.csv")),
        "insee,lose_out_tier_1,lose_out_tier_2,lose_out_tier_3,gain,unmatched_base,unmatched_whatif,shortfall,retired_capacity\n\
         54395,0,0,1,0,0,1,1,2\n"
    );
    // The what-if result is an ordinary batch: verify accepts it given the same --without,
    // and refuses to take it for the base batch.
    let v = cpts(&[
        "verify",
        inst.path().to_str().unwrap(),
        out.path().to_str().unwrap(),
        "--without",
        "10990000118",
    ]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let v = cpts(&[
        "verify",
        inst.path().to_str().unwrap(),
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(v.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&v.stdout).contains("pass --without"));
}

#[test]
fn without_refuses_a_bad_key_and_an_unknown_doctor_with_exit_code_2() {
    let inst = whatif_instance();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("result");
    for (arg, message) in [
        ("10990000119", "check digit does not match (Luhn)"),
        ("10990000118,123", "expected exactly 11 digits"),
        (
            "10990000134",
            "--without 10990000134: no doctor with this RPPS in doctors.csv",
        ),
    ] {
        let o = cpts(&[
            "match",
            inst.path().to_str().unwrap(),
            "--without",
            arg,
            "--out",
            target.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{arg}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(message), "{arg}: {err}");
        assert!(!target.exists());
    }
}

#[test]
fn exclusions_are_honoured_by_match_and_verify() {
    let dir = whatif_instance();
    // P1 (tier 1) nearest Dr A; excluded from Dr A, it goes to Dr B. P2 excluded from both.
    std::fs::write(
        dir.path().join("exclusions.csv"),
        "patient_id,rpps\nP1,10990000118\nP2,10990000118\nP2,10990000126\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = cpts(&[
        "match",
        dir.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let assignments = read(&out.path().join("assignments.csv"));
    assert!(assignments.contains("P1,10990000126,"), "{assignments}");
    assert!(!assignments.contains("P2,"), "{assignments}");
    let unmatched = read(&out.path().join("unmatched.csv"));
    assert!(
        unmatched.contains("P2,3,no_doctor_in_range,"),
        "{unmatched}"
    );
    let o = cpts(&[
        "verify",
        dir.path().to_str().unwrap(),
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // A result that assigns an excluded pair is refused by verify.
    let bad = assignments.replace("P1,10990000126,", "P1,10990000118,");
    let cheat = tempfile::tempdir().unwrap();
    for f in ["unmatched.csv", "summary.json", "certificate.json"] {
        std::fs::copy(out.path().join(f), cheat.path().join(f)).unwrap();
    }
    std::fs::write(cheat.path().join("assignments.csv"), bad).unwrap();
    let o = cpts(&[
        "verify",
        dir.path().to_str().unwrap(),
        cheat.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "an excluded pair was accepted");
}

#[test]
fn a_bad_exclusions_file_is_refused_with_its_position() {
    let dir = whatif_instance();
    std::fs::write(
        dir.path().join("exclusions.csv"),
        "patient_id,rpps\nP1,10990000118\nP9,10990000118\nP1,10990000118\nP3,10000000009\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = cpts(&[
        "match",
        dir.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("exclusions.csv:3:1: field `patient_id`"),
        "{err}"
    );
    assert!(
        err.contains("exclusions.csv:4:2: field `rpps`: duplicate"),
        "{err}"
    );
    assert!(err.contains("exclusions.csv:5:2: field `rpps`"), "{err}");
    assert!(!err.contains("P9"), "a patient id was echoed: {err}");
    assert!(!out.path().join("assignments.csv").exists());
}

#[test]
fn a_warm_re_batch_after_churn_matches_the_cold_one_and_verifies() {
    // fixtures/nancy, then the same with every 25th patient gone and the first three doctors
    // with capacity at 1 place (a weekly rerun); the warm batch starts from the first one.
    let nancy = root().join("fixtures/nancy");
    let first = tempfile::tempdir().unwrap();
    let o = cpts(&[
        "match",
        nancy.to_str().unwrap(),
        "--out",
        first.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let churned = tempfile::tempdir().unwrap();
    let patients: String = read(&nancy.join("patients.csv"))
        .lines()
        .enumerate()
        .filter(|(i, _)| *i == 0 || i % 25 != 0)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    std::fs::write(churned.path().join("patients.csv"), patients).unwrap();
    let mut changed = 0;
    let doctors: String = read(&nancy.join("doctors.csv"))
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            if changed < 3 && cells[5] != "capacity" && cells[5] != "0" {
                changed += 1;
                cells[5] = "1";
            }
            format!("{}\n", cells.join(","))
        })
        .collect();
    std::fs::write(churned.path().join("doctors.csv"), doctors).unwrap();
    let (cold, warm) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let c = churned.path().to_str().unwrap();
    let o = cpts(&["match", c, "--out", cold.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cpts(&[
        "match",
        c,
        "--warm",
        first.path().to_str().unwrap(),
        "--out",
        warm.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let objective = |dir: &std::path::Path| {
        let s: serde_json::Value = serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
        s["objective"].clone()
    };
    assert_eq!(objective(warm.path()), objective(cold.path()));
    let v = cpts(&["verify", c, warm.path().to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}
