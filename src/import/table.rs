//! What every CSV reader shares (FORMATS.md, preamble and §1): a header row naming the columns
//! in any order, unknown columns ignored, `\n` or `\r\n`, an optional UTF-8 BOM, and the
//! collection of every error (the first [`MAX_ERRORS`] kept) with line, column and field.
//!
//! Rows are read as bytes into one reused [`csv::ByteRecord`]; only the cells of known columns
//! are checked for UTF-8, so a row costs no allocation beyond the values it produces.

use super::{FieldError, FieldErrors, ImportError};
use crate::domain::MaxKm;
use crate::geo::Coordinates;
use std::fmt;
use std::io::{self, Read};

/// At most this many errors are kept per file (FORMATS.md §1); the rest are only counted.
pub const MAX_ERRORS: usize = 100;

/// A column the reader knows.
#[derive(Clone, Copy, Debug)]
pub(super) struct Column {
    pub name: &'static str,
    /// A required column must be in the header; its cells may still be allowed empty.
    pub required: bool,
}

/// One data row being checked: its cells by known column, and the errors found so far.
pub(super) struct Row<'a> {
    file: &'a str,
    line: u64,
    record: &'a csv::ByteRecord,
    columns: &'a [Column],
    /// For each known column, its field index in the header, if present.
    index: &'a [Option<usize>],
    errors: Vec<FieldError>,
}

impl<'a> Row<'a> {
    /// The 1-based physical line where the record starts.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Records an error on known column `c`.
    pub fn error(&mut self, c: usize, message: impl Into<String>) {
        let column = self.index[c].map_or(0, |i| i as u64 + 1);
        self.errors.push(FieldError {
            file: self.file.to_owned(),
            line: self.line,
            column,
            field: self.columns[c].name.to_owned(),
            message: message.into(),
        });
    }

    /// The cell of known column `c` as text. `None` when the column is absent (already reported
    /// on the header) or the cell is not UTF-8 (reported here).
    pub fn text(&mut self, c: usize) -> Option<&'a str> {
        let i = self.index[c]?;
        // The record has exactly as many fields as the header: read_table checks it first.
        let bytes = self.record.get(i)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(_) => {
                self.error(c, "not valid UTF-8");
                None
            }
        }
    }

    /// A non-empty cell parsed by `parse`; `None` after recording why not.
    pub fn required<T, E: fmt::Display>(
        &mut self,
        c: usize,
        parse: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Option<T> {
        let s = self.text(c)?;
        if s.is_empty() {
            self.error(c, "a value is required");
            return None;
        }
        match parse(s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(c, e.to_string());
                None
            }
        }
    }

    /// An optional cell: `Some(None)` when the column is absent or the cell empty (FORMATS.md:
    /// empty optional cell = absent), `None` after recording an error.
    pub fn optional<T, E: fmt::Display>(
        &mut self,
        c: usize,
        parse: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        if self.index[c].is_none() {
            return Some(None);
        }
        let s = self.text(c)?;
        if s.is_empty() {
            return Some(None);
        }
        match parse(s) {
            Ok(v) => Some(Some(v)),
            Err(e) => {
                self.error(c, e.to_string());
                None
            }
        }
    }
}

/// Errors of one file: the first [`MAX_ERRORS`] kept in line order, all of them counted.
struct Collector {
    kept: Vec<FieldError>,
    found: u64,
}

impl Collector {
    fn push(&mut self, e: FieldError) {
        self.found += 1;
        if self.kept.len() < MAX_ERRORS {
            self.kept.push(e);
        }
    }
}

/// An error that belongs to a whole row or to the header (column 0, no field).
fn row_error(file: &str, line: u64, message: impl Into<String>) -> FieldError {
    FieldError {
        file: file.to_owned(),
        line,
        column: 0,
        field: String::new(),
        message: message.into(),
    }
}

/// The cause of a failed read. With byte records and flexible rows, the csv reader only fails
/// on I/O; anything else is kept as the cause all the same.
fn io_error(file: &str, e: csv::Error) -> ImportError {
    let source = match e.into_kind() {
        csv::ErrorKind::Io(err) => err,
        other => io::Error::other(format!("{other:?}")),
    };
    ImportError::Io {
        file: file.to_owned(),
        source,
    }
}

/// `reader` without a leading UTF-8 byte order mark, if it has one.
fn skip_bom<R: Read>(mut reader: R) -> io::Result<io::Chain<io::Cursor<Vec<u8>>, R>> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let mut head = Vec::with_capacity(BOM.len());
    (&mut reader)
        .take(BOM.len() as u64)
        .read_to_end(&mut head)?;
    if head == BOM {
        head.clear();
    }
    Ok(io::Cursor::new(head).chain(reader))
}

/// Reads a whole CSV table: checks the header against `columns`, then gives each data row
/// with the header's width to `parse`. `parse` returns `Some` for a valid row and records its
/// errors on the [`Row`] otherwise.
///
/// # Errors
/// [`ImportError::Io`] when reading fails; [`ImportError::Invalid`] with every error found
/// (the first [`MAX_ERRORS`] listed) when the file has any, in which case no row is returned.
pub(super) fn read_table<R: Read, T>(
    reader: R,
    file: &str,
    columns: &[Column],
    mut parse: impl FnMut(&mut Row<'_>) -> Option<T>,
) -> Result<Vec<T>, ImportError> {
    let reader = skip_bom(reader).map_err(|source| ImportError::Io {
        file: file.to_owned(),
        source,
    })?;
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let mut errors = Collector {
        kept: Vec::new(),
        found: 0,
    };

    if !csv
        .read_byte_record(&mut record)
        .map_err(|e| io_error(file, e))?
    {
        errors.push(row_error(
            file,
            1,
            "the file is empty; expected a header row",
        ));
        return Err(invalid(file, errors));
    }
    let header_line = record.position().map_or(1, csv::Position::line);
    let width = record.len();
    let mut index = vec![None; columns.len()];
    for (i, name) in record.iter().enumerate() {
        let Some(c) = columns.iter().position(|col| col.name.as_bytes() == name) else {
            continue; // unknown columns are ignored (FORMATS.md)
        };
        if index[c].is_some() {
            errors.push(FieldError {
                file: file.to_owned(),
                line: header_line,
                column: i as u64 + 1,
                field: columns[c].name.to_owned(),
                message: "column appears more than once in the header".to_owned(),
            });
        } else {
            index[c] = Some(i);
        }
    }
    for (c, col) in columns.iter().enumerate() {
        if col.required && index[c].is_none() {
            errors.push(FieldError {
                file: file.to_owned(),
                line: header_line,
                column: 0,
                field: col.name.to_owned(),
                message: "required column is missing from the header".to_owned(),
            });
        }
    }

    // Without a required column no row can be complete; its absence is already one error.
    let all_required = columns
        .iter()
        .zip(&index)
        .all(|(col, i)| !col.required || i.is_some());
    let mut rows = Vec::new();
    while csv
        .read_byte_record(&mut record)
        .map_err(|e| io_error(file, e))?
    {
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != width {
            errors.push(row_error(
                file,
                line,
                format!(
                    "expected {width} fields as in the header, found {}",
                    record.len()
                ),
            ));
            continue;
        }
        let mut row = Row {
            file,
            line,
            record: &record,
            columns,
            index: &index,
            errors: Vec::new(),
        };
        let value = parse(&mut row);
        let mut row_errors = row.errors;
        if value.is_none() && row_errors.is_empty() && all_required {
            // A parser must say why it refused a row; never drop one silently.
            row_errors.push(row_error(file, line, "row could not be read"));
        }
        if row_errors.is_empty() {
            if errors.found == 0 {
                rows.extend(value);
            }
        } else {
            if errors.found == 0 {
                rows = Vec::new(); // nothing is kept from a refused file
            }
            row_errors.sort_by_key(|e| e.column);
            for e in row_errors {
                errors.push(e);
            }
        }
    }
    if errors.found > 0 {
        return Err(invalid(file, errors));
    }
    Ok(rows)
}

fn invalid(file: &str, errors: Collector) -> ImportError {
    ImportError::Invalid(FieldErrors::one_file(file, errors.kept, errors.found))
}

/// Latitude and longitude from two known columns, each checked on its own so that the error
/// names the cell that is wrong.
pub(super) fn coordinates(row: &mut Row<'_>, lat: usize, lon: usize) -> Option<Coordinates> {
    let la = row.required(lat, |s| {
        let v = decimal(s, "expected a number in decimal degrees")?;
        Coordinates::new(v, 0.0)
            .map(|_| v)
            .map_err(|e| e.to_string())
    });
    let lo = row.required(lon, |s| {
        let v = decimal(s, "expected a number in decimal degrees")?;
        Coordinates::new(0.0, v)
            .map(|_| v)
            .map_err(|e| e.to_string())
    });
    match Coordinates::new(la?, lo?) {
        Ok(c) => Some(c),
        Err(e) => {
            row.error(lat, e.to_string());
            None
        }
    }
}

/// An optional `max_km` (FORMATS.md §2: float > 0).
pub(super) fn max_km(s: &str) -> Result<MaxKm, String> {
    let v = decimal(s, "expected a number of kilometres")?;
    MaxKm::new(v).map_err(|e| e.to_string())
}

/// `0` or `1`, exactly.
pub(super) fn flag(s: &str) -> Result<bool, &'static str> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err("expected 0 or 1"),
    }
}

/// A decimal number, as Rust reads an `f64`; range checks are the caller's.
fn decimal(s: &str, message: &str) -> Result<f64, String> {
    s.parse::<f64>().map_err(|_| message.to_owned())
}

/// A whole number of ASCII digits (no sign, no spaces) at most `max`.
pub(super) fn whole(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|&v| v <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_have_digits_only_and_a_bound() {
        assert_eq!(whole("0", 130), Some(0));
        assert_eq!(whole("0130", 130), Some(130));
        assert_eq!(whole("131", 130), None);
        assert_eq!(whole("-1", 130), None);
        assert_eq!(whole("+1", 130), None);
        assert_eq!(whole(" 1", 130), None);
        assert_eq!(whole("99999999999999999999999", u64::MAX), None);
    }

    #[test]
    fn a_bom_is_skipped_and_a_short_input_is_kept() {
        let mut out = String::new();
        skip_bom(&b"\xEF\xBB\xBFab"[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "ab");
        out.clear();
        skip_bom(&b"a"[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "a");
    }
}
