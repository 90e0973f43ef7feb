//! Garde wishes (issue 18, FORMATS.md §3 `preferences.csv`): a médecin says, date by date,
//! whether it would like a garde shift (`prefer`) or would rather not (`avoid`, still
//! available). A plan scores them at objective level 3, after filling and fairness; availability
//! alone stays the hard rule. Its coordinator reads them, as it reads its availability.

use super::auth::{OwnRpps, ReadableRpps};
use super::{ApiError, AppState, Json, Path, Problem};
use crate::garde::instance::Preference;
use crate::store::PreferenceRecord;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_preferences))
        .routes(routes!(put_preference, delete_preference))
}

/// The longest span a list covers, in days.
const MAX_SPAN_DAYS: i64 = 366;

/// A wish for one date.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceBody {
    /// `prefer` (would like a shift that day) or `avoid` (would rather not; still available).
    #[schema(example = "avoid")]
    pub preference: String,
}

/// A stored wish.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferenceView {
    /// The date, Europe/Paris.
    #[schema(example = "2027-03-02")]
    pub date: String,
    /// `prefer` or `avoid`.
    #[schema(example = "avoid")]
    pub preference: String,
}

impl From<PreferenceRecord> for PreferenceView {
    fn from(p: PreferenceRecord) -> Self {
        Self {
            date: p.date.to_string(),
            preference: p.preference.as_str().to_owned(),
        }
    }
}

fn unknown_doctor() -> ApiError {
    ApiError::NotFound("no doctor with this RPPS".to_owned())
}

/// Today, in Europe/Paris.
fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

/// The dates a list covers by default: from today (Europe/Paris) for a year.
pub(super) fn default_span() -> (NaiveDate, NaiveDate) {
    let from = today();
    (from, from + chrono::Duration::days(MAX_SPAN_DAYS - 1))
}

/// The `from` and `to` dates of a list (default: [`default_span`]; at most 366 days); 422
/// naming the parameter.
pub(super) fn span(query: Option<&str>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let pairs = super::query_pairs(query, &["from", "to"])?;
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let from = match get("from") {
        Some(raw) => parse_date("from", raw)?,
        None => today(),
    };
    let to = match get("to") {
        Some(raw) => parse_date("to", raw)?,
        None => from + chrono::Duration::days(MAX_SPAN_DAYS - 1),
    };
    if to < from {
        return Err(ApiError::invalid_parameter("to", "must not be before from"));
    }
    if (to - from).num_days() > MAX_SPAN_DAYS {
        return Err(ApiError::invalid_parameter(
            "to",
            format!("at most {MAX_SPAN_DAYS} days after from"),
        ));
    }
    Ok((from, to))
}

/// An ISO date of 2000–2099, or 422 naming the parameter.
fn parse_date(name: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    let date = super::wire::iso_date(raw)
        .filter(|d| (2000..=2099).contains(&d.year()))
        .ok_or_else(|| {
            ApiError::invalid_parameter(name, "expected a date YYYY-MM-DD of 2000–2099")
        })?;
    Ok(date)
}

/// The médecin's wishes over a span of dates (default: from today, a year).
#[utoipa::path(get, path = "/doctors/{rpps}/garde/preferences", tag = "availability",
    security(("bearer" = [])),
    params(
        ("rpps" = String, Path, description = "The médecin's RPPS (its own, or one serving the coordinator's CPTS)"),
        ("from" = Option<String>, Query, description = "First date, YYYY-MM-DD (default: today, Europe/Paris)"),
        ("to" = Option<String>, Query, description = "Last date, inclusive (default: 365 days after `from`; at most 366 days after it)"),
    ),
    responses(
        (status = 200, description = "The wishes, by date", body = Vec<PreferenceView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the médecin itself nor a coordinator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS (in the coordinator's territory)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad RPPS, date or span (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_preferences(
    ReadableRpps(rpps, _): ReadableRpps,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<PreferenceView>>, ApiError> {
    let (from, to) = span(query.as_deref())?;
    if state.store.doctor(&rpps).await?.is_none() {
        return Err(unknown_doctor());
    }
    let wishes = state.store.garde_preferences_of(&rpps, from, to).await?;
    Ok(Json(wishes.into_iter().map(PreferenceView::from).collect()))
}

/// The date of a wish's path: today or later (Europe/Paris), before 2100.
fn wish_date(raw: &str) -> Result<NaiveDate, ApiError> {
    let date = parse_date("date", raw)?;
    if date < today() {
        return Err(ApiError::invalid_parameter(
            "date",
            "a wish is for today or a later date (Europe/Paris)",
        ));
    }
    Ok(date)
}

/// Records the médecin's wish for a date, replacing any other for that date.
#[utoipa::path(put, path = "/doctors/{rpps}/garde/preferences/{date}", tag = "availability",
    security(("bearer" = [])),
    params(
        ("rpps" = String, Path, description = "The médecin's own RPPS"),
        ("date" = String, Path, description = "The date, YYYY-MM-DD (Europe/Paris), today or later"),
    ),
    request_body = PreferenceBody,
    responses(
        (status = 200, description = "Recorded", body = PreferenceView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token, or another médecin's RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad RPPS or date (`parameter`), or preference (`pointer`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_preference(
    OwnRpps(rpps, caller): OwnRpps,
    State(state): State<AppState>,
    Path((_, raw_date)): Path<(String, String)>,
    Json(body): Json<PreferenceBody>,
) -> Result<Json<PreferenceView>, ApiError> {
    let date = wish_date(&raw_date)?;
    let preference = Preference::from_word(&body.preference)
        .map_err(|e| ApiError::invalid_field("#/preference", e))?;
    if !caller
        .store(&state)
        .set_garde_preference(&rpps, date, Some(preference))
        .await?
    {
        return Err(unknown_doctor());
    }
    tracing::info!(rpps = %rpps, %date, preference = preference.as_str(), "garde wish recorded");
    Ok(Json(PreferenceView::from(PreferenceRecord {
        date,
        preference,
    })))
}

/// Clears the médecin's wish for a date (nothing to clear is fine).
#[utoipa::path(delete, path = "/doctors/{rpps}/garde/preferences/{date}", tag = "availability",
    security(("bearer" = [])),
    params(
        ("rpps" = String, Path, description = "The médecin's own RPPS"),
        ("date" = String, Path, description = "The date, YYYY-MM-DD (Europe/Paris)"),
    ),
    responses(
        (status = 204, description = "No wish for this date any more"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a médecin token, or another médecin's RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No doctor with this RPPS", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad RPPS or date (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_preference(
    OwnRpps(rpps, caller): OwnRpps,
    State(state): State<AppState>,
    Path((_, raw_date)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let date = parse_date("date", &raw_date)?;
    if !caller
        .store(&state)
        .set_garde_preference(&rpps, date, None)
        .await?
    {
        return Err(unknown_doctor());
    }
    Ok(StatusCode::NO_CONTENT)
}
