//! Headers every request and answer goes through:
//!
//! - a path or query with a control character or a bidi override, once percent-decoded, is
//!   refused with 422 naming the parameter (a `%00` in an id reached PostgreSQL as an error);
//! - a request body with a `Content-Encoding` other than `identity` is refused with 415 before
//!   any handler reads it (nothing here inflates gzip: a small compressed body could expand past
//!   the body limits, and a handler would read the compressed bytes as text);
//! - every answer carries a Content-Security-Policy (`default-src 'none'` for the API; the
//!   `/docs` page sets its own), `X-Content-Type-Options: nosniff` and
//!   `Referrer-Policy: no-referrer`.

use super::ApiError;
use crate::domain::text::text_problem;
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
    let mut response = if let Some((name, problem)) = bad_text_in_uri(request.uri()) {
        ApiError::invalid_parameter(&name, problem).into_response()
    } else if encoded {
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

/// The parameter (`path`, or a query parameter's name) holding a control character or a bidi
/// override, and why.
fn bad_text_in_uri(uri: &axum::http::Uri) -> Option<(String, &'static str)> {
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    if let Some(problem) = text_problem(&path) {
        return Some(("path".to_owned(), problem));
    }
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).find_map(|(key, value)| {
        text_problem(&key)
            .or_else(|| text_problem(&value))
            .map(|problem| (key.into_owned(), problem))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_the_path_or_query_are_found_and_named() {
        let bad = |u: &str| bad_text_in_uri(&u.parse().unwrap()).map(|(name, _)| name);
        assert_eq!(bad("/cabinets/C%00"), Some("path".to_owned()));
        assert_eq!(bad("/audit?actor=a%01b"), Some("actor".to_owned()));
        assert_eq!(bad("/audit?actor=%E2%80%AEabc"), Some("actor".to_owned()));
        assert_eq!(bad("/slots?insee=54395&radius_km=10"), None);
        assert_eq!(bad("/x?q=a+b%20c%"), None);
    }
}
