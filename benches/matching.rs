//! Matching solve step on the in-repo fixtures, and on large instances when generated.
//!
//! `cargo bench --bench matching`. Large instances are read from `$CPTS_BENCH_GRAND_EST` and
//! `$CPTS_BENCH_FRANCE` (folders written by `cpts fixtures --area …`) and skipped when unset.
#![allow(clippy::unwrap_used)]

use cpts::domain::MaxKm;
use cpts::matching::{self, DEFAULT_MAX_KM};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn load(dir: &Path) -> matching::Instance {
    cpts::import::load_matching_instance(dir, MaxKm::new(DEFAULT_MAX_KM).unwrap()).unwrap()
}

fn bench_matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("matching");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut cases: Vec<(String, PathBuf)> = ["nancy", "scarce"]
        .iter()
        .map(|n| ((*n).to_owned(), root.join(n)))
        .collect();
    for (name, var) in [
        ("grand-est", "CPTS_BENCH_GRAND_EST"),
        ("france", "CPTS_BENCH_FRANCE"),
    ] {
        match std::env::var_os(var) {
            Some(dir) if Path::new(&dir).join("patients.csv").exists() => {
                cases.push((name.to_owned(), dir.into()))
            }
            _ => eprintln!("skipping {name}: set {var} to a folder made by `cpts fixtures --area`"),
        }
    }
    for (name, dir) in cases {
        let inst = load(&dir);
        if name == "grand-est" || name == "france" {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(1));
        } else {
            group.sample_size(30);
        }
        group.bench_with_input(BenchmarkId::new("flow", &name), &inst, |b, i| {
            b.iter(|| matching::solve(i).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, bench_matching);
criterion_main!(benches);
