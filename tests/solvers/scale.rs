//! The oracle at the size of a real batch. Too slow for every `cargo test`, so ignored; it needs
//! the HiGHS backend (microlp, the default, is far too slow at this size): run it with
//! `cargo test --release --features highs --test solvers -- --ignored --nocapture`.

use crate::instances::{doctor, instance};
use cpts::domain::Patient;
use cpts::geo::Coordinates;
use cpts::matching::Instance;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 13,000 patients and 100 doctors (capacity 40–142, about 9,100 in all) in the box of the
/// property tests, 10 km default; tiers, own limits and doctor limits drawn like the
/// properties'. Seeded, so the same every run.
fn nancy_sized(seed: u64, n_patients: usize, n_doctors: usize) -> Instance {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let point = |rng: &mut ChaCha8Rng| {
        Coordinates::new(rng.random_range(48.6..48.8), rng.random_range(6.05..6.35)).unwrap()
    };
    let doctors = (0..n_doctors)
        .map(|i| {
            let at = point(&mut rng);
            let mut d = doctor(i, at, rng.random_range(40..=142));
            if rng.random_bool(0.1) {
                d.max_km = crate::instances::km(rng.random_range(3.0..15.0));
            }
            d
        })
        .collect();
    let patients = (0..n_patients)
        .map(|i| {
            let coords = point(&mut rng);
            Patient {
                id: format!("p{i}").parse().unwrap(),
                coords,
                insee: "54395".parse().unwrap(),
                age: rng.random_range(0..=100),
                ald: rng.random_bool(0.15),
                css: rng.random_bool(0.2),
                max_km: if rng.random_bool(0.2) {
                    crate::instances::km(rng.random_range(0.5..15.0))
                } else {
                    None
                },
            }
        })
        .collect();
    instance(patients, doctors, 10.0)
}

#[test]
#[cfg_attr(
    feature = "highs",
    ignore = "20–40 s in release; run with --release --features highs -- --ignored --nocapture"
)]
#[cfg_attr(
    not(feature = "highs"),
    ignore = "needs HiGHS: run with --release --features highs -- --ignored --nocapture"
)]
fn exact_model_agrees_with_the_flow_on_13k_patients() {
    let inst = nancy_sized(13, 13_000, 100);
    crate::fixtures::assert_flow_equals_oracle("13,000 uniform patients", &inst);
}
