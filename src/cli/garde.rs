//! `cpts garde DIR`: reads an instance folder, fills the roster, writes `roster.csv`,
//! `unfilled.csv`, `slots.csv`, `carence.csv` and `summary.json` ([`Summary`]), and prints a
//! one-screen summary. Files are written only after the whole input was accepted, and
//! atomically ([`super::output`]): a refused or failed run leaves no output folder behind.

use crate::garde::instance::Instance;
use crate::garde::report::{
    self, Carence, Reason, StageTimings, Summary, Unfilled, UnfilledSummary,
};
use crate::garde::schedule::{self, Schedule};
use crate::garde::slots::{self, Slot};
use crate::import::{self, garde::FILES};
use anyhow::Context;
use chrono::SecondsFormat;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Refused;
use super::output::Staged;
use crate::telemetry::ms;

/// Arguments of `cpts garde`.
#[derive(Clone, Debug, clap::Args)]
pub struct GardeArgs {
    /// Instance folder with cabinets.csv, doctors.csv, availability.csv and period.csv
    /// (FORMATS.md §3).
    pub dir: PathBuf,
    /// Output folder (default: out/ and the last component of DIR).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs `cpts garde`: writes the outputs, prints the summary.
///
/// # Errors
/// [`Refused`] for bad input (exit code 2, `super::exit_code`), with the full error report;
/// anything else (solver, self-check, writing) is another error (exit code 1).
pub fn run_cli(args: &GardeArgs) -> anyhow::Result<()> {
    let out = match &args.out {
        Some(o) => o.clone(),
        None => Path::new("out").join(instance_name(&args.dir)),
    };
    match run(&args.dir, &out) {
        Ok(summary) => {
            print!("{}", render(&summary, &out));
            Ok(())
        }
        Err(e) => match e.downcast_ref::<import::Error>() {
            Some(import::Error::Invalid(errors)) => Err(Refused(format!(
                "the instance was refused; nothing was written\n{errors}"
            ))
            .into()),
            Some(import::Error::Io { file, source }) => {
                Err(Refused(format!("cannot read {file}: {source}")).into())
            }
            None => Err(e),
        },
    }
}

fn instance_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| "garde".to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Reads `dir`, solves, checks and writes every output into `out`; returns the summary.
///
/// # Errors
/// An [`import::Error`] for bad input, written nowhere; any other error for a failure, which
/// leaves `out` as it was.
pub fn run(dir: &Path, out: &Path) -> anyhow::Result<Summary> {
    let t0 = Instant::now();
    let mut bytes = Vec::with_capacity(FILES.len());
    let mut hash = Sha256::new();
    for name in FILES {
        let path = dir.join(name);
        let b = import::read_bytes(&path)?;
        hash.update(name.as_bytes());
        hash.update((b.len() as u64).to_le_bytes());
        hash.update(&b);
        bytes.push(b);
    }
    // The optional files (FORMATS.md §3), when present, are part of the instance and of its
    // checksum; without them, both are as before.
    let mut optional = Vec::with_capacity(import::garde::OPTIONAL_FILES.len());
    for name in import::garde::OPTIONAL_FILES {
        let path = dir.join(name);
        if path.exists() {
            let b = import::read_bytes(&path)?;
            hash.update(name.as_bytes());
            hash.update((b.len() as u64).to_le_bytes());
            hash.update(&b);
            optional.push(Some(b));
        } else {
            optional.push(None);
        }
    }
    let inst = import::garde::parse_instance(&bytes[0], &bytes[1], &bytes[2], &bytes[3])?;
    let inst = import::garde::parse_extensions(
        inst,
        optional[0].as_deref(),
        optional[1].as_deref(),
        optional[2].as_deref(),
    )?;
    let parse = t0.elapsed();

    let sched = schedule::solve(&inst).context("solving the roster")?;
    let t1 = Instant::now();
    if let Err(errors) = sched.roster.check(&inst) {
        anyhow::bail!("the roster fails its own check:\n{}", errors.join("\n"));
    }
    let check = t1.elapsed();

    let t2 = Instant::now();
    let el = &sched.eligibility;
    let unfilled = report::unfilled(&inst, el, &sched.roster);
    let carence = report::carence(&inst, el, &sched.roster, &unfilled);
    let fairness = report::fairness(&inst, el, &sched.roster);
    let slots = slots::slots(&inst, &sched.roster);
    let counts = report::counts(&inst, el);
    let reports = t2.elapsed();

    let mut summary = Summary {
        instance: instance_name(dir),
        instance_sha256: format!("{:x}", hash.finalize()),
        period_start: inst.period.start().to_string(),
        period_end: inst.period.end().to_string(),
        cabinets: inst.cabinets.len() as u64,
        doctors: inst.doctors.len() as u64,
        windows: inst.windows.iter().map(|w| w.len() as u64).sum(),
        shifts: counts,
        objective: sched.objective,
        needed: counts.positions,
        unfilled: UnfilledSummary::new(&unfilled),
        fairness,
        slots: slots.len() as u64,
        network: sched.stats,
        timings: StageTimings {
            parse_ms: ms(parse),
            eligibility_ms: ms(sched.timings.eligibility),
            network_ms: ms(sched.timings.network),
            flow_ms: ms(sched.timings.flow),
            check_ms: ms(check),
            reports_ms: ms(reports),
            write_ms: 0.0,
        },
    };
    let t3 = Instant::now();
    let staged = Staged::new(out)?;
    write_outputs(&staged, &inst, &sched, &unfilled, &carence, &slots)?;
    summary.timings.write_ms = ms(t3.elapsed());
    staged.write("summary.json", |w| {
        serde_json::to_writer_pretty(&mut *w, &summary)?;
        writeln!(w)
    })?;
    staged.commit()?;
    Ok(summary)
}

fn iso(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn write_outputs(
    out: &Staged,
    inst: &Instance,
    sched: &Schedule,
    unfilled: &[Unfilled],
    carence: &[Carence],
    slots: &[Slot],
) -> anyhow::Result<()> {
    let el = &sched.eligibility;
    let shift_of: std::collections::HashMap<_, _> = el
        .shifts
        .iter()
        .map(|s| ((s.date, s.cabinet as u32), s))
        .collect();

    out.write("roster.csv", |w| {
        writeln!(w, "cabinet_id,date,start,end,rpps,distance_m")?;
        for a in &sched.roster.assignments {
            let s = shift_of[&(a.date, a.cabinet)];
            writeln!(
                w,
                "{},{},{},{},{},{}",
                inst.cabinets[s.cabinet].id,
                a.date,
                iso(&s.start),
                iso(&s.end),
                inst.doctors[a.doctor as usize].rpps,
                a.metres
            )?;
        }
        Ok(())
    })?;

    out.write("unfilled.csv", |w| {
        writeln!(w, "cabinet_id,date,start,end,missing,reason")?;
        for u in unfilled {
            let s = &el.shifts[u.shift];
            writeln!(
                w,
                "{},{},{},{},{},{}",
                inst.cabinets[s.cabinet].id,
                s.date,
                iso(&s.start),
                iso(&s.end),
                u.missing,
                u.reason.as_str()
            )?;
        }
        Ok(())
    })?;

    out.write("slots.csv", |w| {
        writeln!(w, "cabinet_id,rpps,start,end")?;
        for s in slots {
            writeln!(
                w,
                "{},{},{},{}",
                inst.cabinets[s.cabinet as usize].id,
                inst.doctors[s.doctor as usize].rpps,
                iso(&s.start),
                iso(&s.end)
            )?;
        }
        Ok(())
    })?;

    out.write("carence.csv", |w| {
        write!(
            w,
            "cabinet_id,month,shifts,positions,filled,missing,empty_shifts,short_shifts"
        )?;
        for r in Reason::ALL {
            write!(w, ",{}", r.as_str())?;
        }
        writeln!(w)?;
        for c in carence {
            write!(
                w,
                "{},{},{},{},{},{},{},{}",
                c.cabinet_id,
                c.month,
                c.shifts,
                c.positions,
                c.filled,
                c.missing,
                c.empty_shifts,
                c.short_shifts
            )?;
            for n in c.missing_by_reason {
                write!(w, ",{n}")?;
            }
            writeln!(w)?;
        }
        Ok(())
    })
}

/// Thousands separated by commas: `12,345`.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The one-screen summary printed by `cpts garde`.
pub fn render(s: &Summary, out: &Path) -> String {
    let mut t = String::new();
    let o = &s.objective;
    let pct = if s.needed == 0 {
        100.0
    } else {
        100.0 * o.filled as f64 / s.needed as f64
    };
    let avg_km = if o.filled == 0 {
        0.0
    } else {
        o.metres as f64 / o.filled as f64 / 1000.0
    };
    let _ = writeln!(
        t,
        "garde {}: {} to {}, {} cabinets, {} doctors, {} availability windows",
        s.instance,
        s.period_start,
        s.period_end,
        s.cabinets,
        grouped(s.doctors),
        grouped(s.windows)
    );
    let _ = writeln!(
        t,
        "shifts     {} ({} weekday evenings, {} Saturday mornings), {} positions",
        grouped(s.shifts.shifts),
        grouped(s.shifts.weekday_shifts),
        grouped(s.shifts.saturday_shifts),
        grouped(s.needed)
    );
    let _ = writeln!(
        t,
        "objective  filled {}/{} ({pct:.1} %), Σ load² {}, distance {} m \
         ({avg_km:.1} km per position)",
        grouped(o.filled),
        grouped(s.needed),
        grouped(o.sum_load_squared),
        grouped(o.metres)
    );
    let reasons: Vec<String> = s
        .unfilled
        .by_reason
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| format!("{r} {}", grouped(*n)))
        .collect();
    let _ = writeln!(
        t,
        "unfilled   {} positions on {} shifts{}",
        grouped(s.unfilled.positions),
        grouped(s.unfilled.shifts),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", reasons.join(", "))
        }
    );
    let f = &s.fairness;
    let _ = writeln!(
        t,
        "fairness   {} eligible doctors, load min {} / median {} / max {}; {} at max_shifts; \
         {} available yet given nothing",
        grouped(f.eligible_doctors),
        f.load_min,
        f.load_median,
        f.load_max,
        grouped(f.at_max_shifts),
        grouped(f.available_yet_idle.len() as u64)
    );
    let n = &s.network;
    let _ = writeln!(
        t,
        "network    {} nodes ({} doctor-days), {} arcs; weights M = {}, B = {}; {} pivots, \
         {} potential updates",
        grouped(n.nodes),
        grouped(n.day_nodes),
        grouped(n.arcs),
        grouped(n.weight_load as u64),
        grouped(n.weight_unfilled as u64),
        grouped(n.work.iterations),
        grouped(n.work.updates)
    );
    let m = &s.timings;
    let _ = writeln!(
        t,
        "timings    parse {:.1} ms, eligibility {:.1} ms, network {:.1} ms, flow {:.1} ms, \
         check {:.1} ms, reports {:.1} ms, write {:.1} ms",
        m.parse_ms, m.eligibility_ms, m.network_ms, m.flow_ms, m.check_ms, m.reports_ms, m.write_ms
    );
    let _ = writeln!(
        t,
        "wrote      {}/{{roster,unfilled,slots,carence}}.csv ({} slots) and summary.json",
        out.display(),
        grouped(s.slots)
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The errors of a refused folder.
    fn import_errors(e: &anyhow::Error) -> Option<&crate::import::CellErrors> {
        match e.downcast_ref::<import::Error>() {
            Some(import::Error::Invalid(errors)) => Some(errors),
            _ => None,
        }
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
    }

    #[test]
    fn a_refused_folder_writes_nothing_and_is_a_garde_import_error() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("cabinets.csv"),
            "cabinet_id,name,lat,lon,insee,need\nA,a,49.1,6.2,57463,1\n",
        )
        .unwrap();
        std::fs::write(
            d.join("doctors.csv"),
            "rpps,name,lat,lon,insee,max_shifts,max_km\n10000000009,D,49.1,6.2,57463,3,10\n",
        )
        .unwrap();
        std::fs::write(
            d.join("availability.csv"),
            "rpps,start,end\n10000000009,2026-03-29T01:00:00,2026-03-29T02:15:00\n",
        )
        .unwrap();
        std::fs::write(d.join("period.csv"), "start,end\n2026-03-01,2026-03-31\n").unwrap();
        let out = d.join("out");
        let e = run(d, &out).unwrap_err();
        let errors = import_errors(&e).expect("an import error");
        assert_eq!(
            errors[0].to_string().split(": ").next(),
            Some("availability.csv:2:3")
        );
        assert!(!out.exists());
    }

    #[test]
    fn a_small_folder_writes_every_output() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("cabinets.csv"),
            "cabinet_id,name,lat,lon,insee,need\nA,a,49.1,6.2,57463,1\n",
        )
        .unwrap();
        std::fs::write(
            d.join("doctors.csv"),
            "rpps,name,lat,lon,insee,max_shifts,max_km\n10000000009,D,49.1,6.2,57463,3,10\n",
        )
        .unwrap();
        // Available Friday 6 March 2026 from 17:00 to Saturday 7 March 14:00: two shifts.
        std::fs::write(
            d.join("availability.csv"),
            "rpps,start,end\n10000000009,2026-03-06T17:00:00,2026-03-07T14:00:00\n",
        )
        .unwrap();
        std::fs::write(d.join("period.csv"), "start,end\n2026-03-06,2026-03-09\n").unwrap();
        let out = d.join("out");
        let s = run(d, &out).unwrap();
        assert_eq!((s.objective.filled, s.needed, s.slots), (2, 3, 24));
        let roster = std::fs::read_to_string(out.join("roster.csv")).unwrap();
        assert_eq!(
            roster,
            "cabinet_id,date,start,end,rpps,distance_m\n\
             A,2026-03-06,2026-03-06T18:00:00+01:00,2026-03-06T20:00:00+01:00,10000000009,0\n\
             A,2026-03-07,2026-03-07T09:00:00+01:00,2026-03-07T13:00:00+01:00,10000000009,0\n"
        );
        let unfilled = std::fs::read_to_string(out.join("unfilled.csv")).unwrap();
        assert_eq!(
            unfilled.lines().nth(1),
            Some(
                "A,2026-03-09,2026-03-09T18:00:00+01:00,2026-03-09T20:00:00+01:00,1,\
                 no_doctor_available"
            )
        );
        let carence = std::fs::read_to_string(out.join("carence.csv")).unwrap();
        assert_eq!(
            carence.lines().nth(1),
            Some("A,2026-03,3,3,2,1,1,0,1,0,0,0")
        );
        assert!(render(&s, &out).contains("filled 2/3"));
    }
}
