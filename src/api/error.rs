//! [`ApiError`]: every failure of every handler, answered as RFC 9457 `application/problem+json`.
//!
//! The status and the problem `type` of each variant come from exhaustive matches (no
//! wildcard), so a new variant forces a decision. The `type`s are stable paths listed in the
//! README. A 5xx is logged once, here, inside the request span; its body says nothing internal.

use crate::{cache, slots, store};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No bearer token, or one that is malformed, unknown, revoked or wrong: the same answer
    /// for all, so a caller learns nothing about which tokens exist.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// Authenticated, but this role (or this médecin) may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A state-changing request of a signed-in session without its CSRF token.
    #[error(
        "a signed-in session's state-changing request needs its CSRF token in X-CSRF-Token (GET /auth/session gives it)"
    )]
    Csrf,
    /// No such resource or route.
    #[error("{0}")]
    NotFound(String),
    /// The route exists, not with this method.
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    /// The request conflicts with the stored state.
    #[error("{0}")]
    Conflict(String),
    /// The slot holds an active booking (FORMATS.md §4); the unique index said so.
    #[error("this slot is already booked; search again for a free one")]
    SlotTaken,
    /// The slot has ended; it cannot be booked any more.
    #[error("this slot has ended; search again for a free one")]
    SlotEnded,
    /// The slot's doctor was taken off the shift (a garde repair).
    #[error("the doctor of this slot was taken off the shift; search again for a free one")]
    SlotWithdrawn,
    /// Another régulateur holds the slot (`cache::holds`); it may be free again soon.
    #[error("another régulateur holds this slot; search again, or retry later")]
    SlotHeld,
    /// Holds and slot events live in Redis, and this server runs without it (development) or
    /// cannot reach it now (the circuit is open: see `cache`).
    #[error(
        "slot holds and slot events need Redis, which this server runs without or cannot reach now"
    )]
    NeedsRedis,
    /// The token sent more requests than the limit allows in this window.
    #[error("too many requests with this token; retry after {0} s")]
    RateLimited(u64),
    /// Too many event streams open, for this token or in all; retry after the given seconds.
    #[error("{0}")]
    TooManyStreams(String, u64),
    /// Publishing would over-staff a shift or put a doctor on two shifts of a date, across
    /// published plans; the message names the cabinet, the doctor and the date.
    #[error("{0}")]
    RosterConflict(String),
    /// The window covers a shift of a published roster where the doctor is on duty; the
    /// message names the shift.
    #[error("{0}")]
    AvailabilityOnPublishedRoster(String),
    /// A booking cancelled, or a window withdrawn, before; nothing changed.
    #[error("{0}")]
    AlreadyCancelled(String),
    /// The body is larger than the route accepts.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The `Accept` header refuses every type the route answers with (named here).
    #[error("this resource answers only as {0}, which the Accept header refuses")]
    NotAcceptable(&'static str),
    /// The body is not of the media type the route reads.
    #[error("expected a request body of type {0}")]
    UnsupportedMediaType(&'static str),
    /// The body is not well-formed (not JSON at all, truncated…).
    #[error("malformed request body: {0}")]
    Malformed(String),
    /// Well-formed, but some fields or parameters are invalid; each one is listed.
    #[error("{} invalid", plural(.0.len()))]
    Invalid(Vec<FieldError>),
    /// A CSV file refused whole (FORMATS.md §1): `found` errors, the first listed with their
    /// line, column and field. Nothing was stored.
    #[error("{file}: {found} {}; nothing was imported", errors_word(.found))]
    InvalidCsv {
        file: String,
        found: u64,
        errors: Vec<FieldError>,
    },
    /// The request took longer than the server allows.
    #[error("the request took longer than {0} s")]
    Timeout(u64),
    /// A backing service (database, Redis) does not answer; retrying later may work.
    #[error("{what} is unavailable")]
    Unavailable {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A bug or a broken invariant; the details go to the log only.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn errors_word(n: &u64) -> &'static str {
    if *n == 1 { "error" } else { "errors" }
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 field is".to_owned()
    } else {
        format!("{n} fields are")
    }
}

/// One invalid input: a body field (`pointer`, a JSON Pointer in URI-fragment form, `#/max_km`),
/// a path or query parameter (`parameter`, its name), or a cell of a CSV body (`line`,
/// `column` and `field`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// CSV: 1-based physical line where the record starts (the header is line 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// CSV: 1-based column of the cell; 0 for the whole row or header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// CSV: the column's name; empty for an error on the whole row or file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong with it.
    pub detail: String,
}

impl FieldError {
    /// An invalid body field at `pointer` (`#/doctors/3/rpps`).
    pub fn at_pointer(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: Some(pointer.into()),
            parameter: None,
            line: None,
            column: None,
            field: None,
            detail: detail.into(),
        }
    }

    /// An invalid path or query parameter.
    pub fn at_parameter(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: None,
            parameter: Some(name.into()),
            line: None,
            column: None,
            field: None,
            detail: detail.into(),
        }
    }

    /// An invalid cell (or row, or header) of a CSV body.
    pub fn at_cell(
        line: u64,
        column: u64,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            pointer: None,
            parameter: None,
            line: Some(line),
            column: Some(column),
            field: Some(field.into()),
            detail: detail.into(),
        }
    }
}

impl From<crate::import::CellError> for FieldError {
    fn from(e: crate::import::CellError) -> Self {
        FieldError::at_cell(e.line, e.column, e.field, e.message)
    }
}

/// The RFC 9457 body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A stable path naming the kind of problem, e.g. `/problems/invalid-request`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP reason phrase of `status`.
    pub title: String,
    pub status: u16,
    /// What went wrong, for a human.
    pub detail: String,
    /// For 422: every invalid field or parameter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    /// An invalid path or query parameter, alone.
    pub fn invalid_parameter(name: &str, detail: impl std::fmt::Display) -> Self {
        ApiError::Invalid(vec![FieldError::at_parameter(name, detail.to_string())])
    }

    /// An invalid body field, alone.
    pub fn invalid_field(pointer: &str, detail: impl std::fmt::Display) -> Self {
        ApiError::Invalid(vec![FieldError::at_pointer(pointer, detail.to_string())])
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_)
            | ApiError::SlotTaken
            | ApiError::SlotEnded
            | ApiError::SlotWithdrawn
            | ApiError::SlotHeld
            | ApiError::AvailabilityOnPublishedRoster(_)
            | ApiError::AlreadyCancelled(_)
            | ApiError::RosterConflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) | ApiError::InvalidCsv { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Timeout(_) | ApiError::Unavailable { .. } | ApiError::NeedsRedis => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RateLimited(_) | ApiError::TooManyStreams(..) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem `type`: a stable path, listed in the README.
    pub fn type_uri(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "/problems/unauthenticated",
            ApiError::Forbidden(_) => "/problems/forbidden",
            ApiError::Csrf => "/problems/csrf",
            ApiError::NotFound(_) => "/problems/not-found",
            ApiError::MethodNotAllowed => "/problems/method-not-allowed",
            ApiError::Conflict(_) => "/problems/conflict",
            ApiError::SlotTaken => "/problems/slot-taken",
            ApiError::SlotEnded => "/problems/slot-ended",
            ApiError::SlotWithdrawn => "/problems/slot-withdrawn",
            ApiError::SlotHeld => "/problems/slot-held",
            ApiError::NeedsRedis => "/problems/needs-redis",
            ApiError::RateLimited(_) => "/problems/rate-limited",
            ApiError::TooManyStreams(..) => "/problems/too-many-streams",
            ApiError::AvailabilityOnPublishedRoster(_) => {
                "/problems/availability-on-published-roster"
            }
            ApiError::AlreadyCancelled(_) => "/problems/already-cancelled",
            ApiError::RosterConflict(_) => "/problems/roster-conflict",
            ApiError::PayloadTooLarge => "/problems/payload-too-large",
            ApiError::UnsupportedMediaType(_) => "/problems/unsupported-media-type",
            ApiError::NotAcceptable(_) => "/problems/not-acceptable",
            ApiError::Malformed(_) => "/problems/malformed-request",
            ApiError::Invalid(_) | ApiError::InvalidCsv { .. } => "/problems/invalid-request",
            ApiError::Timeout(_) => "/problems/timeout",
            ApiError::Unavailable { .. } => "/problems/unavailable",
            ApiError::Internal(_) => "/problems/internal",
        }
    }

    /// The body of this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            // Nothing internal leaves the server.
            ApiError::Internal(_) => "internal error; it has been logged".to_owned(),
            _ => self.to_string(),
        };
        let errors = match self {
            ApiError::Invalid(e) | ApiError::InvalidCsv { errors: e, .. } => e.clone(),
            _ => Vec::new(),
        };
        Problem {
            kind: self.type_uri().to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        let body = serde_json::to_vec(&self.problem()).expect("a Problem always serializes");
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if matches!(self, ApiError::Unauthenticated) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited(seconds) | ApiError::TooManyStreams(_, seconds) = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<store::Error> for ApiError {
    /// The generic mapping; a handler that expects a conflict (a taken slot) maps
    /// [`store::Error::Conflict`] itself, with its own problem type, before `?`.
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Unavailable(source) => ApiError::Unavailable {
                what: "the database",
                source: Box::new(source),
            },
            store::Error::Conflict(_) => {
                ApiError::Conflict("conflicts with an existing resource".to_owned())
            }
            e @ (store::Error::UnsupportedUrl
            | store::Error::Migrate(_)
            | store::Error::Corrupt(_)
            | store::Error::Other(_)) => ApiError::Internal(Box::new(e)),
        }
    }
}

impl From<slots::Error> for ApiError {
    fn from(e: slots::Error) -> Self {
        match e {
            slots::Error::Held => ApiError::SlotHeld,
            slots::Error::Taken => ApiError::SlotTaken,
            slots::Error::Ended => ApiError::SlotEnded,
            slots::Error::Withdrawn => ApiError::SlotWithdrawn,
            slots::Error::NoSuchSlot => ApiError::NotFound("no slot with this id".to_owned()),
            slots::Error::NoSuchBooking => ApiError::NotFound("no booking with this id".to_owned()),
            slots::Error::AlreadyCancelled { cancelled_at } => ApiError::AlreadyCancelled(format!(
                "this booking was cancelled at {}",
                cancelled_at.map(super::wire::utc).unwrap_or_default()
            )),
            slots::Error::Store(e) => e.into(),
            slots::Error::Cache(e) => e.into(),
            e @ slots::Error::Indexing(_) => ApiError::Internal(Box::new(e)),
        }
    }
}

impl From<cache::Error> for ApiError {
    fn from(e: cache::Error) -> Self {
        match e {
            // What needs Redis (holds, events) says so at once while it is down.
            cache::Error::Unavailable(_) | cache::Error::Timeout(_) | cache::Error::Down => {
                ApiError::NeedsRedis
            }
            cache::Error::Url(_) | cache::Error::Unexpected(_) => ApiError::Internal(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_422_lists_its_fields_and_counts_them() {
        let e = ApiError::Invalid(vec![
            FieldError::at_pointer("#/max_km", "must be > 0"),
            FieldError::at_parameter("rpps", "expected exactly 11 digits"),
        ]);
        let p = serde_json::to_value(e.problem()).unwrap();
        assert_eq!(
            p,
            serde_json::json!({
                "type": "/problems/invalid-request",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": "2 fields are invalid",
                "errors": [
                    {"pointer": "#/max_km", "detail": "must be > 0"},
                    {"parameter": "rpps", "detail": "expected exactly 11 digits"}
                ]
            })
        );
    }

    #[test]
    fn internal_errors_say_nothing_internal() {
        let e = ApiError::Internal("password=hunter2 in some driver message".into());
        let p = e.problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("hunter2"));
        assert_eq!(p.kind, "/problems/internal");
    }

    #[test]
    fn responses_are_problem_json_and_401_invites_a_bearer_token() {
        let r = ApiError::Unauthenticated.into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
