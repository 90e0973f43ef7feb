//! Calendar feeds (issue 18): each doctor's published garde shifts as an iCalendar feed
//! (RFC 5545), at a secret URL his calendar (Google, Apple, Outlook) subscribes to. Calendar
//! clients send no bearer token, so the URL itself is the credential: 32 random bytes, of which
//! only the SHA-256 is stored. The GP creates or renews it (the old URL stops answering at
//! once) and revokes it. A shift he no longer holds (withdrawn, swapped) leaves the feed.
//!
//! Times are Europe/Paris wall times with `TZID=Europe/Paris` and the zone's VTIMEZONE, so a
//! Saturday shift on the day clocks change still reads 09:00–13:00.

use super::{ApiError, AppState, OwnRpps, Path, Problem};
use crate::garde::calendar::{paris_time, shift_end};
use crate::store::DoctorShift;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use icalendar::{CalendarDateTime, Component, EventLike};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How far back the feed reaches: past shifts stay visible for this many days.
const PAST_DAYS: i64 = 90;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(renew_calendar, revoke_calendar))
        .routes(routes!(calendar_feed))
}

/// The feed's URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarFeedView {
    /// The path of the feed on this server (`/calendar/<secret>.ics`): give it to the calendar
    /// as a subscription, with this server's address in front. Shown once.
    pub path: String,
}

/// The Europe/Paris zone as RFC 5545 describes it (the EU rule since 1996: last Sunday of
/// March 02:00 → 03:00, last Sunday of October 03:00 → 02:00).
const VTIMEZONE_PARIS: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n\
BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n\
DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n\
BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n\
DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
END:VTIMEZONE\r\n";

fn hash(secret: &str) -> String {
    crate::tokens::hex(&Sha256::digest(secret.as_bytes()))
}

/// Creates, or renews, the GP's feed URL (médecin, his own).
#[utoipa::path(post, path = "/doctors/{rpps}/calendar", tag = "garde",
    security(("bearer" = [])),
    params(("rpps" = String, Path, description = "The médecin's own RPPS")),
    responses(
        (status = 201, description = "The new URL; any previous one stops answering", body = CalendarFeedView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not this médecin's token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an RPPS (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn renew_calendar(
    OwnRpps(rpps, caller): OwnRpps,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let secret = crate::tokens::random_secret();
    if !caller
        .store(&state)
        .renew_calendar(&rpps, &hash(&secret))
        .await?
    {
        return Err(ApiError::NotFound(
            "no doctor with this RPPS; doctors come from the imports".to_owned(),
        ));
    }
    let view = CalendarFeedView {
        path: format!("/calendar/{secret}.ics"),
    };
    Ok((StatusCode::CREATED, super::Json(view)).into_response())
}

/// Revokes the GP's feed URL (médecin, his own).
#[utoipa::path(delete, path = "/doctors/{rpps}/calendar", tag = "garde",
    security(("bearer" = [])),
    params(("rpps" = String, Path, description = "The médecin's own RPPS")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not this médecin's token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No feed to revoke", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an RPPS (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_calendar(
    OwnRpps(rpps, caller): OwnRpps,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    if caller.store(&state).revoke_calendar(&rpps).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(
            "this doctor has no calendar feed".to_owned(),
        ))
    }
}

/// A GP's published garde shifts as iCalendar (no token: the URL is the secret).
#[utoipa::path(get, path = "/calendar/{feed}", tag = "garde",
    params(("feed" = String, Path, description = "`<secret>.ics`, from POST /doctors/{rpps}/calendar")),
    responses(
        (status = 200, description = "The feed: the shifts of the last 90 days and to come", content_type = "text/calendar", body = String),
        (status = 404, description = "No feed at this URL (never made, renewed or revoked)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn calendar_feed(
    State(state): State<AppState>,
    Path(feed): Path<String>,
) -> Result<Response, ApiError> {
    let unknown = || ApiError::NotFound("no calendar feed at this URL".to_owned());
    let secret = feed.strip_suffix(".ics").ok_or_else(unknown)?;
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    let rpps = state
        .store
        .calendar_owner(&hash(secret))
        .await?
        .ok_or_else(unknown)?;
    let from = state.clock.now() - PAST_DAYS * 86_400;
    let shifts = state.store.doctor_shifts(&rpps, from).await?;
    let body = ics(&rpps.to_string(), &shifts);
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response())
}

/// The iCalendar text of `shifts`, with the Europe/Paris VTIMEZONE.
pub fn ics(rpps: &str, shifts: &[DoctorShift]) -> String {
    let mut cal = icalendar::Calendar::new();
    cal.name(&format!("Gardes — RPPS {rpps}"))
        .timezone(chrono_tz::Europe::Paris);
    for s in shifts {
        let (Some(start), Some(end)) = (
            paris_time(s.shift_start),
            shift_end(s.shift_start).and_then(paris_time),
        ) else {
            continue;
        };
        let at = |t: chrono::NaiveDateTime| CalendarDateTime::WithTimezone {
            date_time: t,
            tzid: "Europe/Paris".to_owned(),
        };
        let event = icalendar::Event::new()
            .uid(&format!(
                "garde-{}-{}-{rpps}@cpts",
                s.cabinet_id, s.shift_start
            ))
            .summary(&format!("Garde — {}", s.cabinet_name))
            .location(&format!("{} (INSEE {})", s.cabinet_name, s.insee))
            .starts(at(start.naive_local()))
            .ends(at(end.naive_local()))
            .add_property("GEO", format!("{};{}", s.lat, s.lon))
            .done();
        cal.push(event);
    }
    let text = cal.done().to_string();
    // The crate writes no VTIMEZONE: put the zone before the first component it names.
    let at = text
        .find("BEGIN:VEVENT")
        .or_else(|| text.find("END:VCALENDAR"))
        .unwrap_or(text.len());
    format!("{}{VTIMEZONE_PARIS}{}", &text[..at], &text[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shift(start: i64) -> DoctorShift {
        DoctorShift {
            cabinet_id: "NANCY-1".to_owned(),
            cabinet_name: "Maison médicale de garde, Nancy".to_owned(),
            insee: "54395".to_owned(),
            lat: 48.6881,
            lon: 6.1734,
            shift_start: start,
            plan_id: "p".to_owned(),
        }
    }

    #[test]
    fn shifts_read_back_in_paris_time_across_the_clock_change() {
        use icalendar::{Calendar, CalendarComponent, DatePerhapsTime};
        // Saturday 28 March 2026, 09:00 CET (08:00Z), the day before clocks go forward, and
        // Monday 30 March 2026, 18:00 CEST (16:00Z), the first weekday after.
        let text = ics("10000000009", &[shift(1_774_684_800), shift(1_774_886_400)]);
        assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Paris"));
        let parsed: Calendar = text.parse().unwrap();
        let events: Vec<_> = parsed
            .components
            .iter()
            .filter_map(|c| match c {
                CalendarComponent::Event(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(events.len(), 2);
        let wall = |d: Option<DatePerhapsTime>| match d {
            Some(DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time, tzid })) => {
                assert_eq!(tzid, "Europe/Paris");
                date_time.to_string()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(wall(events[0].get_start()), "2026-03-28 09:00:00");
        assert_eq!(wall(events[0].get_end()), "2026-03-28 13:00:00");
        assert_eq!(wall(events[1].get_start()), "2026-03-30 18:00:00");
        assert_eq!(wall(events[1].get_end()), "2026-03-30 20:00:00");
        assert_eq!(
            events[0].get_summary(),
            Some("Garde — Maison médicale de garde, Nancy")
        );
    }

    #[test]
    fn an_empty_feed_is_a_valid_calendar_with_its_zone() {
        let text = ics("10000000009", &[]);
        let parsed: icalendar::Calendar = text.parse().unwrap();
        assert_eq!(parsed.components.len(), 1, "{text}");
        assert!(text.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn secrets_are_kept_as_their_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
