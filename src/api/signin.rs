//! Sign-in of people (issue 16): the browser side of OpenID Connect (`crate::signin`), and
//! the session it opens.
//!
//! - `GET /auth/login?return_to=/path` starts a login: a PKCE verifier, a `state` and a nonce
//!   are kept server-side (`oidc_logins`, by the keyed hash of `state`, ten minutes, used once),
//!   and the browser goes to the issuer (303).
//! - `GET /auth/callback?code&state` ends it: the code is exchanged with the verifier, the ID
//!   token checked, UserInfo read; the person's identity (`rpps:…` from Pro Santé Connect's
//!   `SubjectNameID`, else `sub:…`) must hold a grant (`POST /grants`, `cpts grant`). A session
//!   opens under its oldest live grant; its cookie `cpts_session` is HttpOnly, SameSite=Lax,
//!   `Secure` when `--public-url` is `https://`, and lives `--session-hours`.
//! - `GET /auth/session` tells who is signed in, under which grant, the other grants of the
//!   identity, and the session's CSRF token. Every state-changing request of a session (any
//!   method but GET, HEAD, OPTIONS) must send it back in `X-CSRF-Token`, or get 403
//!   `/problems/csrf`: a cross-site form can make the browser send the cookie, never this
//!   header.
//! - `POST /auth/session/grant {"grant_id"}` acts under another grant of the same identity.
//! - `POST /auth/logout` ends the session and clears the cookie.
//!
//! These are browser routes, not API: they are not in the OpenAPI document. API tokens remain
//! for machine clients and scripts; a request with a bearer token ignores the cookie.

use super::{ApiError, AppState};
use crate::store::{PendingLogin, SessionRecord};
use axum::extract::{Query, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cpts_session";
/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The longest `return_to` kept.
const MAX_RETURN_TO: usize = 512;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/session", get(whoami))
        .route("/auth/session/grant", post(switch))
        .route("/auth/logout", post(logout))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The value of the session cookie, if the request has one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

/// The live session the request's cookie names, if any.
///
/// # Errors
/// [`ApiError`] when the database cannot be read.
pub(crate) async fn session_of(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<SessionRecord>, ApiError> {
    let Some(id) = session_cookie(&parts.headers) else {
        return Ok(None);
    };
    Ok(state
        .store
        .session(&state.token_key.hash(&id), now())
        .await?)
}

/// Refuses a request whose `X-CSRF-Token` is not the session's, compared in constant time.
///
/// # Errors
/// [`ApiError::Csrf`].
pub(crate) fn check_csrf(parts: &Parts, csrf: &str) -> Result<(), ApiError> {
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    check_csrf_value(sent, csrf)
}

/// Refuses a CSRF token `sent` (a header, a form's hidden field) that is not the session's,
/// compared in constant time.
///
/// # Errors
/// [`ApiError::Csrf`].
pub(crate) fn check_csrf_value(sent: &str, csrf: &str) -> Result<(), ApiError> {
    let same = sent.len() == csrf.len()
        && sent
            .bytes()
            .zip(csrf.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same { Ok(()) } else { Err(ApiError::Csrf) }
}

/// A path of this service to go back to after sign-in: `/` unless `raw` is a local path
/// (never `//host` or a scheme, which would send the person elsewhere).
pub(crate) fn local_path(raw: Option<&str>) -> String {
    match raw {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && p.len() <= MAX_RETURN_TO
                && p.chars().all(|c| !c.is_control()) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn signin(state: &AppState) -> Result<&crate::signin::SignIn, ApiError> {
    state.signin.as_deref().ok_or_else(|| {
        ApiError::NotFound(
            "sign-in is not configured on this server (--oidc-issuer); use an API token".to_owned(),
        )
    })
}

fn provider_error(e: &crate::signin::SignInError) -> ApiError {
    tracing::warn!(error = %e, "sign-in failed at the identity provider");
    match e {
        crate::signin::SignInError::Verification(_) => ApiError::Forbidden(
            "the identity provider's answer does not check out; sign in again".to_owned(),
        ),
        _ => ApiError::Unavailable {
            what: "the identity provider",
            source: e.to_string().into(),
        },
    }
}

pub(crate) fn see_other(location: &str) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(location)
        .map_err(|_| ApiError::Internal("a redirect URL is not a header value".into()))?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response())
}

/// Starts a login at the issuer.
async fn login(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let signin = signin(&state)?;
    let start = signin.start().await.map_err(|e| provider_error(&e))?;
    let pending = PendingLogin {
        verifier: start.verifier,
        nonce: start.nonce,
        return_to: local_path(query.get("return_to").map(String::as_str)),
    };
    state
        .store
        .insert_login(&state.token_key.hash(&start.state), &pending, now())
        .await?;
    see_other(&start.url)
}

/// The session cookie: set to `value` for `max_age` seconds, or cleared.
pub(crate) fn session_set_cookie(
    value: &str,
    max_age: i64,
    secure: bool,
) -> Result<HeaderValue, ApiError> {
    let cookie = cookie::Cookie::build((SESSION_COOKIE, value.to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&cookie.to_string())
        .map_err(|_| ApiError::Internal("a cookie is not a header value".into()))
}

/// The issuer sends the browser back here.
async fn callback(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let signin = signin(&state)?;
    let Some(raw_state) = query.get("state") else {
        return Err(ApiError::invalid_parameter(
            "state",
            "missing: start at /auth/login",
        ));
    };
    // The login is used once, whatever the answer: a replayed callback finds nothing.
    let pending = state
        .store
        .take_login(&state.token_key.hash(raw_state), now())
        .await?
        .ok_or_else(|| {
            ApiError::invalid_parameter(
                "state",
                "unknown or expired sign-in (ten minutes at most); start again at /auth/login",
            )
        })?;
    if let Some(error) = query.get("error") {
        return Err(ApiError::Forbidden(format!(
            "the identity provider refused the sign-in: {}",
            error.chars().take(64).collect::<String>()
        )));
    }
    let code = query
        .get("code")
        .ok_or_else(|| ApiError::invalid_parameter("code", "missing"))?;
    let identity = signin
        .finish(code, &pending.verifier, &pending.nonce)
        .await
        .map_err(|e| provider_error(&e))?;
    let at = now();
    let grants = state.store.grants_of(&identity.to_string(), at).await?;
    let Some(grant) = grants.first() else {
        tracing::info!("sign-in of an identity without a grant refused");
        return Err(ApiError::Forbidden(
            "no role is granted to this identity here; ask your administrator".to_owned(),
        ));
    };
    tracing::info!(token = %grant.id, "signed in");
    start_session(
        &state,
        &grant.id,
        &identity.to_string(),
        &pending.return_to,
        signin.secure_cookie(),
    )
    .await
}

/// Opens a session of `subject` under the principal `token_id` (a grant, or the token the web
/// app's sign-in form took) and sends the browser to `target` with its cookie.
///
/// # Errors
/// [`ApiError`] when the session cannot be stored.
pub(crate) async fn start_session(
    state: &AppState,
    token_id: &str,
    subject: &str,
    target: &str,
    secure: bool,
) -> Result<Response, ApiError> {
    let at = now();
    let session = crate::tokens::random_secret();
    state
        .store
        .open_session(
            &state.token_key.hash(&session),
            token_id,
            subject,
            &crate::tokens::random_secret(),
            at,
            at.saturating_add(state.session_seconds),
        )
        .await?;
    let mut response = see_other(target)?;
    response.headers_mut().insert(
        SET_COOKIE,
        session_set_cookie(&session, state.session_seconds, secure)?,
    );
    Ok(response)
}

/// A grant, as a signed-in person sees it.
#[derive(Debug, Serialize)]
struct GrantView {
    grant_id: String,
    role: String,
    scope: String,
}

/// Who is signed in.
#[derive(Debug, Serialize)]
struct SessionView {
    /// `rpps:…` or `sub:…`.
    identity: String,
    /// The grant the session acts under.
    grant: GrantView,
    /// Every live grant of the identity (`POST /auth/session/grant` switches).
    grants: Vec<GrantView>,
    /// Send it in `X-CSRF-Token` with every state-changing request.
    csrf_token: String,
    expires_at: String,
}

fn grant_view(t: &crate::store::TokenRecord) -> GrantView {
    GrantView {
        grant_id: t.id.clone(),
        role: t.role.as_str().to_owned(),
        scope: t.scope.to_string(),
    }
}

async fn current(parts: &Parts, state: &AppState) -> Result<SessionRecord, ApiError> {
    session_of(parts, state)
        .await?
        .ok_or(ApiError::Unauthenticated)
}

async fn whoami(State(state): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    let session = current(&parts, &state).await?;
    let grants = state.store.grants_of(&session.subject, now()).await?;
    let view = SessionView {
        identity: session.subject.clone(),
        grant: grant_view(&session.grant),
        grants: grants.iter().map(grant_view).collect(),
        csrf_token: session.csrf.clone(),
        expires_at: super::wire::utc(session.expires_at),
    };
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(view),
    )
        .into_response())
}

/// Another grant to act under.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchRequest {
    grant_id: String,
}

async fn switch(
    State(state): State<AppState>,
    parts: Parts,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let session = current(&parts, &state).await?;
    check_csrf(&parts, &session.csrf)?;
    let request: SwitchRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::invalid_field("#/grant_id", "expected {\"grant_id\": \"…\"}"))?;
    let Some(id) = session_cookie(&parts.headers) else {
        return Err(ApiError::Unauthenticated);
    };
    if state
        .store
        .switch_session(&state.token_key.hash(&id), &request.grant_id, now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(
            "no live grant of your identity has this id".to_owned(),
        ))
    }
}

async fn logout(State(state): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    let session = current(&parts, &state).await?;
    check_csrf(&parts, &session.csrf)?;
    if let Some(id) = session_cookie(&parts.headers) {
        state
            .store
            .end_session(&state.token_key.hash(&id), now())
            .await?;
    }
    let secure = state
        .signin
        .as_deref()
        .is_some_and(crate::signin::SignIn::secure_cookie);
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, session_set_cookie("", 0, secure)?)],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_gone_back_to() {
        assert_eq!(local_path(Some("/garde/plans")), "/garde/plans");
        assert_eq!(local_path(Some("/a?b=c")), "/a?b=c");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "evil",
            "/\\evil",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; cpts_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_over_https() {
        let set = session_set_cookie("v", 60, true).expect("a header");
        let text = set.to_str().expect("text");
        for part in [
            "cpts_session=v",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        let plain = session_set_cookie("v", 60, false).expect("a header");
        assert!(!plain.to_str().expect("text").contains("Secure"));
    }
}
