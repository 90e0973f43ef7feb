//! Per-token rate limit: past [`crate::config::Config::rate_limit`] requests in a minute, a
//! token gets 429 `/problems/rate-limited` with `Retry-After` (seconds until its window ends).
//!
//! Counted in Redis (`cache::rate`), so the limit holds across API processes. The bucket is a
//! fingerprint of the presented token (SHA-256, truncated), not its id: counting before
//! authentication costs no database read, and a caller who knows a token's id but not its
//! secret cannot use up that token's allowance. Requests without a token are not counted
//! (they are refused at once). Without Redis, or when Redis fails, requests pass: the limit
//! protects the service, it must not take it down.

use super::{ApiError, AppState};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The bucket of a presented token: 16 bytes of its SHA-256, in hex.
fn fingerprint(token: &str) -> String {
    Sha256::digest(token.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The middleware: counts the request of the bearer token, answers 429 past the limit.
pub(super) async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(cache) = state.cache.as_ref().filter(|c| c.rate_limit() > 0) else {
        return next.run(req).await;
    };
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let Some(token) = token else {
        return next.run(req).await;
    };
    match cache.count_request(&fingerprint(token)).await {
        Ok(None) => next.run(req).await,
        Ok(Some(wait)) => {
            let seconds = wait.as_millis().div_ceil(1000).max(1);
            ApiError::RateLimited(u64::try_from(seconds).unwrap_or(60)).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot count a request; not limited");
            next.run(req).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_short_and_differ() {
        let a = fingerprint("cpts_abc_secret");
        assert_eq!(a.len(), 32);
        assert_eq!(a, fingerprint("cpts_abc_secret"));
        assert_ne!(a, fingerprint("cpts_abc_other"));
    }
}
