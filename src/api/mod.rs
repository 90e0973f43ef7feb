//! The HTTP API (axum): [`AppState`], [`router`], one file per resource.
//!
//! Handlers parse at the boundary (wire types → domain types), call `store` (and, for long
//! work, `jobs`), and convert back. No SQL here; no solver logic here (`matching`, `garde`).
//! Every error is an [`ApiError`], answered as RFC 9457 problem+json.
//!
//! # Adding a resource (see `doctors.rs`, the pattern)
//!
//! 1. **File.** `src/api/<resource>.rs` with `pub(super) fn routes() -> OpenApiRouter<AppState>`
//!    listing its handlers with `routes!(…)`; merge it in [`router`] below (`.merge(x::routes())`).
//!    Paths use axum 0.8 syntax: `/cabinets/{cabinet_id}`.
//! 2. **Who.** Make the auth extractor the *first* argument, so 401/403 come before 404/422:
//!    [`CpamStaff`], [`Regulateur`], [`Coordinateur`], [`OwnRpps`] (a médecin on its own
//!    `{rpps}` route), [`Medecin`], or [`Caller`] with `caller.require(&[Role::Cpam, …])?` when
//!    several roles share a route.
//! 3. **Input.** Body: [`Json<T>`] from this module (not `axum::Json`): a bad field is a 422
//!    whose `pointer` is `#/field`; give `T` domain types (`Rpps`, `MaxKm`, `PatientId`…) so
//!    serde's `try_from` does the validation, and `#[serde(deny_unknown_fields)]`. Path: take
//!    [`Path<String>`](Path) and [`parse_param`]`::<Rpps>("rpps", &raw)?` (422 naming the
//!    parameter). Cross-field rules: `ApiError::invalid_field("#/end", "must be after start")`.
//! 4. **Work.** A `Store` method in `src/store/<aggregate>.rs` (SQL only there, `$1`
//!    placeholders, types per `store`'s conventions, new tables in *both* migration folders).
//!    `?` maps `store::Error` (503 when the database is down, 409 on a unique violation); map
//!    an expected conflict yourself first, with its own variant and problem type (add the
//!    variant to [`ApiError`]: the exhaustive matches then ask for its status and `type`, and
//!    list it in the README's problem types).
//! 5. **Output.** A wire struct deriving `Serialize` + `ToSchema`, built `From` the record;
//!    never log bodies or patient fields (`tracing` fields: ids only).
//! 6. **OpenAPI.** `#[utoipa::path(method, path, tag, security(("bearer" = [])), params(…),
//!    request_body = T, responses(…))]` on each handler, listing every status it can answer
//!    with `body = Problem, content_type = "application/problem+json"` for errors.
//! 7. **Tests.** `tests/api/<resource>.rs`, one `both_backends!` per test (SQLite and
//!    PostgreSQL), one `TestApp` helper per endpoint returning the raw response; cover the
//!    happy path, 401 (no token, bad token), 403 (wrong role, other RPPS), 422 with its
//!    pointer, 404, and check the stored state through `app.store`.

mod attachment;
pub use attachment::announce_proposals;
mod audit;
pub mod auth;
pub mod authz;
mod availability;
mod batches;
mod cabinets;
mod calendar;
mod communes;
mod docs;
mod doctors;
pub mod error;
mod events;
mod fhir;
mod garde_plans;
mod grants;
mod headers;
mod health;
mod holds;
mod idempotency;
mod imports;
mod jobs;
pub mod json;
mod metrics;
mod preferences;
mod rate_limit;
mod repair;
pub mod signin;
mod slots;
mod swaps;
mod tableau;
mod territories;
mod wire;

pub use auth::{Admin, Auditeur, Caller, Coordinateur, CpamStaff, Medecin, OwnRpps, Regulateur};
pub use error::{ApiError, FieldError, Problem};
pub use events::StreamGate;
pub use json::Json;

use crate::cache::Cache;
use crate::store::Store;
use crate::tokens::TokenKey;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{Request, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::de::DeserializeOwned;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

/// Longest a request may take by default; long work goes to jobs and answers 202 at once.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest JSON body by default; a CSV import route raises its own limit with
/// `DefaultBodyLimit::max` on that route.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler can reach. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    /// Now, for deadlines (shifted in tests).
    pub clock: crate::clock::Clock,
    /// `None` when `REDIS_URL` is unset (development only).
    pub cache: Option<Cache>,
    /// The slot board searches read (`slots::board`); `None` with `--slot-board-seconds 0`.
    pub board: Option<crate::slots::Board>,
    pub token_key: Arc<TokenKey>,
    /// The token rows read lately (`--token-cache-seconds`).
    pub token_cache: Arc<crate::tokens::TokenCache>,
    /// Wakes this process's job worker after a job is enqueued (workers of other processes
    /// poll the jobs table).
    pub wake_worker: Arc<tokio::sync::Notify>,
    /// Body sizes and the request timeout (`Config`'s `max_*_bytes`, `request_timeout_*`).
    pub limits: Limits,
    /// The caps on open event streams (`--max-event-streams[-per-token]`).
    pub streams: Arc<events::StreamGate>,
    /// Open and refused connections, counted by the accept loop (for `/metrics`).
    pub connections: Arc<crate::startup::ConnectionStats>,
    /// Sign-in of people with OpenID Connect (`--oidc-issuer`); `None`: API tokens only.
    pub signin: Option<Arc<crate::signin::SignIn>>,
    /// How long a session lasts from sign-in (`--session-hours`).
    pub session_seconds: i64,
    /// The service's public base URL (`--public-url`), for the FHIR answers' links; `None`:
    /// `http://` + the request's `Host`.
    pub public_url: Option<Arc<str>>,
    /// How the web app is served (`crate::web`).
    pub web: Arc<crate::web::WebSettings>,
}

impl AppState {
    /// The slot room over this state's Redis and board, writing through `store` (the
    /// caller's, `caller.store(&state)`, so that the audit trail names who booked).
    pub fn slots(&self, store: Store) -> crate::slots::Slots {
        crate::slots::Slots::new(store, self.cache.clone(), self.board.clone())
    }
}

/// Limits on requests, from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest body of any route but the CSV imports (413 beyond).
    pub body_bytes: usize,
    /// Largest CSV import body, counted as it streams (413 beyond).
    pub import_bytes: usize,
    /// Longest a request may take (503 `/problems/timeout` beyond).
    pub request_timeout: Duration,
    /// Longest a CSV import (`/imports/…`) may take.
    pub import_timeout: Duration,
}

impl Limits {
    /// The timeout of a request to `path`.
    pub fn timeout_of(&self, path: &str) -> Duration {
        if path.starts_with("/imports/") {
            self.import_timeout
        } else {
            self.request_timeout
        }
    }
}

/// Answers 503 `/problems/timeout` when the handler takes longer than its route's limit
/// ([`Limits::timeout_of`]); the handler's future is dropped, so its transaction rolls back.
async fn timeout(
    axum::extract::State(limits): axum::extract::State<Limits>,
    req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let limit = limits.timeout_of(req.uri().path());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(limit.as_secs()).into_response(),
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: BODY_LIMIT,
            import_bytes: imports::IMPORT_LIMIT,
            request_timeout: REQUEST_TIMEOUT,
            import_timeout: imports::IMPORT_TIMEOUT,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cpts",
        description = "Médecin-traitant matching and cabinet de garde rosters for CPTS, CPAM \
                       and Centre 15. Errors are RFC 9457 problem+json."
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "doctors", description = "GPs and their declared capacity"),
        (name = "imports", description = "CPAM CSV imports of patients and doctors"),
        (name = "jobs", description = "Long work: status, progress, summary"),
        (name = "batches", description = "Matching batches over a territory and their results"),
        (name = "proposals", description = "From batch to médecin traitant: proposals to GPs, their answers, the list of patients and the attachment report"),
        (name = "garde", description = "Garde plans: roster, unfilled positions, publication"),
        (name = "cabinets", description = "Cabinets de garde, managed by CPTS coordinators"),
        (name = "availability", description = "GPs' garde availability windows and limits"),
        (name = "slots", description = "Free consultation slots near a patient; bookings"),
        (name = "audit", description = "The append-only audit trail, for auditeur tokens"),
        (name = "territories", description = "The CPTS tokens and cabinets are bound to; managed by admin tokens"),
        (name = "fhir", description = "FHIR R4 for the SAS (IG ans.fhir.fr.sas): the garde's free slots, application/fhir+json; errors are OperationOutcome")
    )
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("cpts_<id>_<secret>, from `cpts token create`")
                    .build(),
            ),
        );
    }
}

/// The routes and their OpenAPI document, before state and middleware.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(doctors::routes())
        .merge(imports::routes())
        .merge(jobs::routes())
        .merge(batches::routes())
        .merge(attachment::routes())
        .merge(calendar::routes())
        .merge(tableau::routes())
        .merge(garde_plans::routes())
        .merge(cabinets::routes())
        .merge(availability::routes())
        .merge(preferences::routes())
        .merge(repair::routes())
        .merge(swaps::routes())
        .merge(slots::routes())
        .merge(audit::routes())
        .merge(holds::routes())
        .merge(events::routes())
        .merge(territories::routes())
        .merge(communes::routes())
        .merge(grants::routes())
        .merge(fhir::routes())
        .split_for_parts();
    (router, with_uri_text_rule(doc))
}

/// Every route answers 422 for a control character or a bidi override in its path or query
/// (`headers::apply`, before any handler): documented on each operation that does not list a
/// 422 of its own.
fn with_uri_text_rule(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let response = ResponseBuilder::new()
        .description(
            "A control character or a bidirectional override in the path or the query \
             (`parameter`)",
        )
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            op.responses
                .responses
                .entry("422".to_owned())
                .or_insert_with(|| response.clone().into());
        }
    }
    doc
}

/// The OpenAPI 3.1 document of the service.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// Every route of the service, with its middleware: a request span (method and route
/// template, never the URI: it may hold ids), a timeout, a body limit, panics answered 500,
/// and problem+json for unknown routes and methods.
pub fn router(state: AppState) -> Router {
    let limits = state.limits;
    let (routes, doc) = api();
    let page: Arc<str> = docs::render(&doc).into();
    let doc: Arc<str> = doc
        .to_json()
        .expect("the OpenAPI document serializes")
        .into();
    routes
        .route(
            "/openapi.json",
            get(move || {
                let doc = Arc::clone(&doc);
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .route(
            "/docs",
            get(move || {
                let page = Arc::clone(&page);
                async move {
                    (
                        [(header::CONTENT_SECURITY_POLICY, docs::DOCS_CSP)],
                        Html(page.to_string()),
                    )
                }
            }),
        )
        .route("/metrics", get(metrics::metrics))
        .merge(signin::routes())
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::NotFound("no such resource".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Inside the request span and the timeout, so a 429 is logged like any answer.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .layer(axum::middleware::from_fn(metrics::record))
        .layer(
            ServiceBuilder::new()
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                        // ApiError logs 5xx once, with its cause.
                        .on_failure(()),
                )
                .layer(CatchPanicLayer::custom(
                    |_panic: Box<dyn std::any::Any + Send>| {
                        ApiError::Internal("a handler panicked".into()).into_response()
                    },
                ))
                .layer(axum::middleware::from_fn_with_state(limits, timeout)),
        )
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::middleware::from_fn(headers::apply))
        .with_state(state)
}

fn request_span(req: &Request<axum::body::Body>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        token = tracing::field::Empty,
    )
}

/// A path parameter; rejections are problem+json. Prefer `Path<String>` and
/// [`parse_param`], which names the parameter in the 422.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let name = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key }
                    | ErrorKind::DeserializeError { key, .. } => key.clone(),
                    _ => "path".to_owned(),
                };
                Err(ApiError::invalid_parameter(&name, e.body_text()))
            }
            Err(e) => Err(ApiError::Internal(Box::new(e))),
        }
    }
}

/// The `limit` query parameter of a paged list: an integer from 1 to `max`; a 422 naming it
/// otherwise.
///
/// # Errors
/// [`ApiError::Invalid`] naming `limit`.
pub fn limit_param(raw: &str, max: u64) -> Result<u64, ApiError> {
    raw.parse()
        .ok()
        .filter(|l| (1..=max).contains(l))
        .ok_or_else(|| {
            ApiError::invalid_parameter("limit", format!("expected an integer from 1 to {max}"))
        })
}

/// Largest `max_km` the API takes (a doctor's, a garde limit, a batch's default), in km.
pub const MAX_API_KM: f64 = 200.0;
/// Largest médecin-traitant capacity the API takes.
pub const MAX_CAPACITY: u32 = 10_000;

/// A 422 at `pointer` when `km` exceeds [`MAX_API_KM`].
///
/// # Errors
/// [`ApiError::Invalid`] naming the field.
pub fn check_max_km(pointer: &str, km: Option<crate::domain::MaxKm>) -> Result<(), ApiError> {
    match km {
        Some(km) if km.km() > MAX_API_KM => Err(ApiError::invalid_field(
            pointer,
            format!("must be greater than 0 and at most {MAX_API_KM:.0} km"),
        )),
        _ => Ok(()),
    }
}

/// The `offset` query parameter of a paged list: 0 to 1,000,000 (default 0).
///
/// # Errors
/// [`ApiError::Invalid`] naming `offset`.
pub fn offset_param(raw: Option<&str>) -> Result<u64, ApiError> {
    match raw.map(str::parse::<u64>) {
        None => Ok(0),
        Some(Ok(o)) if o <= 1_000_000 => Ok(o),
        Some(_) => Err(ApiError::invalid_parameter(
            "offset",
            "expected an integer from 0 to 1000000",
        )),
    }
}

/// Parses a path or query parameter into a domain type; a 422 naming `name` otherwise.
///
/// # Errors
/// [`ApiError::Invalid`] with the parse error's message.
pub fn parse_param<T>(name: &str, raw: &str) -> Result<T, ApiError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    raw.parse()
        .map_err(|e| ApiError::invalid_parameter(name, e))
}

/// The `(key, value)` pairs of a query string; 422 naming a key outside `known` or given twice.
pub(crate) fn query_pairs(
    query: Option<&str>,
    known: &[&str],
) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !known.contains(&k.as_ref()) {
            return Err(ApiError::invalid_parameter(
                &k,
                format!("unknown parameter; expected {}", known.join(", ")),
            ));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(ApiError::invalid_parameter(&k, "given twice"));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}
