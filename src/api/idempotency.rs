//! `Idempotency-Key` on booking and cancelling (issue 15): a régulateur whose answer was lost
//! (a dropped connection, a timeout) sends the same request with the same key again, and gets
//! the first answer, not a second booking or a 409 about its own first one.
//!
//! The key is per token, kept 24 hours (`store::idempotency`). The same key with the same
//! request (method, path and body, compared by a SHA-256 of their canonical form) replays the
//! first answer, with `Idempotent-Replayed: true`; with another request it is 422; while the
//! first is still running, 409. An answer that is a 5xx is not kept: the key is freed and a
//! retry runs again.

use super::{ApiError, AppState, Caller};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::future::Future;

/// The request header.
pub(super) const HEADER: &str = "idempotency-key";
/// Longest key accepted.
const MAX_KEY_LEN: usize = 255;
/// Largest answer kept (bookings are a few hundred bytes).
const MAX_KEPT_BODY: usize = 64 * 1024;

/// The SHA-256, hex, of a request's canonical form.
pub(super) fn request_hash(method: &str, path: &str, body: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b" ");
    h.update(body.to_string().as_bytes());
    crate::tokens::hex(&h.finalize())
}

fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().ok().filter(|k| {
        !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
    });
    match key {
        Some(k) => Ok(Some(k.to_owned())),
        None => Err(ApiError::invalid_parameter(
            "Idempotency-Key",
            format!("expected 1 to {MAX_KEY_LEN} visible ASCII characters"),
        )),
    }
}

/// Runs `action` once per key of `caller` (see the module doc); without the header, runs it.
///
/// # Errors
/// A bad key: 422; the key used for another request: 422; still running: 409; the store
/// unavailable: 503.
pub(super) async fn once<F, Fut>(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    hash: String,
    action: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let Some(key) = key_of(headers)? else {
        return action().await;
    };
    let store = &state.store;
    match store
        .reserve_idempotency(&caller.token_id, &key, &hash)
        .await?
    {
        crate::store::Reservation::Reserved => {}
        crate::store::Reservation::Replay {
            status,
            body,
            location,
        } => return Ok(replay(status, body, location)),
        crate::store::Reservation::InProgress => {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still running; retry in a moment"
                    .to_owned(),
            ));
        }
        crate::store::Reservation::Mismatch => {
            return Err(ApiError::invalid_parameter(
                "Idempotency-Key",
                "this key was used for another request in the last 24 hours",
            ));
        }
    }
    let response = action().await.unwrap_or_else(IntoResponse::into_response);
    let status = response.status();
    if status.is_server_error() {
        store.release_idempotency(&caller.token_id, &key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_KEPT_BODY)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let location = parts
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    store
        .complete_idempotency(
            &caller.token_id,
            &key,
            status.as_u16(),
            &text,
            location.as_deref(),
        )
        .await?;
    Ok(Response::from_parts(parts, axum::body::Body::from(bytes)))
}

/// The kept answer, as first sent.
fn replay(status: u16, body: String, location: Option<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let kind = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_and_bounded() {
        let mut h = HeaderMap::new();
        assert_eq!(key_of(&h).unwrap(), None);
        h.insert(HEADER, HeaderValue::from_static("3f1c-retry-1"));
        assert_eq!(key_of(&h).unwrap().as_deref(), Some("3f1c-retry-1"));
        h.insert(HEADER, HeaderValue::from_static("a b"));
        assert!(key_of(&h).is_err());
        h.insert(HEADER, HeaderValue::from_str(&"k".repeat(256)).unwrap());
        assert!(key_of(&h).is_err());
    }

    #[test]
    fn the_hash_tells_requests_apart() {
        let a = request_hash(
            "POST",
            "/slots/1/bookings",
            &serde_json::json!({"patient_ref": "P1"}),
        );
        let b = request_hash(
            "POST",
            "/slots/1/bookings",
            &serde_json::json!({"patient_ref": "P2"}),
        );
        let c = request_hash(
            "POST",
            "/slots/2/bookings",
            &serde_json::json!({"patient_ref": "P1"}),
        );
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            a,
            request_hash(
                "POST",
                "/slots/1/bookings",
                &serde_json::json!({"patient_ref": "P1"})
            )
        );
    }
}
