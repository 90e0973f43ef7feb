//! Every input file of FORMATS.md becomes domain types at once, or is refused whole.
//!
//! * `table`: the one CSV engine: header in any order, BOM and CRLF, typed cells, optional
//!   columns and optional files (absent = empty), the error cap ([`MAX_ERRORS`]).
//! * `matching`: the matching instance, `patients.csv` and `doctors.csv` (FORMATS.md §2),
//!   re-exported here ([`read_patients`], [`read_doctors`], [`load_matching_instance`]).
//! * [`garde`]: the garde instance folder (FORMATS.md §3) and its date-time parser.
//! * `result`: a matching batch's output folder, read back for `cpts verify`
//!   ([`read_batch_result`]).
//!
//! Each reader checks every row and returns either all of them, typed, or every error found
//! (the first [`MAX_ERRORS`] per file listed), each with file, line, column and field
//! (FORMATS.md §1, "Bad input"): one [`Error`], whatever the file. Nothing is kept from a
//! refused file.
//!
//! This room reads; it never writes, logs cell values or stores anything (`store` owns
//! persistence). Patient files hold health data, so their error messages never quote a cell.
//!
//! [`MAX_ERRORS`]: crate::import::MAX_ERRORS
//! [`read_patients`]: crate::import::read_patients
//! [`read_doctors`]: crate::import::read_doctors
//! [`load_matching_instance`]: crate::import::load_matching_instance
//! [`garde`]: crate::import::garde
//! [`read_batch_result`]: crate::import::read_batch_result
//! [`Error`]: crate::import::Error

pub mod garde;
mod matching;
mod result;
mod table;

pub use matching::{
    load_matching_instance, read_doctors, read_doctors_from, read_doctors_within, read_patients,
    read_patients_from, read_patients_within,
};
pub use result::{read_assignments_from, read_batch_result, read_unmatched_from, read_warm_start};
pub use table::MAX_ERRORS;

use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;

/// Why an input file (or folder) was not imported.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("cannot read {file}")]
    Io {
        /// The path, or the name given to a `*_from` reader.
        file: String,
        #[source]
        source: io::Error,
    },
    /// The files were read but break the rules of FORMATS.md; every error found is listed.
    #[error("{0}")]
    Invalid(CellErrors),
}

/// One thing wrong in an input file, and where: a cell, or a whole row or header (column 0).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CellError {
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

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "field `{}`: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// The errors of one or more refused files: the first [`MAX_ERRORS`] of each file, in
/// (line, column) order, file after file in reading order, and how many each file had in all.
///
/// Derefs to `[CellError]`, so `errors.iter()`, `errors.len()` and `errors[0]` work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellErrors {
    listed: Vec<CellError>,
    /// For each file, in reading order: its name and how many errors it had (≥ those listed).
    found: Vec<(String, u64)>,
}

impl CellErrors {
    fn one_file(file: &str, listed: Vec<CellError>, found: u64) -> Self {
        Self {
            listed,
            found: vec![(file.to_owned(), found)],
        }
    }

    /// Appends the errors of other files after these.
    fn append(&mut self, mut other: CellErrors) {
        self.listed.append(&mut other.listed);
        self.found.append(&mut other.found);
    }

    /// The errors of several files, in the order given; `None` when none has any.
    fn gather(files: impl IntoIterator<Item = Option<CellErrors>>) -> Option<CellErrors> {
        files.into_iter().flatten().reduce(|mut all, more| {
            all.append(more);
            all
        })
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
    pub fn as_slice(&self) -> &[CellError] {
        &self.listed
    }

    /// The listed errors, owned.
    pub fn into_vec(self) -> Vec<CellError> {
        self.listed
    }
}

impl std::ops::Deref for CellErrors {
    type Target = [CellError];
    fn deref(&self) -> &[CellError] {
        &self.listed
    }
}

impl<'a> IntoIterator for &'a CellErrors {
    type Item = &'a CellError;
    type IntoIter = std::slice::Iter<'a, CellError>;
    fn into_iter(self) -> Self::IntoIter {
        self.listed.iter()
    }
}

impl IntoIterator for CellErrors {
    type Item = CellError;
    type IntoIter = std::vec::IntoIter<CellError>;
    fn into_iter(self) -> Self::IntoIter {
        self.listed.into_iter()
    }
}

/// Per file, a header line (`patients.csv: 5 errors; nothing was imported`), then one line
/// per listed error (`patients.csv:3:2: field `lat`: latitude must be …`).
impl fmt::Display for CellErrors {
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

/// An I/O failure on `path`, naming the whole path.
fn io_error(path: &Path, source: io::Error) -> Error {
    Error::Io {
        file: path.display().to_string(),
        source,
    }
}

/// Opens `path` and reads it with `read`, naming the file in errors by its file name, and
/// I/O failures by the whole path.
fn read_path<T>(
    path: &Path,
    read: impl FnOnce(File, &str) -> Result<T, Error>,
) -> Result<T, Error> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    match read(file, &display_name(path)) {
        Err(Error::Io { source, .. }) => Err(io_error(path, source)),
        other => other,
    }
}

/// The whole content of the required file `path`.
///
/// # Errors
/// [`Error::Io`] naming the path when it cannot be read (a missing file included).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| io_error(path, e))
}

/// The whole content of the optional file `path`, or `None` when it does not exist: an absent
/// optional file reads as empty (FORMATS.md §2 `exclusions.csv`; §3 `history.csv`,
/// `preferences.csv`, `pinned.csv`). Give the result to the table reader as it is
/// (`Table::open_optional(bytes.as_deref(), …)`): `None` is a table of no rows.
///
/// # Errors
/// [`Error::Io`] naming the path when it exists but cannot be read.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_on_a_whole_row_has_no_field_in_its_line() {
        let e = CellError {
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

    #[test]
    fn an_absent_optional_file_is_none_and_a_present_one_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        assert_eq!(read_optional(&path).unwrap(), None);
        assert!(matches!(read_bytes(&path), Err(Error::Io { .. })));
        std::fs::write(&path, "rpps,prior_shifts\n").unwrap();
        assert_eq!(
            read_optional(&path).unwrap().as_deref(),
            Some(&b"rpps,prior_shifts\n"[..])
        );
        // A folder where a file is expected exists but cannot be read: an error, not absent.
        assert!(matches!(read_optional(dir.path()), Err(Error::Io { .. })));
    }

    #[test]
    fn errors_of_several_files_are_gathered_in_order() {
        let one = |file: &str, n: u64| {
            let e = CellError {
                file: file.to_owned(),
                line: 2,
                column: 1,
                field: "id".to_owned(),
                message: "bad".to_owned(),
            };
            CellErrors::one_file(file, vec![e], n)
        };
        assert_eq!(CellErrors::gather([None, None]), None);
        let all = CellErrors::gather([Some(one("a.csv", 1)), None, Some(one("c.csv", 3))]).unwrap();
        assert_eq!(
            all.files().collect::<Vec<_>>(),
            [("a.csv", 1), ("c.csv", 3)]
        );
        assert_eq!(
            all.to_string(),
            "a.csv: 1 error; nothing was imported\n\
             a.csv:2:1: field `id`: bad\n\
             c.csv: 3 errors (the first 1 are listed); nothing was imported\n\
             c.csv:2:1: field `id`: bad"
        );
    }
}
