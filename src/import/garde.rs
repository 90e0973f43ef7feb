//! The garde instance folder (FORMATS.md §3): `cabinets.csv`, `doctors.csv`,
//! `availability.csv` and `period.csv` become a [`garde::Instance`](Instance) at once, or are
//! refused whole, through the same table reader and errors as every other file of
//! [`crate::import`].
//!
//! Each file lists its first [`MAX_ERRORS`](super::MAX_ERRORS) errors (in (line, column)
//! order) and counts the rest; when any file has an error, no instance is returned, so the
//! caller writes nothing. Cross-file rules (an RPPS of `availability.csv` unknown to
//! `doctors.csv`) and cross-row rules (overlapping windows of one doctor) are errors of the
//! file that holds the offending row.

use super::table::{Column, FirstLines, Table, max_km, whole};
use super::{CellErrors, Error, read_bytes};
use crate::domain::{CabinetId, InseeCode, Rpps};
use crate::garde::calendar::paris_instant;
use crate::garde::instance::{
    Cabinet, DEFAULT_SLOT_MINUTES, GardeDoctor, Instance, MAX_NEED, Period, PeriodError, Window,
    check_slot_minutes,
};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Timelike, Utc};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// The four files of an instance, in the order they are read and reported.
pub const FILES: [&str; 4] = [
    "cabinets.csv",
    "doctors.csv",
    "availability.csv",
    "period.csv",
];

/// Reads the instance in folder `dir` (FORMATS.md §3).
///
/// # Errors
/// [`Error::Io`] when a file cannot be read (the first such file, named by its path);
/// [`Error::Invalid`] with every error of every file otherwise.
///
/// # Complexity
/// One pass per file, O(rows · log rows) for the overlap check.
pub fn read_instance(dir: &Path) -> Result<Instance, Error> {
    let mut bytes = Vec::with_capacity(FILES.len());
    for name in FILES {
        bytes.push(read_bytes(&dir.join(name))?);
    }
    let inst = parse_instance(&bytes[0], &bytes[1], &bytes[2], &bytes[3])?;
    let mut optional = Vec::with_capacity(OPTIONAL_FILES.len());
    for name in OPTIONAL_FILES {
        let path = dir.join(name);
        optional.push(if path.exists() {
            Some(read_bytes(&path)?)
        } else {
            None
        });
    }
    parse_extensions(
        inst,
        optional[0].as_deref(),
        optional[1].as_deref(),
        optional[2].as_deref(),
    )
}

/// The optional files of an instance (FORMATS.md §3), read when present.
pub const OPTIONAL_FILES: [&str; 3] = ["history.csv", "preferences.csv", "pinned.csv"];

const HISTORY_COLUMNS: [Column; 2] = [Column::required("rpps"), Column::required("prior_shifts")];
const PREFERENCE_COLUMNS: [Column; 3] = [
    Column::required("rpps"),
    Column::required("date"),
    Column::required("preference"),
];
const PINNED_COLUMNS: [Column; 3] = [
    Column::required("cabinet_id"),
    Column::required("date"),
    Column::required("rpps"),
];

/// Attaches the optional files to `inst` (FORMATS.md §3): `history.csv`, `preferences.csv`
/// and `pinned.csv`, each `None` when absent. Cell errors (a bad RPPS, date or value) and the
/// instance's own checks ([`Instance::with_extensions`]: an unknown id, a date outside the
/// period, a duplicate, a pinned row that breaks a constraint) are reported with the row's
/// line, column and field; any error refuses the whole instance.
///
/// # Errors
/// [`Error::Invalid`] with every error found, file after file in [`OPTIONAL_FILES`] order.
pub fn parse_extensions(
    inst: Instance,
    history: Option<&[u8]>,
    preferences: Option<&[u8]>,
    pinned: Option<&[u8]>,
) -> Result<Instance, Error> {
    use crate::garde::instance::{ExtensionFile, HistoryRow, PinnedRow, Preference, PreferenceRow};
    if history.is_none() && preferences.is_none() && pinned.is_none() {
        return Ok(inst);
    }
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| "expected an ISO date such as 2026-01-01")
    };
    let mut th = Table::open_optional(history, OPTIONAL_FILES[0], &HISTORY_COLUMNS)?;
    let (mut h_rows, mut h_lines) = (Vec::new(), Vec::new());
    while let Some(mut row) = th.next_row()? {
        let rpps = row.required(0, str::parse::<Rpps>);
        let prior = row.required(1, |s| whole(s, 0u32, 10_000));
        if let (Some(rpps), Some(prior_shifts)) = (rpps, prior) {
            h_rows.push(HistoryRow { rpps, prior_shifts });
            h_lines.push(row.line());
        }
    }
    let mut tp = Table::open_optional(preferences, OPTIONAL_FILES[1], &PREFERENCE_COLUMNS)?;
    let (mut p_rows, mut p_lines) = (Vec::new(), Vec::new());
    while let Some(mut row) = tp.next_row()? {
        let rpps = row.required(0, str::parse::<Rpps>);
        let day = row.required(1, date);
        let preference = row.required(2, Preference::from_word);
        if let (Some(rpps), Some(date), Some(preference)) = (rpps, day, preference) {
            p_rows.push(PreferenceRow {
                rpps,
                date,
                preference,
            });
            p_lines.push(row.line());
        }
    }
    let mut tn = Table::open_optional(pinned, OPTIONAL_FILES[2], &PINNED_COLUMNS)?;
    let (mut n_rows, mut n_lines) = (Vec::new(), Vec::new());
    while let Some(mut row) = tn.next_row()? {
        let cabinet_id = row.required(0, str::parse::<CabinetId>);
        let day = row.required(1, date);
        let rpps = row.required(2, str::parse::<Rpps>);
        if let (Some(cabinet_id), Some(date), Some(rpps)) = (cabinet_id, day, rpps) {
            n_rows.push(PinnedRow {
                cabinet_id,
                date,
                rpps,
            });
            n_lines.push(row.line());
        }
    }
    let checked = inst.with_extensions(&h_rows, &p_rows, &n_rows);
    let inst = match checked {
        Ok(inst) => Some(inst),
        Err(e) => {
            let mut late = e.errors;
            late.sort_by_key(|r| r.row);
            for r in late {
                let (table_columns, lines): (&[Column], &[u64]) = match r.file {
                    ExtensionFile::History => (&HISTORY_COLUMNS, &h_lines),
                    ExtensionFile::Preferences => (&PREFERENCE_COLUMNS, &p_lines),
                    ExtensionFile::Pinned => (&PINNED_COLUMNS, &n_lines),
                };
                let c = table_columns
                    .iter()
                    .position(|col| col.name == r.field)
                    .unwrap_or(0);
                let line = lines.get(r.row).copied().unwrap_or(1);
                let message = r.problem.to_string();
                match r.file {
                    ExtensionFile::History => th.late_error(line, c, message),
                    ExtensionFile::Preferences => tp.late_error(line, c, message),
                    ExtensionFile::Pinned => tn.late_error(line, c, message),
                }
            }
            None
        }
    };
    match CellErrors::gather([th.finish(), tp.finish(), tn.finish()]) {
        Some(errors) => Err(Error::Invalid(errors)),
        // A refusal by `with_extensions` left its errors in a table, so `inst` is set here.
        None => Ok(inst.expect("refused extensions are reported as cell errors")),
    }
}

/// Parses the four files of an instance from memory (for callers that did not read a folder).
///
/// # Errors
/// [`Error::Invalid`] with every error found, file after file in [`FILES`] order.
pub fn parse_instance(
    cabinets: &[u8],
    doctors: &[u8],
    availability: &[u8],
    period: &[u8],
) -> Result<Instance, Error> {
    let (cabs, e_cabinets) = read_cabinets(cabinets)?;
    let (docs, known, e_doctors) = read_doctors(doctors, FILES[1], &|_| Ok(()))?;
    let index: HashMap<Rpps, usize> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.rpps.clone(), i))
        .collect();
    let (windows, e_availability) =
        read_availability(availability, known.as_ref(), &index, docs.len())?;
    let (per, e_period) = read_period(period)?;
    if let Some(errors) = CellErrors::gather([e_cabinets, e_doctors, e_availability, e_period]) {
        return Err(Error::Invalid(errors));
    }
    Ok(Instance {
        cabinets: cabs,
        doctors: docs,
        windows,
        period: per.expect("a period-less file without error is impossible"),
        extensions: Default::default(),
    })
}

/// Reads a garde `doctors.csv` (FORMATS.md §3: `rpps,name,lat,lon,insee,max_shifts,max_km`,
/// no `capacity`) for a coordinator's bulk import: every doctor, or every error by line,
/// column and field. `place` may refuse a commune (outside the coordinator's territory).
///
/// # Errors
/// [`Error::Invalid`] listing the errors; [`Error::Io`] when the reader fails.
pub fn read_garde_doctors_from<R: Read>(
    reader: R,
    file: &str,
    place: Place<'_>,
) -> Result<Vec<GardeDoctor>, Error> {
    let (doctors, _, errors) = read_doctors(reader, file, place)?;
    match errors {
        Some(errors) => Err(Error::Invalid(errors)),
        None => Ok(doctors),
    }
}

/// Reads an `availability.csv` (FORMATS.md §3: `rpps,start,end`) for a coordinator's bulk
/// import: `(rpps, window)` rows in file order, or every error by line, column and field.
/// `known` says which RPPS may be named (stored doctors of the coordinator's territory); the
/// windows of one doctor must not overlap.
///
/// # Errors
/// [`Error::Invalid`] listing the errors; [`Error::Io`] when the reader fails.
pub fn read_windows_from<R: Read>(
    reader: R,
    file: &str,
    known: &(dyn Fn(&Rpps) -> bool + Sync),
) -> Result<Vec<(Rpps, Window)>, Error> {
    let (rows, errors) = availability_rows(reader, file, &|r| {
        (!known(r)).then(|| format!("unknown rpps {r}: not a stored doctor of this territory"))
    })?;
    match errors {
        Some(errors) => Err(Error::Invalid(errors)),
        None => Ok(rows.into_iter().map(|(r, w, _)| (r, w)).collect()),
    }
}

/// What a reader of one file returns: its values (meaningful only without errors) and errors.
type Parsed<T> = Result<(T, Option<CellErrors>), Error>;

const CABINET_ID: usize = 0;
const C_NAME: usize = 1;
const C_LAT: usize = 2;
const C_LON: usize = 3;
const C_INSEE: usize = 4;
const NEED: usize = 5;
const SLOT_MINUTES: usize = 6;

const CABINET_COLUMNS: [Column; 7] = [
    Column::required("cabinet_id"),
    Column::required("name"),
    Column::required("lat"),
    Column::required("lon"),
    Column::required("insee"),
    Column::required("need"),
    Column::optional("slot_minutes"),
];

fn read_cabinets(bytes: &[u8]) -> Parsed<Vec<Cabinet>> {
    let mut t = Table::open(bytes, FILES[0], &CABINET_COLUMNS)?;
    let mut out = Vec::new();
    let mut seen = FirstLines::default();
    while let Some(mut row) = t.next_row()? {
        let id = row.required(CABINET_ID, str::parse::<CabinetId>);
        if let Some(id) = &id {
            row.unique(CABINET_ID, &mut seen, id, Some(id));
        }
        let name = row.text(C_NAME).map(str::to_owned);
        let coords = row.coordinates(C_LAT, C_LON);
        let insee = row.required(C_INSEE, str::parse::<InseeCode>);
        let need = row.required(NEED, |s| whole(s, 1, MAX_NEED));
        let slot = row.optional(SLOT_MINUTES, |s| {
            let v = whole(s, 1, 120)?;
            check_slot_minutes(v).map_err(str::to_owned)
        });
        if !row.has_errors()
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
    Ok((out, t.finish()))
}

const RPPS: usize = 0;
const D_NAME: usize = 1;
const D_LAT: usize = 2;
const D_LON: usize = 3;
const D_INSEE: usize = 4;
const MAX_SHIFTS: usize = 5;
const MAX_KM: usize = 6;

const DOCTOR_COLUMNS: [Column; 7] = [
    Column::required("rpps"),
    Column::required("name"),
    Column::required("lat"),
    Column::required("lon"),
    Column::required("insee"),
    Column::required("max_shifts"),
    Column::required("max_km"),
];

/// The RPPS numbers readable in `doctors.csv`; `None` when it has no `rpps` column.
type Known = Option<FirstLines<Rpps>>;

/// Doctors, and the RPPS numbers readable in the file, so that `availability.csv` is checked
/// even when `doctors.csv` has other errors.
/// A check of a doctor's commune: `Err(message)` refuses it (a cell error on `insee`).
pub type Place<'a> = &'a (dyn Fn(&InseeCode) -> Result<(), String> + Sync);

fn read_doctors<R: Read>(
    reader: R,
    file: &str,
    place: Place<'_>,
) -> Result<(Vec<GardeDoctor>, Known, Option<CellErrors>), Error> {
    let mut t = Table::open(reader, file, &DOCTOR_COLUMNS)?;
    let has_rpps = t.has(RPPS);
    let mut out = Vec::new();
    let mut seen = FirstLines::default();
    while let Some(mut row) = t.next_row()? {
        let rpps = row.required(RPPS, str::parse::<Rpps>);
        if let Some(r) = &rpps {
            row.unique(RPPS, &mut seen, r, Some(r));
        }
        let name = row.text(D_NAME).map(str::to_owned);
        let coords = row.coordinates(D_LAT, D_LON);
        let insee = row.required(D_INSEE, |s| {
            let code: InseeCode = s
                .parse()
                .map_err(|e: crate::domain::InseeError| e.to_string())?;
            place(&code).map(|()| code)
        });
        let max_shifts = row.required(MAX_SHIFTS, |s| whole(s, 0, 100_000));
        let max_km = row.required(MAX_KM, max_km);
        if !row.has_errors()
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
    Ok((out, has_rpps.then_some(seen), t.finish()))
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

const A_RPPS: usize = 0;
const START: usize = 1;
const END: usize = 2;

const AVAILABILITY_COLUMNS: [Column; 3] = [
    Column::required("rpps"),
    Column::required("start"),
    Column::required("end"),
];

fn read_availability(
    bytes: &[u8],
    known: Option<&FirstLines<Rpps>>,
    index: &HashMap<Rpps, usize>,
    doctors: usize,
) -> Parsed<Vec<Vec<Window>>> {
    let (rows, errors) = availability_rows(bytes, FILES[2], &|r| {
        known
            .filter(|k| !k.contains(r))
            .map(|_| format!("unknown rpps {r}: not in doctors.csv"))
    })?;
    let mut windows: Vec<Vec<Window>> = vec![Vec::new(); doctors];
    if errors.is_none() {
        for (r, w, _) in rows {
            if let Some(&d) = index.get(&r) {
                windows[d].push(w);
            }
        }
        // The rows are sorted by (rpps, start): each list is sorted by start.
    }
    Ok((windows, errors))
}

/// The valid rows of an availability file, sorted by (rpps, start, line), and its errors:
/// `unknown` names an RPPS that may not appear (its message), and overlapping windows of one
/// doctor are errors of the later row.
fn availability_rows<R: Read>(
    reader: R,
    file: &str,
    unknown: &(dyn Fn(&Rpps) -> Option<String> + Sync),
) -> Parsed<Vec<(Rpps, Window, u64)>> {
    let mut t = Table::open(reader, file, &AVAILABILITY_COLUMNS)?;
    // Valid rows of every RPPS that may appear: (rpps, window, line).
    let mut rows: Vec<(Rpps, Window, u64)> = Vec::new();
    while let Some(mut row) = t.next_row()? {
        let rpps = row.required(A_RPPS, str::parse::<Rpps>);
        if let Some(message) = rpps.as_ref().and_then(unknown) {
            row.error(A_RPPS, message);
        }
        let start = row.required(START, parse_datetime);
        let end = row.required(END, parse_datetime);
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            row.error(END, "the window must end after it starts");
        }
        if !row.has_errors()
            && let (Some(r), Some(s), Some(e)) = (rpps, start, end)
        {
            rows.push((r, Window { start: s, end: e }, row.line()));
        }
    }
    // Overlaps: per doctor, by (start, line); a window starting before the latest end so far
    // overlaps that one. Touching windows (start = previous end) are fine (FORMATS.md §3).
    rows.sort_by(|a, b| (&a.0, a.1.start, a.2).cmp(&(&b.0, b.1.start, b.2)));
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
        let message = format!("overlaps the window of line {other} of the same doctor");
        t.late_error(line, START, message);
    }
    Ok((rows, t.finish()))
}

const PERIOD_COLUMNS: [Column; 2] = [Column::required("start"), Column::required("end")];

fn read_period(bytes: &[u8]) -> Parsed<Option<Period>> {
    const START: usize = 0;
    const END: usize = 1;
    let mut t = Table::open(bytes, FILES[3], &PERIOD_COLUMNS)?;
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| "expected an ISO date such as 2026-01-01")
    };
    let mut period = None;
    let mut rows = 0;
    while let Some(mut row) = t.next_row()? {
        rows += 1;
        if rows > 1 {
            row.refuse("expected exactly one row");
            continue;
        }
        let start = row.required(START, date);
        let end = row.required(END, date);
        if let (Some(s), Some(e)) = (start, end) {
            match Period::new(s, e) {
                Ok(p) => period = Some(p),
                Err(e @ PeriodError::Inverted) => row.error(END, e.to_string()),
                Err(e @ PeriodError::OutOfRange) => {
                    let c = if (2000..=2099).contains(&chrono::Datelike::year(&s)) {
                        END
                    } else {
                        START
                    };
                    row.error(c, e.to_string());
                }
            }
        }
    }
    if rows == 0 && t.found() == 0 {
        let line = t.line() + 1;
        t.late_row_error(line, "expected one row `start,end`");
    }
    Ok((period, t.finish()))
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

    fn errors(availability: &str) -> CellErrors {
        match parse_instance(
            CABINETS.as_bytes(),
            DOCTORS.as_bytes(),
            availability.as_bytes(),
            PERIOD.as_bytes(),
        ) {
            Err(Error::Invalid(e)) => e,
            other => panic!("expected errors, got {other:?}"),
        }
    }

    fn at(errors: &CellErrors) -> Vec<(u64, u64, &str)> {
        errors
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
            e[0].to_string(),
            "availability.csv:3:2: field `start`: overlaps the window of line 2 of the same doctor"
        );
        assert!(e[2].message.contains("unknown rpps 10000000017"));
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
        let Err(Error::Invalid(e)) = r else {
            panic!("{r:?}")
        };
        let found: Vec<_> = e.files().collect();
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
        let lines: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines[..4],
            [
                "cabinets.csv:2:6: field `need`: expected an integer from 1 to 1000",
                "cabinets.csv:2:7: field `slot_minutes`: must divide the shift lengths \
                 (120 and 240 minutes)",
                "cabinets.csv:3:1: field `cabinet_id`: duplicate cabinet_id A; first on line 2",
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
        assert_eq!((e.len(), e.found()), (100, 150));
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
