//! `cpts verify` end to end: it accepts what `cpts match` writes, and rejects perturbed results
//! (a swapped pair, a worse tier count, a longer total, a tampered certificate, an ineligible
//! pair), saying which check failed. Each perturbation also rewrites summary.json to the
//! objective of the perturbed assignments, so that only the certificate can catch it.

use super::{cpts, fixture, read};
use cpts::domain::MaxKm;
use cpts::geo::{cost_m, haversine_m};
use cpts::import::load_matching_instance;
use cpts::matching::{DEFAULT_MAX_KM, Instance};
use std::collections::HashMap;
use std::path::Path;

/// Runs `cpts match` on a fixture into a fresh folder.
fn batch(name: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let o = cpts(&[
        "match",
        fixture(name).to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// `cpts verify` on a fixture and a result folder: (exit code, stdout).
fn verify(name: &str, result: &Path) -> (i32, String) {
    let o = cpts(&[
        "verify",
        fixture(name).to_str().unwrap(),
        result.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr);
    (o.status.code().unwrap(), format!("{stdout}{stderr}"))
}

fn instance(name: &str) -> Instance {
    load_matching_instance(&fixture(name), MaxKm::new(DEFAULT_MAX_KM).unwrap()).unwrap()
}

/// Ids → indices of an instance.
struct Ids {
    patient: HashMap<String, usize>,
    doctor: HashMap<String, usize>,
}

fn ids(inst: &Instance) -> Ids {
    Ids {
        patient: inst
            .patients
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.to_string(), i))
            .collect(),
        doctor: inst
            .doctors
            .iter()
            .enumerate()
            .map(|(i, d)| (d.rpps.to_string(), i))
            .collect(),
    }
}

fn metres(inst: &Instance, q: usize, d: usize) -> u64 {
    u64::from(cost_m(haversine_m(
        inst.patients[q].coords,
        inst.doctors[d].coords,
    )))
}

/// (patient_id, rpps) of every line of assignments.csv.
fn assignments(dir: &Path) -> Vec<(String, String)> {
    read(&dir.join("assignments.csv"))
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_owned(), f[1].to_owned())
        })
        .collect()
}

/// Writes assignments.csv with true distances, and summary.json's objective and reason counts
/// to what these files give, as a careful forger would.
fn write_assignments(dir: &Path, inst: &Instance, rows: &[(String, String)]) {
    let ids = ids(inst);
    let mut csv = String::from("patient_id,rpps,distance_m\n");
    let (mut matched, mut total) = ([0u64; 3], 0u64);
    for (p, r) in rows {
        let (q, d) = (ids.patient[p], ids.doctor[r]);
        let m = metres(inst, q, d);
        csv.push_str(&format!("{p},{r},{m}\n"));
        matched[inst.patients[q].tier().index()] += 1;
        total += m;
    }
    std::fs::write(dir.join("assignments.csv"), csv).unwrap();
    let unmatched = read(&dir.join("unmatched.csv"));
    let range = unmatched
        .lines()
        .filter(|l| l.contains(",no_doctor_in_range,"))
        .count();
    let others = unmatched.lines().count() - 1 - range;
    let path = dir.join("summary.json");
    let mut s: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    s["objective"]["matched_tier_1"] = matched[0].into();
    s["objective"]["matched_tier_2"] = matched[1].into();
    s["objective"]["matched_tier_3"] = matched[2].into();
    s["objective"]["total_m"] = total.into();
    s["unmatched"]["no_doctor_in_range"] = range.into();
    s["unmatched"]["capacity_exhausted"] = others.into();
    std::fs::write(path, serde_json::to_string_pretty(&s).unwrap()).unwrap();
}

fn append_unmatched(dir: &Path, line: &str) {
    let path = dir.join("unmatched.csv");
    let mut s = read(&path);
    s.push_str(line);
    s.push('\n');
    std::fs::write(path, s).unwrap();
}

fn remove_unmatched(dir: &Path, patient: &str) {
    let path = dir.join("unmatched.csv");
    let s: String = read(&path)
        .lines()
        .filter(|l| !l.starts_with(&format!("{patient},")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(path, s).unwrap();
}

fn assert_rejected_by(name: &str, dir: &Path, check: &str, words: &str) {
    let (code, out) = verify(name, dir);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("{check:<12} FAILED")), "{out}");
    assert!(out.contains(words), "{out}");
    assert!(out.contains("rejected: "), "{out}");
}

#[test]
fn verify_accepts_every_batch_of_cpts_match() {
    for name in [
        "nancy",
        "scarce",
        "tiny-tiers",
        "tiny-out-of-range",
        "tiny-ties",
    ] {
        let out = batch(name);
        let (code, stdout) = verify(name, out.path());
        assert_eq!(code, 0, "{name}: {stdout}");
        assert!(
            stdout.contains("accepted: the result is feasible and optimal"),
            "{stdout}"
        );
        for check in ["feasibility", "objective", "certificate", "optimality"] {
            assert!(stdout.contains(&format!("{check:<12} ok:")), "{stdout}");
        }
    }
}

#[test]
fn a_swapped_pair_is_rejected_as_not_optimal() {
    let out = batch("nancy");
    let inst = instance("nancy");
    let ids = ids(&inst);
    let mut rows = assignments(out.path());
    // The first two patients at different doctors, each eligible for the other's doctor,
    // whose exchange lengthens the total.
    let (i, j) = (0..rows.len())
        .flat_map(|i| (i + 1..rows.len().min(i + 200)).map(move |j| (i, j)))
        .find(|&(i, j)| {
            let (q1, d1) = (ids.patient[&rows[i].0], ids.doctor[&rows[i].1]);
            let (q2, d2) = (ids.patient[&rows[j].0], ids.doctor[&rows[j].1]);
            d1 != d2
                && inst.eligible_cost(q1, d2).is_some()
                && inst.eligible_cost(q2, d1).is_some()
                && metres(&inst, q1, d2) + metres(&inst, q2, d1)
                    > metres(&inst, q1, d1) + metres(&inst, q2, d2)
        })
        .unwrap();
    let d1 = rows[i].1.clone();
    rows[i].1 = rows[j].1.clone();
    rows[j].1 = d1;
    write_assignments(out.path(), &inst, &rows);
    assert_rejected_by(
        "nancy",
        out.path(),
        "optimality",
        "would lower the weighted cost",
    );
    let (_, stdout) = verify("nancy", out.path());
    assert!(stdout.contains("feasibility  ok:"), "{stdout}");
}

#[test]
fn a_worse_tier_count_is_rejected_as_not_optimal() {
    // A tier-1 patient dropped into unmatched.csv: feasible, but one tier-1 fewer.
    let out = batch("nancy");
    let inst = instance("nancy");
    let ids = ids(&inst);
    let mut rows = assignments(out.path());
    let k = rows
        .iter()
        .position(|(p, _)| inst.patients[ids.patient[p]].tier().number() == 1)
        .unwrap();
    let (p, _) = rows.remove(k);
    append_unmatched(out.path(), &format!("{p},1,capacity_exhausted,\"\""));
    write_assignments(out.path(), &inst, &rows);
    assert_rejected_by("nancy", out.path(), "optimality", "");
}

#[test]
fn a_longer_total_is_rejected_as_not_optimal() {
    // fixtures/README.md: in tiny-out-of-range P06 goes to B at 2,500 m; A (spare places) is
    // also in range at 9.5 km.
    let out = batch("tiny-out-of-range");
    let inst = instance("tiny-out-of-range");
    let mut rows = assignments(out.path());
    let k = rows.iter().position(|(p, _)| p == "P06").unwrap();
    assert_eq!(rows[k].1, "10990000126");
    rows[k].1 = "10990000118".to_owned();
    write_assignments(out.path(), &inst, &rows);
    assert_rejected_by(
        "tiny-out-of-range",
        out.path(),
        "optimality",
        "patient P06 and doctor 10990000126: moving them there would lower the weighted cost",
    );
}

#[test]
fn a_tampered_certificate_potential_is_rejected() {
    let out = batch("nancy");
    let path = out.path().join("certificate.json");
    let mut cert: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    let bound = cert["bound"].as_i64().unwrap();
    // A doctor holding patients: lower its potential by 2B, so that leaving its patients
    // unmatched, or moving them, looks cheaper.
    let rpps = assignments(out.path())[0].1.clone();
    let p = cert["doctor_potential"][&rpps].as_i64().unwrap();
    cert["doctor_potential"][&rpps] = (p - 2 * bound).into();
    std::fs::write(&path, cert.to_string()).unwrap();
    assert_rejected_by("nancy", out.path(), "optimality", "");
}

#[test]
fn a_certificate_with_too_small_a_bound_is_rejected() {
    let out = batch("tiny-tiers");
    let path = out.path().join("certificate.json");
    let mut cert: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    // One doctor with capacity, costs ≤ 3,000 m: B must reach (1 + 1)(c_max + 1) ≥ 6,002.
    for (k, m) in [
        ("penalty_tier_1", 3),
        ("penalty_tier_2", 2),
        ("penalty_tier_3", 1),
    ] {
        cert[k] = (m * 100).into();
    }
    cert["bound"] = 100.into();
    std::fs::write(&path, cert.to_string()).unwrap();
    assert_rejected_by(
        "tiny-tiers",
        out.path(),
        "certificate",
        "bound B = 100 is below",
    );
}

#[test]
fn an_assignment_to_an_ineligible_doctor_is_rejected_as_infeasible() {
    // fixtures/README.md: P02 lives 25 km from A, beyond every limit.
    let out = batch("tiny-out-of-range");
    let inst = instance("tiny-out-of-range");
    let mut rows = assignments(out.path());
    rows.push(("P02".to_owned(), "10990000118".to_owned()));
    remove_unmatched(out.path(), "P02");
    write_assignments(out.path(), &inst, &rows);
    assert_rejected_by(
        "tiny-out-of-range",
        out.path(),
        "feasibility",
        "patient P02 and doctor 10990000118 are not an eligible pair",
    );
    let (_, stdout) = verify("tiny-out-of-range", out.path());
    assert!(stdout.contains("optimality   not checked"), "{stdout}");
}

#[test]
fn a_summary_that_misstates_the_total_is_rejected() {
    let out = batch("tiny-tiers");
    let path = out.path().join("summary.json");
    let mut s: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    s["objective"]["total_m"] = 6_999.into();
    std::fs::write(&path, s.to_string()).unwrap();
    // fixtures/README.md: tiny-tiers totals 7,000 m.
    assert_rejected_by(
        "tiny-tiers",
        out.path(),
        "objective",
        "objective.total_m is 6999; the assignments give 7000",
    );
}

#[test]
fn a_wrong_reason_is_rejected() {
    // tiny-tiers: every unmatched patient has the doctor in range.
    let out = batch("tiny-tiers");
    let path = out.path().join("unmatched.csv");
    let s = read(&path).replacen(",capacity_exhausted,", ",no_doctor_in_range,", 1);
    std::fs::write(&path, s).unwrap();
    let inst = instance("tiny-tiers");
    write_assignments(out.path(), &inst, &assignments(out.path()));
    assert_rejected_by(
        "tiny-tiers",
        out.path(),
        "reasons",
        "is no_doctor_in_range, but",
    );
}

#[test]
fn a_result_of_another_instance_is_rejected_and_a_missing_file_is_bad_input() {
    let out = batch("tiny-tiers");
    let (code, stdout) = verify("tiny-ties", out.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("batch        FAILED"), "{stdout}");
    std::fs::remove_file(out.path().join("certificate.json")).unwrap();
    let (code, out) = verify("tiny-tiers", out.path());
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("certificate.json"), "{out}");
}
