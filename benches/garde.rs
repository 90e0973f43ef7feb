#![allow(clippy::unwrap_used)]
//! Garde solver benches (STYLE.md §8): the solve step (eligibility, network, flow) on the
//! named fixtures, parsed outside the timing; the MILP oracle in the same group on `metz-q`.
//!
//! Why the network simplex (src/garde/schedule.rs, "Which flow algorithm"): flow times measured
//! while building the garde room (release, the first version of the fixtures, a loaded 2-core
//! machine), `metz-q` / `dept-y`:
//!
//! | algorithm | metz-q | dept-y |
//! |---|---:|---:|
//! | successive shortest paths | 116 ms | 46 s |
//! | two stages (primal-dual on loads, then metres on tight arcs) | 157 ms | 8.2 s |
//! | cost scaling, no heuristics | 46 ms | `i64` overflow of its prices |
//! | network simplex | 15 ms | 0.85 s |
//!
//! On the committed fixtures the whole solve step then took 8.6 ms and 0.31 s (criterion
//! medians of this bench); README.md, "Benches", has the current figures.
//!
//! `dept-y-ext` is dept-y with the optional files of FORMATS.md §3 (issue 18), made here
//! deterministically: every doctor has 0–9 prior shifts, one (doctor, date) pair in 20 has a
//! wish (prefer and avoid alternating), and the first 100 positions of dept-y's own optimum are
//! pinned (jointly feasible, since they come from one roster).

use cpts::garde::{exact, schedule};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::path::Path;
use std::time::Duration;

fn fixture(name: &str) -> cpts::garde::Instance {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    cpts::garde::read_instance(&dir).unwrap()
}

/// `inst` with generated history, wishes and pins (see the module).
fn extended(inst: &cpts::garde::Instance) -> cpts::garde::Instance {
    use cpts::garde::instance::{HistoryRow, PinnedRow, Preference, PreferenceRow};
    let plain = schedule::solve(inst).unwrap();
    let history: Vec<HistoryRow> = inst
        .doctors
        .iter()
        .enumerate()
        .map(|(i, d)| HistoryRow {
            rpps: d.rpps.clone(),
            prior_shifts: u32::try_from(i * 7 % 10).unwrap(),
        })
        .collect();
    let dates: Vec<chrono::NaiveDate> = inst.period.dates().collect();
    let mut preferences = Vec::new();
    for (i, d) in inst.doctors.iter().enumerate() {
        for (k, date) in dates.iter().enumerate() {
            if (i * 31 + k * 17) % 20 == 0 {
                preferences.push(PreferenceRow {
                    rpps: d.rpps.clone(),
                    date: *date,
                    preference: if (i + k) % 2 == 0 {
                        Preference::Prefer
                    } else {
                        Preference::Avoid
                    },
                });
            }
        }
    }
    let pins: Vec<PinnedRow> = plain
        .roster
        .assignments
        .iter()
        .take(100)
        .map(|a| PinnedRow {
            cabinet_id: inst.cabinets[a.cabinet as usize].id.clone(),
            date: a.date,
            rpps: inst.doctors[a.doctor as usize].rpps.clone(),
        })
        .collect();
    inst.clone()
        .with_extensions(&history, &preferences, &pins)
        .unwrap()
}

fn garde(c: &mut Criterion) {
    let mut group = c.benchmark_group("garde");
    for name in ["metz-q", "metz-y", "dept-y", "dept-y-ext"] {
        // Parse (and extend) once, outside the timing.
        let inst = match name {
            "dept-y-ext" => extended(&fixture("dept-y")),
            _ => fixture(name),
        };
        if name != "metz-q" {
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(20));
        }
        group.bench_with_input(BenchmarkId::new("flow", name), &inst, |b, i| {
            b.iter(|| schedule::solve(i).unwrap())
        });
        if name == "metz-q" {
            let options = cpts::solver::milp::Options::default();
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(15));
            group.bench_with_input(BenchmarkId::new("exact", name), &inst, |b, i| {
                b.iter(|| exact::solve(i, &options).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, garde);
criterion_main!(benches);
