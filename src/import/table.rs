//! The one CSV engine every reader of this room uses (FORMATS.md, preamble and §1): a header
//! row naming the columns in any order, unknown columns ignored, `\n` or `\r\n`, an optional
//! UTF-8 BOM, rows of the header's width, typed cells, and the collection of every error of a
//! file (the first [`MAX_ERRORS`] listed, in (line, column) order) with line, column and field.
//!
//! A reader opens a [`Table`], takes its rows one by one ([`Table::next_row`]), checks each
//! cell through the [`Row`], may add errors found after the row pass (cross-row and cross-file
//! rules, [`Table::late_error`]), and ends with [`Table::finish`]. [`read_table`] does all of
//! that for the plain case: one value per valid row, nothing kept from a refused file.
//!
//! An optional file (FORMATS.md §2 `exclusions.csv`, §3 `history.csv`, `preferences.csv`,
//! `pinned.csv`: absent = empty) is [`Table::open_optional`] with `None`: a table of no rows
//! and no errors. A present but empty file is an error (no header).
//!
//! Rows are read as bytes into one reused [`csv::ByteRecord`]; only the cells of known columns
//! are checked for UTF-8, so a row costs no allocation beyond the values it produces.

use super::{CellError, CellErrors, Error};
use crate::domain::MaxKm;
use crate::geo::Coordinates;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::Hash;
use std::io::{self, Read};
use std::str::FromStr;

/// At most this many errors are listed per file (FORMATS.md §1); the rest are only counted.
pub const MAX_ERRORS: usize = 100;

/// A column a reader knows.
#[derive(Clone, Copy, Debug)]
pub(super) struct Column {
    pub name: &'static str,
    /// A required column must be in the header; its cells may still be allowed empty.
    pub required: bool,
}

impl Column {
    /// A column the header must have.
    pub const fn required(name: &'static str) -> Self {
        Self {
            name,
            required: true,
        }
    }

    /// A column the header may leave out (FORMATS.md: absent = empty cells).
    pub const fn optional(name: &'static str) -> Self {
        Self {
            name,
            required: false,
        }
    }
}

/// The errors of one file: every one counted, the first [`MAX_ERRORS`] by (line, column) kept.
struct Collector {
    file: String,
    listed: Vec<CellError>,
    found: u64,
    /// Errors of the current row (or of the header), listed in column order when it ends.
    row: Vec<CellError>,
    /// Errors found after the row pass, in line order; merged with `listed` at the end.
    late: Vec<CellError>,
}

impl Collector {
    fn new(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            listed: Vec::new(),
            found: 0,
            row: Vec::new(),
            late: Vec::new(),
        }
    }

    fn error(&mut self, line: u64, column: u64, field: &str, message: String) -> CellError {
        self.found += 1;
        CellError {
            file: self.file.clone(),
            line,
            column,
            field: field.to_owned(),
            message,
        }
    }

    /// Records an error of the current row.
    fn push(&mut self, line: u64, column: u64, field: &str, message: String) {
        let e = self.error(line, column, field, message);
        self.row.push(e);
    }

    /// Lists the current row's errors, in column order, while there is room.
    fn end_row(&mut self) {
        self.row.sort_by_key(|e| e.column);
        let room = MAX_ERRORS.saturating_sub(self.listed.len());
        self.listed.extend(self.row.drain(..).take(room));
    }

    fn push_late(&mut self, line: u64, column: u64, field: &str, message: String) {
        let e = self.error(line, column, field, message);
        if self.late.len() < MAX_ERRORS {
            self.late.push(e);
        }
    }

    /// The errors, if any. Rows came in line order and late errors in line order too, so the
    /// first [`MAX_ERRORS`] of the union are among those kept of each part.
    fn finish(mut self) -> Option<CellErrors> {
        self.end_row();
        if self.found == 0 {
            return None;
        }
        self.listed.append(&mut self.late);
        // Always sorted: rows ended by a lone CR share a line number (the csv crate counts
        // only LF), so a ragged row's column-0 error may follow its neighbour's cell error.
        self.listed.sort_by_key(|e| (e.line, e.column));
        self.listed.truncate(MAX_ERRORS);
        Some(CellErrors::one_file(&self.file, self.listed, self.found))
    }
}

/// `reader` without a leading UTF-8 byte order mark, if it has one.
type Unbom<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

fn skip_bom<R: Read>(mut reader: R) -> io::Result<Unbom<R>> {
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

/// The one way a CSV-level failure is handled: with byte records and rows of any width the csv
/// reader only fails on I/O, so every failure is an [`Error::Io`] of the file (anything else
/// is kept as the cause all the same). Nothing of the file is used.
fn io_error(file: &str, e: csv::Error) -> Error {
    let source = match e.into_kind() {
        csv::ErrorKind::Io(err) => err,
        other => io::Error::other(format!("{other:?}")),
    };
    Error::Io {
        file: file.to_owned(),
        source,
    }
}

/// A CSV file being read: where each known column sits in its header, the current row, and the
/// errors found so far.
pub(super) struct Table<'c, R> {
    columns: &'c [Column],
    /// For each known column, its field index in the header, if present.
    index: Vec<Option<usize>>,
    width: usize,
    /// `None` for an absent optional file or an empty file: no rows.
    csv: Option<csv::Reader<Unbom<R>>>,
    record: csv::ByteRecord,
    /// The physical line of the last record read (the header's, before any row).
    line: u64,
    errors: Collector,
}

impl<'c, R: Read> Table<'c, R> {
    /// Reads the header of `reader`, named `file` in errors; errors on the header are recorded
    /// (a required column missing, a known column twice, no header at all).
    ///
    /// # Errors
    /// [`Error::Io`] when reading fails.
    pub fn open(reader: R, file: &str, columns: &'c [Column]) -> Result<Self, Error> {
        Self::open_optional(Some(reader), file, columns)
    }

    /// As [`Table::open`], for an optional file: `None` (the file does not exist) is a table
    /// of no rows and no errors (FORMATS.md: absent = empty).
    ///
    /// # Errors
    /// [`Error::Io`] when reading fails.
    pub fn open_optional(
        reader: Option<R>,
        file: &str,
        columns: &'c [Column],
    ) -> Result<Self, Error> {
        let mut table = Self {
            columns,
            index: vec![None; columns.len()],
            width: 0,
            csv: None,
            record: csv::ByteRecord::new(),
            line: 1,
            errors: Collector::new(file),
        };
        let Some(reader) = reader else {
            return Ok(table);
        };
        let reader = skip_bom(reader).map_err(|source| Error::Io {
            file: file.to_owned(),
            source,
        })?;
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        if !csv
            .read_byte_record(&mut table.record)
            .map_err(|e| io_error(file, e))?
        {
            let message = "the file is empty; expected a header row".to_owned();
            table.errors.push(1, 0, "", message);
            return Ok(table);
        }
        table.line = table.record.position().map_or(1, csv::Position::line);
        table.width = table.record.len();
        for (i, name) in table.record.iter().enumerate() {
            let Some(c) = columns.iter().position(|col| col.name.as_bytes() == name) else {
                continue; // unknown columns are ignored (FORMATS.md)
            };
            if table.index[c].is_some() {
                let message = "column appears more than once in the header".to_owned();
                table
                    .errors
                    .push(table.line, i as u64 + 1, columns[c].name, message);
            } else {
                table.index[c] = Some(i);
            }
        }
        for (c, col) in columns.iter().enumerate() {
            if col.required && table.index[c].is_none() {
                let message = "required column is missing from the header".to_owned();
                table.errors.push(table.line, 0, col.name, message);
            }
        }
        table.csv = Some(csv);
        Ok(table)
    }

    /// Whether known column `c` is in the header.
    pub fn has(&self, c: usize) -> bool {
        self.index[c].is_some()
    }

    /// Whether every required column is in the header: without one, no row can be complete
    /// (its absence is already one error).
    pub fn has_required(&self) -> bool {
        self.columns
            .iter()
            .zip(&self.index)
            .all(|(col, i)| !col.required || i.is_some())
    }

    /// The 1-based column of known column `c`; 0 when it is not in the header.
    pub fn column(&self, c: usize) -> u64 {
        self.index[c].map_or(0, |i| i as u64 + 1)
    }

    /// The physical line of the last record read: the header's before any row.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// How many errors were found so far, listed or not.
    pub fn found(&self) -> u64 {
        self.errors.found
    }

    /// The next data row of the header's width; rows of another width are reported (one error
    /// on the whole row) and skipped. `None` at the end.
    ///
    /// # Errors
    /// [`Error::Io`] when reading fails.
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>, Error> {
        self.errors.end_row();
        let Some(csv) = &mut self.csv else {
            return Ok(None);
        };
        loop {
            if !csv
                .read_byte_record(&mut self.record)
                .map_err(|e| io_error(&self.errors.file, e))?
            {
                return Ok(None);
            }
            self.line = self
                .record
                .position()
                .map_or(self.line + 1, csv::Position::line);
            if self.record.len() == self.width {
                break;
            }
            let message = format!(
                "expected {} fields as in the header, found {}",
                self.width,
                self.record.len()
            );
            self.errors.push(self.line, 0, "", message);
            self.errors.end_row();
        }
        Ok(Some(Row {
            line: self.line,
            record: &self.record,
            columns: self.columns,
            index: &self.index,
            errors: &mut self.errors,
        }))
    }

    /// Records an error on known column `c` of an earlier `line`, found after the row pass (a
    /// cross-row rule such as overlapping windows). Late errors must come in line order.
    pub fn late_error(&mut self, line: u64, c: usize, message: impl Into<String>) {
        let column = self.column(c);
        let field = self.columns[c].name;
        self.errors.push_late(line, column, field, message.into());
    }

    /// Records an error on the whole of `line` (column 0, no field), found after the row pass.
    pub fn late_row_error(&mut self, line: u64, message: impl Into<String>) {
        self.errors.push_late(line, 0, "", message.into());
    }

    /// The file's errors, if it has any: the first [`MAX_ERRORS`] in (line, column) order, and
    /// how many in all.
    pub fn finish(self) -> Option<CellErrors> {
        self.errors.finish()
    }
}

/// One data row being checked: its cells by known column; its errors go to the table.
pub(super) struct Row<'t> {
    line: u64,
    record: &'t csv::ByteRecord,
    columns: &'t [Column],
    index: &'t [Option<usize>],
    errors: &'t mut Collector,
}

impl<'t> Row<'t> {
    /// The 1-based physical line where the record starts.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Whether an error was recorded on this row.
    pub fn has_errors(&self) -> bool {
        !self.errors.row.is_empty()
    }

    /// Whether the file has no error so far, this row included.
    pub fn file_is_clean(&self) -> bool {
        self.errors.found == 0
    }

    /// Records an error on known column `c`.
    pub fn error(&mut self, c: usize, message: impl Into<String>) {
        let column = self.index[c].map_or(0, |i| i as u64 + 1);
        let field = self.columns[c].name;
        self.errors.push(self.line, column, field, message.into());
    }

    /// Records an error on the whole row (column 0, no field).
    pub fn refuse(&mut self, message: impl Into<String>) {
        self.errors.push(self.line, 0, "", message.into());
    }

    /// The cell of known column `c` as text. `None` when the column is absent (already reported
    /// on the header when required) or the cell is not UTF-8 (reported here).
    pub fn text(&mut self, c: usize) -> Option<&'t str> {
        let i = self.index[c]?;
        // The record has exactly as many fields as the header: next_row checks it first.
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
        parse: impl FnOnce(&'t str) -> Result<T, E>,
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
        parse: impl FnOnce(&'t str) -> Result<T, E>,
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

    /// Latitude and longitude from two known columns, each checked on its own so that the
    /// error names the cell that is wrong.
    pub fn coordinates(&mut self, lat: usize, lon: usize) -> Option<Coordinates> {
        let la = self.required(lat, |s| {
            let v = decimal(s, "expected a number in decimal degrees")?;
            Coordinates::new(v, 0.0)
                .map(|_| v)
                .map_err(|e| e.to_string())
        });
        let lo = self.required(lon, |s| {
            let v = decimal(s, "expected a number in decimal degrees")?;
            Coordinates::new(0.0, v)
                .map(|_| v)
                .map_err(|e| e.to_string())
        });
        match Coordinates::new(la?, lo?) {
            Ok(c) => Some(c),
            Err(e) => {
                self.error(lat, e.to_string());
                None
            }
        }
    }

    /// Records `key` (the value of known column `c`) as seen on this row, or reports it as a
    /// duplicate (FORMATS.md: duplicate keys are an error): `duplicate <field> <shown>; first
    /// on line <n>`. `shown` is `None` where the value must not be quoted (health data).
    pub fn unique<K: Hash + Eq + Clone>(
        &mut self,
        c: usize,
        seen: &mut FirstLines<K>,
        key: &K,
        shown: Option<&dyn fmt::Display>,
    ) {
        match seen.0.entry(key.clone()) {
            Entry::Occupied(first) => {
                let field = self.columns[c].name;
                let first = *first.get();
                let message = match shown {
                    Some(v) => format!("duplicate {field} {v}; first on line {first}"),
                    None => format!("duplicate {field}; first on line {first}"),
                };
                self.error(c, message);
            }
            Entry::Vacant(slot) => {
                slot.insert(self.line);
            }
        }
    }
}

/// The first line of each key seen in a file, so that a duplicate names it.
#[derive(Debug)]
pub(super) struct FirstLines<K>(HashMap<K, u64>);

impl<K> Default for FirstLines<K> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<K: Hash + Eq> FirstLines<K> {
    /// Whether `key` was seen.
    pub fn contains(&self, key: &K) -> bool {
        self.0.contains_key(key)
    }
}

/// Reads a whole table: gives each data row to `parse`, which returns `Some` for a valid row
/// and records its errors on the [`Row`] otherwise.
///
/// # Errors
/// [`Error::Io`] when reading fails; [`Error::Invalid`] with every error found (the first
/// [`MAX_ERRORS`] listed) when the file has any, in which case no row is returned.
pub(super) fn read_table<R: Read, T>(
    mut table: Table<'_, R>,
    mut parse: impl FnMut(&mut Row<'_>) -> Option<T>,
) -> Result<Vec<T>, Error> {
    let complete = table.has_required();
    let mut rows = Vec::new();
    while let Some(mut row) = table.next_row()? {
        let value = parse(&mut row);
        if value.is_none() && !row.has_errors() && complete {
            // A parser must say why it refused a row; never drop one silently.
            row.refuse("row could not be read");
        }
        if row.file_is_clean() {
            rows.extend(value);
        } else if !rows.is_empty() {
            rows = Vec::new(); // nothing is kept from a refused file
        }
    }
    match table.finish() {
        Some(errors) => Err(Error::Invalid(errors)),
        None => Ok(rows),
    }
}

/// A whole number of ASCII digits (no sign, no spaces; leading zeros allowed) within
/// `min..=max`.
///
/// # Errors
/// `expected an integer from <min> to <max>`, also for a number too large for `T`.
pub(super) fn whole<T: FromStr + PartialOrd + fmt::Display>(
    s: &str,
    min: T,
    max: T,
) -> Result<T, String> {
    let message = || format!("expected an integer from {min} to {max}");
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(message());
    }
    match s.parse::<T>() {
        Ok(v) if min <= v && v <= max => Ok(v),
        _ => Err(message()),
    }
}

/// A decimal number, as Rust reads an `f64`; range checks are the caller's.
fn decimal(s: &str, message: &str) -> Result<f64, String> {
    s.parse::<f64>().map_err(|_| message.to_owned())
}

/// A `max_km` cell (FORMATS.md §2 and §3: float > 0).
pub(super) fn max_km(s: &str) -> Result<MaxKm, String> {
    let v = decimal(s, "expected a number of kilometres")?;
    MaxKm::new(v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: usize = 0;
    const N: usize = 1;
    const NOTE: usize = 2;
    const COLUMNS: [Column; 3] = [
        Column::required("id"),
        Column::required("n"),
        Column::optional("note"),
    ];

    /// Reads `csv` as rows `(id, n, note)`, `n` from 0 to 9.
    fn read(csv: &[u8]) -> Result<Vec<(String, u8, Option<String>)>, Error> {
        let mut seen = FirstLines::default();
        let table = Table::open(csv, "t.csv", &COLUMNS)?;
        read_table(table, |row| {
            let id = row.required(ID, |s| Ok::<_, String>(s.to_owned()));
            if let Some(id) = &id {
                row.unique(ID, &mut seen, id, Some(id));
            }
            let n = row.required(N, |s| whole(s, 0u8, 9));
            let note = row.optional(NOTE, |s| Ok::<_, String>(s.to_owned()));
            Some((id?, n?, note?))
        })
    }

    fn errors(csv: &[u8]) -> CellErrors {
        match read(csv) {
            Err(Error::Invalid(errors)) => errors,
            other => panic!("expected cell errors, got {other:?}"),
        }
    }

    fn at(errors: &CellErrors) -> Vec<(u64, u64, &str, &str)> {
        errors
            .iter()
            .map(|e| (e.line, e.column, e.field.as_str(), e.message.as_str()))
            .collect()
    }

    #[test]
    fn whole_numbers_have_digits_only_and_a_bound() {
        assert_eq!(whole("0", 0u8, 130), Ok(0));
        assert_eq!(whole("0130", 0u8, 130), Ok(130));
        for bad in ["131", "-1", "+1", " 1"] {
            assert!(whole(bad, 0u8, 130).is_err(), "{bad:?}");
        }
        assert_eq!(whole("1", 1u32, 3), Ok(1));
        assert_eq!(whole("3", 1u32, 3), Ok(3));
        let msg = Err("expected an integer from 1 to 3".to_owned());
        for bad in ["0", "4", "-1", "+1", " 1", "1 ", "", "1.0", "x"] {
            assert_eq!(whole(bad, 1u32, 3), msg, "{bad:?}");
        }
        // Past the type's range: the same message, no overflow.
        assert_eq!(
            whole("256", 0u8, u8::MAX),
            Err("expected an integer from 0 to 255".to_owned())
        );
        assert_eq!(whole("4294967295", 0u32, u32::MAX), Ok(u32::MAX));
        assert!(whole("99999999999999999999999", 0u64, u64::MAX).is_err());
    }

    #[test]
    fn a_header_in_any_order_with_unknown_columns_crlf_and_a_bom_is_read() {
        let csv = b"\xEF\xBB\xBFnote,extra,n,id\r\nhello,x,3,a\r\n,y,0,b\r\n";
        let rows = read(csv).unwrap();
        assert_eq!(
            rows,
            [
                ("a".to_owned(), 3, Some("hello".to_owned())),
                ("b".to_owned(), 0, None)
            ]
        );
    }

    #[test]
    fn an_optional_column_may_be_left_out_of_the_header() {
        let rows = read(b"n,id\n1,a\n").unwrap();
        assert_eq!(rows, [("a".to_owned(), 1, None)]);
    }

    #[test]
    fn a_missing_or_repeated_column_is_an_error_on_the_header_line() {
        let e = errors(b"id,id,note\na,b,c\n");
        assert_eq!(
            at(&e),
            [
                (1, 0, "n", "required column is missing from the header"),
                (1, 2, "id", "column appears more than once in the header"),
            ]
        );
    }

    #[test]
    fn errors_of_a_row_are_listed_in_column_order_and_rows_in_line_order() {
        let e = errors(b"n,id\n12,a\nx,a\n1,2,3\n");
        assert_eq!(
            at(&e),
            [
                (2, 1, "n", "expected an integer from 0 to 9"),
                (3, 1, "n", "expected an integer from 0 to 9"),
                (3, 2, "id", "duplicate id a; first on line 2"),
                (4, 0, "", "expected 2 fields as in the header, found 3"),
            ]
        );
        assert_eq!(
            e.to_string(),
            "t.csv: 4 errors; nothing was imported\n\
             t.csv:2:1: field `n`: expected an integer from 0 to 9\n\
             t.csv:3:1: field `n`: expected an integer from 0 to 9\n\
             t.csv:3:2: field `id`: duplicate id a; first on line 2\n\
             t.csv:4:0: expected 2 fields as in the header, found 3"
        );
    }

    #[test]
    fn rows_ended_by_a_lone_cr_still_list_their_errors_in_line_and_column_order() {
        // The csv crate ends a record at a lone CR but counts lines by LF only, so both rows
        // below are "line 2": the cell error (column 2) and the ragged row (column 0) share it.
        // Found by the garde_csv fuzz target.
        let e = errors(b"id,n\na,x\rb\n");
        let listed: Vec<(u64, u64)> = e.iter().map(|e| (e.line, e.column)).collect();
        let mut sorted = listed.clone();
        sorted.sort_unstable();
        assert_eq!(listed, sorted);
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn an_empty_file_has_no_header() {
        for csv in [&b""[..], b"\n\n", b"\xEF\xBB\xBF"] {
            let e = errors(csv);
            assert_eq!(
                at(&e),
                [(1, 0, "", "the file is empty; expected a header row")]
            );
        }
    }

    #[test]
    fn only_the_first_max_errors_are_listed_and_all_are_counted() {
        let mut csv = String::from("id,n\n");
        for i in 0..250 {
            csv.push_str(&format!("r{i},x\n"));
        }
        let e = errors(csv.as_bytes());
        assert_eq!((e.len(), e.found()), (MAX_ERRORS, 250));
        assert_eq!(e[MAX_ERRORS - 1].line, MAX_ERRORS as u64 + 1);
        assert!(
            e.to_string().starts_with(
                "t.csv: 250 errors (the first 100 are listed); nothing was imported\n"
            )
        );
    }

    #[test]
    fn late_errors_are_merged_in_line_order_within_the_cap() {
        let mut csv = String::from("id,n\n");
        for i in 0..150 {
            csv.push_str(&format!("r{i},x\n"));
        }
        let mut table = Table::open(csv.as_bytes(), "t.csv", &COLUMNS).unwrap();
        while let Some(mut row) = table.next_row().unwrap() {
            let _ = row.required(N, |s| whole(s, 0u8, 9));
        }
        // A cross-row rule found after the pass, on line 3 and on line 200.
        table.late_error(3, ID, "late");
        table.late_row_error(200, "later");
        let e = table.finish().unwrap();
        assert_eq!((e.len(), e.found()), (MAX_ERRORS, 152));
        assert_eq!(
            (e[1].line, e[1].column, e[2].line, e[2].column),
            (3, 1, 3, 2)
        );
        assert_eq!(e[2].message, "expected an integer from 0 to 9");
        assert_eq!(e[1].message, "late");
        assert!(e.iter().all(|x| x.message != "later"));
    }

    #[test]
    fn an_absent_optional_file_is_an_empty_table() {
        let table = Table::<&[u8]>::open_optional(None, "t.csv", &COLUMNS).unwrap();
        assert!(!table.has(ID));
        assert_eq!(read_table(table, |_| Some(())).unwrap(), []);
        let present = Table::open_optional(Some(&b"id,n\na,1\n"[..]), "t.csv", &COLUMNS);
        assert_eq!(read_table(present.unwrap(), |_| Some(())).unwrap().len(), 1);
    }

    #[test]
    fn a_failing_reader_is_an_io_error_of_the_file() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        match Table::open(Broken, "t.csv", &COLUMNS) {
            Err(Error::Io { file, source }) => {
                assert_eq!(
                    (file.as_str(), source.to_string()),
                    ("t.csv", "disk on fire".into())
                );
            }
            Err(e) => panic!("expected an I/O error, got {e:?}"),
            Ok(_) => panic!("expected an I/O error"),
        }
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
