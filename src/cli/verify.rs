//! `cpts verify INSTANCE RESULT`: reads an instance and a batch's output folder and checks the
//! result with [`crate::matching::verify`], without any solver. Exit 0 when accepted, 1 when
//! rejected, 2 when a file cannot be read or breaks its format.

use super::matching::{checksum, parse_max_km, parse_rpps_list, resolve_without};
use super::progress::Step;
use crate::domain::{MaxKm, Rpps};
use crate::import;
use crate::matching::DEFAULT_MAX_KM;
use crate::matching::verify::{self, Check, Expected, Report};
use crate::telemetry::ms;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `cpts verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Instance folder with patients.csv and doctors.csv (FORMATS.md §2).
    pub instance: PathBuf,
    /// Output folder of the batch: assignments.csv, unmatched.csv, summary.json,
    /// certificate.json.
    pub result: PathBuf,
    /// Limit for patients without their own max_km, in km, as given to `cpts match`.
    #[arg(long, default_value_t = DEFAULT_MAX_KM, value_parser = parse_max_km)]
    pub default_max_km: f64,
    /// The doctors a what-if batch ran without, as given to `cpts match --without`.
    #[arg(long, value_delimiter = ',', value_parser = parse_rpps_list)]
    pub without: Vec<Rpps>,
}

/// Runs `cpts verify`.
pub fn run(args: &VerifyArgs) -> ExitCode {
    match run_inner(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            if let Some(import::Error::Invalid(errors)) = e.downcast_ref::<import::Error>() {
                eprintln!("error: a file was refused; nothing was checked\n{errors}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(super::EXIT_BAD_INPUT)
        }
    }
}

fn run_inner(args: &VerifyArgs) -> anyhow::Result<bool> {
    let t_all = Instant::now();
    let default =
        MaxKm::new(args.default_max_km).map_err(|e| anyhow::anyhow!("--default-max-km {e}"))?;
    let step = Step::start("load");
    let mut inst = import::load_matching_instance(&args.instance, default)?;
    let sha = checksum(&args.instance)?;
    let retired = resolve_without(&inst, &args.without)?;
    crate::matching::whatif::retire(&mut inst, &retired);
    let result = import::read_batch_result(&args.result)?;
    let t_load = step.finish();

    let step = Step::start("verify");
    let expected = Expected {
        instance_sha256: Some(sha),
        without: args.without.clone(),
    };
    let report = verify::verify(&inst, &result, &expected);
    step.finish();
    print_report(args, &report);
    println!(
        "  time         load {:.1} ms, feasibility {:.1} ms, certificate and optimality {:.1} ms; total {:.1} ms",
        ms(t_load),
        ms(report.stats.feasibility_time),
        ms(report.stats.optimality_time),
        ms(t_all.elapsed())
    );
    Ok(report.accepted())
}

fn print_report(args: &VerifyArgs, r: &Report) {
    let s = &r.stats;
    println!(
        "cpts verify {} {}",
        args.instance.display(),
        args.result.display()
    );
    for check in Check::ALL {
        let name = check.name();
        let Some(o) = r.outcomes.get(&check).filter(|o| o.ran) else {
            println!("  {name:<12} not checked (an earlier check failed)");
            continue;
        };
        if o.problems > 0 {
            let more = if (o.listed.len() as u64) < o.problems {
                format!(", the first {} listed", o.listed.len())
            } else {
                String::new()
            };
            let plural = if o.problems == 1 { "" } else { "s" };
            println!("  {name:<12} FAILED: {} problem{plural}{more}", o.problems);
            for m in &o.listed {
                println!("    {m}");
            }
            continue;
        }
        let detail = match check {
            Check::Batch => {
                let without = if args.without.is_empty() {
                    String::new()
                } else {
                    format!(", without {} doctors", args.without.len())
                };
                format!(
                    "summary.json names these files (SHA-256), a {} km default limit{without}",
                    args.default_max_km
                )
            }
            Check::Feasibility => format!(
                "{} patients, each listed once: {} assigned to eligible doctors at their \
                 distance_m, {} unmatched with their tier; no doctor over capacity",
                s.patients, s.assignments, s.unmatched
            ),
            Check::Objective => format!(
                "(n1, n2, n3, metres) = ({}, {}, {}, {}), as summary.json states",
                s.objective[0], s.objective[1], s.objective[2], s.objective[3]
            ),
            Check::Certificate => format!(
                "penalties 3B, 2B, B with B = {} ≥ (D + 1)(c_max + 1) = {} (D = {}, c_max {} {} m)",
                s.bound,
                s.needed_bound,
                s.doctors_with_capacity,
                if s.c_max_exact { "=" } else { "≤" },
                s.c_max
            ),
            Check::Optimality => format!(
                "every reduced cost ≥ 0 ({} pairs near patients, {} by exact distance); \
                 doctors' potentials match their loads",
                s.pairs_examined, s.pairs_exact
            ),
            Check::Reasons => {
                "no_doctor_in_range exactly for the unmatched patients without an eligible pair"
                    .to_owned()
            }
        };
        println!("  {name:<12} ok: {detail}");
    }
    if r.accepted() {
        println!(
            "accepted: the result is feasible and optimal at all four levels (tier 1, tier 2, tier 3, metres)"
        );
    } else {
        let failed: Vec<&str> = r.failed().into_iter().map(Check::name).collect();
        println!("rejected: {}", failed.join(", "));
    }
}
