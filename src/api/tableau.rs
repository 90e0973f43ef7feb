//! The tableau de garde (issue 18): the published garde of a month, for the CPTS's cabinets,
//! as the departmental council of the Ordre des médecins and the ARS receive it: for each
//! position, the date and hours, the cabinet and its commune and telephone, the doctor and his
//! RPPS. CSV (`Accept: text/csv`, the default) or a spreadsheet (`Accept:
//! application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`, `.xlsx`).

use super::{ApiError, AppState, Coordinateur, Problem, wire};
use crate::garde::calendar::{paris_instant, paris_time, shift_end};
use crate::store::{CarenceRow, TableauRow};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The columns, in French: the people who read the file are.
const HEADER: [&str; 10] = [
    "date",
    "jour",
    "debut",
    "fin",
    "cabinet_id",
    "cabinet",
    "commune_insee",
    "telephone",
    "medecin",
    "rpps",
];

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tableau))
        .routes(routes!(carence))
}

/// The query of `GET /garde/tableau`.
#[derive(Debug, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct TableauQuery {
    /// The month, `YYYY-MM` (Europe/Paris).
    #[param(example = "2027-03")]
    pub month: String,
}

/// The tableau de garde of a month: every published position of the coordinator's cabinets.
#[utoipa::path(get, path = "/garde/tableau", tag = "garde",
    security(("bearer" = [])),
    params(TableauQuery),
    responses(
        (status = 200, description = "One line per published position, by start and cabinet",
            content(
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 406, description = "Neither CSV nor xlsx is acceptable", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or bad `month` (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn tableau(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let format = sheet_format(&headers)?;
    let (first, from, to) = month_range(query.as_deref())?;
    let rows = state.store.tableau(caller.cpts(), from, to).await?;
    let lines: Vec<Vec<String>> = rows.iter().filter_map(line).collect();
    let name = format!("tableau-de-garde-{}", first.format("%Y-%m"));
    sheet_response(format, &name, "Tableau de garde", &HEADER, &lines)
}

/// The columns of the carence report.
const CARENCE_HEADER: [&str; 12] = [
    "date",
    "jour",
    "debut",
    "fin",
    "cabinet_id",
    "cabinet",
    "commune_insee",
    "telephone",
    "besoin",
    "pourvus",
    "manquants",
    "motif",
];

/// The carence report of a month: the shifts of the coordinator's cabinets that the published
/// rosters leave short of doctors, with how many are missing and why (FORMATS.md §3 reasons:
/// `no_doctor_available`, `no_doctor_in_range`, `doctors_at_max_shifts`).
#[utoipa::path(get, path = "/garde/carence", tag = "garde",
    security(("bearer" = [])),
    params(TableauQuery),
    responses(
        (status = 200, description = "One line per shift short of doctors, by start and cabinet",
            content(
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 406, description = "Neither CSV nor xlsx is acceptable", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or bad `month` (`parameter`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn carence(
    Coordinateur(caller): Coordinateur,
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let format = sheet_format(&headers)?;
    let (first, from, to) = month_range(query.as_deref())?;
    let rows = state.store.carence(caller.cpts(), from, to).await?;
    let lines: Vec<Vec<String>> = rows.iter().filter_map(carence_line).collect();
    let name = format!("carence-{}", first.format("%Y-%m"));
    sheet_response(format, &name, "Carence", &CARENCE_HEADER, &lines)
}

/// CSV or xlsx, as `Accept` prefers; 406 for neither.
fn sheet_format(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    wire::negotiate(headers, &["text/csv", XLSX])
        .ok_or(ApiError::NotAcceptable("text/csv or .xlsx"))
}

/// The `month` parameter (the only one): its first day, and its bounds in Unix seconds
/// (midnight Europe/Paris).
fn month_range(query: Option<&str>) -> Result<(NaiveDate, i64, i64), ApiError> {
    let pairs = super::query_pairs(query, &["month"])?;
    let first = match pairs.first() {
        Some((_, raw)) => parse_month(raw)?,
        None => {
            return Err(ApiError::invalid_parameter(
                "month",
                "required: the month, YYYY-MM",
            ));
        }
    };
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| ApiError::invalid_parameter("month", "out of range"))?;
    let instant = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| paris_instant(t).ok())
            .map(|t| t.timestamp())
            .ok_or_else(|| ApiError::invalid_parameter("month", "out of range"))
    };
    Ok((first, instant(first)?, instant(next)?))
}

/// The lines as `name.csv`, or as `name.xlsx` with one sheet `sheet`.
fn sheet_response(
    format: &str,
    name: &str,
    sheet: &str,
    header: &[&str],
    lines: &[Vec<String>],
) -> Result<Response, ApiError> {
    if format == XLSX {
        let body = xlsx(sheet, header, lines).map_err(|e| ApiError::Internal(Box::new(e)))?;
        return Ok((
            [
                (header::CONTENT_TYPE, XLSX.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.xlsx\""),
                ),
            ],
            body,
        )
            .into_response());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| ApiError::Internal(Box::new(e));
    w.write_record(header).map_err(internal)?;
    for l in lines {
        w.write_record(l).map_err(internal)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| ApiError::Internal(e.to_string().into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `YYYY-MM`, as the first day of that month.
fn parse_month(raw: &str) -> Result<NaiveDate, ApiError> {
    let bad =
        || ApiError::invalid_parameter("month", "expected a month YYYY-MM, from 2000 to 2099");
    let (y, m) = raw.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(2000..=2099).contains(&y) {
        return Err(bad());
    }
    NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)
}

/// The date, French day, start and end (Europe/Paris) of a shift from `start` to `end`.
fn when(start: i64, end: i64) -> Option<[String; 4]> {
    const JOURS: [&str; 7] = [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ];
    let (s, e) = (paris_time(start)?, paris_time(end)?);
    Some([
        s.format("%Y-%m-%d").to_string(),
        JOURS[s.weekday().num_days_from_monday() as usize].to_owned(),
        s.format("%H:%M").to_string(),
        e.format("%H:%M").to_string(),
    ])
}

/// A phone as the French write it; empty for none.
fn grouped(phone: Option<&str>) -> String {
    phone
        .and_then(|p| p.parse::<crate::domain::Phone>().ok())
        .map(|p| p.grouped())
        .unwrap_or_default()
}

/// A shift short of doctors as the report's line.
fn carence_line(r: &CarenceRow) -> Option<Vec<String>> {
    let mut l: Vec<String> = when(r.shift_start, r.shift_end)?.into();
    l.extend([
        r.cabinet_id.clone(),
        r.cabinet_name.clone(),
        r.insee.clone(),
        grouped(r.phone.as_deref()),
        r.need.to_string(),
        r.staffed.to_string(),
        (r.need - r.staffed.min(r.need)).to_string(),
        r.reason.clone(),
    ]);
    Some(l)
}

/// A position as the file's line, in Europe/Paris.
fn line(r: &TableauRow) -> Option<Vec<String>> {
    let mut l: Vec<String> = when(r.shift_start, shift_end(r.shift_start)?)?.into();
    l.extend([
        r.cabinet_id.clone(),
        r.cabinet_name.clone(),
        r.insee.clone(),
        grouped(r.phone.as_deref()),
        r.doctor_name.clone(),
        r.rpps.clone(),
    ]);
    Some(l)
}

/// The lines as a one-sheet workbook, the header in bold and frozen.
fn xlsx(
    name: &str,
    header: &[&str],
    lines: &[Vec<String>],
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let sheet = book.add_worksheet();
    sheet.set_name(name)?;
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, l) in lines.iter().enumerate() {
        for (c, v) in l.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, v)?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_strictly() {
        assert_eq!(
            parse_month("2027-03").unwrap(),
            NaiveDate::from_ymd_opt(2027, 3, 1).unwrap()
        );
        for bad in [
            "2027-3",
            "2027-13",
            "27-03",
            "2027/03",
            "1999-12",
            "",
            "2027-03-01",
        ] {
            assert!(parse_month(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_line_reads_in_paris_time_with_the_shift_hours_and_the_grouped_phone() {
        // Saturday 28 March 2026 09:00 CET (08:00Z), the day before the spring change.
        let row = TableauRow {
            shift_start: 1_774_684_800,
            cabinet_id: "NANCY-1".to_owned(),
            cabinet_name: "MMG Nancy".to_owned(),
            insee: "54395".to_owned(),
            phone: Some("0383123456".to_owned()),
            rpps: "10000000009".to_owned(),
            doctor_name: "Dr A".to_owned(),
        };
        let l = line(&row).unwrap();
        assert_eq!(
            l,
            [
                "2026-03-28",
                "samedi",
                "09:00",
                "13:00",
                "NANCY-1",
                "MMG Nancy",
                "54395",
                "03 83 12 34 56",
                "Dr A",
                "10000000009"
            ]
            .map(String::from)
        );
    }

    #[test]
    fn the_workbook_is_a_zip_of_a_sheet() {
        let bytes = xlsx(
            "Tableau de garde",
            &HEADER,
            &[HEADER.map(String::from).to_vec()],
        )
        .unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert!(zip.by_name("xl/worksheets/sheet1.xml").is_ok());
    }
}
