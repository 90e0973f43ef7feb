//! The `cpts` binary end to end: `cpts match` on fixtures and on refused input.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cpts(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpts"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

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
