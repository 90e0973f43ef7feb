//! CSV readers: the files of FORMATS.md become domain types at once, or are refused whole.
//!
//! Each reader checks every row and returns either all of them, typed, or every error found
//! (the first [`MAX_ERRORS`] per file listed), each with file, line, column and field
//! (FORMATS.md §1, "Bad input"). Nothing is kept from a refused file.
//!
//! This room reads; it never writes, logs cell values or stores anything (`store` owns
//! persistence). Patient files hold health data, so their error messages never quote a cell.

mod doctors;
mod patients;
mod result;
mod table;

pub use doctors::read_doctors_from;
pub use patients::read_patients_from;
pub use result::{read_assignments_from, read_batch_result, read_unmatched_from};
pub use table::MAX_ERRORS;

use crate::domain::{Doctor, MaxKm, Patient};
use crate::matching::Instance;
use std::fmt;
use std::fs::File;
use std::path::Path;

/// Why a CSV file was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("cannot read {file}")]
    Io {
        /// The path, or the name given to a `*_from` reader.
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but breaks the rules of FORMATS.md; every error found is listed.
    #[error("{0}")]
    Invalid(FieldErrors),
}

/// One thing wrong in a CSV file, and where.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The file name, e.g. `patients.csv`.
    pub file: String,
    /// 1-based physical line where the record starts; the header is line 1.
    pub line: u64,
    /// 1-based column of the field (its index in the row + 1); 0 for the whole row or header.
    pub column: u64,
    /// The column name (`lat`), or empty for an error on the whole row or file.
    pub field: String,
    /// What is wrong: lowercase, no final period, never a patient's cell value.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "field `{}`: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// The errors of one or more refused files: the first [`MAX_ERRORS`] of each file, in line
/// order, and how many each file had in all.
///
/// Derefs to `[FieldError]`, so `errors.iter()`, `errors.len()` and `errors[0]` work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldErrors {
    listed: Vec<FieldError>,
    /// For each file, in reading order: its name and how many errors it had (≥ those listed).
    found: Vec<(String, u64)>,
}

impl FieldErrors {
    fn one_file(file: &str, listed: Vec<FieldError>, found: u64) -> Self {
        Self {
            listed,
            found: vec![(file.to_owned(), found)],
        }
    }

    /// Appends the errors of other files after these.
    fn append(&mut self, mut other: FieldErrors) {
        self.listed.append(&mut other.listed);
        self.found.append(&mut other.found);
    }

    /// How many errors were found in all, listed or not.
    pub fn found(&self) -> u64 {
        self.found.iter().map(|(_, n)| n).sum()
    }

    /// Each refused file with the number of errors found in it.
    pub fn files(&self) -> impl Iterator<Item = (&str, u64)> {
        self.found.iter().map(|(f, n)| (f.as_str(), *n))
    }

    /// The listed errors.
    pub fn as_slice(&self) -> &[FieldError] {
        &self.listed
    }

    /// The listed errors, owned.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.listed
    }
}

impl std::ops::Deref for FieldErrors {
    type Target = [FieldError];
    fn deref(&self) -> &[FieldError] {
        &self.listed
    }
}

impl<'a> IntoIterator for &'a FieldErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.listed.iter()
    }
}

impl IntoIterator for FieldErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.listed.into_iter()
    }
}

/// Per file, a header line (`patients.csv: 5 errors; nothing was imported`), then one line
/// per listed error (`patients.csv:3:2: field `lat`: latitude must be …`).
impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (file, found)) in self.found.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let listed = self.listed.iter().filter(|e| e.file == *file);
            let shown = listed.clone().count() as u64;
            let plural = if *found == 1 { "" } else { "s" };
            write!(f, "{file}: {found} error{plural}")?;
            if shown < *found {
                write!(f, " (the first {shown} are listed)")?;
            }
            f.write_str("; nothing was imported")?;
            for e in listed {
                write!(f, "\n{e}")?;
            }
        }
        Ok(())
    }
}

/// The name errors give a file: its last path component.
fn display_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// Opens `path` and reads it with `read`, naming the file in errors by its file name, and
/// I/O failures by the whole path.
fn read_path<T>(
    path: &Path,
    read: impl FnOnce(File, &str) -> Result<T, ImportError>,
) -> Result<T, ImportError> {
    let with_path = |source| ImportError::Io {
        file: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(with_path)?;
    match read(file, &display_name(path)) {
        Err(ImportError::Io { source, .. }) => Err(with_path(source)),
        other => other,
    }
}

/// Reads a `patients.csv` (FORMATS.md §2): `patient_id` (unique, never NIR-shaped), `lat`,
/// `lon`, `insee`, `age` (0–130), `ald` and `css` (`0`/`1`), optional `max_km` (> 0).
///
/// # Errors
/// [`ImportError::Io`] when the file cannot be read; [`ImportError::Invalid`] with every
/// error found (the first [`MAX_ERRORS`] listed) when any row or the header breaks a rule.
///
/// # Complexity
/// One pass, O(rows) expected time; memory for the result and one id set.
pub fn read_patients(path: &Path) -> Result<Vec<Patient>, ImportError> {
    read_path(path, read_patients_from)
}

/// Reads a matching `doctors.csv` (FORMATS.md §2): `rpps` (Luhn key, unique), `name`, `lat`,
/// `lon`, `insee`, `capacity` (integer ≥ 0), optional `max_km` (> 0).
///
/// # Errors
/// As [`read_patients`].
pub fn read_doctors(path: &Path) -> Result<Vec<Doctor>, ImportError> {
    read_path(path, read_doctors_from)
}

/// Reads the matching instance of folder `dir`: `patients.csv` and `doctors.csv`
/// (FORMATS.md §2), with `default_max_km` for patients without their own limit.
///
/// # Errors
/// An [`ImportError::Io`] of either file first (patients before doctors); otherwise, when
/// both files are invalid, one [`ImportError::Invalid`] listing both files' errors.
pub fn load_matching_instance(dir: &Path, default_max_km: MaxKm) -> Result<Instance, ImportError> {
    let patients = read_patients(&dir.join("patients.csv"));
    let doctors = read_doctors(&dir.join("doctors.csv"));
    match (patients, doctors) {
        (Ok(patients), Ok(doctors)) => Ok(Instance {
            patients,
            doctors,
            default_max_km,
        }),
        (Err(e @ ImportError::Io { .. }), _) | (_, Err(e @ ImportError::Io { .. })) => Err(e),
        (Err(ImportError::Invalid(mut both)), Err(ImportError::Invalid(of_doctors))) => {
            both.append(of_doctors);
            Err(ImportError::Invalid(both))
        }
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn data(folder: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(folder)
    }

    fn ten_km() -> MaxKm {
        MaxKm::new(10.0).unwrap()
    }

    fn invalid(result: Result<Instance, ImportError>) -> FieldErrors {
        match result {
            Err(ImportError::Invalid(errors)) => errors,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn the_bad_patients_folder_is_refused_with_its_five_errors() {
        let errors = invalid(load_matching_instance(&data("bad-patients"), ten_km()));
        let at: Vec<_> = errors
            .iter()
            .map(|e| (e.file.as_str(), e.line, e.column, e.field.as_str()))
            .collect();
        assert_eq!(
            at,
            [
                ("patients.csv", 1, 0, "css"),
                ("patients.csv", 3, 2, "lat"),
                ("patients.csv", 4, 1, "patient_id"),
                ("patients.csv", 5, 1, "patient_id"),
                ("patients.csv", 6, 5, "age"),
            ]
        );
        let report = ImportError::Invalid(errors).to_string();
        let mut lines = report.lines();
        assert_eq!(
            lines.next(),
            Some("patients.csv: 5 errors; nothing was imported")
        );
        assert_eq!(
            lines.next(),
            Some("patients.csv:1:0: field `css`: required column is missing from the header")
        );
        assert_eq!(
            lines.next(),
            Some(
                "patients.csv:3:2: field `lat`: latitude must be a finite number between -90 and 90"
            )
        );
        assert_eq!(lines.count(), 3);
    }

    #[test]
    fn the_bad_doctors_folder_is_refused_with_its_bad_rpps_key() {
        let errors = invalid(load_matching_instance(&data("bad-doctors"), ten_km()));
        assert_eq!(
            ImportError::Invalid(errors).to_string(),
            "doctors.csv: 1 error; nothing was imported\n\
             doctors.csv:4:1: field `rpps`: check digit does not match (Luhn)"
        );
    }

    #[test]
    fn the_valid_files_of_the_bad_input_folders_read_on_their_own() {
        let doctors = read_doctors(&data("bad-patients").join("doctors.csv")).unwrap();
        let patients = read_patients(&data("bad-doctors").join("patients.csv")).unwrap();
        assert_eq!((patients.len(), doctors.len()), (5, 3));
    }

    #[test]
    fn both_files_errors_are_reported_together() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("patients.csv"),
            "patient_id,lat,lon,insee,age,ald,css\nP1,48.69,6.18,54395,42,0,2\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("doctors.csv"), "rpps,name\n").unwrap();
        let errors = invalid(load_matching_instance(dir.path(), ten_km()));
        assert_eq!(
            errors.files().collect::<Vec<_>>(),
            [("patients.csv", 1), ("doctors.csv", 4)]
        );
        let report = ImportError::Invalid(errors).to_string();
        assert!(
            report.starts_with(
                "patients.csv: 1 error; nothing was imported\n\
                 patients.csv:2:7: field `css`: expected 0 or 1\n\
                 doctors.csv: 4 errors; nothing was imported\n\
                 doctors.csv:1:0: field `lat`: required column is missing from the header"
            ),
            "{report}"
        );
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_its_path() {
        let dir = tempfile::tempdir().unwrap();
        match load_matching_instance(dir.path(), ten_km()) {
            Err(ImportError::Io { file, source }) => {
                assert!(file.ends_with("patients.csv"), "{file}");
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }

    #[test]
    fn more_than_100_errors_are_counted_and_the_first_100_listed() {
        let mut csv = String::from("patient_id,lat,lon,insee,age,ald,css\n");
        for i in 0..250 {
            csv.push_str(&format!("P{i},48.69,6.18,54395,42,0,9\n"));
        }
        let errors = match read_patients_from(csv.as_bytes(), "patients.csv") {
            Err(ImportError::Invalid(errors)) => errors,
            other => panic!("{other:?}"),
        };
        assert_eq!((errors.len(), errors.found()), (MAX_ERRORS, 250));
        assert_eq!(errors[MAX_ERRORS - 1].line, 101);
        let report = errors.to_string();
        assert!(
            report.starts_with(
                "patients.csv: 250 errors (the first 100 are listed); nothing was imported\n"
            ),
            "{report}"
        );
        assert_eq!(report.lines().count(), 101);
    }

    #[test]
    fn an_error_on_a_whole_row_has_no_field_in_its_line() {
        let e = FieldError {
            file: "doctors.csv".to_owned(),
            line: 7,
            column: 0,
            field: String::new(),
            message: "expected 6 fields as in the header, found 5".to_owned(),
        };
        assert_eq!(
            e.to_string(),
            "doctors.csv:7:0: expected 6 fields as in the header, found 5"
        );
    }
}
