//! Regressions on the committed fixtures (fixtures/README.md): the tiny ones against their
//! documented objective vectors, the 13,000-patient ones against the oracle (ignored: 65–72 s
//! each in release with HiGHS, far longer with microlp, the default backend;
//! `cargo test --release --features highs --test solvers -- --ignored --nocapture`).

use cpts::domain::MaxKm;
use cpts::import::load_matching_instance;
use cpts::matching::{self, DEFAULT_MAX_KM, Instance, Objective, exact};
use std::path::Path;
use std::time::Instant;

fn load(name: &str) -> Instance {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    load_matching_instance(&dir, MaxKm::new(DEFAULT_MAX_KM).unwrap())
        .unwrap_or_else(|e| panic!("loading fixtures/{name}: {e}"))
}

/// The flow and the oracle both reach `want` (flow first: it is the one under test here).
fn assert_both(name: &str, want: Objective) {
    let inst = load(name);
    let exact = exact::objective(&inst).unwrap();
    assert_eq!(exact, want, "{name}: exact MILP");
    let fast = matching::solve(&inst).unwrap();
    assert_eq!(
        fast.matching.check(&inst),
        Ok(()),
        "{name}: flow infeasible"
    );
    assert_eq!(fast.objective, want, "{name}: flow");
}

#[test]
fn tiny_fixtures_reach_their_documented_objectives() {
    // Expected vectors from fixtures/README.md ("Tiny instances").
    assert_both(
        "tiny-tiers",
        Objective {
            matched: [2, 1, 0],
            metres: 7_000,
        },
    );
    assert_both(
        "tiny-out-of-range",
        Objective {
            matched: [0, 0, 2],
            metres: 3_500,
        },
    );
    assert_both(
        "tiny-ties",
        Objective {
            matched: [0, 0, 2],
            metres: 1_468,
        },
    );
}

fn flow_agrees_with_the_oracle_on(name: &str) {
    assert_flow_equals_oracle(&format!("fixtures/{name}"), &load(name));
}

/// Solves `inst` with the flow and the MILP, prints both times, and asserts a feasible flow
/// answer with the oracle's objective vector.
pub fn assert_flow_equals_oracle(label: &str, inst: &Instance) {
    let t = Instant::now();
    let fast = matching::solve(inst).unwrap();
    let flow_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let exact = exact::solve(inst).unwrap();
    let exact_s = t.elapsed().as_secs_f64();
    let capacity: u64 = inst.doctors.iter().map(|d| u64::from(d.capacity)).sum();
    eprintln!(
        "{label}: {} patients, {} doctors, capacity {capacity}: flow {flow_s:.2} s, exact {exact_s:.2} s, {:?}",
        inst.patients.len(),
        inst.doctors.len(),
        fast.objective
    );
    assert_eq!(fast.matching.check(inst), Ok(()));
    assert_eq!(
        fast.objective,
        exact.objective(inst),
        "{label}: flow vs exact MILP"
    );
}

#[test]
#[cfg_attr(
    feature = "highs",
    ignore = "65–72 s in release; run with --release --features highs -- --ignored --nocapture"
)]
#[cfg_attr(
    not(feature = "highs"),
    ignore = "needs HiGHS: run with --release --features highs -- --ignored --nocapture"
)]
fn flow_agrees_with_the_oracle_on_nancy() {
    flow_agrees_with_the_oracle_on("nancy");
}

#[test]
#[cfg_attr(
    feature = "highs",
    ignore = "65–72 s in release; run with --release --features highs -- --ignored --nocapture"
)]
#[cfg_attr(
    not(feature = "highs"),
    ignore = "needs HiGHS: run with --release --features highs -- --ignored --nocapture"
)]
fn flow_agrees_with_the_oracle_on_scarce() {
    flow_agrees_with_the_oracle_on("scarce");
}
