//! FHIR R4 for the SAS (issue 19), under `/fhir`: the slot search as the SAS's aggregator sends
//! it (INT_R04 for CPTS, INT_R01), the reads of a Slot and a Schedule, the Practitioner search
//! by RPPS and the CapabilityStatement. This file reads the request, asks the slot room
//! ([`crate::slots`], the same search and board as `GET /slots`, by doctor) and `store`, and
//! hands the rows to [`crate::fhir`], which shapes the resources.
//!
//! Who: régulateurs, and the SAS aggregator's machine principal (a client certificate mapped
//! by `cpts cert map` to a régulateur token), read the slots of any territory, as on `/slots`.
//! `GET /fhir/metadata` answers without a token.
//!
//! Every answer is `application/fhir+json` (or `application/json+fhir` when that is the type
//! `Accept` asks for); every error, 401 and 403 included, is an OperationOutcome.

use super::auth::Regulateur;
use super::wire::negotiate;
use super::{ApiError, AppState, Path};
use crate::domain::{CabinetId, Rpps};
use crate::fhir::resources::Resource;
use crate::fhir::{self, Links, OperationOutcome, SlotSearch, sas};
use crate::slots::DoctorQuery;
use crate::store::PlaceRow;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metadata))
        .routes(routes!(search_slots))
        .routes(routes!(read_slot))
        .routes(routes!(read_schedule))
        .routes(routes!(search_practitioners))
        .routes(routes!(bulk_publish))
        .routes(routes!(bulk_file))
}

/// A FHIR R4 resource in JSON (a Bundle, a Slot, a Schedule, a CapabilityStatement), as the
/// SAS's profiles shape it; see the README's FHIR section.
#[derive(Debug, Serialize, ToSchema)]
pub struct FhirResource {
    #[serde(rename = "resourceType")]
    #[schema(example = "Bundle")]
    pub resource_type: String,
}

/// A FHIR OperationOutcome: every error of the `/fhir` routes.
#[derive(Debug, Serialize, ToSchema)]
pub struct FhirOutcome {
    #[serde(rename = "resourceType")]
    #[schema(example = "OperationOutcome")]
    pub resource_type: String,
    /// `{severity, code, diagnostics, expression}`.
    #[schema(value_type = Vec<Object>)]
    pub issue: Vec<serde_json::Value>,
}

/// A failed FHIR request: its status and OperationOutcome.
#[derive(Debug)]
pub struct FhirError(StatusCode, OperationOutcome);

impl FhirError {
    /// A 400 naming the search parameters that cannot be understood.
    fn bad_parameters(bad: &[fhir::BadParameter]) -> Self {
        Self(
            StatusCode::BAD_REQUEST,
            OperationOutcome::bad_parameters(bad),
        )
    }

    /// A 400 naming one parameter, and why.
    fn bad_parameter(parameter: &str, detail: String) -> Self {
        Self::bad_parameters(&[fhir::BadParameter {
            parameter: parameter.to_owned(),
            detail,
        }])
    }
}

impl From<ApiError> for FhirError {
    fn from(e: ApiError) -> Self {
        let status = e.status();
        if status.is_server_error() {
            tracing::error!(error = ?e, "request failed");
        }
        // FHIR's IssueType codes.
        let code = match status {
            StatusCode::UNAUTHORIZED => "login",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not-found",
            StatusCode::NOT_ACCEPTABLE => "not-supported",
            StatusCode::TOO_MANY_REQUESTS => "throttled",
            s if s.is_server_error() => "transient",
            _ => "invalid",
        };
        let diagnostics = e.problem().detail;
        Self(status, OperationOutcome::error(code, diagnostics))
    }
}

impl From<crate::store::Error> for FhirError {
    fn from(e: crate::store::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::slots::Error> for FhirError {
    fn from(e: crate::slots::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let unauthenticated = self.0 == StatusCode::UNAUTHORIZED;
        let mut response = fhir_json(self.0, fhir::FHIR_JSON, &Resource::OperationOutcome(self.1));
        if unauthenticated {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn fhir_json(status: StatusCode, media: &'static str, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).expect("a FHIR resource always serializes");
    (status, [(header::CONTENT_TYPE, media)], bytes).into_response()
}

/// The FHIR media type `Accept` prefers, or a 406.
fn accepted(headers: &HeaderMap) -> Result<&'static str, FhirError> {
    match negotiate(
        headers,
        &[fhir::FHIR_JSON, fhir::FHIR_JSON_LEGACY, "application/json"],
    ) {
        // Plain JSON is served as FHIR JSON.
        Some(fhir::FHIR_JSON_LEGACY) => Ok(fhir::FHIR_JSON_LEGACY),
        Some(_) => Ok(fhir::FHIR_JSON),
        None => Err(ApiError::NotAcceptable(fhir::FHIR_JSON).into()),
    }
}

/// A régulateur (or the SAS's mapped certificate), else the 401/403 as an OperationOutcome.
fn reader(caller: Result<Regulateur, ApiError>) -> Result<Regulateur, FhirError> {
    caller.map_err(FhirError::from)
}

/// Where our answers point: `--public-url`, else `http://` + the request's `Host`.
fn links(state: &AppState, headers: &HeaderMap) -> Links {
    if let Some(base) = &state.public_url {
        return Links::at(base);
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.parse::<axum::http::uri::Authority>().is_ok())
        .unwrap_or("localhost");
    Links::at(&format!("http://{host}"))
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The capabilities of this server: what the `/fhir` routes implement.
#[utoipa::path(get, path = "/fhir/metadata", tag = "fhir",
    responses(
        (status = 200, description = "The CapabilityStatement", body = FhirResource, content_type = "application/fhir+json"),
        (status = 406, description = "`Accept` refuses FHIR JSON", body = FhirOutcome, content_type = "application/fhir+json"),
    ))]
async fn metadata(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let media = accepted(&headers)?;
    let links = links(&state, &headers);
    Ok(fhir_json(
        StatusCode::OK,
        media,
        &fhir::capabilities::statement(&links.fhir_base),
    ))
}

/// The free slots of 1 to 25 practitioners as a searchset Bundle (INT_R04, INT_R01).
#[utoipa::path(get, path = "/fhir/Slot", tag = "fhir",
    security(("bearer" = [])),
    params(
        ("start" = Option<Vec<String>>, Query, description = "`ge…` and `le…` (or `gt`, `lt`): an RFC 3339 instant, a Europe/Paris date-time, or a date; at most 31 days apart (default: the next 7 days)"),
        ("schedule.actor:Practitioner.identifier" = String, Query, description = "`urn:oid:1.2.250.1.71.4.2.1|8<RPPS>`, 1 to 25, comma-separated; the system and the `8` are optional"),
        ("status" = Option<String>, Query, description = "`free` (the default and the only value)"),
        ("_count" = Option<u32>, Query, description = "0 to 1000 Slots in the page; `total` counts them all"),
        ("_include" = Option<Vec<String>>, Query, description = "`Slot:schedule`, `Slot:service-type-reference`"),
        ("_include:iterate" = Option<Vec<String>>, Query, description = "`Schedule:actor`, `HealthcareService:organization`"),
    ),
    responses(
        (status = 200, description = "A searchset Bundle: the Slots (`match`), then the included Schedules, Practitioners, PractitionerRoles, HealthcareServices and Organizations (`include`)", body = FhirResource, content_type = "application/fhir+json"),
        (status = 400, description = "A search parameter cannot be understood (`expression` names it)", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 401, description = "No valid token or certificate", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 403, description = "Not a régulateur", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 406, description = "`Accept` refuses FHIR JSON", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 503, description = "The database does not answer", body = FhirOutcome, content_type = "application/fhir+json"),
    ))]
async fn search_slots(
    caller: Result<Regulateur, ApiError>,
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, FhirError> {
    reader(caller)?;
    let media = accepted(&headers)?;
    let now = chrono::Utc::now().timestamp();
    let search = SlotSearch::parse(&query_pairs(&uri), now)
        .map_err(|bad| FhirError::bad_parameters(&bad))?;
    let room = state.slots(state.store.clone());
    let found = room
        .search_doctors(&DoctorQuery {
            from: search.from,
            to: search.to,
            doctors: search.practitioners.clone(),
        })
        .await?;
    let total = found.len() as u64;
    let page: Vec<_> = found
        .into_iter()
        .take(search.count.unwrap_or(usize::MAX))
        .map(|f| f.slot)
        .collect();
    let (places, names) = context(&state, &page).await?;
    let links = links(&state, &headers);
    let self_url = self_link(&links, &search);
    tracing::debug!(
        practitioners = search.practitioners.len(),
        total,
        "fhir slot search"
    );
    let bundle = sas::searchset(
        &links,
        self_url,
        total,
        &page,
        &places,
        &names,
        search.includes,
    );
    Ok(fhir_json(StatusCode::OK, media, &Resource::Bundle(bundle)))
}

/// The cabinets (with their CPTS) and the doctors' names of a page of slots.
async fn context(
    state: &AppState,
    slots: &[crate::store::SlotRecord],
) -> Result<(HashMap<CabinetId, PlaceRow>, HashMap<Rpps, String>), FhirError> {
    let places = places_of(state, slots).await?;
    let mut doctors: Vec<Rpps> = slots.iter().map(|s| s.rpps.clone()).collect();
    doctors.sort();
    doctors.dedup();
    let names = state.store.doctor_names(&doctors).await?;
    Ok((places, names))
}

/// The cabinets (with their CPTS) of `slots`, by id.
async fn places_of<'a>(
    state: &AppState,
    slots: impl IntoIterator<Item = &'a crate::store::SlotRecord>,
) -> Result<HashMap<CabinetId, PlaceRow>, FhirError> {
    let mut cabinets: Vec<CabinetId> = slots.into_iter().map(|s| s.cabinet_id.clone()).collect();
    cabinets.sort();
    cabinets.dedup();
    Ok(state
        .store
        .places(&cabinets)
        .await?
        .into_iter()
        .map(|p| (p.cabinet.id.clone(), p))
        .collect())
}

/// The search as understood, in the SAS's own spelling.
fn self_link(links: &Links, s: &SlotSearch) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let i = s.includes;
    for (on, name, value) in [
        (i.schedule, "_include", "Slot:schedule"),
        (i.actors, "_include:iterate", "Schedule:actor"),
        (i.service, "_include", "Slot:service-type-reference"),
        (
            i.organization,
            "_include:iterate",
            "HealthcareService:organization",
        ),
    ] {
        if on {
            q.append_pair(name, value);
        }
    }
    q.append_pair("start", &format!("ge{}", sas_instant(s.from)));
    q.append_pair("start", &format!("lt{}", sas_instant(s.to)));
    let ids: Vec<String> = s
        .practitioners
        .iter()
        .map(|r| format!("{}|{}", sas::RPPS_SYSTEM, sas::idnps(r)))
        .collect();
    q.append_pair(fhir::search::PRACTITIONER_PARAMETER, &ids.join(","));
    q.append_pair("status", "free");
    if let Some(n) = s.count {
        q.append_pair("_count", &n.to_string());
    }
    format!("{}/Slot?{}", links.fhir_base, q.finish())
}

fn sas_instant(t: i64) -> String {
    crate::garde::calendar::paris_rfc3339(t)
}

fn not_found(what: &str) -> FhirError {
    FhirError(
        StatusCode::NOT_FOUND,
        OperationOutcome::error("not-found", format!("no {what} with this id")),
    )
}

/// A Slot, free or busy (a withdrawn slot is gone: 404).
#[utoipa::path(get, path = "/fhir/Slot/{id}", tag = "fhir",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The slot id")),
    responses(
        (status = 200, description = "The Slot (`status` free or busy)", body = FhirResource, content_type = "application/fhir+json"),
        (status = 401, description = "No valid token or certificate", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 403, description = "Not a régulateur", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 404, description = "No such slot", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 406, description = "`Accept` refuses FHIR JSON", body = FhirOutcome, content_type = "application/fhir+json"),
    ))]
async fn read_slot(
    caller: Result<Regulateur, ApiError>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, FhirError> {
    reader(caller)?;
    let media = accepted(&headers)?;
    let id = raw
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| not_found("Slot"))?;
    let (slot, booked) = state
        .store
        .slot_state(id)
        .await?
        .ok_or_else(|| not_found("Slot"))?;
    let places = state
        .store
        .places(std::slice::from_ref(&slot.cabinet_id))
        .await?;
    let links = links(&state, &headers);
    let resource = sas::slot(&links, &slot, !booked, places.first());
    Ok(fhir_json(StatusCode::OK, media, &Resource::Slot(resource)))
}

/// The Schedule of a doctor at a cabinet (a Slot's `schedule`).
#[utoipa::path(get, path = "/fhir/Schedule/{id}", tag = "fhir",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "`{rpps}-{cabinet key}`, as a Slot refers to it")),
    responses(
        (status = 200, description = "The Schedule", body = FhirResource, content_type = "application/fhir+json"),
        (status = 401, description = "No valid token or certificate", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 403, description = "Not a régulateur", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 404, description = "No such schedule", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 406, description = "`Accept` refuses FHIR JSON", body = FhirOutcome, content_type = "application/fhir+json"),
    ))]
async fn read_schedule(
    caller: Result<Regulateur, ApiError>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, FhirError> {
    reader(caller)?;
    let media = accepted(&headers)?;
    let (rpps, key) = sas::parse_schedule_id(&raw).ok_or_else(|| not_found("Schedule"))?;
    // The key is a digest: find the cabinet it names among the cabinets (a few hundred).
    let cabinet = state
        .store
        .cabinets(None)
        .await?
        .into_iter()
        .map(|c| c.id)
        .find(|id| sas::cabinet_key(id) == key)
        .ok_or_else(|| not_found("Schedule"))?;
    if !state.store.has_slots_at(&rpps, &cabinet).await? {
        return Err(not_found("Schedule"));
    }
    let resource = sas::schedule(&rpps, &cabinet);
    Ok(fhir_json(
        StatusCode::OK,
        media,
        &Resource::Schedule(resource),
    ))
}

/// The practitioner of an RPPS, as a searchset (empty when we do not know him).
#[utoipa::path(get, path = "/fhir/Practitioner", tag = "fhir",
    security(("bearer" = [])),
    params(("identifier" = String, Query, description = "`urn:oid:1.2.250.1.71.4.2.1|8<RPPS>`; the system and the `8` are optional")),
    responses(
        (status = 200, description = "A searchset Bundle of 0 or 1 Practitioner", body = FhirResource, content_type = "application/fhir+json"),
        (status = 400, description = "No identifier, or not an RPPS", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 401, description = "No valid token or certificate", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 403, description = "Not a régulateur", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 406, description = "`Accept` refuses FHIR JSON", body = FhirOutcome, content_type = "application/fhir+json"),
    ))]
async fn search_practitioners(
    caller: Result<Regulateur, ApiError>,
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, FhirError> {
    reader(caller)?;
    let media = accepted(&headers)?;
    let pairs = query_pairs(&uri);
    let values: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "identifier")
        .map(|(_, v)| v.as_str())
        .collect();
    let rpps = match values.as_slice() {
        [one] => fhir::search::practitioner(one),
        _ => Err("give one identifier: urn:oid:1.2.250.1.71.4.2.1|8<RPPS>".to_owned()),
    }
    .map_err(|detail| FhirError::bad_parameter("identifier", detail))?;
    let names = state
        .store
        .doctor_names(std::slice::from_ref(&rpps))
        .await?;
    let links = links(&state, &headers);
    let entry: Vec<_> = names
        .get(&rpps)
        .map(|name| {
            let p = Resource::Practitioner(sas::practitioner(&rpps, Some(name)));
            sas::entry(&links, p, "match")
        })
        .into_iter()
        .collect();
    let bundle = fhir::Bundle {
        meta: None,
        kind: "searchset",
        total: Some(entry.len() as u64),
        link: vec![fhir::resources::BundleLink {
            relation: "self",
            url: format!(
                "{}/Practitioner?identifier={}%7C{}",
                links.fhir_base,
                sas::RPPS_SYSTEM,
                sas::idnps(&rpps)
            ),
        }],
        entry,
    };
    Ok(fhir_json(StatusCode::OK, media, &Resource::Bundle(bundle)))
}

/// How long an aggregator may reuse a `$bulk-publish` answer, in seconds (SMART Scheduling
/// Links clients poll every 1 to 5 minutes).
const BULK_MAX_AGE: u32 = 60;

/// `_since`, if given: an RFC 3339 instant, a Europe/Paris date-time or a date.
fn since_parameter(uri: &Uri) -> Result<Option<(String, i64)>, FhirError> {
    let pairs = query_pairs(uri);
    let values: Vec<&String> = pairs
        .iter()
        .filter(|(k, _)| k == "_since")
        .map(|(_, v)| v)
        .collect();
    let bad = |detail: String| FhirError::bad_parameter("_since", detail);
    match values.as_slice() {
        [] => Ok(None),
        [one] => fhir::search::instant(one)
            .map(|(t, _)| Some(((*one).clone(), t)))
            .map_err(bad),
        _ => Err(bad("give _since once".to_owned())),
    }
}

/// `Cache-Control` of the `$bulk-publish` answers.
fn cache_control() -> String {
    format!("public, max-age={BULK_MAX_AGE}")
}

/// A public, cacheable answer: `Cache-Control`, a strong `ETag` of the body, and 304 when
/// `If-None-Match` names it.
fn cacheable(headers: &HeaderMap, media: &'static str, body: Vec<u8>) -> Response {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(&body);
    let etag: String = format!(
        "\"{}\"",
        digest[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let cache = cache_control();
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, media.to_owned()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// The SMART Scheduling Links manifest of the garde's public slots: the URLs of the
/// Location, Schedule and Slot files. Public: any aggregator may read it.
#[utoipa::path(get, path = "/fhir/$bulk-publish", tag = "fhir",
    params(("_since" = Option<String>, Query, description = "An instant (RFC 3339, a Europe/Paris date-time, or a date): the Slot file then lists only the slots changed since (a client passes the last manifest's `transactionTime`)")),
    responses(
        (status = 200, description = "The manifest: `transactionTime`, `request`, `output` (`type`, `url`), `error`; `Cache-Control: public, max-age=60`", body = Object, content_type = "application/json"),
        (status = 400, description = "`_since` cannot be understood", body = FhirOutcome, content_type = "application/fhir+json"),
    ))]
async fn bulk_publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, FhirError> {
    let since = since_parameter(&uri)?;
    let links = links(&state, &headers);
    let now = chrono::Utc::now().timestamp();
    let manifest = fhir::bulk::manifest(
        &links.fhir_base,
        now,
        since.as_ref().map(|(s, _)| s.as_str()),
    );
    let body = serde_json::to_vec(&manifest).expect("a manifest always serializes");
    // No ETag: its transactionTime changes every second.
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CACHE_CONTROL, cache_control()),
        ],
        body,
    )
        .into_response())
}

/// One NDJSON file of the manifest: `Location.ndjson`, `Schedule.ndjson` or `Slot.ndjson`.
#[utoipa::path(get, path = "/fhir/$bulk-publish/{file}", tag = "fhir",
    params(
        ("file" = String, Path, description = "`Location.ndjson`, `Schedule.ndjson` or `Slot.ndjson`"),
        ("_since" = Option<String>, Query, description = "Slot file only: the slots changed since this instant, withdrawn ones as `busy-unavailable`"),
    ),
    responses(
        (status = 200, description = "One FHIR R4 resource per line; `Cache-Control: public, max-age=60` and an `ETag`", body = String, content_type = "application/fhir+ndjson"),
        (status = 304, description = "`If-None-Match` names the current `ETag`"),
        (status = 400, description = "`_since` cannot be understood", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 404, description = "No such file", body = FhirOutcome, content_type = "application/fhir+json"),
        (status = 503, description = "The database does not answer", body = FhirOutcome, content_type = "application/fhir+json"),
    ))]
async fn bulk_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(file): Path<String>,
) -> Result<Response, FhirError> {
    use fhir::bulk::{self, Published};
    let kind = file
        .strip_suffix(".ndjson")
        .filter(|k| bulk::FILES.contains(k))
        .ok_or_else(|| not_found("file"))?;
    let since = since_parameter(&uri)?;
    let links = links(&state, &headers);
    let from = chrono::Utc::now().timestamp();
    let to = from + bulk::HORIZON_DAYS * 86_400;
    let resources: Vec<Published> = if kind == "Slot" {
        let rows = state
            .store
            .public_slots(from, to, since.map(|(_, t)| t))
            .await?;
        let places = places_of(&state, rows.iter().map(|r| &r.slot)).await?;
        rows.iter()
            .filter_map(|r| {
                let place = places.get(&r.slot.cabinet_id)?;
                Some(Published::Slot(bulk::slot(&links.app_base, r, place)))
            })
            .collect()
    } else {
        let cabinets = state.store.public_cabinets(from, to).await?;
        let places = state.store.places(&cabinets).await?;
        places
            .iter()
            .map(|p| {
                if kind == "Location" {
                    Published::Location(bulk::location(&links.app_base, p))
                } else {
                    Published::Schedule(bulk::schedule(p))
                }
            })
            .collect()
    };
    Ok(cacheable(&headers, bulk::NDJSON, bulk::ndjson(&resources)))
}
