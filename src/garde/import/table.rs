//! What the four readers share: the header of a CSV file (columns in any order, unknown
//! ones ignored, an optional UTF-8 BOM), rows of the header's width, typed cells, and the
//! collection of errors with line, column and field.

use super::MAX_ERRORS;
use crate::geo::Coordinates;
use crate::import::FieldError;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

/// Errors of one file: every one counted, the first [`MAX_ERRORS`] by (line, column) kept.
pub(super) struct Collector {
    file: &'static str,
    pub(super) kept: Vec<FieldError>,
    pub(super) found: u64,
}

impl Collector {
    pub(super) fn new(file: &'static str) -> Self {
        Self {
            file,
            kept: Vec::new(),
            found: 0,
        }
    }

    pub(super) fn push(&mut self, line: u64, column: u64, field: &str, message: impl Into<String>) {
        self.found += 1;
        if self.kept.len() < MAX_ERRORS {
            self.kept.push(FieldError {
                file: self.file.to_owned(),
                line,
                column,
                field: field.to_owned(),
                message: message.into(),
            });
        }
    }

    /// Merges errors found after the row pass (cross-row checks, given in line order): the
    /// first [`MAX_ERRORS`] of the union are among the kept ones of each part.
    pub(super) fn merge_late(&mut self, late: Collector) {
        self.found += late.found;
        self.kept.extend(late.kept);
        self.kept.sort_by_key(|e| (e.line, e.column));
        self.kept.truncate(MAX_ERRORS);
    }
}

/// A CSV table being read: the header's column positions and the current row.
pub(super) struct Table<'a> {
    columns: &'a [(&'static str, bool)],
    pub(super) index: Vec<Option<usize>>,
    width: usize,
    reader: csv::Reader<&'a [u8]>,
    record: csv::ByteRecord,
    pub(super) line: u64,
}

impl<'a> Table<'a> {
    /// Reads the header; errors on it go to `errs`. `None` when the file has no header.
    pub(super) fn open(
        bytes: &'a [u8],
        columns: &'a [(&'static str, bool)],
        errs: &mut Collector,
    ) -> Option<Self> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut record = csv::ByteRecord::new();
        if !reader.read_byte_record(&mut record).unwrap_or(false) {
            errs.push(1, 0, "", "the file is empty; expected a header row");
            return None;
        }
        let line = record.position().map_or(1, csv::Position::line);
        let mut index = vec![None; columns.len()];
        for (i, name) in record.iter().enumerate() {
            // Unknown columns are ignored (FORMATS.md).
            if let Some(c) = columns.iter().position(|(n, _)| n.as_bytes() == name) {
                if index[c].is_some() {
                    let msg = "column appears more than once in the header";
                    errs.push(line, i as u64 + 1, columns[c].0, msg);
                } else {
                    index[c] = Some(i);
                }
            }
        }
        for (c, (name, required)) in columns.iter().enumerate() {
            if *required && index[c].is_none() {
                errs.push(line, 0, name, "required column is missing from the header");
            }
        }
        Some(Self {
            columns,
            index,
            width: record.len(),
            reader,
            record,
            line,
        })
    }

    /// Advances to the next data row of the header's width; rows of another width, and bytes
    /// the CSV reader cannot split, are reported and skipped. `false` at the end.
    pub(super) fn next_row(&mut self, errs: &mut Collector) -> bool {
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => return false,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(self.line + 1, csv::Position::line);
                    errs.push(line, 0, "", "unreadable CSV row");
                    return false;
                }
            }
            self.line = self
                .record
                .position()
                .map_or(self.line + 1, csv::Position::line);
            if self.record.len() == self.width {
                return true;
            }
            let msg = format!(
                "expected {} fields as in the header, found {}",
                self.width,
                self.record.len()
            );
            errs.push(self.line, 0, "", msg);
        }
    }

    pub(super) fn column(&self, c: usize) -> u64 {
        self.index[c].map_or(0, |i| i as u64 + 1)
    }

    pub(super) fn error(&self, errs: &mut Collector, c: usize, message: impl Into<String>) {
        errs.push(self.line, self.column(c), self.columns[c].0, message);
    }

    /// The cell of column `c` as text; `None` when the column is absent (reported on the
    /// header) or the cell is not UTF-8 (reported here).
    pub(super) fn text(&self, c: usize, errs: &mut Collector) -> Option<&str> {
        let bytes = self.record.get(self.index[c]?)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(_) => {
                self.error(errs, c, "not valid UTF-8");
                None
            }
        }
    }

    /// A required, non-empty cell parsed by `parse`; `None` after reporting why not.
    pub(super) fn required<T, E: fmt::Display>(
        &self,
        c: usize,
        errs: &mut Collector,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let s = self.text(c, errs)?;
        if s.is_empty() {
            self.error(errs, c, "a value is required");
            return None;
        }
        parse(s)
            .map_err(|e| self.error(errs, c, e.to_string()))
            .ok()
    }

    /// An optional cell: `Some(None)` when absent or empty, `None` after reporting an error.
    pub(super) fn optional<T, E: fmt::Display>(
        &self,
        c: usize,
        errs: &mut Collector,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        if self.index[c].is_none() {
            return Some(None);
        }
        let s = self.text(c, errs)?;
        if s.is_empty() {
            return Some(None);
        }
        match parse(s) {
            Ok(v) => Some(Some(v)),
            Err(e) => {
                self.error(errs, c, e.to_string());
                None
            }
        }
    }

    /// Latitude and longitude, each checked on its own so that the error names its cell.
    pub(super) fn coordinates(
        &self,
        lat: usize,
        lon: usize,
        errs: &mut Collector,
    ) -> Option<Coordinates> {
        let num = |s: &str| {
            s.parse::<f64>()
                .map_err(|_| "expected a number in decimal degrees")
        };
        let la = self.required(lat, errs, |s| {
            let v = num(s)?;
            Coordinates::new(v, 0.0)
                .map(|_| v)
                .map_err(|e| e.to_string())
        });
        let lo = self.required(lon, errs, |s| {
            let v = num(s)?;
            Coordinates::new(0.0, v)
                .map(|_| v)
                .map_err(|e| e.to_string())
        });
        Coordinates::new(la?, lo?).ok()
    }
}

/// A whole number of ASCII digits (no sign, no spaces) within `min..=max`.
pub(super) fn whole(s: &str, min: u32, max: u32) -> Result<u32, String> {
    let msg = || format!("expected an integer from {min} to {max}");
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(msg());
    }
    s.parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(msg)
}

/// Records `key` at `line`, or reports the duplicate.
pub(super) fn unique<K: std::hash::Hash + Eq + fmt::Display + Clone>(
    seen: &mut HashMap<K, u64>,
    key: &K,
    line: u64,
) -> Result<(), String> {
    match seen.entry(key.clone()) {
        Entry::Occupied(first) => Err(format!("duplicate {key}; first on line {}", first.get())),
        Entry::Vacant(v) => {
            v.insert(line);
            Ok(())
        }
    }
}
