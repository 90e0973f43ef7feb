//! The shift calendar of FORMATS.md §3: public holidays (national, plus Good Friday and
//! 26 December in Alsace-Moselle), Easter by the Gregorian computus, and shift instants in
//! Europe/Paris that stay right across both daylight-saving changes.
//!
//! Pure functions of dates; no I/O. The rules are those in force since 2008 (Whit Monday is a
//! public holiday; the *journée de solidarité* does not change that); the tests check them
//! against `fixtures/data/holidays_fr_2020_2035.csv` and the DST table of the same folder.

use chrono::{
    DateTime, Datelike, Days, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Weekday,
};
use chrono_tz::Europe::Paris;

/// Where a public holiday applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum HolidayScope {
    /// All of France.
    National,
    /// Only in départements 57, 67 and 68 (local law of Alsace-Moselle).
    AlsaceMoselle,
}

/// A public holiday: its date, the key of the reference table, and where it applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Holiday {
    pub date: NaiveDate,
    /// `jour_de_l_an`, `vendredi_saint`, … as in `holidays_fr_2020_2035.csv`.
    pub key: &'static str,
    pub scope: HolidayScope,
}

/// Easter Sunday of `year` by the Gregorian computus (the anonymous algorithm of Meeus,
/// *Astronomical Algorithms*, ch. 8; valid for every Gregorian year).
///
/// # Panics
/// Outside chrono's date range (years beyond ±262,000): not a calendar of this engine.
///
/// ```
/// use chrono::NaiveDate;
/// use cpts::garde::calendar::easter_sunday;
/// assert_eq!(easter_sunday(2026), NaiveDate::from_ymd_opt(2026, 4, 5).unwrap());
/// ```
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("the computus gives a date")
}

/// The 13 public holidays of `year`, in date order: the 11 national ones and the two of
/// Alsace-Moselle (FORMATS.md §3).
pub fn holidays(year: i32) -> Vec<Holiday> {
    use HolidayScope::{AlsaceMoselle, National};
    let easter = easter_sunday(year);
    let fixed = |m, d| NaiveDate::from_ymd_opt(year, m, d).expect("a valid fixed date");
    let after = |n: u64| easter.checked_add_days(Days::new(n)).expect("in range");
    let before = |n: u64| easter.checked_sub_days(Days::new(n)).expect("in range");
    let mut out = vec![
        (fixed(1, 1), "jour_de_l_an", National),
        (before(2), "vendredi_saint", AlsaceMoselle),
        (after(1), "lundi_de_paques", National),
        (fixed(5, 1), "fete_du_travail", National),
        (fixed(5, 8), "victoire_1945", National),
        (after(39), "ascension", National),
        (after(50), "lundi_de_pentecote", National),
        (fixed(7, 14), "fete_nationale", National),
        (fixed(8, 15), "assomption", National),
        (fixed(11, 1), "toussaint", National),
        (fixed(11, 11), "armistice_1918", National),
        (fixed(12, 25), "noel", National),
        (fixed(12, 26), "saint_etienne", AlsaceMoselle),
    ]
    .into_iter()
    .map(|(date, key, scope)| Holiday { date, key, scope })
    .collect::<Vec<_>>();
    // Ascension can fall on 1 or 8 May: both stay listed, the table lists both too.
    out.sort_by_key(|h| h.date);
    out
}

/// True when `date` is a public holiday for a cabinet in Alsace-Moselle or not.
pub fn is_public_holiday(date: NaiveDate, alsace_moselle: bool) -> bool {
    holidays(date.year())
        .iter()
        .any(|h| h.date == date && (alsace_moselle || h.scope == HolidayScope::National))
}

/// The two kinds of shift (FORMATS.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ShiftKind {
    /// Monday–Friday, 18:00–20:00 Europe/Paris.
    Weekday,
    /// Saturday, 09:00–13:00 Europe/Paris.
    Saturday,
}

impl ShiftKind {
    /// Local start and end times.
    pub fn local_times(self) -> (NaiveTime, NaiveTime) {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("a valid hour");
        match self {
            Self::Weekday => (t(18), t(20)),
            Self::Saturday => (t(9), t(13)),
        }
    }

    /// Length in minutes (the wall-clock span: no DST change falls inside a shift).
    pub fn minutes(self) -> u32 {
        match self {
            Self::Weekday => 120,
            Self::Saturday => 240,
        }
    }
}

/// The shift kind of `date` for a cabinet (in Alsace-Moselle or not), or `None`: no shift on
/// Sundays and public holidays.
pub fn shift_kind(date: NaiveDate, alsace_moselle: bool) -> Option<ShiftKind> {
    let kind = match date.weekday() {
        Weekday::Sun => return None,
        Weekday::Sat => ShiftKind::Saturday,
        _ => ShiftKind::Weekday,
    };
    (!is_public_holiday(date, alsace_moselle)).then_some(kind)
}

/// Why a wall-clock time of Europe/Paris is not an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocalTimeError {
    /// In the spring-forward gap (02:00–03:00 on the last Sunday of March).
    #[error("{0} does not exist in Europe/Paris (skipped when clocks go forward)")]
    Nonexistent(NaiveDateTime),
}

/// The instant of a Europe/Paris wall-clock time, with the offset in force then. An ambiguous
/// time (the autumn hour that happens twice) is its first occurrence, in summer time
/// (FORMATS.md §3).
///
/// # Errors
/// [`LocalTimeError::Nonexistent`] for a time in the spring gap.
pub fn paris_instant(local: NaiveDateTime) -> Result<DateTime<FixedOffset>, LocalTimeError> {
    match Paris.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.fixed_offset()),
        LocalResult::Ambiguous(a, b) => Ok(a.min(b).fixed_offset()),
        LocalResult::None => Err(LocalTimeError::Nonexistent(local)),
    }
}

/// An instant (Unix seconds) as Europe/Paris wall time with its offset, as the roster and
/// the slots show it (`2026-03-02T18:00:00+01:00`); `None` outside chrono's range.
pub fn paris_time(unix_seconds: i64) -> Option<DateTime<FixedOffset>> {
    DateTime::from_timestamp(unix_seconds, 0).map(|t| t.with_timezone(&Paris).fixed_offset())
}

/// [`paris_time`] as RFC 3339 text (`2026-03-02T18:00:00+01:00`): the one form the API and
/// the slot events print a local instant in; empty outside chrono's range.
pub fn paris_rfc3339(unix_seconds: i64) -> String {
    paris_time(unix_seconds).map_or_else(String::new, |t| t.to_rfc3339())
}

/// The end (Unix seconds) of a shift that starts at `start`: one starting at Saturday's start
/// time (09:00 Europe/Paris) is a Saturday shift, any other a weekday one (FORMATS.md §3). No
/// DST change falls inside a shift, so its wall-clock and elapsed lengths agree.
pub fn shift_end(start: i64) -> Option<i64> {
    let local = paris_time(start)?;
    let kind = if local.time() == ShiftKind::Saturday.local_times().0 {
        ShiftKind::Saturday
    } else {
        ShiftKind::Weekday
    };
    Some(start + 60 * i64::from(kind.minutes()))
}

/// Start and end instants of a shift of `kind` on `date`.
pub fn shift_instants(
    date: NaiveDate,
    kind: ShiftKind,
) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let (s, e) = kind.local_times();
    // Shifts start at 09:00 or 18:00 and end by 20:00: never inside 02:00–03:00.
    let at = |t| paris_instant(date.and_time(t)).expect("shift hours exist on every day");
    (at(s), at(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn data(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/data")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn holidays_match_all_208_rows_of_the_reference_table() {
        // Source: fixtures/data/holidays_fr_2020_2035.csv (copied from shared/data).
        let text = data("holidays_fr_2020_2035.csv");
        let mut expected = Vec::new();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let scope = match f[3] {
                "national" => HolidayScope::National,
                "alsace_moselle_57_67_68" => HolidayScope::AlsaceMoselle,
                other => panic!("unknown scope {other}"),
            };
            expected.push((date(f[0]), f[1].to_owned(), scope, date(f[5])));
        }
        assert_eq!(expected.len(), 208);
        let mut ours = Vec::new();
        for year in 2020..=2035 {
            for h in holidays(year) {
                ours.push((h.date, h.key.to_owned(), h.scope, easter_sunday(year)));
            }
        }
        assert_eq!(ours, expected);
    }

    #[test]
    fn good_friday_and_26_december_only_in_alsace_moselle() {
        // Easter 2026 is 5 April (reference table), so Good Friday is 3 April.
        for d in ["2026-04-03", "2026-12-26"] {
            assert!(is_public_holiday(date(d), true), "{d}");
            assert!(!is_public_holiday(date(d), false), "{d}");
        }
        assert_eq!(shift_kind(date("2026-04-03"), true), None);
        assert_eq!(
            shift_kind(date("2026-04-03"), false),
            Some(ShiftKind::Weekday)
        );
        // 26 December 2026 is a Saturday: a morning shift outside Alsace-Moselle only.
        assert_eq!(
            shift_kind(date("2026-12-26"), false),
            Some(ShiftKind::Saturday)
        );
        assert_eq!(shift_kind(date("2026-12-26"), true), None);
    }

    #[test]
    fn easter_agrees_with_known_dates_beyond_the_table() {
        // Known Gregorian Easter dates (e.g. the tables of the Paris Observatory, IMCCE).
        for (y, d) in [
            (1818, "1818-03-22"),
            (1943, "1943-04-25"),
            (2000, "2000-04-23"),
            (2019, "2019-04-21"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"),
        ] {
            assert_eq!(easter_sunday(y), date(d), "{y}");
        }
    }

    #[test]
    fn no_shift_on_sundays_or_holidays() {
        assert_eq!(shift_kind(date("2026-03-01"), false), None); // a Sunday
        assert_eq!(shift_kind(date("2026-07-14"), false), None); // a Tuesday, national day
        assert_eq!(
            shift_kind(date("2026-03-02"), true),
            Some(ShiftKind::Weekday)
        );
        assert_eq!(
            shift_kind(date("2026-03-07"), true),
            Some(ShiftKind::Saturday)
        );
    }

    #[test]
    fn shifts_keep_local_hours_across_both_dst_changes_of_the_reference_table() {
        // Source: fixtures/data/dst_europe_paris_2020_2035.csv: the spring change is at
        // 01:00Z on `cest_start_utc`, the autumn one at 01:00Z on `cest_end_utc`.
        let text = data("dst_europe_paris_2020_2035.csv");
        let mut rows = 0;
        for line in text.lines().skip(1) {
            rows += 1;
            let f: Vec<&str> = line.split(',').collect();
            let spring = date(&f[1][..10]);
            let autumn = date(&f[3][..10]);
            assert_eq!(spring.weekday(), Weekday::Sun);
            assert_eq!(autumn.weekday(), Weekday::Sun);
            // The days around each change: the Saturday before in the old offset, the Monday
            // after in the new one, and each shift keeps its wall-clock length.
            for (day, before, after) in [(spring, 3600, 7200), (autumn, 7200, 3600)] {
                let sat = day.pred_opt().unwrap();
                let mon = day.succ_opt().unwrap();
                let (s, e) = shift_instants(sat, ShiftKind::Saturday);
                assert_eq!(s.offset().local_minus_utc(), before);
                assert_eq!((e - s).num_minutes(), 240);
                assert_eq!(s.time(), NaiveTime::from_hms_opt(9, 0, 0).unwrap());
                let (s, e) = shift_instants(mon, ShiftKind::Weekday);
                assert_eq!(s.offset().local_minus_utc(), after);
                assert_eq!((e - s).num_minutes(), 120);
                // And on the day of the change itself (the 23- or 25-hour day), the evening
                // hours are still 18:00–20:00 local, two hours apart.
                let (s, e) = shift_instants(day, ShiftKind::Weekday);
                assert_eq!(s.offset().local_minus_utc(), after);
                assert_eq!(s.time(), NaiveTime::from_hms_opt(18, 0, 0).unwrap());
                assert_eq!((e - s).num_minutes(), 120);
            }
            // The UTC instants of the table are where the offset changes.
            let change: DateTime<chrono::Utc> = format!("{}:00Z", &f[1][..16]).parse().unwrap();
            assert_eq!(
                Paris
                    .from_utc_datetime(&(change.naive_utc() - chrono::Duration::seconds(1)))
                    .fixed_offset()
                    .offset()
                    .local_minus_utc(),
                3600
            );
            assert_eq!(
                Paris
                    .from_utc_datetime(&change.naive_utc())
                    .fixed_offset()
                    .offset()
                    .local_minus_utc(),
                7200
            );
        }
        assert_eq!(rows, 16);
    }

    #[test]
    fn a_time_in_the_spring_gap_is_an_error_and_an_autumn_one_is_its_first_occurrence() {
        // 2026: clocks go forward on 29 March, back on 25 October (reference DST table).
        let gap = date("2026-03-29").and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(paris_instant(gap), Err(LocalTimeError::Nonexistent(gap)));
        let twice = date("2026-10-25").and_hms_opt(2, 30, 0).unwrap();
        let t = paris_instant(twice).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-10-25T02:30:00+02:00");
    }
}
