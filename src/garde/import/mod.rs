//! Readers of a garde instance folder (FORMATS.md §3): `cabinets.csv`, `doctors.csv`,
//! `availability.csv` and `period.csv` become an [`Instance`] at once, or are refused whole.
//!
//! Errors have the shape of [`crate::import`]: file, line, column, field and message, one line
//! each (`availability.csv:7:2: field `start`: …`). Each file lists its first [`MAX_ERRORS`]
//! errors (in line order) and counts the rest; when any file has an error, no instance is
//! returned, so the caller writes nothing. Cross-file rules (an RPPS of `availability.csv`
//! unknown to `doctors.csv`) and cross-row rules (overlapping windows of one doctor) are errors
//! of the file that holds the offending row.

use super::calendar::paris_instant;
use super::instance::{
    Cabinet, DEFAULT_SLOT_MINUTES, GardeDoctor, Instance, MAX_NEED, Period, PeriodError, Window,
    check_slot_minutes,
};
mod table;

use crate::domain::{CabinetId, InseeCode, MaxKm, Rpps};
use crate::import::FieldError;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Timelike, Utc};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use table::{Collector, Table, unique, whole};

/// At most this many errors are listed per file (FORMATS.md §1); the rest are counted.
pub const MAX_ERRORS: usize = 100;

/// The four files of an instance, in the order they are read and reported.
pub const FILES: [&str; 4] = [
    "cabinets.csv",
    "doctors.csv",
    "availability.csv",
    "period.csv",
];

/// Why a garde instance was not imported. The CLI maps it to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum GardeImportError {
    /// A file could not be opened or read.
    #[error("cannot read {file}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The files were read but break the rules of FORMATS.md; every error found is listed.
    #[error("{0}")]
    Invalid(GardeFieldErrors),
}

/// The errors of the refused files: the first [`MAX_ERRORS`] of each, and how many in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GardeFieldErrors {
    /// Listed errors, file by file (in [`FILES`] order), each file in (line, column) order.
    pub errors: Vec<FieldError>,
    /// For each refused file: its name and how many errors it had (≥ those listed).
    pub found: Vec<(String, u64)>,
}

impl GardeFieldErrors {
    /// How many errors were found in all, listed or not.
    pub fn total(&self) -> u64 {
        self.found.iter().map(|(_, n)| n).sum()
    }
}

/// Per file, a header line (`availability.csv: 3 errors; nothing was imported`), then one line
/// per listed error, as [`crate::import::FieldErrors`] does.
impl fmt::Display for GardeFieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (file, found)) in self.found.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let listed: Vec<_> = self.errors.iter().filter(|e| e.file == *file).collect();
            let plural = if *found == 1 { "" } else { "s" };
            write!(f, "{file}: {found} error{plural}")?;
            if (listed.len() as u64) < *found {
                write!(f, " (the first {} are listed)", listed.len())?;
            }
            f.write_str("; nothing was imported")?;
            for e in listed {
                write!(f, "\n{e}")?;
            }
        }
        Ok(())
    }
}

/// Reads the instance in folder `dir` (FORMATS.md §3).
///
/// # Errors
/// [`GardeImportError::Io`] when a file cannot be read (the first such file);
/// [`GardeImportError::Invalid`] with every error of every file otherwise.
///
/// # Complexity
/// One pass per file, O(rows · log rows) for the overlap check.
pub fn read_instance(dir: &Path) -> Result<Instance, GardeImportError> {
    let mut bytes = Vec::with_capacity(FILES.len());
    for name in FILES {
        let path = dir.join(name);
        let b = std::fs::read(&path).map_err(|source| GardeImportError::Io {
            file: path.display().to_string(),
            source,
        })?;
        bytes.push(b);
    }
    parse_instance(&bytes[0], &bytes[1], &bytes[2], &bytes[3])
}

/// Parses the four files of an instance from memory (for callers that did not read a folder).
///
/// # Errors
/// [`GardeImportError::Invalid`] with every error found.
pub fn parse_instance(
    cabinets: &[u8],
    doctors: &[u8],
    availability: &[u8],
    period: &[u8],
) -> Result<Instance, GardeImportError> {
    let mut report = GardeFieldErrors {
        errors: Vec::new(),
        found: Vec::new(),
    };
    let mut absorb = |file: &str, mut c: Collector| {
        if c.found > 0 {
            // Lines come in order; within a row, columns in header order.
            c.kept.sort_by_key(|e| (e.line, e.column));
            report.errors.extend(c.kept);
            report.found.push((file.to_owned(), c.found));
        }
    };
    let (cabs, c) = read_cabinets(cabinets);
    absorb(FILES[0], c);
    let (docs, known, c) = read_doctors(doctors);
    absorb(FILES[1], c);
    let index: HashMap<Rpps, usize> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.rpps.clone(), i))
        .collect();
    let (windows, c) = read_availability(availability, known.as_ref(), &index, docs.len());
    absorb(FILES[2], c);
    let (per, c) = read_period(period);
    absorb(FILES[3], c);
    if !report.found.is_empty() {
        return Err(GardeImportError::Invalid(report));
    }
    Ok(Instance {
        cabinets: cabs,
        doctors: docs,
        windows,
        period: per.expect("a period-less file without error is impossible"),
        extensions: Default::default(),
    })
}

fn read_cabinets(bytes: &[u8]) -> (Vec<Cabinet>, Collector) {
    const COLS: [(&str, bool); 7] = [
        ("cabinet_id", true),
        ("name", true),
        ("lat", true),
        ("lon", true),
        ("insee", true),
        ("need", true),
        ("slot_minutes", false),
    ];
    let mut errs = Collector::new(FILES[0]);
    let mut out = Vec::new();
    let Some(mut t) = Table::open(bytes, &COLS, &mut errs) else {
        return (out, errs);
    };
    let mut seen = HashMap::new();
    while t.next_row(&mut errs) {
        let before = errs.found;
        let id = t.required(0, &mut errs, str::parse::<CabinetId>);
        if let Some(id) = &id
            && let Err(m) = unique(&mut seen, id, t.line)
        {
            t.error(&mut errs, 0, m);
        }
        let name = t.text(1, &mut errs).map(str::to_owned);
        let coords = t.coordinates(2, 3, &mut errs);
        let insee = t.required(4, &mut errs, str::parse::<InseeCode>);
        let need = t.required(5, &mut errs, |s| whole(s, 1, MAX_NEED));
        let slot = t.optional(6, &mut errs, |s| {
            let v = whole(s, 1, 120)?;
            check_slot_minutes(v).map_err(str::to_owned)
        });
        if errs.found == before
            && let (Some(id), Some(name), Some(coords), Some(insee), Some(need), Some(slot)) =
                (id, name, coords, insee, need, slot)
        {
            out.push(Cabinet {
                id,
                name,
                coords,
                insee,
                need,
                slot_minutes: slot.unwrap_or(DEFAULT_SLOT_MINUTES),
            });
        }
    }
    (out, errs)
}

/// Doctors, and the set of RPPS numbers readable in the file (`None` when it has no `rpps`
/// column), so that `availability.csv` is checked even when `doctors.csv` has other errors.
fn read_doctors(bytes: &[u8]) -> (Vec<GardeDoctor>, Option<HashMap<Rpps, u64>>, Collector) {
    const COLS: [(&str, bool); 7] = [
        ("rpps", true),
        ("name", true),
        ("lat", true),
        ("lon", true),
        ("insee", true),
        ("max_shifts", true),
        ("max_km", true),
    ];
    let mut errs = Collector::new(FILES[1]);
    let mut out = Vec::new();
    let Some(mut t) = Table::open(bytes, &COLS, &mut errs) else {
        return (out, None, errs);
    };
    let has_rpps = t.index[0].is_some();
    let mut seen = HashMap::new();
    while t.next_row(&mut errs) {
        let before = errs.found;
        let rpps = t.required(0, &mut errs, str::parse::<Rpps>);
        if let Some(r) = &rpps
            && let Err(m) = unique(&mut seen, r, t.line)
        {
            t.error(&mut errs, 0, m);
        }
        let name = t.text(1, &mut errs).map(str::to_owned);
        let coords = t.coordinates(2, 3, &mut errs);
        let insee = t.required(4, &mut errs, str::parse::<InseeCode>);
        let max_shifts = t.required(5, &mut errs, |s| whole(s, 0, 100_000));
        let max_km = t.required(6, &mut errs, |s| {
            let v: f64 = s
                .parse()
                .map_err(|_| "expected a number of kilometres".to_owned())?;
            MaxKm::new(v).map_err(|e| e.to_string())
        });
        if errs.found == before
            && let (Some(rpps), Some(name), Some(coords), Some(insee), Some(ms), Some(mk)) =
                (rpps, name, coords, insee, max_shifts, max_km)
        {
            out.push(GardeDoctor {
                rpps,
                name,
                coords,
                insee,
                max_shifts: ms,
                max_km: mk,
            });
        }
    }
    (out, has_rpps.then_some(seen), errs)
}

/// Parses an ISO 8601 date-time (FORMATS.md §3): with an offset (`Z`, `±HH:MM`, `±HHMM`,
/// `±HH`) it is an instant; without one it is Europe/Paris wall time, where a time in the
/// spring gap is an error and an ambiguous one is its first occurrence. Seconds and a
/// fraction are optional (`2026-03-30T17:30`).
///
/// # Errors
/// A message for the CSV error line.
pub fn parse_datetime(s: &str) -> Result<DateTime<Utc>, String> {
    const SHAPE: &str = "expected an ISO 8601 date-time such as 2026-03-30T17:30:00+02:00 \
                         (an instant) or 2026-03-30T17:30:00 (Europe/Paris wall time)";
    let (local, offset) = split_offset(s).ok_or(SHAPE)?;
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(local, f).ok())
        .ok_or(SHAPE)?;
    // chrono reads a second `60` as a leap second at any minute and offset; an instant in Unix
    // seconds (the database, Europe/Paris wall time) cannot hold one, so it is refused (found
    // by fuzz/fuzz_targets/datetime.rs: `…T17:30:60` compared unequal to its own re-reading).
    if naive.nanosecond() >= 1_000_000_000 {
        return Err("a second of 60 (leap second) is not accepted".to_owned());
    }
    match offset {
        Some(off) => naive
            .and_local_timezone(off)
            .single()
            .map(|t| t.to_utc())
            .ok_or_else(|| SHAPE.to_owned()),
        None => paris_instant(naive)
            .map(|t| t.to_utc())
            .map_err(|e| e.to_string()),
    }
}

/// Splits `s` into its local part and its offset, if any. `None` when the offset is malformed.
fn split_offset(s: &str) -> Option<(&str, Option<FixedOffset>)> {
    if let Some(local) = s.strip_suffix(['Z', 'z']) {
        return Some((local, FixedOffset::east_opt(0)));
    }
    // The date part has '-' at 4 and 7; an offset sign can only come after the time.
    let Some(pos) = s.get(11..).and_then(|t| t.find(['+', '-'])).map(|p| p + 11) else {
        return Some((s, None));
    };
    let (local, off) = s.split_at(pos);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
    let colon_ok = match off.len() {
        3 | 5 => !off.contains(':'),
        6 => off.as_bytes()[3] == b':',
        _ => false,
    };
    if !colon_ok || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits
        .get(2..)
        .filter(|x| !x.is_empty())
        .map_or(Some(0), |x| x.parse().ok())?;
    if h > 23 || m > 59 {
        return None;
    }
    Some((
        local,
        Some(FixedOffset::east_opt(sign * (h * 3600 + m * 60))?),
    ))
}

fn read_availability(
    bytes: &[u8],
    known: Option<&HashMap<Rpps, u64>>,
    index: &HashMap<Rpps, usize>,
    doctors: usize,
) -> (Vec<Vec<Window>>, Collector) {
    const COLS: [(&str, bool); 3] = [("rpps", true), ("start", true), ("end", true)];
    let mut errs = Collector::new(FILES[2]);
    let mut windows: Vec<Vec<Window>> = vec![Vec::new(); doctors];
    let Some(mut t) = Table::open(bytes, &COLS, &mut errs) else {
        return (windows, errs);
    };
    // Valid rows of every RPPS known to doctors.csv: (rpps, start, end, line).
    let mut rows: Vec<(Rpps, Window, u64)> = Vec::new();
    while t.next_row(&mut errs) {
        let before = errs.found;
        let rpps = t.required(0, &mut errs, str::parse::<Rpps>);
        if let (Some(r), Some(known)) = (&rpps, known)
            && !known.contains_key(r)
        {
            t.error(
                &mut errs,
                0,
                format!("unknown rpps {r}: not in doctors.csv"),
            );
        }
        let start = t.required(1, &mut errs, parse_datetime);
        let end = t.required(2, &mut errs, parse_datetime);
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            t.error(&mut errs, 2, "the window must end after it starts");
        }
        if errs.found == before
            && let (Some(r), Some(s), Some(e)) = (rpps, start, end)
        {
            rows.push((r, Window { start: s, end: e }, t.line));
        }
    }
    // Overlaps: per doctor, by (start, line); a window starting before the latest end so far
    // overlaps that one. Touching windows (start = previous end) are fine (FORMATS.md §3).
    let start_col = t.column(1);
    rows.sort_by(|a, b| (&a.0, a.1.start, a.2).cmp(&(&b.0, b.1.start, b.2)));
    let mut late = Collector::new(FILES[2]);
    let mut overlaps = Vec::new();
    let mut prev: Option<(&Rpps, DateTime<Utc>, u64)> = None;
    for (r, w, line) in &rows {
        match prev {
            Some((pr, end, pline)) if pr == r && w.start < end => {
                overlaps.push((*line, pline));
                if w.end > end {
                    prev = Some((r, w.end, *line));
                }
            }
            _ => prev = Some((r, w.end, *line)),
        }
    }
    overlaps.sort_unstable();
    for (line, other) in overlaps {
        let msg = format!("overlaps the window of line {other} of the same doctor");
        late.push(line, start_col, "start", msg);
    }
    errs.merge_late(late);
    if errs.found == 0 {
        for (r, w, _) in rows {
            if let Some(&d) = index.get(&r) {
                windows[d].push(w);
            }
        }
        // `rows` was sorted by (rpps, start): each list is sorted by start.
    }
    (windows, errs)
}

fn read_period(bytes: &[u8]) -> (Option<Period>, Collector) {
    const COLS: [(&str, bool); 2] = [("start", true), ("end", true)];
    let mut errs = Collector::new(FILES[3]);
    let Some(mut t) = Table::open(bytes, &COLS, &mut errs) else {
        return (None, errs);
    };
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| "expected an ISO date such as 2026-01-01")
    };
    let mut period = None;
    let mut rows = 0;
    while t.next_row(&mut errs) {
        rows += 1;
        if rows > 1 {
            errs.push(t.line, 0, "", "expected exactly one row");
            continue;
        }
        let start = t.required(0, &mut errs, date);
        let end = t.required(1, &mut errs, date);
        if let (Some(s), Some(e)) = (start, end) {
            match Period::new(s, e) {
                Ok(p) => period = Some(p),
                Err(e @ PeriodError::Inverted) => t.error(&mut errs, 1, e.to_string()),
                Err(e @ PeriodError::OutOfRange) => {
                    let c = if (2000..=2099).contains(&chrono::Datelike::year(&s)) {
                        1
                    } else {
                        0
                    };
                    t.error(&mut errs, c, e.to_string());
                }
            }
        }
    }
    if rows == 0 && errs.found == 0 {
        errs.push(t.line + 1, 0, "", "expected one row `start,end`");
    }
    (period, errs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CABINETS: &str =
        "cabinet_id,name,lat,lon,insee,need\nMETZ-1,Metz,49.1048,6.1962,57463,2\n";
    const DOCTORS: &str = "rpps,name,lat,lon,insee,max_shifts,max_km\n\
                           10000000009,Dr A,49.10,6.19,57463,4,15\n\
                           10123456781,Dr B,49.12,6.17,57463,2,10\n";
    const PERIOD: &str = "start,end\n2026-03-02,2026-03-31\n";

    fn errors(availability: &str) -> GardeFieldErrors {
        match parse_instance(
            CABINETS.as_bytes(),
            DOCTORS.as_bytes(),
            availability.as_bytes(),
            PERIOD.as_bytes(),
        ) {
            Err(GardeImportError::Invalid(e)) => e,
            other => panic!("expected errors, got {other:?}"),
        }
    }

    fn at(errors: &GardeFieldErrors) -> Vec<(u64, u64, &str)> {
        errors
            .errors
            .iter()
            .map(|e| (e.line, e.column, e.field.as_str()))
            .collect()
    }

    #[test]
    fn a_valid_folder_reads_with_offsets_and_wall_times() {
        let inst = parse_instance(
            CABINETS.as_bytes(),
            DOCTORS.as_bytes(),
            b"rpps,start,end\n\
              10000000009,2026-03-02T17:30:00+01:00,2026-03-02T20:30:00+01:00\n\
              10000000009,2026-03-02T20:30:00,2026-03-03T20:00Z\n\
              10123456781,2026-10-25T02:30:00,2026-10-25T05:00:00\n",
            PERIOD.as_bytes(),
        )
        .unwrap();
        assert_eq!(inst.cabinets[0].slot_minutes, 15);
        assert_eq!(inst.windows[0].len(), 2); // touching windows are allowed
        assert_eq!(
            inst.windows[0][1].start.to_rfc3339(),
            "2026-03-02T19:30:00+00:00"
        );
        // Ambiguous 02:30 on 25 October 2026: the first occurrence, at +02:00.
        assert_eq!(
            inst.windows[1][0].start.to_rfc3339(),
            "2026-10-25T00:30:00+00:00"
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_is_reported_with_line_and_column() {
        // 29 March 2026, 02:30 does not exist in Europe/Paris (DST table).
        let e = errors(
            "rpps,start,end\n\
             10000000009,2026-03-28T17:00:00,2026-03-29T02:30:00\n",
        );
        assert_eq!(at(&e), [(2, 3, "end")]);
        assert_eq!(
            e.to_string(),
            "availability.csv: 1 error; nothing was imported\n\
             availability.csv:2:3: field `end`: 2026-03-29 02:30:00 does not exist in \
             Europe/Paris (skipped when clocks go forward)"
        );
    }

    #[test]
    fn overlapping_inverted_and_unknown_windows_are_each_reported() {
        let e = errors(
            "rpps,start,end\n\
             10000000009,2026-03-02T17:00:00,2026-03-02T21:00:00\n\
             10000000009,2026-03-02T20:00:00,2026-03-02T22:00:00\n\
             10123456781,2026-03-03T20:00:00,2026-03-03T18:00:00\n\
             10000000017,2026-03-03T17:00:00,2026-03-03T21:00:00\n\
             10000000009,2026-03-02T22:00:00,2026-03-02T23:00:00\n",
        );
        assert_eq!(at(&e), [(3, 2, "start"), (4, 3, "end"), (5, 1, "rpps")]);
        assert_eq!(
            e.errors[0].to_string(),
            "availability.csv:3:2: field `start`: overlaps the window of line 2 of the same doctor"
        );
        assert!(e.errors[2].message.contains("unknown rpps 10000000017"));
    }

    #[test]
    fn bad_cells_of_every_file_are_listed_together() {
        let r = parse_instance(
            b"cabinet_id,name,lat,lon,insee,need,slot_minutes\n\
              A,x,49,6,57463,0,7\n\
              A,y,91,6,57463,1,\n",
            b"rpps,name,lat,lon,insee,max_shifts\n10000000008,D,49,6,57463,2\n",
            b"rpps,start,end\n10000000009,2026-03-02,2026-03-02T20:00\n",
            b"start,end\n2026-03-31,2026-03-01\n",
        );
        let Err(GardeImportError::Invalid(e)) = r else {
            panic!("{r:?}")
        };
        let found: Vec<_> = e.found.iter().map(|(f, n)| (f.as_str(), *n)).collect();
        // The only doctor row has a bad key, so the RPPS of availability.csv is unknown too.
        assert_eq!(
            found,
            [
                ("cabinets.csv", 4),
                ("doctors.csv", 2),
                ("availability.csv", 2),
                ("period.csv", 1)
            ]
        );
        let lines: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines[..4],
            [
                "cabinets.csv:2:6: field `need`: expected an integer from 1 to 1000",
                "cabinets.csv:2:7: field `slot_minutes`: must divide the shift lengths \
                 (120 and 240 minutes)",
                "cabinets.csv:3:1: field `cabinet_id`: duplicate A; first on line 2",
                "cabinets.csv:3:3: field `lat`: \
                 latitude must be a finite number between -90 and 90",
            ]
        );
        assert_eq!(
            lines[4],
            "doctors.csv:1:0: field `max_km`: required column is missing from the header"
        );
        assert_eq!(
            lines[5],
            "doctors.csv:2:1: field `rpps`: check digit does not match (Luhn)"
        );
        assert_eq!(
            lines[6],
            "availability.csv:2:1: field `rpps`: unknown rpps 10000000009: not in doctors.csv"
        );
        assert!(lines[7].starts_with("availability.csv:2:2: field `start`: expected an ISO 8601"));
        assert_eq!(
            lines[8],
            "period.csv:2:2: field `end`: the end date is before the start date"
        );
    }

    #[test]
    fn only_the_first_100_errors_are_listed() {
        let mut csv = String::from("rpps,start,end\n");
        for _ in 0..150 {
            csv.push_str("10000000009,2026-03-02T20:00:00,2026-03-02T18:00:00\n");
        }
        let e = errors(&csv);
        assert_eq!((e.errors.len(), e.total()), (100, 150));
        assert!(e.to_string().starts_with(
            "availability.csv: 150 errors (the first 100 are listed); nothing was imported\n"
        ));
    }

    #[test]
    fn offsets_come_in_three_shapes() {
        let t = |s: &str| parse_datetime(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2026-03-30T17:30:00+02:00").unwrap(),
            "2026-03-30T15:30:00+00:00"
        );
        assert_eq!(
            t("2026-03-30T17:30:00+0200").unwrap(),
            "2026-03-30T15:30:00+00:00"
        );
        assert_eq!(
            t("2026-03-30T17:30+02").unwrap(),
            "2026-03-30T15:30:00+00:00"
        );
        assert_eq!(
            t("2026-03-30T17:30:00.5Z").unwrap(),
            "2026-03-30T17:30:00.500+00:00"
        );
        assert!(t("2026-03-30T17:30:00+2:00").is_err());
        assert!(t("2026-03-30 17:30:00").is_err());
        assert!(t("2026-02-30T17:30:00").is_err());
    }

    #[test]
    fn a_leap_second_is_refused_at_any_minute_and_offset() {
        // Inputs found by fuzz/fuzz_targets/datetime.rs; chrono alone accepts all three.
        for s in [
            "2016-12-31T23:59:60Z",
            "1013-03-30T17:30:60.12341897060",
            "2026-03-30T17:30:60+02:00",
        ] {
            assert_eq!(
                parse_datetime(s),
                Err("a second of 60 (leap second) is not accepted".to_owned()),
                "{s}"
            );
        }
        assert!(parse_datetime("2016-12-31T23:59:59.999999999Z").is_ok());
    }
}
