//! `doctors.csv` of a matching instance (FORMATS.md §2).
//!
//! An RPPS number is public (Annuaire santé), so a duplicate's message names it.

use super::ImportError;
use super::table::{Column, coordinates, max_km, read_table, whole};
use crate::domain::{Doctor, InseeCode, Rpps};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Read;

const RPPS: usize = 0;
const NAME: usize = 1;
const LAT: usize = 2;
const LON: usize = 3;
const INSEE: usize = 4;
const CAPACITY: usize = 5;
const MAX_KM: usize = 6;

const COLUMNS: [Column; 7] = [
    Column {
        name: "rpps",
        required: true,
    },
    Column {
        name: "name",
        required: true,
    },
    Column {
        name: "lat",
        required: true,
    },
    Column {
        name: "lon",
        required: true,
    },
    Column {
        name: "insee",
        required: true,
    },
    Column {
        name: "capacity",
        required: true,
    },
    Column {
        name: "max_km",
        required: false,
    },
];

/// Reads `doctors.csv` from `reader`; `file` names it in errors.
///
/// # Errors
/// See [`super::read_doctors`].
pub fn read_doctors_from<R: Read>(reader: R, file: &str) -> Result<Vec<Doctor>, ImportError> {
    let mut first_line: HashMap<Rpps, u64> = HashMap::new();
    read_table(reader, file, &COLUMNS, |row| {
        let rpps = row.required(RPPS, str::parse::<Rpps>);
        if let Some(rpps) = &rpps {
            match first_line.entry(rpps.clone()) {
                Entry::Occupied(first) => {
                    let message = format!("duplicate rpps {rpps}; first on line {}", first.get());
                    row.error(RPPS, message);
                }
                Entry::Vacant(slot) => {
                    slot.insert(row.line());
                }
            }
        }
        // Display only, and may be empty (FORMATS.md §2).
        let name = row.text(NAME);
        let coords = coordinates(row, LAT, LON);
        let insee = row.required(INSEE, str::parse::<InseeCode>);
        let capacity = row.required(CAPACITY, |s| {
            whole(s, u64::from(u32::MAX))
                .and_then(|c| u32::try_from(c).ok())
                .ok_or("expected an integer from 0 to 4294967295")
        });
        let max_km = row.optional(MAX_KM, max_km);
        Some(Doctor {
            rpps: rpps?,
            name: name?.to_owned(),
            coords: coords?,
            insee: insee?,
            capacity: capacity?,
            max_km: max_km?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MaxKm;

    fn errors_of(csv: &str) -> Vec<(u64, u64, String, String)> {
        match read_doctors_from(csv.as_bytes(), "doctors.csv") {
            Err(ImportError::Invalid(errors)) => errors
                .iter()
                .map(|e| (e.line, e.column, e.field.clone(), e.message.clone()))
                .collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_doctors_file_is_read_with_an_empty_name_and_an_empty_max_km() {
        // RPPS values from FORMATS.md §1.
        let csv = "capacity,max_km,rpps,name,lat,lon,insee\r\n\
                   12,,10000000009,Dr A. Martin,48.6921,6.1844,54395\r\n\
                   0,7.5,10123456781,,48.70,6.20,54547\r\n";
        let doctors = read_doctors_from(csv.as_bytes(), "doctors.csv").unwrap();
        assert_eq!(doctors.len(), 2);
        let d = &doctors[0];
        assert_eq!(d.rpps.as_str(), "10000000009");
        assert_eq!(d.name, "Dr A. Martin");
        assert_eq!((d.capacity, d.max_km), (12, None));
        let e = &doctors[1];
        assert_eq!((e.name.as_str(), e.capacity), ("", 0));
        assert_eq!(e.max_km, Some(MaxKm::new(7.5).unwrap()));
    }

    #[test]
    fn a_doctor_with_a_bad_rpps_key_is_refused_at_its_line_and_column() {
        // 10000000008 is 10000000009 with its Luhn check digit off by one.
        let csv = "name,rpps,lat,lon,insee,capacity\n\
                   Dr A,10000000009,48.69,6.18,54395,3\n\
                   Dr B,10000000008,48.69,6.18,54395,3\n";
        assert_eq!(
            errors_of(csv),
            [(
                3,
                2,
                "rpps".to_owned(),
                "check digit does not match (Luhn)".to_owned()
            )]
        );
    }

    #[test]
    fn a_duplicate_rpps_and_a_negative_or_huge_capacity_are_refused() {
        let csv = "rpps,name,lat,lon,insee,capacity\n\
                   10000000009,Dr A,48.69,6.18,54395,-1\n\
                   10000000009,Dr B,48.69,6.18,54395,4294967296\n\
                   10123456781,Dr C,48.69,6.18,54395,4294967295\n";
        let errors = errors_of(csv);
        let got: Vec<_> = errors
            .iter()
            .map(|(l, c, f, m)| (*l, *c, f.as_str(), m.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (2, 6, "capacity", "expected an integer from 0 to 4294967295"),
                (3, 1, "rpps", "duplicate rpps 10000000009; first on line 2"),
                (3, 6, "capacity", "expected an integer from 0 to 4294967295"),
            ]
        );
    }

    #[test]
    fn a_missing_name_column_is_one_header_error_and_rows_are_still_checked() {
        let csv = "rpps,lat,lon,insee,capacity\n10000000009,48.69,186,54395,3\n";
        let errors = errors_of(csv);
        let got: Vec<_> = errors
            .iter()
            .map(|(l, c, f, _)| (*l, *c, f.as_str()))
            .collect();
        assert_eq!(got, [(1, 0, "name"), (2, 3, "lon")]);
    }

    #[test]
    fn a_header_only_doctors_file_is_an_empty_list() {
        let csv = "rpps,name,lat,lon,insee,capacity,max_km\r\n";
        assert_eq!(
            read_doctors_from(csv.as_bytes(), "doctors.csv").unwrap(),
            []
        );
    }
}
