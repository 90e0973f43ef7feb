//! `GET /audit`: the audit trail, for auditeur tokens only.
//!
//! Filters: `actor` (a token id), `object` (`kind` or `kind:id`, e.g. `booking:12`), `from`
//! and `to` (RFC 3339 instants, `from` included, `to` excluded). Pages are keyset pages by row
//! id: `limit` (1 to [`MAX_PAGE`], default [`DEFAULT_PAGE`]) and `after` (the last id seen);
//! `next` links the following page. No SQL here (`store::audit`).

use super::{ApiError, AppState, Auditeur, Json, Problem};
use crate::store::{AuditFilter, AuditRecord};
use axum::extract::{Query, State};
use axum::http::Uri;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest page; a larger `limit` is a 422 naming the parameter.
pub const MAX_PAGE: u64 = 1000;
/// Page size without `limit`.
pub const DEFAULT_PAGE: u64 = 100;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_trail))
}

/// The query of `GET /audit`; documents it for OpenAPI, read by [`AuditQuery::parse`].
#[derive(Debug, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Rows written with this token id.
    pub actor: Option<String>,
    /// `kind` or `kind:id` (kinds: patients, doctors, doctor, availability, cabinet, batch,
    /// garde_plan, booking, hold, token, job).
    pub object: Option<String>,
    /// RFC 3339; rows at or after this instant.
    pub from: Option<String>,
    /// RFC 3339; rows before this instant.
    pub to: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    pub limit: Option<u64>,
    /// The last row id of the previous page.
    pub after: Option<i64>,
    /// Only rows written by principals of this territory (`dep:54`, `cpts:grand_nancy`); an
    /// auditeur bound to territories sees only theirs anyway.
    pub territory: Option<String>,
}

impl AuditQuery {
    fn parse(uri: &Uri) -> Result<(AuditFilter, u64), ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|_| ApiError::invalid_parameter("query", "not a valid query string"))?;
        let mut filter = AuditFilter::default();
        let mut limit = DEFAULT_PAGE;
        for (key, value) in pairs {
            match key.as_str() {
                "actor" => filter.token_id = Some(token_id(&value)?),
                "object" => {
                    let (kind, id) = match value.split_once(':') {
                        Some((k, i)) => (k, Some(i)),
                        None => (value.as_str(), None),
                    };
                    let kind_ok = !kind.is_empty()
                        && kind.len() <= 32
                        && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                    let id_ok = id.is_none_or(|i| !i.is_empty() && i.len() <= 64);
                    if !(kind_ok && id_ok) {
                        return Err(ApiError::invalid_parameter(
                            "object",
                            "expected `kind` or `kind:id` (e.g. booking:12)",
                        ));
                    }
                    filter.object_kind = Some(kind.to_owned());
                    filter.object_id = id.map(str::to_owned);
                }
                "from" => filter.from = Some(instant("from", &value)?),
                "to" => filter.to = Some(instant("to", &value)?),
                "territory" => {
                    let t: crate::domain::Territory =
                        value.parse().map_err(|e: crate::domain::TerritoryError| {
                            ApiError::invalid_parameter("territory", e.to_string())
                        })?;
                    filter.territories = Some(vec![t.to_string()]);
                }
                "limit" => limit = super::limit_param(&value, MAX_PAGE)?,
                "after" => {
                    filter.after =
                        Some(value.parse().ok().filter(|a| *a >= 0).ok_or_else(|| {
                            ApiError::invalid_parameter("after", "expected an integer ≥ 0")
                        })?);
                }
                _ => {
                    return Err(ApiError::invalid_parameter(
                        &key,
                        "unknown parameter; expected actor, object, territory, from, to, limit or after",
                    ));
                }
            }
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err(ApiError::invalid_parameter(
                "to",
                "must not be before `from`",
            ));
        }
        Ok((filter, limit))
    }
}

fn token_id(raw: &str) -> Result<String, ApiError> {
    if raw.len() == 16 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ApiError::invalid_parameter(
            "actor",
            "expected a token id (16 hex digits)",
        ))
    }
}

fn instant(name: &str, raw: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp())
        .map_err(|_| {
            ApiError::invalid_parameter(
                name,
                "expected an RFC 3339 instant, e.g. 2026-01-31T18:00:00Z",
            )
        })
}

/// One audit row.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    /// RFC 3339, UTC.
    #[schema(example = "2026-01-31T18:00:00Z")]
    pub at: String,
    /// The writer's token id; null for the command line and the job worker.
    pub token_id: Option<String>,
    pub role: Option<String>,
    /// e.g. `booking.create`, `patients.import`, `token.revoke`.
    pub action: String,
    pub object_kind: String,
    pub object_id: Option<String>,
    /// Counts and ids; never personal data.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The writer's scope (`dep:54`, `cpts:grand_nancy`, `national`); null for the command
    /// line and the job worker.
    pub territory: Option<String>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            at: super::wire::utc(r.at),
            token_id: r.token_id,
            role: r.role.map(|role| role.as_str().to_owned()),
            action: r.action,
            object_kind: r.object_kind,
            object_id: r.object_id,
            detail: r.detail,
            territory: r.territory,
        }
    }
}

/// A page of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    pub limit: u64,
    /// The next page, when this one is full.
    pub next: Option<String>,
}

/// The audit trail, oldest first, filtered by actor, object, territory and time. An auditeur
/// bound to territories reads only the rows written by principals of those territories.
#[utoipa::path(get, path = "/audit", tag = "audit",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of audit rows", body = AuditPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an auditeur token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid or unknown parameter (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn audit_trail(
    Auditeur(caller): Auditeur,
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<AuditPage>, ApiError> {
    let (mut filter, limit) = AuditQuery::parse(&uri)?;
    filter.territories = within(&caller.scope, filter.territories.take());
    let rows = state.store.audit_trail(&filter, limit).await?;
    tracing::debug!(token = %caller.token_id, rows = rows.len(), "audit trail read");
    let next = (rows.len() as u64 == limit)
        .then(|| rows.last().map(|r| next_link(&uri, r.id)))
        .flatten();
    Ok(Json(AuditPage {
        items: rows.into_iter().map(AuditView::from).collect(),
        limit,
        next,
    }))
}

/// The territories an auditeur of `scope` reads, narrowed to `asked` (one territory) when
/// given: a territory outside its scope leaves nothing (the rows exist, but not for it).
/// `None`: every row (a national auditeur asking for none).
fn within(scope: &crate::domain::Scope, asked: Option<Vec<String>>) -> Option<Vec<String>> {
    let mine: Option<Vec<String>> = match scope {
        crate::domain::Scope::National => None,
        crate::domain::Scope::Within(_) => {
            Some(scope.territories().map(ToString::to_string).collect())
        }
    };
    match (mine, asked) {
        (None, asked) => asked,
        (Some(mine), None) => Some(mine),
        (Some(mine), Some(asked)) => Some(asked.into_iter().filter(|t| mine.contains(t)).collect()),
    }
}

/// The same query with `after` set to `last`.
fn next_link(uri: &Uri, last: i64) -> String {
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("after="))
        .collect();
    let mut q = kept.join("&");
    if !q.is_empty() {
        q.push('&');
    }
    format!("/audit?{q}after={last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<(AuditFilter, u64), ApiError> {
        AuditQuery::parse(&format!("/audit?{q}").parse().unwrap())
    }

    #[test]
    fn filters_parse_and_bad_ones_name_their_parameter() {
        let (f, limit) = parse(
            "actor=0123456789abcdef&object=booking:12&from=2026-01-01T00:00:00Z\
             &to=2026-01-02T00:00:00%2B01:00&limit=5&after=7",
        )
        .unwrap();
        assert_eq!(f.token_id.as_deref(), Some("0123456789abcdef"));
        assert_eq!(f.object_kind.as_deref(), Some("booking"));
        assert_eq!(f.object_id.as_deref(), Some("12"));
        assert_eq!(f.from, Some(1_767_225_600));
        assert_eq!(f.to, Some(1_767_225_600 + 86_400 - 3_600));
        assert_eq!((limit, f.after), (5, Some(7)));
        for bad in [
            "actor=x",
            "object=Booking",
            "object=booking:",
            "from=yesterday",
            "limit=0",
            "limit=1001",
            "after=-1",
            "colour=red",
            "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        ] {
            assert!(matches!(parse(bad), Err(ApiError::Invalid(_))), "{bad}");
        }
    }

    #[test]
    fn the_next_link_replaces_after() {
        let uri: Uri = "/audit?object=booking&after=3&limit=2".parse().unwrap();
        assert_eq!(next_link(&uri, 9), "/audit?object=booking&limit=2&after=9");
        assert_eq!(next_link(&"/audit".parse().unwrap(), 1), "/audit?after=1");
    }
}
