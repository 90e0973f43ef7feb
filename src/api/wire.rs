//! How the API writes instants and reads ids: one home for each, so every resource prints
//! the same forms.
//!
//! * Instants of the record (`created_at`, `booked_at`…) are RFC 3339 in UTC to the second,
//!   with `Z`: [`utc`] (or [`rfc3339`] when an impossible instant must print as null).
//! * Local instants (a slot's or a shift's `start` and `end`) are Europe/Paris wall time with
//!   its offset: [`paris`] (the garde calendar's, which the slot events print too).
//! * Ids in a path are positive integers: [`parse_id`].

pub use crate::garde::calendar::paris_rfc3339 as paris;

use super::{ApiError, parse_param};

/// RFC 3339 in UTC to the second (`2026-03-02T17:00:00Z`) of Unix seconds; `None` outside
/// chrono's range.
pub fn rfc3339(unix_seconds: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// [`rfc3339`], empty outside chrono's range.
pub fn utc(unix_seconds: i64) -> String {
    rfc3339(unix_seconds).unwrap_or_default()
}

/// A positive integer id from a path segment.
///
/// # Errors
/// [`ApiError::Invalid`] naming `name`.
pub fn parse_id(name: &str, raw: &str) -> Result<i64, ApiError> {
    parse_param::<i64>(name, raw)
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid_parameter(name, "expected a positive integer id"))
}

/// A date written exactly `YYYY-MM-DD` (a Europe/Paris calendar date of a shift or a wish).
pub fn iso_date(raw: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_print_in_utc_or_paris_time() {
        // 2026-03-02T17:00:00Z: winter, Paris is UTC+1.
        assert_eq!(utc(1_772_470_800), "2026-03-02T17:00:00Z");
        assert_eq!(paris(1_772_470_800), "2026-03-02T18:00:00+01:00");
        // 2026-07-01T12:00:00Z: summer, UTC+2.
        assert_eq!(paris(1_782_907_200), "2026-07-01T14:00:00+02:00");
        assert_eq!(rfc3339(i64::MAX), None);
        assert_eq!(utc(i64::MAX), "");
    }

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(parse_id("slot_id", "42").ok(), Some(42));
        for raw in ["0", "-3", "x", ""] {
            assert!(matches!(
                parse_id("slot_id", raw),
                Err(ApiError::Invalid(e)) if e[0].parameter.as_deref() == Some("slot_id")
            ));
        }
    }
}

/// Content negotiation (RFC 9110 §12.5.1): which of `offers` (media types, the first being the
/// default) the `Accept` header prefers, with its q-values honoured: `text/csv;q=0` refuses CSV,
/// `text/csv, application/json;q=0.5` prefers it. Among equal q-values, a specific range beats
/// `type/*`, which beats `*/*`; then the order of `offers` decides. No header, or an
/// unreadable one: the default. `None` when the header refuses every offer.
pub fn negotiate<'a>(headers: &axum::http::HeaderMap, offers: &[&'a str]) -> Option<&'a str> {
    let ranges: Vec<(String, f32)> = headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|range| {
            let mut parts = range.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            if media.is_empty() {
                return None;
            }
            let mut q = 1.0_f32;
            for p in parts {
                if let Some((k, v)) = p.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    q = v.trim().parse().ok().filter(|q| (0.0..=1.0).contains(q))?;
                }
            }
            Some((media, q))
        })
        .collect();
    let &default = offers.first()?;
    if ranges.is_empty() {
        return Some(default);
    }
    // For each offer: the q of the most specific range matching it.
    let quality = |offer: &str| -> f32 {
        let kind = offer.split('/').next().unwrap_or("");
        let mut best: Option<(u8, f32)> = None;
        for (media, q) in &ranges {
            let specificity = if media == offer {
                2
            } else if media.strip_suffix("/*") == Some(kind) {
                1
            } else if media == "*/*" {
                0
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| specificity > s) {
                best = Some((specificity, *q));
            }
        }
        best.map_or(0.0, |(_, q)| q)
    };
    let mut chosen: Option<(&'a str, f32)> = None;
    for &offer in offers {
        let q = quality(offer);
        if q > 0.0 && chosen.is_none_or(|(_, best)| q > best) {
            chosen = Some((offer, q));
        }
    }
    chosen.map(|(offer, _)| offer)
}

#[cfg(test)]
mod negotiate_tests {
    use super::negotiate;
    use axum::http::{HeaderMap, HeaderValue, header::ACCEPT};

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    const OFFERS: [&str; 2] = ["application/json", "text/csv"];

    #[test]
    fn q_values_decide() {
        assert_eq!(
            negotiate(&HeaderMap::new(), &OFFERS),
            Some("application/json")
        );
        assert_eq!(negotiate(&accept("text/csv"), &OFFERS), Some("text/csv"));
        assert_eq!(
            negotiate(&accept("text/csv;q=0, application/json"), &OFFERS),
            Some("application/json")
        );
        assert_eq!(
            negotiate(&accept("application/json;q=0.5, text/csv"), &OFFERS),
            Some("text/csv")
        );
        assert_eq!(
            negotiate(&accept("text/csv;q=0.4, application/json;q=0.9"), &OFFERS),
            Some("application/json")
        );
        assert_eq!(negotiate(&accept("*/*"), &OFFERS), Some("application/json"));
        assert_eq!(negotiate(&accept("text/*"), &OFFERS), Some("text/csv"));
        assert_eq!(
            negotiate(&accept("*/*;q=0.1, text/csv;q=0"), &OFFERS),
            Some("application/json")
        );
        assert_eq!(negotiate(&accept("image/png"), &OFFERS), None);
        assert_eq!(negotiate(&accept("text/csv;q=0"), &OFFERS), None);
    }
}
