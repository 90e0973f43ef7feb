//! Headers every request and answer goes through:
//!
//! - a request body with a `Content-Encoding` other than `identity` is refused with 415 before
//!   any handler reads it (nothing here inflates gzip: a small compressed body could expand past
//!   the body limits, and a handler would read the compressed bytes as text);
//! - every answer carries a Content-Security-Policy (`default-src 'none'` for the API; the
//!   `/docs` page sets its own), `X-Content-Type-Options: nosniff` and
//!   `Referrer-Policy: no-referrer`.

use super::ApiError;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The policy of every answer but the docs page: nothing may load, nothing may frame it.
pub(super) const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The middleware.
pub(super) async fn apply(request: Request, next: Next) -> Response {
    let encoded = request
        .headers()
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("unreadable").split(','))
        .any(|coding| !coding.trim().eq_ignore_ascii_case("identity"));
    let mut response = if encoded {
        ApiError::UnsupportedMediaType("an uncompressed body (Content-Encoding: identity)")
            .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
