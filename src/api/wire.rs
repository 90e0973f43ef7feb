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
