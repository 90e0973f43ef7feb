//! A garde instance (FORMATS.md §3) as typed values, its shifts, and who may take each one.
//!
//! The CSV reader ([`crate::import::garde`]) and the garde plan job behind the HTTP API
//! (`jobs::garde_plan`, from the stored cabinets, doctors and availability) both build an
//! [`Instance`]; every solver, oracle and report starts from it. No I/O here.

use super::calendar::{self, ShiftKind};
use crate::domain::{CabinetId, InseeCode, MaxKm, Rpps};
use crate::geo::{Coordinates, cost_m, haversine_m};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use std::collections::{HashMap, HashSet};

/// Consultation length when `slot_minutes` is absent (FORMATS.md §3).
pub const DEFAULT_SLOT_MINUTES: u32 = 15;

/// Most doctors a cabinet asks for per shift (`need` is 1 to this).
pub const MAX_NEED: u32 = 1000;

/// Why a consultation length is refused (FORMATS.md §3: it divides the shift lengths, 120
/// and 240 minutes; 120 dividing by it is enough).
///
/// # Errors
/// A message for the CSV line or the API's pointer.
pub fn check_slot_minutes(minutes: u32) -> Result<u32, &'static str> {
    if (1..=120).contains(&minutes) && 120 % minutes == 0 {
        Ok(minutes)
    } else {
        Err("must divide the shift lengths (120 and 240 minutes)")
    }
}

/// A cabinet de garde.
#[derive(Clone, Debug, PartialEq)]
pub struct Cabinet {
    pub id: CabinetId,
    /// Display only.
    pub name: String,
    pub coords: Coordinates,
    pub insee: InseeCode,
    /// Doctors per shift, ≥ 1.
    pub need: u32,
    /// Consultation length; divides every shift length (120 and 240 minutes).
    pub slot_minutes: u32,
}

impl Cabinet {
    /// Alsace-Moselle keeps two more public holidays (FORMATS.md §3).
    pub fn alsace_moselle(&self) -> bool {
        self.insee.departement().is_alsace_moselle()
    }
}

/// A GP who volunteers for garde shifts.
#[derive(Clone, Debug, PartialEq)]
pub struct GardeDoctor {
    pub rpps: Rpps,
    /// Display only.
    pub name: String,
    pub coords: Coordinates,
    pub insee: InseeCode,
    /// Shifts over the whole period, at most.
    pub max_shifts: u32,
    /// Farthest cabinet the doctor will go to.
    pub max_km: MaxKm,
}

/// A declared availability: the doctor can take any shift lying entirely inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// True when `[start, end]` lies inside this window (FORMATS.md §3; touching windows are
    /// not merged, so a shift across two windows is not covered).
    pub fn covers(&self, start: DateTime<FixedOffset>, end: DateTime<FixedOffset>) -> bool {
        self.start <= start && end <= self.end
    }
}

/// The dates of the roster, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    start: NaiveDate,
    end: NaiveDate,
}

/// Why two dates are not a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the end date is before the start date")]
    Inverted,
    #[error("dates must lie in 2000–2099, where the holiday rules of this engine apply")]
    OutOfRange,
}

impl Period {
    /// # Errors
    /// When `end < start`, or a date lies outside 2000–2099.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<Self, PeriodError> {
        if !(2000..=2099).contains(&start.year()) || !(2000..=2099).contains(&end.year()) {
            return Err(PeriodError::OutOfRange);
        }
        if end < start {
            return Err(PeriodError::Inverted);
        }
        Ok(Self { start, end })
    }

    pub fn start(&self) -> NaiveDate {
        self.start
    }

    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// Every date of the period, in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let end = self.end;
        self.start.iter_days().take_while(move |d| *d <= end)
    }
}

/// Cabinets, doctors, their availability windows and the period (FORMATS.md §3).
#[derive(Clone, Debug)]
pub struct Instance {
    pub cabinets: Vec<Cabinet>,
    pub doctors: Vec<GardeDoctor>,
    /// Per doctor (same index as `doctors`), its windows; the reader sorts them by start and
    /// refuses overlaps, the solver copes with either.
    pub windows: Vec<Vec<Window>>,
    pub period: Period,
    /// The optional data of FORMATS.md §3 (history, preferences, pins); empty by default,
    /// and an empty one gives exactly the optimum of the four files alone.
    pub extensions: Extensions,
}

/// A doctor's wish for one date (FORMATS.md §3, `preferences.csv`). Availability stays the
/// only hard rule: a preference never makes a doctor available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preference {
    /// The doctor wants to work that date: −1 per position taken.
    Prefer,
    /// The doctor would rather not (still available): +1 per position taken.
    Avoid,
}

impl Preference {
    /// Its word in `preferences.csv`, the API and the database: `prefer` or `avoid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Preference::Prefer => "prefer",
            Preference::Avoid => "avoid",
        }
    }

    /// The preference of a word of [`Preference::as_str`].
    ///
    /// # Errors
    /// A message for any other word.
    pub fn from_word(word: &str) -> Result<Self, &'static str> {
        match word {
            "prefer" => Ok(Preference::Prefer),
            "avoid" => Ok(Preference::Avoid),
            _ => Err("expected prefer or avoid"),
        }
    }

    /// The per-position score of objective level 3: `avoid` +1, `prefer` −1.
    pub fn score(self) -> i64 {
        match self {
            Preference::Prefer => -1,
            Preference::Avoid => 1,
        }
    }
}

/// A position kept as given (FORMATS.md §3, `pinned.csv`), by indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pin {
    /// Index in [`Instance::cabinets`].
    pub cabinet: u32,
    pub date: NaiveDate,
    /// Index in [`Instance::doctors`].
    pub doctor: u32,
}

/// The optional data of FORMATS.md §3, by doctor and cabinet indices. Empty by default.
///
/// Built checked by [`Instance::with_extensions`]; an instance built elsewhere should pass
/// [`Instance::check_pins`] before it is solved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// Per doctor index, garde shifts served earlier in the reference year; an index beyond
    /// the vector (an empty vector included) means 0.
    pub prior_shifts: Vec<u32>,
    /// Per (doctor index, date), the doctor's wish.
    pub preferences: HashMap<(u32, NaiveDate), Preference>,
    /// Positions kept as given.
    pub pinned: Vec<Pin>,
}

impl Extensions {
    /// True when nothing is set: the optimum is that of the four files alone.
    pub fn is_empty(&self) -> bool {
        self.prior_shifts.iter().all(|&p| p == 0)
            && self.preferences.is_empty()
            && self.pinned.is_empty()
    }

    /// Prior shifts of doctor `d` (0 when absent).
    pub fn prior(&self, d: usize) -> u32 {
        self.prior_shifts.get(d).copied().unwrap_or(0)
    }

    /// The score of doctor `d` taking a position on `date` (level 3: −1, 0 or +1).
    pub fn score(&self, d: u32, date: NaiveDate) -> i64 {
        self.preferences.get(&(d, date)).map_or(0, |p| p.score())
    }
}

/// A `history.csv` row, typed (the CSV reader parses; [`Instance::with_extensions`] checks
/// the references).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    pub rpps: Rpps,
    pub prior_shifts: u32,
}

/// A `preferences.csv` row, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreferenceRow {
    pub rpps: Rpps,
    pub date: NaiveDate,
    pub preference: Preference,
}

/// A `pinned.csv` row, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedRow {
    pub cabinet_id: CabinetId,
    pub date: NaiveDate,
    pub rpps: Rpps,
}

/// Which optional file a row comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExtensionFile {
    History,
    Preferences,
    Pinned,
}

impl ExtensionFile {
    /// The file name of FORMATS.md §3.
    pub fn file_name(self) -> &'static str {
        match self {
            ExtensionFile::History => "history.csv",
            ExtensionFile::Preferences => "preferences.csv",
            ExtensionFile::Pinned => "pinned.csv",
        }
    }
}

/// Why a pinned position breaks a constraint of FORMATS.md §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinViolation {
    /// The cabinet has no shift that date (Sunday, public holiday) or the date lies outside
    /// the period.
    #[error("the cabinet has no shift that date")]
    NoShift,
    /// No window of the doctor holds the whole shift.
    #[error("the doctor is not available for the whole shift")]
    NotAvailable,
    /// The cabinet lies beyond the doctor's `max_km`.
    #[error("the cabinet is beyond the doctor's max_km")]
    OutOfRange,
    /// An earlier pinned row already gives the doctor a shift that calendar day.
    #[error("the doctor already has a pinned shift that day")]
    TwoShiftsThatDay,
    /// The doctor's pinned rows exceed `max_shifts`.
    #[error("the doctor's pinned shifts exceed max_shifts")]
    OverMaxShifts,
    /// The shift's pinned rows exceed the cabinet's `need`.
    #[error("the shift's pinned doctors exceed the cabinet's need")]
    OverNeed,
}

impl PinViolation {
    /// The `pinned.csv` column the violation points at.
    pub fn field(self) -> &'static str {
        match self {
            PinViolation::NoShift | PinViolation::TwoShiftsThatDay => "date",
            PinViolation::NotAvailable | PinViolation::OutOfRange | PinViolation::OverMaxShifts => {
                "rpps"
            }
            PinViolation::OverNeed => "cabinet_id",
        }
    }
}

/// What is wrong with one row of an optional file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    #[error("unknown RPPS")]
    UnknownRpps,
    #[error("unknown cabinet")]
    UnknownCabinet,
    #[error("date outside the period")]
    DateOutsidePeriod,
    #[error("duplicate key (an earlier row has the same)")]
    Duplicate,
    #[error("{0}")]
    Pin(PinViolation),
}

/// One refused row: its file, its index in the rows given (0-based; the CSV reader maps it to
/// a line), the field at fault and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: row {row}, field {field}: {problem}", file.file_name())]
pub struct RowError {
    pub file: ExtensionFile,
    pub row: usize,
    pub field: &'static str,
    pub problem: RowProblem,
}

/// Every refused row of the optional files (FORMATS.md §1: nothing is kept from a refused
/// file), in file then row order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} refused row(s), first: {}", errors.len(), errors.first().map(ToString::to_string).unwrap_or_default())]
pub struct ExtensionError {
    pub errors: Vec<RowError>,
}

impl Instance {
    /// Attaches the optional files of FORMATS.md §3, checked: unknown RPPS or cabinet, a date
    /// outside the period, a duplicate key, and a pinned row that breaks a constraint
    /// ([`Instance::check_pins`]) are refused with the row index and field. Replaces any
    /// extensions already set.
    ///
    /// # Errors
    /// Every refused row ([`ExtensionError`]).
    pub fn with_extensions(
        mut self,
        history: &[HistoryRow],
        preferences: &[PreferenceRow],
        pins: &[PinnedRow],
    ) -> Result<Instance, ExtensionError> {
        let doctor: HashMap<&str, u32> = self
            .doctors
            .iter()
            .enumerate()
            .map(|(i, d)| (d.rpps.as_str(), i as u32))
            .collect();
        let cabinet: HashMap<&str, u32> = self
            .cabinets
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i as u32))
            .collect();
        let in_period = |d: NaiveDate| self.period.start() <= d && d <= self.period.end();
        let mut errors = Vec::new();
        let mut ext = Extensions::default();
        let mut err = |file, row, field, problem| {
            errors.push(RowError {
                file,
                row,
                field,
                problem,
            })
        };

        let f = ExtensionFile::History;
        let mut prior = vec![0u32; self.doctors.len()];
        let mut seen = HashSet::new();
        for (i, r) in history.iter().enumerate() {
            match doctor.get(r.rpps.as_str()) {
                None => err(f, i, "rpps", RowProblem::UnknownRpps),
                Some(&d) if !seen.insert(d) => err(f, i, "rpps", RowProblem::Duplicate),
                Some(&d) => prior[d as usize] = r.prior_shifts,
            }
        }
        if prior.iter().any(|&p| p > 0) {
            ext.prior_shifts = prior;
        }

        let f = ExtensionFile::Preferences;
        for (i, r) in preferences.iter().enumerate() {
            let Some(&d) = doctor.get(r.rpps.as_str()) else {
                err(f, i, "rpps", RowProblem::UnknownRpps);
                continue;
            };
            if !in_period(r.date) {
                err(f, i, "date", RowProblem::DateOutsidePeriod);
            } else if ext.preferences.insert((d, r.date), r.preference).is_some() {
                err(f, i, "date", RowProblem::Duplicate);
            }
        }

        let f = ExtensionFile::Pinned;
        let mut keys = HashSet::new();
        let mut rows = Vec::new();
        for (i, r) in pins.iter().enumerate() {
            let c = cabinet.get(r.cabinet_id.as_str());
            let d = doctor.get(r.rpps.as_str());
            if c.is_none() {
                err(f, i, "cabinet_id", RowProblem::UnknownCabinet);
            }
            if d.is_none() {
                err(f, i, "rpps", RowProblem::UnknownRpps);
            }
            if !in_period(r.date) {
                err(f, i, "date", RowProblem::DateOutsidePeriod);
                continue;
            }
            let (Some(&cabinet), Some(&doctor)) = (c, d) else {
                continue;
            };
            let pin = Pin {
                cabinet,
                date: r.date,
                doctor,
            };
            if keys.insert(pin) {
                ext.pinned.push(pin);
                rows.push(i);
            } else {
                err(f, i, "rpps", RowProblem::Duplicate);
            }
        }
        self.extensions = ext;
        if let Err(bad) = self.check_pins() {
            for (k, v) in bad {
                err(f, rows[k], v.field(), RowProblem::Pin(v));
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            errors.sort_by_key(|e| (e.file as u8, e.row));
            Err(ExtensionError { errors })
        }
    }

    /// Checks every pinned position against the constraints of FORMATS.md §3, from the
    /// calendar, the windows and haversine (independently of [`Eligibility`]). A row that
    /// overflows a count (a second shift that day, beyond `max_shifts` or `need`) is the one
    /// that overflows it, in pin order.
    ///
    /// # Errors
    /// Per refused pin, its index in [`Extensions::pinned`] and the first violation found.
    pub fn check_pins(&self) -> Result<(), Vec<(usize, PinViolation)>> {
        let mut bad = Vec::new();
        let mut per_day: HashSet<(u32, NaiveDate)> = HashSet::new();
        let mut per_doctor: HashMap<u32, u32> = HashMap::new();
        let mut per_shift: HashMap<(u32, NaiveDate), u32> = HashMap::new();
        for (i, p) in self.extensions.pinned.iter().enumerate() {
            let (Some(cab), Some(doc), Some(windows)) = (
                self.cabinets.get(p.cabinet as usize),
                self.doctors.get(p.doctor as usize),
                self.windows.get(p.doctor as usize),
            ) else {
                // Out-of-range indices: only an instance built by hand can have them.
                bad.push((i, PinViolation::NoShift));
                continue;
            };
            let in_period = self.period.start() <= p.date && p.date <= self.period.end();
            let kind = calendar::shift_kind(p.date, cab.alsace_moselle());
            let Some(kind) = kind.filter(|_| in_period) else {
                bad.push((i, PinViolation::NoShift));
                continue;
            };
            let (start, end) = calendar::shift_instants(p.date, kind);
            let violation = if !windows.iter().any(|w| w.covers(start, end)) {
                Some(PinViolation::NotAvailable)
            } else if haversine_m(doc.coords, cab.coords) > doc.max_km.metres() {
                Some(PinViolation::OutOfRange)
            } else if !per_day.insert((p.doctor, p.date)) {
                Some(PinViolation::TwoShiftsThatDay)
            } else {
                let n = per_doctor.entry(p.doctor).or_default();
                *n += 1;
                let m = per_shift.entry((p.cabinet, p.date)).or_default();
                *m += 1;
                if *n > doc.max_shifts {
                    Some(PinViolation::OverMaxShifts)
                } else if *m > cab.need {
                    Some(PinViolation::OverNeed)
                } else {
                    None
                }
            };
            if let Some(v) = violation {
                bad.push((i, v));
            }
        }
        if bad.is_empty() { Ok(()) } else { Err(bad) }
    }
}

/// One shift: a cabinet on a date (FORMATS.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shift {
    /// Index in [`Instance::cabinets`].
    pub cabinet: usize,
    pub date: NaiveDate,
    /// Index of `date` in [`Eligibility::dates`].
    pub day: usize,
    pub kind: ShiftKind,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
}

/// A doctor who may take a position on a shift, and at what cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Index in [`Instance::doctors`].
    pub doctor: u32,
    /// Integer metres doctor → cabinet (FORMATS.md §1).
    pub metres: u32,
}

/// The shifts of an instance and, for each, its candidates: doctors available for the whole
/// shift and within their `max_km` (FORMATS.md §3).
#[derive(Clone, Debug)]
pub struct Eligibility {
    /// Dates with at least one shift, in order.
    pub dates: Vec<NaiveDate>,
    /// Every shift, ordered by (date, cabinet index).
    pub shifts: Vec<Shift>,
    /// Per shift, its candidates by doctor index.
    pub candidates: Vec<Vec<Candidate>>,
    /// Per doctor, per day of `dates`: available for that day's shift hours (whatever the
    /// distance).
    available: Vec<Vec<bool>>,
    /// Per doctor, per cabinet: the cost in metres when within `max_km`.
    in_range: Vec<Vec<Option<u32>>>,
}

impl Eligibility {
    /// Enumerates the shifts of `inst` and who may take them.
    ///
    /// # Complexity
    /// O(dates · cabinets) for the calendar, O(doctors · (windows + dates)) for availability
    /// (one merge per doctor), O(doctors · cabinets) haversines, and O(shifts · doctors in
    /// range) for the candidate lists.
    pub fn new(inst: &Instance) -> Self {
        // Shift hours depend on the date only; holidays decide which cabinets have one.
        let mut dates = Vec::new();
        let mut kinds = Vec::new();
        let mut shifts = Vec::new();
        for date in inst.period.dates() {
            let mut kind_of_day = None;
            for (c, cab) in inst.cabinets.iter().enumerate() {
                if let Some(kind) = calendar::shift_kind(date, cab.alsace_moselle()) {
                    let (start, end) = calendar::shift_instants(date, kind);
                    kind_of_day = Some(kind);
                    shifts.push(Shift {
                        cabinet: c,
                        date,
                        day: dates.len(),
                        kind,
                        start,
                        end,
                    });
                }
            }
            if let Some(k) = kind_of_day {
                dates.push(date);
                kinds.push(k);
            }
        }
        let day_times: Vec<_> = dates
            .iter()
            .zip(&kinds)
            .map(|(&d, &k)| calendar::shift_instants(d, k))
            .collect();
        let available: Vec<Vec<bool>> = inst
            .windows
            .iter()
            .map(|ws| {
                if ws.is_sorted_by_key(|w| w.start) {
                    covered_days(ws, &day_times)
                } else {
                    // Readers sort; an instance built elsewhere may not.
                    let mut sorted = ws.clone();
                    sorted.sort_unstable();
                    covered_days(&sorted, &day_times)
                }
            })
            .collect();
        let in_range: Vec<Vec<Option<u32>>> = inst
            .doctors
            .iter()
            .map(|d| {
                inst.cabinets
                    .iter()
                    .map(|c| {
                        let m = haversine_m(d.coords, c.coords);
                        (m <= d.max_km.metres()).then(|| cost_m(m))
                    })
                    .collect()
            })
            .collect();
        let near: Vec<Vec<(u32, u32)>> = (0..inst.cabinets.len())
            .map(|c| {
                (0..inst.doctors.len())
                    .filter(|&d| inst.doctors[d].max_shifts > 0)
                    .filter_map(|d| in_range[d][c].map(|m| (d as u32, m)))
                    .collect()
            })
            .collect();
        let candidates = shifts
            .iter()
            .map(|s| {
                near[s.cabinet]
                    .iter()
                    .filter(|(d, _)| available[*d as usize][s.day])
                    .map(|&(doctor, metres)| Candidate { doctor, metres })
                    .collect()
            })
            .collect();
        Self {
            dates,
            shifts,
            candidates,
            available,
            in_range,
        }
    }

    /// True when doctor `d` is available for the whole shift of day `day`.
    pub fn is_available(&self, d: usize, day: usize) -> bool {
        self.available[d][day]
    }

    /// The cost in metres from doctor `d` to cabinet `c`, when within the doctor's `max_km`.
    pub fn in_range(&self, d: usize, c: usize) -> Option<u32> {
        self.in_range[d][c]
    }
}

/// For each day's shift `(start, end)` (in increasing order), whether one window covers it.
/// A window with the largest end among those starting no later than the shift covers it iff
/// any does, so one merge pass suffices, overlapping windows or not.
fn covered_days(
    windows: &[Window],
    days: &[(DateTime<FixedOffset>, DateTime<FixedOffset>)],
) -> Vec<bool> {
    let mut out = Vec::with_capacity(days.len());
    let mut i = 0;
    let mut max_end: Option<DateTime<Utc>> = None;
    for (start, end) in days {
        while i < windows.len() && windows[i].start <= *start {
            max_end = max_end.max(Some(windows[i].end));
            i += 1;
        }
        out.push(max_end.is_some_and(|e| e >= *end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn day(s: &str) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
        let d: NaiveDate = s.parse().unwrap();
        calendar::shift_instants(d, ShiftKind::Weekday)
    }

    #[test]
    fn a_shift_is_covered_only_by_one_window_holding_all_of_it() {
        let days = [day("2026-03-02"), day("2026-03-03"), day("2026-03-04")];
        // Monday: exactly 18:00–20:00 (+01:00). Tuesday: two touching windows, not merged.
        // Wednesday: starts at 18:01.
        let ws = [
            Window {
                start: at("2026-03-02T17:00:00Z"),
                end: at("2026-03-02T19:00:00Z"),
            },
            Window {
                start: at("2026-03-03T16:00:00Z"),
                end: at("2026-03-03T18:00:00Z"),
            },
            Window {
                start: at("2026-03-03T18:00:00Z"),
                end: at("2026-03-03T20:00:00Z"),
            },
            Window {
                start: at("2026-03-04T17:01:00Z"),
                end: at("2026-03-04T23:00:00Z"),
            },
        ];
        assert_eq!(covered_days(&ws, &days), [true, false, false]);
    }

    #[test]
    fn a_long_window_covers_every_day_inside_it() {
        let days = [day("2026-03-02"), day("2026-03-03"), day("2026-03-04")];
        let ws = [Window {
            start: at("2026-03-02T00:00:00Z"),
            end: at("2026-03-04T19:00:00Z"),
        }];
        assert_eq!(covered_days(&ws, &days), [true, true, true]);
    }

    #[test]
    fn periods_are_ordered_and_within_the_century() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(Period::new(d("2026-01-01"), d("2026-01-01")).is_ok());
        assert_eq!(
            Period::new(d("2026-01-02"), d("2026-01-01")),
            Err(PeriodError::Inverted)
        );
        assert_eq!(
            Period::new(d("1999-12-31"), d("2026-01-01")),
            Err(PeriodError::OutOfRange)
        );
        assert_eq!(
            Period::new(d("2026-01-01"), d("2026-01-31"))
                .unwrap()
                .dates()
                .count(),
            31
        );
    }

    mod extensions {
        use super::super::*;
        use crate::domain::MaxKm;

        /// Cabinet "C" (Nancy, 54) and two doctors at the same place, available Monday 2 and
        /// Tuesday 3 March 2026 evenings, max 1 shift each; the period is that week.
        fn inst() -> Instance {
            let coords = Coordinates::new(48.69, 6.18).unwrap();
            let doctor = |i: u32| GardeDoctor {
                rpps: Rpps::with_check_digit(&format!("100000000{i}")).unwrap(),
                name: String::new(),
                coords,
                insee: "54395".parse().unwrap(),
                max_shifts: 1,
                max_km: MaxKm::new(5.0).unwrap(),
            };
            let w = Window {
                start: DateTime::parse_from_rfc3339("2026-03-02T00:00:00+01:00")
                    .unwrap()
                    .to_utc(),
                end: DateTime::parse_from_rfc3339("2026-03-04T00:00:00+01:00")
                    .unwrap()
                    .to_utc(),
            };
            Instance {
                cabinets: vec![Cabinet {
                    id: "C".parse().unwrap(),
                    name: String::new(),
                    coords,
                    insee: "54395".parse().unwrap(),
                    need: 1,
                    slot_minutes: 15,
                }],
                doctors: vec![doctor(1), doctor(2)],
                windows: vec![vec![w], vec![w]],
                period: Period::new(date("2026-03-02"), date("2026-03-08")).unwrap(),
                extensions: Extensions::default(),
            }
        }

        fn date(s: &str) -> NaiveDate {
            s.parse().unwrap()
        }

        fn rpps(i: usize) -> Rpps {
            inst().doctors[i].rpps.clone()
        }

        fn pin(cabinet: &str, d: &str, doctor: usize) -> PinnedRow {
            PinnedRow {
                cabinet_id: cabinet.parse().unwrap(),
                date: date(d),
                rpps: rpps(doctor),
            }
        }

        fn problems(e: ExtensionError) -> Vec<(ExtensionFile, usize, &'static str, RowProblem)> {
            e.errors
                .into_iter()
                .map(|r| (r.file, r.row, r.field, r.problem))
                .collect()
        }

        #[test]
        fn empty_files_leave_the_instance_as_it_was() {
            let i = inst().with_extensions(&[], &[], &[]).unwrap();
            assert!(i.extensions.is_empty());
            assert_eq!(i.extensions, Extensions::default());
        }

        #[test]
        fn rows_become_indices() {
            let i = inst()
                .with_extensions(
                    &[HistoryRow {
                        rpps: rpps(1),
                        prior_shifts: 4,
                    }],
                    &[PreferenceRow {
                        rpps: rpps(0),
                        date: date("2026-03-03"),
                        preference: Preference::Avoid,
                    }],
                    &[pin("C", "2026-03-02", 1)],
                )
                .unwrap();
            assert_eq!(i.extensions.prior_shifts, [0, 4]);
            assert_eq!((i.extensions.prior(1), i.extensions.prior(7)), (4, 0));
            assert_eq!(i.extensions.score(0, date("2026-03-03")), 1);
            assert_eq!(i.extensions.score(1, date("2026-03-03")), 0);
            assert_eq!(
                i.extensions.pinned,
                [Pin {
                    cabinet: 0,
                    date: date("2026-03-02"),
                    doctor: 1
                }]
            );
        }

        #[test]
        fn unknown_ids_dates_and_duplicates_name_row_and_field() {
            let stranger = Rpps::with_check_digit("1999999999").unwrap();
            let e = inst()
                .with_extensions(
                    &[
                        HistoryRow {
                            rpps: rpps(0),
                            prior_shifts: 1,
                        },
                        HistoryRow {
                            rpps: rpps(0),
                            prior_shifts: 2,
                        },
                        HistoryRow {
                            rpps: stranger.clone(),
                            prior_shifts: 2,
                        },
                    ],
                    &[
                        PreferenceRow {
                            rpps: rpps(0),
                            date: date("2026-03-09"),
                            preference: Preference::Prefer,
                        },
                        PreferenceRow {
                            rpps: rpps(1),
                            date: date("2026-03-02"),
                            preference: Preference::Prefer,
                        },
                        PreferenceRow {
                            rpps: rpps(1),
                            date: date("2026-03-02"),
                            preference: Preference::Avoid,
                        },
                    ],
                    &[pin("X", "2026-03-02", 0), pin("C", "2026-03-01", 0)],
                )
                .unwrap_err();
            use ExtensionFile::*;
            use RowProblem::*;
            assert_eq!(
                problems(e),
                [
                    (History, 1, "rpps", Duplicate),
                    (History, 2, "rpps", UnknownRpps),
                    (Preferences, 0, "date", DateOutsidePeriod),
                    (Preferences, 2, "date", Duplicate),
                    (Pinned, 0, "cabinet_id", UnknownCabinet),
                    (Pinned, 1, "date", DateOutsidePeriod),
                ]
            );
        }

        #[test]
        fn a_pin_breaking_a_constraint_is_refused_with_its_row() {
            use PinViolation::*;
            let refuse = |pins: &[PinnedRow], inst: Instance| {
                problems(inst.with_extensions(&[], &[], pins).unwrap_err())
                    .into_iter()
                    .map(|(f, row, field, p)| {
                        assert_eq!(f, ExtensionFile::Pinned);
                        (row, field, p)
                    })
                    .collect::<Vec<_>>()
            };
            // Sunday 8 March: no shift. Wednesday 4: outside both windows.
            assert_eq!(
                refuse(&[pin("C", "2026-03-08", 0)], inst()),
                [(0, "date", RowProblem::Pin(NoShift))]
            );
            assert_eq!(
                refuse(&[pin("C", "2026-03-04", 0)], inst()),
                [(0, "rpps", RowProblem::Pin(NotAvailable))]
            );
            // Two doctors on a shift needing 1; one doctor on two days with max_shifts 1.
            assert_eq!(
                refuse(
                    &[pin("C", "2026-03-02", 0), pin("C", "2026-03-02", 1)],
                    inst()
                ),
                [(1, "cabinet_id", RowProblem::Pin(OverNeed))]
            );
            assert_eq!(
                refuse(
                    &[pin("C", "2026-03-02", 0), pin("C", "2026-03-03", 0)],
                    inst()
                ),
                [(1, "rpps", RowProblem::Pin(OverMaxShifts))]
            );
            // A second cabinet the same evening, for the same doctor; and one out of range.
            let mut two = inst();
            let mut far = two.cabinets[0].clone();
            far.id = "D".parse().unwrap();
            two.cabinets.push(far.clone());
            assert_eq!(
                refuse(&[pin("C", "2026-03-02", 0), pin("D", "2026-03-02", 0)], two),
                [(1, "date", RowProblem::Pin(TwoShiftsThatDay))]
            );
            let mut away = inst();
            far.coords = Coordinates::new(48.79, 6.18).unwrap(); // 11 km north
            away.cabinets.push(far);
            assert_eq!(
                refuse(&[pin("D", "2026-03-02", 0)], away),
                [(0, "rpps", RowProblem::Pin(OutOfRange))]
            );
            // A duplicate row is a duplicate key, not a second position.
            assert_eq!(
                refuse(
                    &[pin("C", "2026-03-02", 0), pin("C", "2026-03-02", 0)],
                    inst()
                ),
                [(1, "rpps", RowProblem::Duplicate)]
            );
        }
    }
}
