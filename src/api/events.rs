//! `GET /slots/events`: Server-Sent Events about the slots of an area, for régulateurs (and
//! coordinators): `held`, `released` (`reason`: `released` or `expired`), `booked` and `freed`
//! (a booking cancelled), `published` (a new slot, when a garde plan is published: `plan_id`),
//! and the living roster's: `withdrawn` (its doctor was taken off the shift: `withdrawal_id`,
//! and `booking_id` when that booking is now flagged), `moved` (a flagged booking moved to this
//! slot by a repair: `booking_id`, `from_slot_id`) and `swapped` (the slot changed doctor in
//! the bourse aux gardes: `offer_id`, `rpps`, and `booking_id` when booked).
//!
//! Every API process appends changes to one Redis Stream and reads it back
//! (`cache::events`), so a listener hears of changes made through any process, within a
//! second. Each event's `id` is its stream id: a client that reconnects with `Last-Event-ID`
//! (the header EventSource sends, or the `last_event_id` parameter) gets every event after
//! that one, then the live ones. The first event, `ready`, carries the starting id, so a
//! client that heard nothing else still resumes from where it connected.
//!
//! The area is filtered here, on the server: the cabinet of the slot must lie within
//! `radius_km` of the point (or of the commune's centroid), by the haversine of FORMATS.md §1.

use super::{ApiError, AppState, Caller, FieldError, Problem};
use crate::cache::StreamId;
use crate::domain::{InseeCode, Role};
use crate::geo::{Coordinates, commune_centroid, haversine_m};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(slot_events))
}

/// A comment line this often keeps proxies from closing a quiet stream, and finds a peer that
/// went away: the write fails, the body is dropped, the stream's place is given back.
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a client refused for too many streams is asked to wait.
const STREAMS_RETRY_AFTER_SECONDS: u64 = 30;

/// The caps on open event streams, in all and per token (`--max-event-streams`,
/// `--max-event-streams-per-token`). A [`StreamPlace`] gives its place back when the stream
/// ends, however it ends.
#[derive(Debug)]
pub struct StreamGate {
    max_total: usize,
    max_per_token: usize,
    open: std::sync::Mutex<(usize, std::collections::HashMap<String, usize>)>,
}

/// One open stream's place in the [`StreamGate`].
#[derive(Debug)]
pub struct StreamPlace {
    gate: std::sync::Arc<StreamGate>,
    token: String,
}

impl StreamGate {
    /// A gate with these caps.
    pub fn new(max_total: usize, max_per_token: usize) -> Self {
        Self {
            max_total,
            max_per_token,
            open: std::sync::Mutex::default(),
        }
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.lock().0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, std::collections::HashMap<String, usize>)> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for one more stream of `token`.
    ///
    /// # Errors
    /// [`ApiError::TooManyStreams`] when a cap is reached.
    pub fn enter(self: &std::sync::Arc<Self>, token: &str) -> Result<StreamPlace, ApiError> {
        let mut open = self.lock();
        if open.0 >= self.max_total {
            return Err(ApiError::TooManyStreams(
                format!(
                    "the server has {} event streams open; retry later",
                    self.max_total
                ),
                STREAMS_RETRY_AFTER_SECONDS,
            ));
        }
        let mine = open.1.get(token).copied().unwrap_or(0);
        if mine >= self.max_per_token {
            return Err(ApiError::TooManyStreams(
                format!(
                    "this token has {} event streams open, the most allowed; close one, or retry later",
                    self.max_per_token
                ),
                STREAMS_RETRY_AFTER_SECONDS,
            ));
        }
        open.0 += 1;
        *open.1.entry(token.to_owned()).or_default() += 1;
        Ok(StreamPlace {
            gate: std::sync::Arc::clone(self),
            token: token.to_owned(),
        })
    }
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut open = self.gate.lock();
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.token) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.token);
            }
        }
    }
}

/// The query of `GET /slots/events`. Give `lat` and `lon`, or `insee`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters for OpenAPI; `Listen::parse` reads them
pub struct EventsQuery {
    /// Latitude of the area's centre, WGS84 degrees (with `lon`).
    pub lat: Option<f64>,
    /// Longitude of the area's centre (with `lat`).
    pub lon: Option<f64>,
    /// INSEE code of a commune: the area is centred on its centroid.
    #[param(value_type = Option<String>, example = "54395")]
    pub insee: Option<String>,
    /// Radius in km, > 0 and ≤ 200 (default 20).
    pub radius_km: Option<f64>,
    /// Resume after this event id (as the `Last-Event-ID` header does; the header wins).
    #[param(value_type = Option<String>, example = "1767225600000-0")]
    pub last_event_id: Option<String>,
}

/// An area and a starting point, parsed.
#[derive(Debug)]
struct Listen {
    center: Coordinates,
    radius_m: f64,
    from: Option<StreamId>,
}

impl Listen {
    fn contains(&self, position: Option<(f64, f64)>) -> bool {
        position
            .and_then(|(lat, lon)| Coordinates::new(lat, lon).ok())
            .is_some_and(|p| haversine_m(self.center, p) <= self.radius_m)
    }

    fn parse(pairs: Vec<(String, String)>, header: Option<&str>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let mut bad = |name: &str, detail: &str| {
            errors.push(FieldError::at_parameter(name, detail));
        };
        let (mut lat, mut lon, mut insee, mut radius_km, mut from) = (None, None, None, None, None);
        for (key, value) in &pairs {
            match key.as_str() {
                "lat" | "lon" => match value.parse::<f64>() {
                    Ok(v) if v.is_finite() => {
                        if key == "lat" {
                            lat = Some(v);
                        } else {
                            lon = Some(v);
                        }
                    }
                    _ => bad(key, "expected a number of degrees"),
                },
                "insee" => match value.parse::<InseeCode>() {
                    Ok(c) => match commune_centroid(c.as_str()) {
                        Some(p) => insee = Some(p),
                        None => bad("insee", "no commune has this INSEE code"),
                    },
                    Err(e) => bad("insee", &e.to_string()),
                },
                "radius_km" => match value.parse::<f64>() {
                    Ok(r) if r.is_finite() && r > 0.0 && r <= super::slots::MAX_RADIUS_KM => {
                        radius_km = Some(r);
                    }
                    _ => bad("radius_km", "expected a number of kilometres > 0 and ≤ 200"),
                },
                "last_event_id" => match value.parse::<StreamId>() {
                    Ok(id) => from = Some(id),
                    Err(e) => bad("last_event_id", &e.to_string()),
                },
                other => bad(
                    other,
                    "unknown parameter; expected lat, lon, insee, radius_km or last_event_id",
                ),
            }
        }
        if let Some(h) = header {
            match h.parse::<StreamId>() {
                Ok(id) => from = Some(id),
                Err(e) => bad("Last-Event-ID", &e.to_string()),
            }
        }
        let center = match (lat, lon, insee) {
            (Some(lat), Some(lon), None) => match Coordinates::new(lat, lon) {
                Ok(c) => Some(c),
                Err(e) => {
                    let name = match e {
                        crate::geo::CoordinatesError::Latitude => "lat",
                        crate::geo::CoordinatesError::Longitude => "lon",
                    };
                    bad(name, &e.to_string());
                    None
                }
            },
            (None, None, Some(c)) => Some(c),
            (_, _, Some(_)) => {
                bad("insee", "give either lat and lon, or insee, not both");
                None
            }
            (Some(_), None, None) => {
                bad("lon", "lat needs lon");
                None
            }
            (None, Some(_), None) => {
                bad("lat", "lon needs lat");
                None
            }
            (None, None, None) => {
                let given = |k: &str| pairs.iter().any(|(key, _)| key == k);
                if !given("lat") && !given("lon") && !given("insee") {
                    bad("lat", "give lat and lon, or insee");
                }
                None
            }
        };
        match center {
            Some(center) if errors.is_empty() => Ok(Listen {
                center,
                radius_m: radius_km.unwrap_or(super::slots::DEFAULT_RADIUS_KM) * 1000.0,
                from,
            }),
            _ => Err(ApiError::Invalid(errors)),
        }
    }
}

/// Server-Sent Events about the slots of an area.
#[utoipa::path(get, path = "/slots/events", tag = "slots",
    security(("bearer" = [])),
    params(EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (EventSource sends it when it reconnects)")),
    responses(
        (status = 200, content_type = "text/event-stream", body = String,
         description = "A stream of events, each with `id` (the stream id), `event` (`ready`, \
                        `held`, `released`, `booked`, `freed`, `published`, `withdrawn`, \
                        `moved`, `swapped`) and `data` (JSON: `slot_id`, `cabinet_id`, `lat`, \
                        `lon`, `start`, `end`, and by kind `held_until`, `reason`, `booking_id`, \
                        `plan_id`, `withdrawal_id`, `from_slot_id`, `offer_id`, `rpps`)"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a régulateur or a coordinator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, missing or unknown parameters (`parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`/problems/too-many-streams`: too many streams open for this token or in all; `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`/problems/needs-redis`: this server runs without Redis; `/problems/unavailable`: Redis does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
async fn slot_events(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(&[Role::Regulateur, Role::Coordinateur])?;
    let Query(pairs) = query.map_err(|e| ApiError::invalid_parameter("query", e.body_text()))?;
    let header = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("not text"));
    let listen = Listen::parse(pairs, header)?;
    let cache = state.cache.clone().ok_or(ApiError::NeedsRedis)?;
    let place = state.streams.enter(&caller.token_id)?;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let feed = cache.subscribe(listen.from).await?;
    let pass = move |e: &crate::cache::events::SlotEvent, kind: crate::cache::EventKind| {
        kind != crate::cache::EventKind::Proposal && listen.contains(e.position)
    };
    tokio::spawn(forward(place, feed, pass, tx));
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Sends the feed's events that `pass` lets through to the listener until it goes away (the
/// slot stream's and the proposals' listeners alike).
pub(super) async fn forward(
    _place: StreamPlace,
    mut feed: crate::cache::events::EventFeed,
    pass: impl Fn(&crate::cache::events::SlotEvent, crate::cache::EventKind) -> bool + Send + 'static,
    tx: tokio::sync::mpsc::Sender<Result<Event, Infallible>>,
) {
    let ready = Event::default()
        .id(feed.cursor().to_string())
        .event("ready")
        .data(format!("{{\"from\":\"{}\"}}", feed.cursor()));
    if tx.send(Ok(ready)).await.is_err() {
        return;
    }
    loop {
        let events = tokio::select! {
            events = feed.next() => events,
            () = tx.closed() => return,
        };
        match events {
            Ok(events) => {
                // A kind this process does not know (a newer one's) is not passed on.
                let known = events.iter().filter_map(|e| Some((e, e.kind?)));
                for (e, kind) in known.filter(|(e, kind)| pass(e, *kind)) {
                    let event = Event::default()
                        .id(e.id.to_string())
                        .event(kind.as_str())
                        .data(&e.data);
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the slot stream for a listener; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_gate_caps_per_token_and_in_all_and_takes_places_back() {
        let gate = Arc::new(StreamGate::new(3, 2));
        let a1 = gate.enter("a").unwrap();
        let _a2 = gate.enter("a").unwrap();
        let third = gate.enter("a").unwrap_err();
        assert!(
            matches!(third, ApiError::TooManyStreams(_, 30)),
            "{third:?}"
        );
        let _b1 = gate.enter("b").unwrap();
        assert!(gate.enter("c").is_err(), "3 in all");
        assert_eq!(gate.open(), 3);
        drop(a1);
        assert_eq!(gate.open(), 2);
        assert!(gate.enter("c").is_ok(), "a place came back");
    }
}
