//! The parameters of `GET /fhir/Slot` as the SAS sends them (INT_R01, INT_R04), read into a
//! [`SlotSearch`], with what its aggregator really sends tolerated:
//!
//! * `start=ge…` / `start=le…` (also `gt`, `lt`): RFC 3339 instants, with or without
//!   fractional seconds; a `+` of the offset that arrived unencoded (decoded as a space); a
//!   naive date-time, read as Europe/Paris wall time; a date alone (its whole day);
//! * `schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|8<RPPS>,…`: 1 to 25
//!   practitioners, comma-separated or repeated, the system optional, the `|` sent as `%7C`
//!   or not, the RPPS with or without the `8` of its IDNPS form;
//! * `status=free` (the default; nothing else is searchable), `_count`, the four `_include`s;
//! * parameters it does not know (`_format`, `_sort`…) are ignored, as FHIR's lenient
//!   handling allows; the self link lists only what was understood.
//!
//! Pure: no HTTP, no clock (`now` is given).

use super::sas::{Includes, RPPS_SYSTEM};
use crate::domain::Rpps;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Europe::Paris;

/// Most practitioners in one search (the SAS sends at most 25).
pub const MAX_PRACTITIONERS: usize = 25;
/// Longest window, in days.
pub const MAX_WINDOW_DAYS: i64 = 31;
/// The window without an upper bound, in days.
pub const DEFAULT_WINDOW_DAYS: i64 = 7;
/// Largest `_count`.
pub const MAX_COUNT: usize = 1000;
/// The search parameter naming the practitioners.
pub const PRACTITIONER_PARAMETER: &str = "schedule.actor:Practitioner.identifier";

/// A search of free slots, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotSearch {
    /// Unix seconds, inclusive.
    pub from: i64,
    /// Unix seconds, exclusive.
    pub to: i64,
    /// Distinct, in the order given.
    pub practitioners: Vec<Rpps>,
    /// At most this many Slots in the page (`_count`); `None`: all.
    pub count: Option<usize>,
    pub includes: Includes,
}

/// A parameter that cannot be understood: its name, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadParameter {
    pub parameter: String,
    pub detail: String,
}

fn bad(parameter: &str, detail: impl Into<String>) -> BadParameter {
    BadParameter {
        parameter: parameter.to_owned(),
        detail: detail.into(),
    }
}

/// An instant of a `start` parameter: the first second it names, and the first after it
/// (a date names a whole day, an instant one second).
pub fn instant(raw: &str) -> Result<(i64, i64), String> {
    let err = || {
        format!(
            "expected an instant such as 2026-03-02T18:00:00+01:00, a Europe/Paris date-time \
             such as 2026-03-02T18:00:00, or a date; got {:?}",
            raw.chars().take(40).collect::<String>()
        )
    };
    let second = |t: i64| Ok((t, t + 1));
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return second(t.timestamp());
    }
    // `+02:00` sent unencoded arrives as ` 02:00`.
    if let Some(i) = raw.rfind(' ').filter(|&i| i > 10) {
        let fixed = format!("{}+{}", &raw[..i], &raw[i + 1..]);
        if let Ok(t) = DateTime::parse_from_rfc3339(&fixed) {
            return second(t.timestamp());
        }
    }
    let paris = |local: NaiveDateTime| {
        // In the autumn overlap, the first of the two instants; in the spring gap, none.
        Paris
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.timestamp())
            .ok_or_else(|| format!("{raw:?} does not exist in Europe/Paris (a DST change)"))
    };
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(raw, format) {
            return paris(local).and_then(second);
        }
    }
    if raw.len() == 10
        && let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
    {
        let start = paris(day.and_hms_opt(0, 0, 0).ok_or_else(err)?)?;
        let next = day.succ_opt().ok_or_else(err)?;
        let end = paris(next.and_hms_opt(0, 0, 0).ok_or_else(err)?)?;
        return Ok((start, end));
    }
    Err(err())
}

/// One practitioner of the identifier parameter: `[system|]value`, the value an RPPS with or
/// without the `8` prefix.
pub fn practitioner(token: &str) -> Result<Rpps, String> {
    let value = match token.split_once('|') {
        Some((system, value)) if system.is_empty() || system == RPPS_SYSTEM => value,
        Some(_) => return Err(format!("expected the RPPS system {RPPS_SYSTEM}")),
        None => token,
    };
    let digits = match value.len() {
        12 if value.starts_with('8') => &value[1..],
        _ => value,
    };
    digits
        .parse::<Rpps>()
        .map_err(|e| format!("{value:?}: not an RPPS (with or without its 8 prefix): {e}"))
}

impl SlotSearch {
    /// Reads the decoded `(name, value)` pairs of a query string; every parameter that cannot
    /// be understood is listed.
    ///
    /// # Errors
    /// The bad parameters, by name.
    pub fn parse(pairs: &[(String, String)], now: i64) -> Result<Self, Vec<BadParameter>> {
        let mut errors = Vec::new();
        let (mut from, mut to): (Option<i64>, Option<i64>) = (None, None);
        let mut practitioners: Vec<Rpps> = Vec::new();
        let mut asked_practitioners = false;
        let mut count = None;
        let mut includes = Includes::default();
        for (name, value) in pairs {
            match name.as_str() {
                "start" => {
                    let (prefix, rest) = match (value.get(..2), value.get(2..)) {
                        (Some(prefix), Some(rest)) => (prefix, rest),
                        _ => ("", value.as_str()),
                    };
                    match (prefix, instant(rest)) {
                        ("ge", Ok((first, _))) | ("gt", Ok((_, first))) => {
                            from = Some(from.map_or(first, |f| f.max(first)));
                        }
                        ("le", Ok((_, after))) | ("lt", Ok((after, _))) => {
                            to = Some(to.map_or(after, |t| t.min(after)));
                        }
                        ("ge" | "gt" | "le" | "lt", Err(e)) => errors.push(bad("start", e)),
                        _ => errors.push(bad(
                            "start",
                            "expected a prefix ge, gt, le or lt before the instant",
                        )),
                    }
                }
                PRACTITIONER_PARAMETER | "schedule.actor.identifier" => {
                    asked_practitioners = true;
                    for token in value.split(',') {
                        match practitioner(token.trim()) {
                            Ok(r) if !practitioners.contains(&r) => practitioners.push(r),
                            Ok(_) => {}
                            Err(e) => errors.push(bad(PRACTITIONER_PARAMETER, e)),
                        }
                    }
                }
                "status" if value.split(',').any(|s| s != "free") => {
                    errors.push(bad("status", "only free slots are searchable: status=free"));
                }
                "_count" => match value.parse::<usize>() {
                    Ok(n) if n <= MAX_COUNT => count = Some(n),
                    _ => errors.push(bad(
                        "_count",
                        format!("expected an integer from 0 to {MAX_COUNT}"),
                    )),
                },
                "_include" | "_include:iterate" => {
                    // `Schedule:actor:Practitioner` narrows the actor type; both are served.
                    match value.as_str() {
                        "Slot:schedule" => includes.schedule = true,
                        "Slot:service-type-reference" => includes.service = true,
                        v if v.starts_with("Schedule:actor") => includes.actors = true,
                        "HealthcareService:organization" => includes.organization = true,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        if !asked_practitioners {
            errors.push(bad(
                PRACTITIONER_PARAMETER,
                format!("name 1 to {MAX_PRACTITIONERS} practitioners by RPPS"),
            ));
        } else if practitioners.len() > MAX_PRACTITIONERS {
            errors.push(bad(
                PRACTITIONER_PARAMETER,
                format!("at most {MAX_PRACTITIONERS} practitioners"),
            ));
        }
        let from = from.unwrap_or(now);
        let to = to.unwrap_or(from + DEFAULT_WINDOW_DAYS * 86_400);
        if errors.is_empty() {
            if to <= from {
                errors.push(bad("start", "the upper bound must be after the lower one"));
            } else if to - from > MAX_WINDOW_DAYS * 86_400 {
                errors.push(bad(
                    "start",
                    format!("a window of at most {MAX_WINDOW_DAYS} days"),
                ));
            }
        }
        if !errors.is_empty() || practitioners.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            from,
            to,
            practitioners,
            count,
            includes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    const NOW: i64 = 1_772_470_800; // 2026-03-02T17:00:00Z

    fn parse(q: &str) -> Result<SlotSearch, Vec<String>> {
        SlotSearch::parse(&pairs(q), NOW).map_err(|e| e.into_iter().map(|b| b.parameter).collect())
    }

    #[test]
    fn the_sas_request_is_understood_with_its_quirks() {
        // The IG's example request (Bundle-ExampleBundleCPTS1's self link), with an RPPS of ours.
        let q = "_include=Slot:schedule&_include:iterate=Schedule:actor\
                 &start=ge2024-06-12T16:20:00.000+02:00&start=le2024-06-12T17:20:00.000+02:00\
                 &schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000009\
                 &status=free&_include=Slot:service-type-reference\
                 &_include:iterate=HealthcareService:organization";
        let s = parse(q).unwrap();
        // 16:20 at +02:00 is 14:20Z; the `+` arrived as a space.
        assert_eq!(s.from, 1_718_202_000);
        assert_eq!(s.to, 1_718_205_600 + 1);
        assert_eq!(s.practitioners, ["10000000009".parse::<Rpps>().unwrap()]);
        assert_eq!(s.includes, Includes::ALL);
        assert_eq!(s.count, None);
        // Encoded `+` and `|`, naive Paris times, no `8`, _count: the same window and doctor.
        let q2 = "start=ge2024-06-12T16:20:00&start=le2024-06-12T17:20:00.000%2B02:00\
                  &schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1%7C10000000009\
                  &_count=5&_format=json";
        let s2 = parse(q2).unwrap();
        assert_eq!(
            (s2.from, s2.to, &s2.practitioners),
            (s.from, s.to, &s.practitioners)
        );
        assert_eq!(s2.count, Some(5));
        assert_eq!(s2.includes, Includes::default());
    }

    #[test]
    fn a_date_names_its_whole_day_in_paris_and_naive_times_follow_dst() {
        let s = parse(
            "start=ge2026-03-29&start=le2026-03-29\
             &schedule.actor:Practitioner.identifier=10000000009",
        )
        .unwrap();
        // 29 March 2026: 00:00 is UTC+1, the next midnight UTC+2, so the day lasts 23 hours.
        assert_eq!(s.to - s.from, 23 * 3600);
        // 02:30 does not exist that night.
        assert_eq!(
            parse("start=ge2026-03-29T02:30:00&schedule.actor:Practitioner.identifier=10000000009"),
            Err(vec!["start".to_owned()])
        );
    }

    #[test]
    fn practitioners_are_1_to_25_distinct_rpps() {
        let list: Vec<String> = (0..26)
            .map(|i| {
                Rpps::with_check_digit(&format!("1000000{i:03}"))
                    .unwrap()
                    .to_string()
            })
            .collect();
        let p = PRACTITIONER_PARAMETER;
        let q = format!("{p}={}", list[..25].join(","));
        assert_eq!(parse(&q).unwrap().practitioners.len(), 25);
        assert_eq!(
            parse(&format!("{p}={}", list.join(","))),
            Err(vec![p.to_owned()])
        );
        // Twice the same doctor, with and without the 8: once.
        let twice = format!("{p}=8{0}&{p}={0}", list[0]);
        assert_eq!(parse(&twice).unwrap().practitioners.len(), 1);
        assert_eq!(parse("status=free"), Err(vec![p.to_owned()]));
        assert_eq!(parse(&format!("{p}=10000000008")), Err(vec![p.to_owned()]));
        assert_eq!(
            parse(&format!("{p}=urn:oid:1.2.3|10000000009")),
            Err(vec![p.to_owned()])
        );
        assert_eq!(parse(&format!("{p}=")), Err(vec![p.to_owned()]));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let p = "schedule.actor:Practitioner.identifier=10000000009";
        for (q, name) in [
            ("start=2026-03-02", "start"),
            ("start=getomorrow", "start"),
            ("start=ge", "start"),
            ("start=é", "start"),
            ("start=aé2026", "start"),
            ("start=ge2026-03-03&start=le2026-03-02", "start"),
            ("start=ge2026-03-01&start=le2026-05-01", "start"),
            ("status=busy", "status"),
            ("_count=-1", "_count"),
            ("_count=1001", "_count"),
        ] {
            assert_eq!(
                parse(&format!("{q}&{p}")),
                Err(vec![name.to_owned()]),
                "{q}"
            );
        }
        // Unknown parameters are ignored; the default window is the next 7 days.
        let s = parse(&format!("{p}&_sort=start&foo=bar")).unwrap();
        assert_eq!((s.from, s.to), (NOW, NOW + 7 * 86_400));
    }
}
