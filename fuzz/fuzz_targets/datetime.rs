//! `parse_datetime` (availability windows, FORMATS.md §3) from any text: no panic; an accepted
//! value re-reads as the same instant from RFC 3339, and from its Europe/Paris wall time
//! unless that wall time is ambiguous (then the first occurrence, summer time, is chosen);
//! a wall time without offset is kept as written.
#![no_main]

use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike};
use cpts::garde::calendar::paris_time;
use cpts::import::garde::parse_datetime;
use libfuzzer_sys::fuzz_target;

fn has_offset(s: &str) -> bool {
    s.ends_with(['Z', 'z']) || s.get(11..).is_some_and(|t| t.contains(['+', '-']))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = parse_datetime(s) else {
        return;
    };
    // Leap seconds (`:60`, nanoseconds ≥ 1e9 in chrono) are refused: Unix seconds cannot hold
    // them, and they compared unequal to their own re-reading.
    assert!(
        t.nanosecond() < 1_000_000_000,
        "leap second accepted: {s:?}"
    );
    // RFC 3339 only writes years 0000–9999.
    if !(0..=9999).contains(&t.year()) {
        return;
    }
    let rfc = t.to_rfc3339();
    assert_eq!(parse_datetime(&rfc), Ok(t), "{s:?} -> {rfc}");
    let Some(paris) = paris_time(t.timestamp()) else {
        return;
    };
    // Below 1e9 nanoseconds (asserted above), so always `Some`.
    let Some(local) = paris.naive_local().with_nanosecond(t.nanosecond()) else {
        return;
    };
    if !(0..=9999).contains(&local.year()) {
        return;
    }
    let wall = local.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
    let back = parse_datetime(&wall).unwrap_or_else(|e| panic!("{s:?} -> {wall}: {e}"));
    if back != t {
        // Only the second occurrence of an autumn hour reads back as the first one.
        assert_eq!(back, t - TimeDelta::hours(1), "{s:?} -> {wall}");
        assert_eq!(paris.offset().local_minus_utc(), 3600, "{s:?} -> {wall}");
    }
    if !has_offset(s) {
        let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .expect("accepted without offset, so a wall time");
        assert_eq!(local, naive, "{s:?}");
    }
});
