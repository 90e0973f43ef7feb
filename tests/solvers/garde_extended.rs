//! The extended garde model (FORMATS.md §3 optional files): on random small instances with
//! prior shifts, preferences and pins, the network-simplex roster, the successive-shortest-
//! paths roster and the staged MILP oracle (four levels, pins fixed) have the same objective
//! vector, and every roster passes the feasibility check (pins included). Then: without
//! optional data, metz-q and metz-y give exactly the rosters of the three-level model.

use chrono::{Duration, NaiveDate};
use cpts::domain::{MaxKm, Rpps};
use cpts::garde::calendar::paris_instant;
use cpts::garde::instance::{
    Eligibility, HistoryRow, PinnedRow, Preference, PreferenceRow, RowProblem,
};
use cpts::garde::schedule::{self, Algorithm};
use cpts::garde::{Cabinet, GardeDoctor, Instance, Period, Window, exact};
use cpts::geo::Coordinates;
use cpts::solver::milp::Options;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Start dates: an ordinary week, Easter 2026, the spring DST change, the autumn one.
const STARTS: [&str; 4] = ["2026-03-02", "2026-03-30", "2026-03-26", "2026-10-21"];

/// A random instance around Metz (57) or Nancy (54), without optional data.
fn base(rng: &mut ChaCha8Rng, cabinets: usize, doctors: usize, days: u32) -> Instance {
    let (lat0, lon0, insee) = if rng.random::<bool>() {
        (49.10, 6.18, "57463")
    } else {
        (48.69, 6.18, "54395")
    };
    let start: NaiveDate = STARTS[rng.random_range(0..STARTS.len())].parse().unwrap();
    let end = start + Duration::days(i64::from(days) - 1);
    let mut at = |r: f64| {
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
            coords: at(0.05),
            insee: insee.parse().unwrap(),
            need: 1,
            slot_minutes: 15,
        })
        .collect();
    let docs: Vec<GardeDoctor> = (0..doctors)
        .map(|i| GardeDoctor {
            rpps: Rpps::with_check_digit(&format!("10{i:08}")).unwrap(),
            name: String::new(),
            coords: at(0.08),
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
    for c in &mut inst.cabinets {
        c.need = rng.random_range(1..=3);
    }
    for (d, doc) in inst.doctors.iter_mut().enumerate() {
        doc.max_shifts = rng.random_range(0..=5);
        doc.max_km = MaxKm::new(rng.random_range(3.0..15.0)).unwrap();
        let mut ws: Vec<Window> = Vec::new();
        for _ in 0..rng.random_range(1..=6) {
            let day = start + Duration::days(rng.random_range(0..i64::from(days)));
            // Hours that avoid the spring gap: 05:00–22:45; lengths from 30 min to 6 days,
            // mostly long enough to cover a shift or several.
            let local = day
                .and_hms_opt(rng.random_range(5..23), 15 * rng.random_range(0..4), 0)
                .unwrap();
            let s = paris_instant(local).unwrap().to_utc();
            let len = [30, 150, 300, 1440, 2880, 4320, 8640][rng.random_range(0..7)];
            ws.push(Window {
                start: s,
                end: s + Duration::minutes(len),
            });
        }
        ws.sort();
        inst.windows[d] = ws;
    }
    inst
}

/// Random history and preferences, and pins: a random subset of a random greedy feasible
/// roster (so the pins are valid but not, in general, part of an optimum).
fn extended(seed: u64, cabinets: usize, doctors: usize, days: u32) -> Instance {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let inst = base(&mut rng, cabinets, doctors, days);
    let mut history = Vec::new();
    for d in &inst.doctors {
        if rng.random_bool(0.5) {
            history.push(HistoryRow {
                rpps: d.rpps.clone(),
                prior_shifts: rng.random_range(0..=4),
            });
        }
    }
    let mut preferences = Vec::new();
    for d in &inst.doctors {
        for date in inst.period.dates() {
            if rng.random_bool(0.3) {
                preferences.push(PreferenceRow {
                    rpps: d.rpps.clone(),
                    date,
                    preference: if rng.random() {
                        Preference::Prefer
                    } else {
                        Preference::Avoid
                    },
                });
            }
        }
    }
    let el = Eligibility::new(&inst);
    let mut order: Vec<usize> = (0..el.shifts.len()).collect();
    order.shuffle(&mut rng);
    let (mut busy, mut load, mut pins) = (HashSet::new(), HashMap::new(), Vec::new());
    let pin_rate = [0.0, 0.3, 0.7][rng.random_range(0..3)];
    for j in order {
        let s = el.shifts[j];
        let mut cands = el.candidates[j].clone();
        cands.shuffle(&mut rng);
        let mut taken = 0;
        for c in cands {
            let d = c.doctor as usize;
            let l = load.entry(d).or_insert(0u32);
            if taken < inst.cabinets[s.cabinet].need
                && *l < inst.doctors[d].max_shifts
                && !busy.contains(&(d, s.date))
            {
                taken += 1;
                *l += 1;
                busy.insert((d, s.date));
                if rng.random_bool(pin_rate) {
                    pins.push(PinnedRow {
                        cabinet_id: inst.cabinets[s.cabinet].id.clone(),
                        date: s.date,
                        rpps: inst.doctors[d].rpps.clone(),
                    });
                }
            }
        }
    }
    inst.with_extensions(&history, &preferences, &pins).unwrap()
}

fn small() -> impl Strategy<Value = Instance> {
    (any::<u64>(), 1..=3usize, 2..=8usize, 5..=12u32)
        .prop_map(|(seed, c, d, days)| extended(seed, c, d, days))
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
    fn extended_flow_matches_the_four_stage_milp(inst in small()) {
        let fast = schedule::solve(&inst).unwrap();
        let ssp = schedule::solve_with(&inst, Algorithm::ShortestPaths).unwrap();
        let oracle = exact::solve(&inst, &Options::default()).unwrap();
        prop_assert!(fast.roster.check(&inst).is_ok(), "simplex: {:?}", fast.roster.check(&inst));
        prop_assert!(ssp.roster.check(&inst).is_ok(), "ssp: {:?}", ssp.roster.check(&inst));
        prop_assert!(oracle.check(&inst).is_ok(), "milp: {:?}", oracle.check(&inst));
        prop_assert_eq!(fast.objective, fast.roster.objective(&inst));
        prop_assert_eq!(fast.objective, oracle.objective(&inst));
        prop_assert_eq!(ssp.objective, oracle.objective(&inst));
    }
}

#[test]
fn a_pin_on_a_sunday_is_refused_with_its_row() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut inst = base(&mut rng, 1, 2, 7);
    inst.period =
        Period::new("2026-03-02".parse().unwrap(), "2026-03-08".parse().unwrap()).unwrap();
    let pin = |date: &str| PinnedRow {
        cabinet_id: "C0".parse().unwrap(),
        date: date.parse().unwrap(),
        rpps: inst.doctors[0].rpps.clone(),
    };
    let e = inst
        .clone()
        .with_extensions(&[], &[], &[pin("2026-03-08")])
        .unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert_eq!((e.errors[0].row, e.errors[0].field), (0, "date"));
    assert!(matches!(e.errors[0].problem, RowProblem::Pin(_)));
}

fn fixture(name: &str) -> Instance {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    cpts::garde::read_instance(&dir).unwrap()
}

/// FNV-1a (64 bits) of the sorted `date,cabinet_id,rpps` lines joined by `\n`.
fn fingerprint(inst: &Instance, roster: &schedule::Roster) -> (usize, u64) {
    let mut lines: Vec<String> = roster
        .assignments
        .iter()
        .map(|a| {
            format!(
                "{},{},{}",
                a.date, inst.cabinets[a.cabinet as usize].id, inst.doctors[a.doctor as usize].rpps
            )
        })
        .collect();
    lines.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in lines.join("\n").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (lines.len(), h)
}

#[test]
fn without_optional_data_the_fixtures_give_todays_rosters() {
    // Objective vectors and roster fingerprints of the three-level model (commit ef35d45,
    // `cpts garde fixtures/NAME`, roster.csv): the same with empty optional files.
    for (name, objective, roster) in [
        (
            "metz-q",
            (475, 2_319, 995_918),
            (475, 0x4b70_1709_6e29_005e),
        ),
        (
            "metz-y",
            (1_978, 38_540, 4_455_699),
            (1_978, 0xbb1d_ec85_1454_4d59),
        ),
    ] {
        let inst = fixture(name).with_extensions(&[], &[], &[]).unwrap();
        let s = schedule::solve(&inst).unwrap();
        let o = s.objective;
        assert_eq!(
            (o.filled, o.sum_load_squared, o.metres),
            objective,
            "{name}"
        );
        assert_eq!(o.preference_score, 0, "{name}");
        assert_eq!(s.stats.weight_preference, 0, "{name}");
        assert_eq!(fingerprint(&inst, &s.roster), roster, "{name}");
    }
}
