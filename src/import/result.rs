//! The output folder of a matching batch (FORMATS.md §2), read back for `cpts verify`:
//! `assignments.csv`, `unmatched.csv`, `summary.json` and `certificate.json`.
//!
//! Only the shape is checked here (columns, ids, integers, JSON fields); whether the content
//! is right for the instance is [`crate::matching::verify`]'s job. Patient ids are
//! pseudonymous, but the messages quote no cell all the same, as for patients.csv.

use super::table::{Column, Table, read_table, whole};
use super::{CellError, CellErrors, Error, read_path};
use crate::domain::{AssignmentRow, PatientId, Rpps, Tier, UnmatchedRow};
use crate::matching::verify::{BatchResult, CertificateClaim, Lined, SummaryClaim};
use std::io::Read;
use std::path::Path;

const ASSIGNMENT_COLUMNS: [Column; 3] = [
    Column::required("patient_id"),
    Column::required("rpps"),
    Column::required("distance_m"),
];

const UNMATCHED_COLUMNS: [Column; 3] = [
    Column::required("patient_id"),
    Column::required("tier"),
    Column::required("reason"),
];

/// Reads `assignments.csv` (`patient_id,rpps,distance_m`) from `reader`.
///
/// # Errors
/// As [`super::read_patients`].
pub fn read_assignments_from<R: Read>(
    reader: R,
    file: &str,
) -> Result<Vec<Lined<AssignmentRow>>, Error> {
    read_table(Table::open(reader, file, &ASSIGNMENT_COLUMNS)?, |row| {
        let line = row.line();
        let patient = row.required(0, str::parse::<PatientId>);
        let rpps = row.required(1, str::parse::<Rpps>);
        let distance_m = row.required(2, |s| {
            whole(s, 0, u64::from(u32::MAX)).map_err(|_| "expected a whole number of metres")
        });
        Some(Lined {
            line,
            row: AssignmentRow {
                patient: patient?,
                rpps: rpps?,
                distance_m: distance_m?,
            },
        })
    })
}

/// Reads `unmatched.csv` (`patient_id,tier,reason,detail`; `detail` is not read) from `reader`.
///
/// # Errors
/// As [`super::read_patients`].
pub fn read_unmatched_from<R: Read>(
    reader: R,
    file: &str,
) -> Result<Vec<Lined<UnmatchedRow>>, Error> {
    read_table(Table::open(reader, file, &UNMATCHED_COLUMNS)?, |row| {
        let line = row.line();
        let patient = row.required(0, str::parse::<PatientId>);
        let tier = row.required(1, |s| {
            whole(s, 1u8, 3)
                .ok()
                .and_then(Tier::from_number)
                .ok_or("expected 1, 2 or 3")
        });
        let reason = row.required(2, |s| Ok::<_, String>(s.to_owned()));
        Some(Lined {
            line,
            row: UnmatchedRow {
                patient: patient?,
                tier: tier?,
                reason: reason?,
                // Not read: verify does not check it.
                detail: String::new(),
            },
        })
    })
}

/// Reads a JSON file into `T`; a syntax or shape error names the line and column.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    read_path(path, |file, name| {
        serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
            if e.is_io() {
                return Error::Io {
                    file: name.to_owned(),
                    source: e.into(),
                };
            }
            let error = CellError {
                file: name.to_owned(),
                line: e.line() as u64,
                column: e.column() as u64,
                field: String::new(),
                message: e.to_string(),
            };
            Error::Invalid(CellErrors::one_file(name, vec![error], 1))
        })
    })
}

/// Reads the four files of a batch's output folder `dir`.
///
/// # Errors
/// The first file that cannot be read, or that breaks its format, in the order assignments,
/// unmatched, summary, certificate.
pub fn read_batch_result(dir: &Path) -> Result<BatchResult, Error> {
    let assignments = read_path(&dir.join("assignments.csv"), read_assignments_from)?;
    let unmatched = read_path(&dir.join("unmatched.csv"), read_unmatched_from)?;
    let summary: SummaryClaim = read_json(&dir.join("summary.json"))?;
    let certificate: CertificateClaim = read_json(&dir.join("certificate.json"))?;
    Ok(BatchResult {
        assignments,
        unmatched,
        summary,
        certificate,
    })
}

/// Reads what a warm re-batch starts from in a batch's output folder `dir`: `assignments.csv`
/// and `certificate.json`.
///
/// # Errors
/// As [`read_batch_result`], for these two files.
pub fn read_warm_start(dir: &Path) -> Result<(Vec<Lined<AssignmentRow>>, CertificateClaim), Error> {
    let assignments = read_path(&dir.join("assignments.csv"), read_assignments_from)?;
    let certificate: CertificateClaim = read_json(&dir.join("certificate.json"))?;
    Ok((assignments, certificate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_rows_keep_their_line_and_typed_ids() {
        let csv = "patient_id,rpps,distance_m\nP01,10990000118,1000\n";
        let rows = read_assignments_from(csv.as_bytes(), "assignments.csv").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].row.patient.as_str(), "P01");
        assert_eq!(rows[0].row.distance_m, 1000);
    }

    #[test]
    fn an_unmatched_row_with_tier_4_is_refused() {
        let csv = "patient_id,tier,reason,detail\nP01,4,capacity_exhausted,\"x\"\n";
        match read_unmatched_from(csv.as_bytes(), "unmatched.csv") {
            Err(Error::Invalid(e)) => {
                assert_eq!((e[0].line, e[0].field.as_str()), (2, "tier"));
            }
            other => panic!("expected a field error, got {other:?}"),
        }
    }
}
