//! `cpts match DIR`: load, solve, explain, write assignments.csv, unmatched.csv, summary.json
//! and certificate.json (FORMATS.md §2), and print a one-screen summary. With `--without`, a
//! what-if batch: the same outputs for the batch without those doctors, plus whatif.json and
//! whatif_communes.csv comparing it with the base batch ([`crate::matching::whatif`]).

use super::Refused;
use super::output::Staged;
use super::progress::Step;
use crate::domain::{MaxKm, Rpps};
use crate::import;
use crate::matching::explain::{self, Detail};
use crate::matching::report::{MatchTimings, Summary, Tally};
use crate::matching::whatif::Comparison;
use crate::matching::{self, DEFAULT_MAX_KM, Instance, Solution};
use crate::telemetry::ms;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Arguments of `cpts match`.
#[derive(Debug, clap::Args)]
pub struct MatchArgs {
    /// Instance folder with patients.csv and doctors.csv (FORMATS.md §2).
    pub dir: PathBuf,
    /// Output folder [default: out/<name of DIR>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Limit for patients without their own max_km, in km.
    #[arg(long, default_value_t = DEFAULT_MAX_KM, value_parser = parse_max_km)]
    pub default_max_km: f64,
    /// What-if: also run the batch without these doctors (RPPS, comma-separated) and compare
    /// [default --out: out/<name of DIR>-whatif].
    #[arg(long, value_delimiter = ',', value_parser = parse_rpps_list)]
    pub without: Vec<Rpps>,
    /// Warm re-batch: start from the output folder of a previous batch on an earlier version
    /// of this instance (patients added or removed, capacities changed, exclusions added).
    /// Same exact optimum and a fresh certificate; only the work changes.
    #[arg(long, value_name = "PREVIOUS_OUT", conflicts_with = "without")]
    pub warm: Option<PathBuf>,
}

pub(super) fn parse_max_km(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    MaxKm::new(v).map(f64::from).map_err(|e| e.to_string())
}

/// One RPPS of a `--without` list.
pub(super) fn parse_rpps_list(s: &str) -> Result<Rpps, String> {
    s.trim()
        .parse::<Rpps>()
        .map_err(|e| format!("`{}` is not an RPPS number: {e}", s.trim()))
}

/// Why a `--without` list does not fit the instance.
#[derive(Debug, thiserror::Error)]
#[error("--without {0}: no doctor with this RPPS in doctors.csv")]
pub(super) struct UnknownDoctor(Rpps);

/// The instance indices of the `--without` doctors, deduplicated, in the order given.
///
/// # Errors
/// [`UnknownDoctor`] for the first RPPS that is not in doctors.csv.
pub(super) fn resolve_without(
    inst: &Instance,
    without: &[Rpps],
) -> Result<Vec<u32>, UnknownDoctor> {
    let mut out = Vec::with_capacity(without.len());
    for r in without {
        let d = inst
            .doctors
            .iter()
            .position(|d| d.rpps == *r)
            .ok_or_else(|| UnknownDoctor(r.clone()))? as u32;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Runs `cpts match`.
///
/// # Errors
/// [`Refused`] for refused input (exit code 2, `super::exit_code`), nothing written; any other
/// error for a failure (exit code 1).
pub fn run(args: &MatchArgs) -> anyhow::Result<()> {
    run_inner(args).map_err(|e| {
        if let Some(import::Error::Invalid(errors)) = e.downcast_ref::<import::Error>() {
            return Refused(format!(
                "the instance was refused; nothing was written\n{errors}"
            ))
            .into();
        }
        if let Some(unknown) = e.downcast_ref::<UnknownDoctor>() {
            return Refused(format!("{unknown}; nothing was written")).into();
        }
        e
    })
}

fn run_inner(args: &MatchArgs) -> anyhow::Result<()> {
    let t_all = Instant::now();
    let default =
        MaxKm::new(args.default_max_km).map_err(|e| anyhow::anyhow!("--default-max-km {e}"))?;
    let whatif = !args.without.is_empty();
    let out = args.out.clone().unwrap_or_else(|| {
        let out = default_out(&args.dir);
        if whatif {
            let mut name = out.into_os_string();
            name.push("-whatif");
            name.into()
        } else {
            out
        }
    });

    let step = Step::start("load");
    // The checksum streams the files again: on the other core while this one parses them.
    let (inst, checksum) = rayon::join(
        || import::load_matching_instance(&args.dir, default),
        || checksum(&args.dir),
    );
    let (mut inst, checksum) = (inst?, checksum?);
    let retired = resolve_without(&inst, &args.without)?;
    let previous = args
        .warm
        .as_deref()
        .map(|dir| previous_batch(&inst, dir))
        .transpose()?;
    let t_load = step.finish();

    // What-if: the base batch first, then the same instance with the doctors retired.
    let base = if whatif {
        let step = Step::start("base batch");
        let sol = matching::flow::solve_with(&inst, &mut |stage, f| step.update(stage, f))?;
        step.finish();
        let capacities = matching::whatif::retire(&mut inst, &retired);
        let retired: Vec<(u32, u32)> = retired.iter().copied().zip(capacities).collect();
        Some((sol, retired))
    } else {
        None
    };

    let step = Step::start(if whatif { "what-if batch" } else { "solve" });
    let sol = match &previous {
        Some(previous) => matching::flow::solve_warm_with(&inst, previous, &mut |stage, f| {
            step.update(stage, f);
        })?,
        None => matching::flow::solve_with(&inst, &mut |stage, f| step.update(stage, f))?,
    };
    step.finish();
    sol.matching
        .check(&inst)
        .context("the solver returned an infeasible assignment")?;

    let step = Step::start("explain");
    let unmatched = explain::explain(&inst, &sol);
    let t_explain = step.finish();

    let step = Step::start("write");
    let staged = Staged::new(&out)?;
    let batch = Batch {
        checksum: &checksum,
        without: &args.without,
        t_load,
        t_explain,
    };
    let tally = Tally::new(&inst, &sol, &unmatched);
    write_outputs(&staged, &inst, &sol, &unmatched, &tally, &batch)?;
    let comparison = base.map(|(base, retired)| {
        let c = matching::whatif::compare(&inst, &base.matching, &sol.matching, &retired);
        (base, c)
    });
    if let Some((base, c)) = &comparison {
        write_whatif(&staged, &inst, base, &sol, c)?;
    }
    staged.commit()?;
    let t_write = step.finish();

    print_summary(
        &args.dir,
        &out,
        &inst,
        &sol,
        &tally,
        [t_load, t_explain, t_write],
        t_all.elapsed(),
    );
    if let Some((base, c)) = &comparison {
        print_whatif(&out, base, &sol, c);
    }
    Ok(())
}

/// What the batch in `dir` (assignments.csv, certificate.json) leaves for a warm re-batch of
/// `inst`: patients and doctors are matched by id; those no longer in the instance are dropped.
///
/// # Errors
/// When a file of `dir` cannot be read or breaks its format.
fn previous_batch(inst: &Instance, dir: &Path) -> anyhow::Result<matching::flow::Previous> {
    use std::collections::HashMap;
    let (assignments, certificate) = import::read_warm_start(dir)
        .with_context(|| format!("reading the previous batch {}", dir.display()))?;
    let doctor: HashMap<&str, u32> = (0..inst.doctors.len() as u32)
        .map(|d| (inst.doctors[d as usize].rpps.as_str(), d))
        .collect();
    let patient: HashMap<&str, u32> = (0..inst.patients.len() as u32)
        .map(|q| (inst.patients[q as usize].id.as_str(), q))
        .collect();
    let mut previous = matching::flow::Previous {
        bound: certificate.bound,
        potential: vec![None; inst.doctors.len()],
        doctor_of: vec![None; inst.patients.len()],
    };
    for (rpps, &p) in &certificate.doctor_potential {
        if let Some(&d) = doctor.get(rpps.as_str()) {
            previous.potential[d as usize] = Some(p);
        }
    }
    let mut kept = 0u64;
    for a in &assignments {
        let q = patient.get(a.row.patient.as_str());
        let d = doctor.get(a.row.rpps.as_str());
        if let (Some(&q), Some(&d)) = (q, d) {
            previous.doctor_of[q as usize] = Some(d);
            kept += 1;
        }
    }
    tracing::debug!(
        assignments = assignments.len(),
        kept,
        "warm start from a previous batch"
    );
    Ok(previous)
}

fn default_out(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "batch".into(), |n| n.to_string_lossy().into_owned());
    Path::new("out").join(name)
}

/// SHA-256 of patients.csv then doctors.csv, as read (streamed).
pub(super) fn checksum(dir: &Path) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    for f in ["patients.csv", "doctors.csv"] {
        let path = dir.join(f);
        let mut file =
            std::fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
        std::io::copy(&mut file, &mut h).with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// What a batch's summary.json says beside the solution.
struct Batch<'a> {
    checksum: &'a str,
    /// The retired doctors of a what-if batch (empty otherwise).
    without: &'a [Rpps],
    t_load: Duration,
    t_explain: Duration,
}

fn write_outputs(
    out: &Staged,
    inst: &Instance,
    sol: &Solution,
    unmatched: &[explain::Unmatched],
    tally: &Tally,
    batch: &Batch<'_>,
) -> anyhow::Result<()> {
    let Batch {
        checksum,
        without,
        t_load,
        t_explain,
    } = *batch;
    out.write("assignments.csv", |w| {
        writeln!(w, "patient_id,rpps,distance_m")?;
        for (q, d) in sol.matching.doctor_of.iter().enumerate() {
            if let Some(d) = *d {
                let (p, doc) = (&inst.patients[q], &inst.doctors[d as usize]);
                let m = crate::geo::cost_m(crate::geo::haversine_m(p.coords, doc.coords));
                writeln!(w, "{},{},{}", p.id, doc.rpps, m)?;
            }
        }
        Ok(())
    })?;
    out.write("unmatched.csv", |w| {
        writeln!(w, "patient_id,tier,reason,detail")?;
        for u in unmatched {
            let p = &inst.patients[u.patient as usize];
            writeln!(
                w,
                "{},{},{},\"{}\"",
                p.id,
                u.tier.number(),
                u.reason.code(),
                Detail(u, inst)
            )?;
        }
        Ok(())
    })?;
    let timings = MatchTimings {
        candidates: ms(sol.timings.candidates),
        explain: ms(t_explain),
        flow: ms(sol.timings.flow),
        load: ms(t_load),
        pricing: ms(sol.timings.pricing),
    };
    let without = without.iter().map(|r| r.as_str().to_owned()).collect();
    let summary = Summary::new(inst, sol, tally, checksum.to_owned(), without, timings);
    out.write("summary.json", |w| {
        serde_json::to_writer_pretty(&mut *w, &summary)?;
        writeln!(w)
    })?;
    out.write("certificate.json", |w| {
        let c = &sol.certificate;
        let potentials: serde_json::Map<String, serde_json::Value> = inst
            .doctors
            .iter()
            .zip(&c.potential)
            .filter(|(d, _)| d.capacity > 0)
            .map(|(d, p)| (d.rpps.to_string(), serde_json::Value::from(*p)))
            .collect();
        let body = serde_json::json!({
            "penalty_tier_1": c.penalty[0],
            "penalty_tier_2": c.penalty[1],
            "penalty_tier_3": c.penalty[2],
            "bound": c.bound,
            "doctors_with_capacity": c.doctors_with_capacity,
            "max_cost_m": c.max_cost_m,
            "doctor_potential": potentials,
        });
        serde_json::to_writer(&mut *w, &body)?;
        writeln!(w)
    })?;
    Ok(())
}

fn print_summary(
    dir: &Path,
    out: &Path,
    inst: &Instance,
    sol: &Solution,
    tally: &Tally,
    [t_load, t_explain, t_write]: [Duration; 3],
    total: Duration,
) {
    let sizes = tally.patients;
    let m = sol.objective.matched;
    let matched: u64 = m.iter().sum();
    let capacity = tally.capacity;
    let (range, exhausted) = (tally.no_doctor_in_range(), tally.capacity_exhausted());
    let km = sol.objective.metres as f64 / 1000.0;
    println!("cpts match {} -> {}", dir.display(), out.display());
    println!(
        "  patients   {} (tier 1: {}, tier 2: {}, tier 3: {}); doctors {}, {} with capacity, {} places",
        inst.patients.len(),
        sizes[0],
        sizes[1],
        sizes[2],
        inst.doctors.len(),
        sol.certificate.doctors_with_capacity,
        capacity
    );
    for k in 0..3 {
        let pct = if sizes[k] == 0 {
            100.0
        } else {
            100.0 * m[k] as f64 / sizes[k] as f64
        };
        println!(
            "  tier {}     {:>7} / {:<7} matched ({pct:.1}%)",
            k + 1,
            m[k],
            sizes[k]
        );
    }
    println!(
        "  unmatched  {} (no_doctor_in_range: {range}, capacity_exhausted: {exhausted})",
        range + exhausted
    );
    let mean = if matched == 0 {
        0.0
    } else {
        km / matched as f64
    };
    println!(
        "  distance   {km:.1} km in all, {mean:.2} km per matched patient (optimal: certificate.json)"
    );
    println!(
        "  time       load {:.1} ms, candidates {:.1} ms, flow {:.1} ms, pricing {:.1} ms ({} rounds), explain {:.1} ms, write {:.1} ms; total {:.1} ms",
        ms(t_load),
        ms(sol.timings.candidates),
        ms(sol.timings.flow),
        ms(sol.timings.pricing),
        sol.counters.pricing_rounds,
        ms(t_explain),
        ms(t_write),
        ms(total)
    );
}

/// Arguments of `cpts check-exact`.
#[derive(Debug, clap::Args)]
pub struct CheckExactArgs {
    /// Instance folder with patients.csv and doctors.csv (FORMATS.md §2).
    pub dir: PathBuf,
    /// Limit for patients without their own max_km, in km.
    #[arg(long, default_value_t = DEFAULT_MAX_KM, value_parser = parse_max_km)]
    pub default_max_km: f64,
}

/// Runs `cpts check-exact`: exit 0 when the flow's objective vector equals the MILP's, 1 when
/// not (or on failure), 2 on refused input.
///
/// # Errors
/// [`Refused`] for refused input; a mismatch or a failure otherwise.
pub fn check_exact(args: &CheckExactArgs) -> anyhow::Result<()> {
    let run = || -> anyhow::Result<bool> {
        let default =
            MaxKm::new(args.default_max_km).map_err(|e| anyhow::anyhow!("--default-max-km {e}"))?;
        let inst = import::load_matching_instance(&args.dir, default)?;
        let t = Instant::now();
        let fast = matching::solve(&inst)?;
        let t_flow = t.elapsed();
        fast.matching
            .check(&inst)
            .context("the flow's assignment is infeasible")?;
        let step = Step::start("milp");
        let exact =
            matching::exact::solve(&inst).map_err(|e| anyhow::anyhow!("the MILP failed: {e}"))?;
        let t_milp = step.finish();
        exact
            .check(&inst)
            .context("the MILP's assignment is infeasible")?;
        let (a, b) = (fast.objective, exact.objective(&inst));
        println!("instance   {}", args.dir.display());
        println!(
            "flow       (n1, n2, n3, metres) = ({}, {}, {}, {}) in {:.1} ms",
            a.matched[0],
            a.matched[1],
            a.matched[2],
            a.metres,
            ms(t_flow)
        );
        println!(
            "MILP       (n1, n2, n3, metres) = ({}, {}, {}, {}) in {:.1} ms",
            b.matched[0],
            b.matched[1],
            b.matched[2],
            b.metres,
            ms(t_milp)
        );
        println!(
            "{}",
            if a == b {
                "equal: the flow is optimal"
            } else {
                "DIFFERENT"
            }
        );
        Ok(a == b)
    };
    match run() {
        Ok(true) => Ok(()),
        Ok(false) => anyhow::bail!("the flow's objective vector differs from the MILP's"),
        Err(e) => match e.downcast_ref::<import::Error>() {
            Some(import::Error::Invalid(errors)) => {
                Err(Refused(format!("the instance was refused\n{errors}")).into())
            }
            _ => Err(e),
        },
    }
}

fn objective_json(o: &matching::Objective) -> serde_json::Value {
    serde_json::json!({
        "matched_tier_1": o.matched[0],
        "matched_tier_2": o.matched[1],
        "matched_tier_3": o.matched[2],
        "total_m": o.metres,
    })
}

fn tiers_json(v: [u64; 3]) -> serde_json::Value {
    serde_json::json!({
        "tier_1": v[0], "tier_2": v[1], "tier_3": v[2], "total": v.iter().sum::<u64>(),
    })
}

/// whatif.json and whatif_communes.csv (README.md, "What-if").
fn write_whatif(
    out: &Staged,
    inst: &Instance,
    base: &Solution,
    sol: &Solution,
    c: &Comparison,
) -> anyhow::Result<()> {
    let retired: Vec<serde_json::Value> = c
        .retired
        .iter()
        .map(|r| {
            let d = &inst.doctors[r.doctor as usize];
            serde_json::json!({
                "rpps": d.rpps.as_str(),
                "insee": d.insee.as_str(),
                "capacity": r.capacity,
                "patients_in_base": r.held_in_base,
            })
        })
        .collect();
    let body = serde_json::json!({
        "without": retired,
        "retired_capacity": c.retired.iter().map(|r| u64::from(r.capacity)).sum::<u64>(),
        "base": objective_json(&base.objective),
        "whatif": objective_json(&sol.objective),
        "lose_out": tiers_json(c.lose_out),
        "gain": tiers_json(c.gain),
        "reassigned": c.reassigned,
        "communes_with_shortfall": c.communes.values().filter(|e| e.shortfall() > 0).count(),
    });
    out.write("whatif.json", |w| {
        serde_json::to_writer_pretty(&mut *w, &body)?;
        writeln!(w)
    })?;
    out.write("whatif_communes.csv", |w| {
        writeln!(
            w,
            "insee,lose_out_tier_1,lose_out_tier_2,lose_out_tier_3,gain,unmatched_base,unmatched_whatif,shortfall,retired_capacity"
        )?;
        for (insee, e) in &c.communes {
            writeln!(
                w,
                "{insee},{},{},{},{},{},{},{},{}",
                e.lose_out[0],
                e.lose_out[1],
                e.lose_out[2],
                e.gain,
                e.unmatched_base,
                e.unmatched_whatif,
                e.shortfall(),
                e.retired_capacity
            )?;
        }
        Ok(())
    })
}

fn print_whatif(out: &Path, base: &Solution, sol: &Solution, c: &Comparison) {
    let places: u64 = c.retired.iter().map(|r| u64::from(r.capacity)).sum();
    let held: u64 = c.retired.iter().map(|r| r.held_in_base).sum();
    let (b, w) = (base.objective, sol.objective);
    println!(
        "what-if    without {} doctors ({places} places, {held} patients in the base batch)",
        c.retired.len()
    );
    println!(
        "  base       matched tier 1: {}, tier 2: {}, tier 3: {}; {:.1} km",
        b.matched[0],
        b.matched[1],
        b.matched[2],
        b.metres as f64 / 1000.0
    );
    println!(
        "  what-if    matched tier 1: {}, tier 2: {}, tier 3: {}; {:.1} km",
        w.matched[0],
        w.matched[1],
        w.matched[2],
        w.metres as f64 / 1000.0
    );
    let lost: u64 = c.lose_out.iter().sum();
    let short = c.communes.values().filter(|e| e.shortfall() > 0).count();
    println!(
        "  lose out   {lost} (tier 1: {}, tier 2: {}, tier 3: {}); {} gain a doctor, {} change doctor; {short} communes short",
        c.lose_out[0],
        c.lose_out[1],
        c.lose_out[2],
        c.gain.iter().sum::<u64>(),
        c.reassigned
    );
    let mut worst: Vec<(&String, i64)> = c
        .communes
        .iter()
        .map(|(k, e)| (k, e.shortfall()))
        .filter(|x| x.1 > 0)
        .collect();
    worst.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    if !worst.is_empty() {
        let top: Vec<String> = worst
            .iter()
            .take(5)
            .map(|(k, v)| format!("{k} ({v})"))
            .collect();
        println!("  shortfall  {}", top.join(", "));
    }
    println!(
        "  wrote      {}/whatif.json and whatif_communes.csv",
        out.display()
    );
}
