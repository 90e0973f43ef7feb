//! The matching instance (FORMATS.md §2): `patients.csv` and `doctors.csv`.
//!
//! Patients are health data: their error messages never contain a cell's value, only its line,
//! column and field. An RPPS number is public (Annuaire santé), so a duplicate's message names
//! it.

use super::table::{Column, FirstLines, Table, max_km, read_table, whole};
use super::{CellErrors, Error, read_path};
use crate::domain::{InseeCode, MatchingDoctor, MaxKm, Patient, PatientId, Rpps, Scope};
use crate::matching::Instance;
use std::io::Read;
use std::path::Path;

const PATIENT_ID: usize = 0;
const P_LAT: usize = 1;
const P_LON: usize = 2;
const P_INSEE: usize = 3;
const AGE: usize = 4;
const ALD: usize = 5;
const CSS: usize = 6;
const P_MAX_KM: usize = 7;

const PATIENT_COLUMNS: [Column; 8] = [
    Column::required("patient_id"),
    Column::required("lat"),
    Column::required("lon"),
    Column::required("insee"),
    Column::required("age"),
    Column::required("ald"),
    Column::required("css"),
    Column::optional("max_km"),
];

const RPPS: usize = 0;
const NAME: usize = 1;
const D_LAT: usize = 2;
const D_LON: usize = 3;
const D_INSEE: usize = 4;
const CAPACITY: usize = 5;
const D_MAX_KM: usize = 6;

const DOCTOR_COLUMNS: [Column; 7] = [
    Column::required("rpps"),
    Column::required("name"),
    Column::required("lat"),
    Column::required("lon"),
    Column::required("insee"),
    Column::required("capacity"),
    Column::optional("max_km"),
];

/// Reads a `patients.csv` (FORMATS.md §2): `patient_id` (unique, never NIR-shaped), `lat`,
/// `lon`, `insee`, `age` (0–130), `ald` and `css` (`0`/`1`), optional `max_km` (> 0).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Invalid`] with every error found (the
/// first [`super::MAX_ERRORS`] listed) when any row or the header breaks a rule.
///
/// # Complexity
/// One pass, O(rows) expected time; memory for the result and one id set.
pub fn read_patients(path: &Path) -> Result<Vec<Patient>, Error> {
    read_path(path, read_patients_from)
}

/// Reads `patients.csv` from `reader`; `file` names it in errors.
///
/// # Errors
/// As [`read_patients`].
pub fn read_patients_from<R: Read>(reader: R, file: &str) -> Result<Vec<Patient>, Error> {
    read_patients_within(reader, file, &Scope::National)
}

/// [`read_patients_from`], refusing (as a cell error on `insee`) a commune outside the
/// départements of `within`: CPAM staff import the patients of their own territory.
///
/// # Errors
/// As [`read_patients`].
pub fn read_patients_within<R: Read>(
    reader: R,
    file: &str,
    within: &Scope,
) -> Result<Vec<Patient>, Error> {
    let mut seen = FirstLines::default();
    read_table(Table::open(reader, file, &PATIENT_COLUMNS)?, |row| {
        let id = row.required(PATIENT_ID, str::parse::<PatientId>);
        if let Some(id) = &id {
            row.unique(PATIENT_ID, &mut seen, id, None); // health data: never quoted
        }
        let coords = row.coordinates(P_LAT, P_LON);
        let insee = row.required(P_INSEE, |s| commune_within(s, within));
        let age = row.required(AGE, |s| whole(s, 0u8, 130));
        let ald = row.required(ALD, flag);
        let css = row.required(CSS, flag);
        let max_km = row.optional(P_MAX_KM, max_km);
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

/// An INSEE code in one of `within`'s départements.
fn commune_within(s: &str, within: &Scope) -> Result<InseeCode, String> {
    let code: InseeCode = s
        .parse()
        .map_err(|e: crate::domain::InseeError| e.to_string())?;
    if within.covers_commune(&code) {
        Ok(code)
    } else {
        Err(format!(
            "département {} is outside this token's territory ({within})",
            code.departement()
        ))
    }
}

/// Reads a matching `doctors.csv` (FORMATS.md §2): `rpps` (Luhn key, unique), `name`, `lat`,
/// `lon`, `insee`, `capacity` (integer ≥ 0), optional `max_km` (> 0).
///
/// # Errors
/// As [`read_patients`].
pub fn read_doctors(path: &Path) -> Result<Vec<MatchingDoctor>, Error> {
    read_path(path, read_doctors_from)
}

/// Reads `doctors.csv` from `reader`; `file` names it in errors.
///
/// # Errors
/// As [`read_patients`].
pub fn read_doctors_from<R: Read>(reader: R, file: &str) -> Result<Vec<MatchingDoctor>, Error> {
    read_doctors_within(reader, file, &Scope::National)
}

/// [`read_doctors_from`], refusing a commune outside the départements of `within`.
///
/// # Errors
/// As [`read_patients`].
pub fn read_doctors_within<R: Read>(
    reader: R,
    file: &str,
    within: &Scope,
) -> Result<Vec<MatchingDoctor>, Error> {
    let mut seen = FirstLines::default();
    read_table(Table::open(reader, file, &DOCTOR_COLUMNS)?, |row| {
        let rpps = row.required(RPPS, str::parse::<Rpps>);
        if let Some(rpps) = &rpps {
            row.unique(RPPS, &mut seen, rpps, Some(rpps));
        }
        // Display only, and may be empty (FORMATS.md §2).
        let name = row.text(NAME);
        let coords = row.coordinates(D_LAT, D_LON);
        let insee = row.required(D_INSEE, |s| commune_within(s, within));
        let capacity = row.required(CAPACITY, |s| whole(s, 0u32, u32::MAX));
        let max_km = row.optional(D_MAX_KM, max_km);
        Some(MatchingDoctor {
            rpps: rpps?,
            name: name?.to_owned(),
            coords: coords?,
            insee: insee?,
            capacity: capacity?,
            max_km: max_km?,
        })
    })
}

const EX_PATIENT_ID: usize = 0;
const EX_RPPS: usize = 1;

const EXCLUSION_COLUMNS: [Column; 2] = [Column::required("patient_id"), Column::required("rpps")];

/// Reads an `exclusions.csv` (FORMATS.md §2): `patient_id,rpps` pairs of `inst` that may not
/// be proposed again, as `(patient index, doctor index)`. An id that is not in the instance is
/// an error at its cell, as is a duplicate pair (health data: the patient id is never quoted).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Invalid`] with every error found.
pub fn read_exclusions_from<R: Read>(
    reader: R,
    file: &str,
    inst: &Instance,
) -> Result<crate::matching::Exclusions, Error> {
    let patient: std::collections::HashMap<&str, u32> = inst
        .patients
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i as u32))
        .collect();
    let doctor: std::collections::HashMap<&str, u32> = inst
        .doctors
        .iter()
        .enumerate()
        .map(|(i, d)| (d.rpps.as_str(), i as u32))
        .collect();
    let mut seen = FirstLines::default();
    let pairs = read_table(Table::open(reader, file, &EXCLUSION_COLUMNS)?, |row| {
        let p = row.required(EX_PATIENT_ID, str::parse::<PatientId>);
        let d = row.required(EX_RPPS, str::parse::<Rpps>);
        let p = p.and_then(|p| match patient.get(p.as_str()) {
            Some(&i) => Some(i),
            None => {
                row.error(EX_PATIENT_ID, "no patient with this id in patients.csv");
                None
            }
        });
        let d = d.and_then(|d| match doctor.get(d.as_str()) {
            Some(&i) => Some(i),
            None => {
                row.error(EX_RPPS, format!("no doctor {d} in doctors.csv"));
                None
            }
        });
        let pair = (p?, d?);
        row.unique(EX_RPPS, &mut seen, &pair, None);
        Some(pair)
    })?;
    Ok(pairs.into_iter().collect())
}

/// Reads the matching instance of folder `dir`: `patients.csv` and `doctors.csv`
/// (FORMATS.md §2), with `default_max_km` for patients without their own limit, and the
/// optional `exclusions.csv`.
///
/// # Errors
/// An [`Error::Io`] of either file first (patients before doctors); otherwise, when both files
/// are invalid, one [`Error::Invalid`] listing both files' errors; then the exclusions' errors.
pub fn load_matching_instance(dir: &Path, default_max_km: MaxKm) -> Result<Instance, Error> {
    let (patients, doctors) = rayon::join(
        || read_patients(&dir.join("patients.csv")),
        || read_doctors(&dir.join("doctors.csv")),
    );
    match (patients, doctors) {
        (Ok(patients), Ok(doctors)) => {
            let mut inst = Instance {
                patients,
                doctors,
                default_max_km,
                excluded: Default::default(),
            };
            let path = dir.join("exclusions.csv");
            if path.exists() {
                inst.excluded = read_path(&path, |f, name| read_exclusions_from(f, name, &inst))?;
            }
            Ok(inst)
        }
        (Err(e @ Error::Io { .. }), _) | (_, Err(e @ Error::Io { .. })) => Err(e),
        (Err(Error::Invalid(p)), Err(Error::Invalid(d))) => {
            let both = CellErrors::gather([Some(p), Some(d)]);
            Err(Error::Invalid(both.expect("two refused files have errors")))
        }
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
    }
}

/// `0` or `1`, exactly.
fn flag(s: &str) -> Result<bool, &'static str> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err("expected 0 or 1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, column, field, message) of each listed error of a refused file.
    fn cells<T: std::fmt::Debug>(read: Result<T, Error>) -> Vec<(u64, u64, String, String)> {
        match read {
            Err(Error::Invalid(errors)) => errors
                .iter()
                .map(|e| (e.line, e.column, e.field.clone(), e.message.clone()))
                .collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    /// `patients.csv` from memory.
    mod patients {
        use super::*;

        fn errors_of(csv: &str) -> Vec<(u64, u64, String, String)> {
            cells(read_patients_from(csv.as_bytes(), "patients.csv"))
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
            let mut csv =
                b"patient_id,lat,lon,insee,age,ald,css\n,48.69,6.18,54395,42,0,1\n".to_vec();
            csv.extend_from_slice(b"P2,48.69,6.18,5439\xE9,42,0,1\n");
            let errors = match read_patients_from(&csv[..], "patients.csv") {
                Err(Error::Invalid(errors)) => errors.into_vec(),
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

    /// `doctors.csv` from memory.
    mod doctors {
        use super::*;

        fn errors_of(csv: &str) -> Vec<(u64, u64, String, String)> {
            cells(read_doctors_from(csv.as_bytes(), "doctors.csv"))
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

    /// Instance folders: both files, their errors together.
    mod folders {
        use super::*;
        use crate::import::MAX_ERRORS;
        use std::path::{Path, PathBuf};

        fn data(folder: &str) -> PathBuf {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(folder)
        }

        fn ten_km() -> MaxKm {
            MaxKm::new(10.0).unwrap()
        }

        fn invalid(result: Result<Instance, Error>) -> CellErrors {
            match result {
                Err(Error::Invalid(errors)) => errors,
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
            let report = Error::Invalid(errors).to_string();
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
                Error::Invalid(errors).to_string(),
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
            let report = Error::Invalid(errors).to_string();
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
                Err(Error::Io { file, source }) => {
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
                Err(Error::Invalid(errors)) => errors,
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
    }
}
