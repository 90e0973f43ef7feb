//! A warm re-batch after churn (issue 21): the weekly rerun of a batch on a list that changed
//! by about 1 %. Loads an instance, solves it cold, applies the churn (patients removed and
//! added, doctors' capacities changed), then solves the churned instance twice: cold, and
//! warm from the first batch's potentials and assignment. Prints the three solves' times and
//! objectives; the warm and cold objectives must be equal (the example fails otherwise).
//!
//!     cargo run --release --example warm -- DIR [--removed 10000 --added 10000 --capacities 50]
//!
//! With `--write CHURNED_DIR` it also writes the churned instance (patients.csv, doctors.csv),
//! so that the whole process can be timed with `cpts match CHURNED_DIR --warm PREVIOUS_OUT`.

#![allow(clippy::unwrap_used)]

use anyhow::{Result, bail};
use clap::Parser;
use cpts::domain::MaxKm;
use cpts::matching::flow::{Previous, Solution, solve_warm_with, solve_with};
use cpts::matching::{DEFAULT_MAX_KM, Instance};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser, Debug)]
struct Args {
    /// Instance folder (FORMATS.md §2), e.g. from `cpts fixtures --area grand-est`.
    dir: PathBuf,
    /// Patients removed.
    #[arg(long, default_value_t = 10_000)]
    removed: usize,
    /// Patients added: copies of random patients (tier, limit) living where other random
    /// patients live.
    #[arg(long, default_value_t = 10_000)]
    added: usize,
    /// Doctors with capacity whose capacity changes (to a random value from 0 to twice it).
    #[arg(long, default_value_t = 50)]
    capacities: usize,
    #[arg(long, default_value_t = 21)]
    seed: u64,
    /// Also write the churned instance here.
    #[arg(long)]
    write: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let t = Instant::now();
    let base = cpts::import::load_matching_instance(
        &args.dir,
        MaxKm::new(DEFAULT_MAX_KM).expect("the default limit is valid"),
    )?;
    println!(
        "loaded {} ({} patients, {} doctors) in {:.2} s",
        args.dir.display(),
        base.patients.len(),
        base.doctors.len(),
        t.elapsed().as_secs_f64()
    );
    let (first, cold_first) = timed(|| solve_with(&base, &mut |_, _| {}))?;
    report("first batch, cold", &first, cold_first);

    let next = churn(&base, &args);
    println!(
        "churn: {} patients removed, {} added, {} capacities changed: {} patients",
        args.removed,
        args.added,
        args.capacities,
        next.patients.len()
    );
    if let Some(dir) = &args.write {
        write_instance(&next, dir)?;
        println!("churned instance written to {}", dir.display());
    }
    let previous = Previous::carried_over(&base, &first, &next);
    let (cold, t_cold) = timed(|| solve_with(&next, &mut |_, _| {}))?;
    report("churned, cold", &cold, t_cold);
    let (warm, t_warm) = timed(|| solve_warm_with(&next, &previous, &mut |_, _| {}))?;
    report("churned, warm", &warm, t_warm);
    println!(
        "warm / cold: {:.1} % of the solve, {:.1} % of the flow",
        100.0 * t_warm / t_cold,
        100.0 * warm.timings.flow.as_secs_f64() / cold.timings.flow.as_secs_f64()
    );
    warm.matching.check(&next)?;
    if warm.objective != cold.objective {
        bail!(
            "warm objective {:?} differs from the cold one {:?}",
            warm.objective,
            cold.objective
        );
    }
    println!("same objective, warm and cold");
    Ok(())
}

fn timed(f: impl FnOnce() -> Result<Solution, cpts::matching::Error>) -> Result<(Solution, f64)> {
    let t = Instant::now();
    let s = f()?;
    Ok((s, t.elapsed().as_secs_f64()))
}

fn report(what: &str, s: &Solution, secs: f64) {
    let o = &s.objective;
    println!(
        "{what:<18} {secs:6.2} s (candidates {:.2} s, flow {:.2} s, pricing {:.2} s; {} searches): \
         matched {:?}, {} m",
        s.timings.candidates.as_secs_f64(),
        s.timings.flow.as_secs_f64(),
        s.timings.pricing.as_secs_f64(),
        s.counters.searches,
        o.matched,
        o.metres
    );
}

/// `base` with `args.removed` random patients removed, `args.added` added and
/// `args.capacities` doctors' capacities changed; the doctors keep their order.
fn churn(base: &Instance, args: &Args) -> Instance {
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let n = base.patients.len();
    let mut gone = vec![false; n];
    for i in sample(&mut rng, n, args.removed.min(n)).into_iter() {
        gone[i] = true;
    }
    let mut next = base.clone();
    next.excluded = Default::default();
    next.patients = base
        .patients
        .iter()
        .zip(&gone)
        .filter(|(_, g)| !**g)
        .map(|(p, _)| p.clone())
        .collect();
    for i in 0..args.added {
        let mut p = base.patients[rng.random_range(0..n)].clone();
        p.coords = base.patients[rng.random_range(0..n)].coords;
        p.id = format!("churn-{i}").parse().unwrap();
        next.patients.push(p);
    }
    let with_capacity: Vec<usize> = (0..base.doctors.len())
        .filter(|&d| base.doctors[d].capacity > 0)
        .collect();
    for i in sample(
        &mut rng,
        with_capacity.len(),
        args.capacities.min(with_capacity.len()),
    )
    .into_iter()
    {
        let d = &mut next.doctors[with_capacity[i]];
        d.capacity = rng.random_range(0..=2 * d.capacity);
    }
    next
}

fn write_instance(inst: &Instance, dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("patients.csv"))?);
    writeln!(w, "patient_id,lat,lon,insee,age,ald,css,max_km")?;
    for p in &inst.patients {
        let km = p
            .max_km
            .map(|k| f64::from(k).to_string())
            .unwrap_or_default();
        writeln!(
            w,
            "{},{},{},{},{},{},{},{km}",
            p.id,
            p.coords.lat(),
            p.coords.lon(),
            p.insee,
            p.age,
            u8::from(p.ald),
            u8::from(p.css)
        )?;
    }
    w.flush()?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("doctors.csv"))?);
    writeln!(w, "rpps,name,lat,lon,insee,capacity,max_km")?;
    for d in &inst.doctors {
        let km = d
            .max_km
            .map(|k| f64::from(k).to_string())
            .unwrap_or_default();
        writeln!(
            w,
            "{},\"{}\",{},{},{},{},{km}",
            d.rpps,
            d.name.replace('"', "\"\""),
            d.coords.lat(),
            d.coords.lon(),
            d.insee,
            d.capacity
        )?;
    }
    w.flush()?;
    Ok(())
}
