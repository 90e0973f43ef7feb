#![allow(clippy::unwrap_used)]
//! Garde solver benches (STYLE.md §8): the solve step (eligibility, network, flow) on the
//! named fixtures, parsed outside the timing; the MILP oracle in the same group on `metz-q`.

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

fn garde(c: &mut Criterion) {
    let mut group = c.benchmark_group("garde");
    for name in ["metz-q", "metz-y", "dept-y"] {
        let inst = fixture(name); // parse once, outside the timing
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
