//! `patients.csv` of a matching instance (FORMATS.md §2).
//!
//! Health data: error messages never contain a cell's value, only its line, column and field.

use super::ImportError;
use super::table::{Column, coordinates, flag, max_km, read_table, whole};
use crate::domain::{InseeCode, Patient, PatientId};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Read;

const ID: usize = 0;
const LAT: usize = 1;
const LON: usize = 2;
const INSEE: usize = 3;
const AGE: usize = 4;
const ALD: usize = 5;
const CSS: usize = 6;
const MAX_KM: usize = 7;

const COLUMNS: [Column; 8] = [
    Column {
        name: "patient_id",
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
        name: "age",
        required: true,
    },
    Column {
        name: "ald",
        required: true,
    },
    Column {
        name: "css",
        required: true,
    },
    Column {
        name: "max_km",
        required: false,
    },
];

/// Reads `patients.csv` from `reader`; `file` names it in errors.
///
/// # Errors
/// See [`super::read_patients`].
pub fn read_patients_from<R: Read>(reader: R, file: &str) -> Result<Vec<Patient>, ImportError> {
    // First line of each identifier, so that a duplicate names it.
    let mut first_line: HashMap<PatientId, u64> = HashMap::new();
    read_table(reader, file, &COLUMNS, |row| {
        let id = row.required(ID, str::parse::<PatientId>);
        if let Some(id) = &id {
            match first_line.entry(id.clone()) {
                Entry::Occupied(first) => {
                    let message = format!("duplicate patient_id; first on line {}", first.get());
                    row.error(ID, message);
                }
                Entry::Vacant(slot) => {
                    slot.insert(row.line());
                }
            }
        }
        let coords = coordinates(row, LAT, LON);
        let insee = row.required(INSEE, str::parse::<InseeCode>);
        let age = row.required(AGE, |s| {
            whole(s, 130)
                .and_then(|a| u8::try_from(a).ok())
                .ok_or("expected an integer from 0 to 130")
        });
        let ald = row.required(ALD, flag);
        let css = row.required(CSS, flag);
        let max_km = row.optional(MAX_KM, max_km);
        Some(Patient {
            id: id?,
            coords: coords?,
            insee: insee?,
            age: age?,
            ald: ald?,
            css: css?,
            max_km: max_km?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MaxKm;

    fn errors_of(csv: &str) -> Vec<(u64, u64, String, String)> {
        match read_patients_from(csv.as_bytes(), "patients.csv") {
            Err(ImportError::Invalid(errors)) => errors
                .iter()
                .map(|e| (e.line, e.column, e.field.clone(), e.message.clone()))
                .collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_file_with_columns_in_any_order_an_unknown_column_and_crlf_is_read() {
        let csv = "insee,age,comment,patient_id,css,ald,lon,lat,max_km\r\n\
                   54395,72,\"note, quoted\",P001,0,0,6.1844,48.6921,\r\n\
                   2A004,5,,p-2.b_3,1,1,8.7369,41.9192,2.5\r\n";
        let patients = read_patients_from(csv.as_bytes(), "patients.csv").unwrap();
        assert_eq!(patients.len(), 2);
        let p = &patients[0];
        assert_eq!(p.id.as_str(), "P001");
        assert_eq!((p.coords.lat(), p.coords.lon()), (48.6921, 6.1844));
        assert_eq!(p.insee.as_str(), "54395");
        assert_eq!((p.age, p.ald, p.css, p.max_km), (72, false, false, None));
        let q = &patients[1];
        assert_eq!(q.id.as_str(), "p-2.b_3");
        assert_eq!(q.insee.as_str(), "2A004");
        assert_eq!((q.age, q.ald, q.css), (5, true, true));
        assert_eq!(q.max_km, Some(MaxKm::new(2.5).unwrap()));
    }

    #[test]
    fn every_fault_of_a_patients_file_is_reported_with_its_line_and_column() {
        // The css column is missing; the rows hold lat 91, a NIR-shaped id, a duplicate id and
        // a non-numeric age. Columns: 1 patient_id, 2 lat, 3 lon, 4 insee, 5 age, 6 ald.
        let csv = "patient_id,lat,lon,insee,age,ald\n\
                   P001,48.6921,6.1844,54395,45,0\n\
                   P002,91,6.18,54395,30,1\n\
                   1850775123456,48.69,6.18,54395,50,0\n\
                   P001,48.70,6.19,54395,60,0\n\
                   P005,48.68,6.17,54395,abc,0\n";
        let errors = errors_of(csv);
        let at: Vec<_> = errors
            .iter()
            .map(|(l, c, f, _)| (*l, *c, f.as_str()))
            .collect();
        assert_eq!(
            at,
            [
                (1, 0, "css"),
                (3, 2, "lat"),
                (4, 1, "patient_id"),
                (5, 1, "patient_id"),
                (6, 5, "age"),
            ]
        );
        assert_eq!(errors[0].3, "required column is missing from the header");
        assert_eq!(
            errors[1].3,
            "latitude must be a finite number between -90 and 90"
        );
        assert!(errors[2].3.contains("NIR"), "{}", errors[2].3);
        assert_eq!(errors[3].3, "duplicate patient_id; first on line 2");
        assert_eq!(errors[4].3, "expected an integer from 0 to 130");
    }

    #[test]
    fn patient_errors_never_contain_the_cell_value() {
        let csv = "patient_id,lat,lon,insee,age,ald,css,max_km\n\
                   1850775123456,48.6999,1999.25,5439Z,131,2,x7,-3.5\n\
                   P1,48.69,6.18,54395,42,0,0,\n\
                   P1,48.69,6.18,54395,42,0,0,\n";
        let errors = errors_of(csv);
        assert_eq!(errors.len(), 8);
        for (.., message) in &errors {
            for value in [
                "1850775123456",
                "48.6999",
                "1999.25",
                "5439Z",
                "131",
                "x7",
                "3.5",
            ] {
                assert!(!message.contains(value), "{message}");
            }
            assert!(!message.contains("P1"), "{message}");
        }
    }

    #[test]
    fn an_empty_max_km_is_absent_and_a_missing_max_km_column_too() {
        let with = "patient_id,lat,lon,insee,age,ald,css,max_km\nP1,48.69,6.18,54395,42,0,1,\n";
        let without = "patient_id,lat,lon,insee,age,ald,css\nP1,48.69,6.18,54395,42,0,1\n";
        for csv in [with, without] {
            let patients = read_patients_from(csv.as_bytes(), "patients.csv").unwrap();
            assert_eq!(patients[0].max_km, None);
        }
    }

    #[test]
    fn a_header_only_file_is_an_empty_list() {
        let csv = "patient_id,lat,lon,insee,age,ald,css,max_km\n";
        assert_eq!(
            read_patients_from(csv.as_bytes(), "patients.csv").unwrap(),
            []
        );
    }

    #[test]
    fn an_empty_file_is_refused_for_want_of_a_header() {
        for csv in ["", "\n\n"] {
            assert_eq!(
                errors_of(csv),
                [(
                    1,
                    0,
                    String::new(),
                    "the file is empty; expected a header row".to_owned()
                )]
            );
        }
    }

    #[test]
    fn a_utf8_bom_before_the_header_is_accepted() {
        let csv = "\u{feff}patient_id,lat,lon,insee,age,ald,css\nP1,48.69,6.18,54395,42,0,1\n";
        let patients = read_patients_from(csv.as_bytes(), "patients.csv").unwrap();
        assert_eq!(patients[0].id.as_str(), "P1");
    }

    #[test]
    fn a_row_with_the_wrong_number_of_fields_is_one_row_error() {
        let csv = "patient_id,lat,lon,insee,age,ald,css\n\
                   P1,48.69,6.18,54395,42,0,1\n\
                   P2,48.69,6.18,54395,42,0\n";
        assert_eq!(
            errors_of(csv),
            [(
                3,
                0,
                String::new(),
                "expected 7 fields as in the header, found 6".to_owned()
            )]
        );
    }

    #[test]
    fn empty_required_cells_and_cells_in_a_bad_encoding_are_refused() {
        let mut csv = b"patient_id,lat,lon,insee,age,ald,css\n,48.69,6.18,54395,42,0,1\n".to_vec();
        csv.extend_from_slice(b"P2,48.69,6.18,5439\xE9,42,0,1\n");
        let errors = match read_patients_from(&csv[..], "patients.csv") {
            Err(ImportError::Invalid(errors)) => errors.into_vec(),
            other => panic!("{other:?}"),
        };
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.line, e.column, e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [(2, 1, "a value is required"), (3, 4, "not valid UTF-8")]
        );
    }

    #[test]
    fn a_line_number_counts_physical_lines_of_quoted_cells() {
        // The quoted cell spans lines 2-3, so the faulty row starts on line 4.
        let csv = "patient_id,note,lat,lon,insee,age,ald,css\n\
                   P1,\"two\nlines\",48.69,6.18,54395,42,0,1\n\
                   P2,,48.69,6.18,54395,42,0,7\n";
        let errors = errors_of(csv);
        assert_eq!((errors[0].0, errors[0].1), (4, 8));
    }
}
