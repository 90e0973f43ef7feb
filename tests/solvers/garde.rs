//! Garde properties (FORMATS.md §3): on random small instances, the network-simplex roster,
//! the successive-shortest-paths roster and the staged MILP oracle have the same objective
//! vector (filled, Σ load², metres), and every roster passes the feasibility check. Then the
//! fixtures: they read, solve and check.

use chrono::{Duration, NaiveDate};
use cpts::domain::{MaxKm, Rpps};
use cpts::garde::calendar::paris_instant;
use cpts::garde::report;
use cpts::garde::schedule::{self, Algorithm};
use cpts::garde::{Cabinet, GardeDoctor, Instance, Period, Window, exact};
use cpts::geo::Coordinates;
use cpts::solver::milp::Options;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Start dates worth testing: an ordinary week, Easter 2026 (Good Friday 3 April, Easter
/// Monday 6 April), the spring DST change (29 March), the autumn one (25 October), Christmas.
const STARTS: [&str; 6] = [
    "2026-03-02",
    "2026-03-30",
    "2026-03-26",
    "2026-10-21",
    "2026-12-21",
    "2026-05-04",
];

/// A random instance around Metz (57, Alsace-Moselle) or Nancy (54): `cabinets` cabinets,
/// `doctors` doctors, `days` days from one of [`STARTS`].
fn instance(seed: u64, cabinets: usize, doctors: usize, days: u32) -> Instance {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (lat0, lon0, insee) = if rng.random::<bool>() {
        (49.10, 6.18, "57463")
    } else {
        (48.69, 6.18, "54395")
    };
    let start: NaiveDate = STARTS[rng.random_range(0..STARTS.len())].parse().unwrap();
    let end = start + Duration::days(i64::from(days) - 1);
    let mut jitter = |r: f64| {
        Coordinates::new(
            lat0 + rng.random_range(-r..r),
            lon0 + rng.random_range(-r..r) * 1.5,
        )
        .unwrap()
    };
    let cabs: Vec<Cabinet> = (0..cabinets)
        .map(|i| Cabinet {
            id: format!("C{i}").parse().unwrap(),
            name: String::new(),
            coords: jitter(0.05),
            insee: insee.parse().unwrap(),
            need: 1,
            slot_minutes: 15,
        })
        .collect();
    let docs: Vec<GardeDoctor> = (0..doctors)
        .map(|i| GardeDoctor {
            rpps: Rpps::with_check_digit(&format!("10{i:08}")).unwrap(),
            name: String::new(),
            coords: jitter(0.08),
            insee: insee.parse().unwrap(),
            max_shifts: 0,
            max_km: MaxKm::new(1.0).unwrap(),
        })
        .collect();
    let mut inst = Instance {
        cabinets: cabs,
        doctors: docs,
        windows: vec![Vec::new(); doctors],
        period: Period::new(start, end).unwrap(),
        extensions: Default::default(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9);
    for c in &mut inst.cabinets {
        c.need = rng.random_range(1..=3);
    }
    for (d, doc) in inst.doctors.iter_mut().enumerate() {
        doc.max_shifts = rng.random_range(0..=5);
        doc.max_km = MaxKm::new(rng.random_range(1.0..15.0)).unwrap();
        let mut ws: Vec<Window> = Vec::new();
        for _ in 0..rng.random_range(0..=6) {
            let day = start + Duration::days(rng.random_range(0..i64::from(days)));
            // Hours that avoid the spring gap: 05:00–22:45; lengths from 30 min to 3 days.
            let local = day
                .and_hms_opt(rng.random_range(5..23), 15 * rng.random_range(0..4), 0)
                .unwrap();
            let s = paris_instant(local).unwrap().to_utc();
            let len = [30, 120, 150, 240, 300, 600, 1440, 4320][rng.random_range(0..8)];
            ws.push(Window {
                start: s,
                end: s + Duration::minutes(len),
            });
        }
        ws.sort();
        let mut kept: Vec<Window> = Vec::new();
        for w in ws {
            if kept.last().is_none_or(|k: &Window| w.start >= k.end) {
                kept.push(w);
            }
        }
        inst.windows[d] = kept;
    }
    inst
}

fn small() -> impl Strategy<Value = Instance> {
    (any::<u64>(), 1..=3usize, 2..=8usize, 5..=14u32)
        .prop_map(|(seed, c, d, days)| instance(seed, c, d, days))
}

/// 128 cases, or `PROPTEST_CASES`.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]
    #[test]
    fn flow_matches_the_staged_milp(inst in small()) {
        let fast = schedule::solve(&inst).unwrap();
        let ssp = schedule::solve_with(&inst, Algorithm::ShortestPaths).unwrap();
        let oracle = exact::solve(&inst, &Options::default()).unwrap();
        prop_assert!(fast.roster.check(&inst).is_ok(), "simplex: {:?}", fast.roster.check(&inst));
        prop_assert!(ssp.roster.check(&inst).is_ok(), "ssp: {:?}", ssp.roster.check(&inst));
        prop_assert!(oracle.check(&inst).is_ok(), "milp: {:?}", oracle.check(&inst));
        prop_assert_eq!(fast.objective, fast.roster.objective(&inst));
        prop_assert_eq!(fast.objective, oracle.objective(&inst));
        prop_assert_eq!(ssp.objective, oracle.objective(&inst));
        // Every empty position gets a reason, and the counts add up.
        let unfilled = report::unfilled(&inst, &fast.eligibility, &fast.roster);
        let counts = report::counts(&inst, &fast.eligibility);
        let missing: u64 = unfilled.iter().map(|u| u64::from(u.missing)).sum();
        prop_assert_eq!(missing + fast.objective.filled, counts.positions);
    }
}

fn fixture(name: &str) -> Instance {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    cpts::garde::read_instance(&dir).unwrap()
}

#[test]
fn metz_q_is_solved_checked_and_reported() {
    let inst = fixture("metz-q");
    let s = schedule::solve(&inst).unwrap();
    s.roster.check(&inst).unwrap();
    let unfilled = report::unfilled(&inst, &s.eligibility, &s.roster);
    let counts = report::counts(&inst, &s.eligibility);
    let missing: u64 = unfilled.iter().map(|u| u64::from(u.missing)).sum();
    assert_eq!(missing + s.objective.filled, counts.positions);
    // Q1 2026 in Moselle: 63 weekdays (1 January is a holiday) and 13 Saturdays, 7 positions.
    assert_eq!(counts.shifts, 3 * 76);
    assert_eq!(counts.positions, 7 * 76);
}

#[test]
fn metz_y_has_no_shift_on_good_friday_or_26_december() {
    let inst = fixture("metz-y");
    let s = schedule::solve(&inst).unwrap();
    let dates: std::collections::HashSet<NaiveDate> =
        s.eligibility.shifts.iter().map(|sh| sh.date).collect();
    for d in ["2026-04-03", "2026-12-26", "2026-05-01", "2026-07-14"] {
        assert!(!dates.contains(&d.parse().unwrap()), "{d}");
    }
    s.roster.check(&inst).unwrap();
}

#[test]
fn dept_y_has_good_friday_and_26_december_shifts() {
    // Meurthe-et-Moselle is not in Alsace-Moselle: both days carry shifts.
    let inst = fixture("dept-y");
    let el = cpts::garde::instance::Eligibility::new(&inst);
    let dates: std::collections::HashSet<NaiveDate> = el.shifts.iter().map(|s| s.date).collect();
    assert!(dates.contains(&"2026-04-03".parse().unwrap()));
    assert!(dates.contains(&"2026-12-26".parse().unwrap()));
}
