//! `patients.csv` reader from any bytes: no panic and never an I/O error from memory; a refused
//! file lists at most `MAX_ERRORS` errors in line order, with messages taken from a fixed
//! vocabulary (so no cell value, which is health data, is ever echoed); an accepted file has
//! unique ids and re-reads identically after being written back.
#![no_main]

use cpts::domain::{IdError, InseeError};
use cpts::geo::CoordinatesError;
use cpts::import::{Error, MAX_ERRORS, read_patients_from};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

/// A message with every run of digits replaced by `#`.
fn shape(message: &str) -> String {
    let mut out = String::new();
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn vocabulary() -> HashSet<String> {
    let mut v: Vec<String> = [
        "the file is empty; expected a header row",
        "column appears more than once in the header",
        "required column is missing from the header",
        "expected 7 fields as in the header, found 3",
        "row could not be read",
        "unreadable CSV row",
        "not valid UTF-8",
        "a value is required",
        "expected a number in decimal degrees",
        "expected a number of kilometres",
        "expected 0 or 1",
        "expected an integer from 0 to 130",
        "duplicate patient_id; first on line 2",
        "must be a finite number of kilometres greater than 0",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for e in [
        IdError::Empty,
        IdError::TooLong,
        IdError::Charset,
        IdError::NirShaped,
        IdError::DotSegment,
    ] {
        v.push(e.to_string());
    }
    for e in [
        InseeError::Length,
        InseeError::Departement,
        InseeError::Digits,
    ] {
        v.push(e.to_string());
    }
    for e in [CoordinatesError::Latitude, CoordinatesError::Longitude] {
        v.push(e.to_string());
    }
    v.iter().map(|m| shape(m)).collect()
}

fuzz_target!(|data: &[u8]| {
    match read_patients_from(data, "patients.csv") {
        Ok(patients) => {
            let ids: HashSet<_> = patients.iter().map(|p| p.id.clone()).collect();
            assert_eq!(ids.len(), patients.len(), "duplicate ids accepted");
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                "patient_id",
                "lat",
                "lon",
                "insee",
                "age",
                "ald",
                "css",
                "max_km",
            ])
            .expect("in memory");
            for p in &patients {
                assert!(p.age <= 130);
                let flag = |b: bool| if b { "1" } else { "0" };
                let max_km = p.max_km.map(|m| m.km().to_string()).unwrap_or_default();
                w.write_record([
                    p.id.as_str(),
                    &p.coords.lat().to_string(),
                    &p.coords.lon().to_string(),
                    p.insee.as_str(),
                    &p.age.to_string(),
                    flag(p.ald),
                    flag(p.css),
                    &max_km,
                ])
                .expect("in memory");
            }
            let bytes = w.into_inner().expect("in memory");
            let again = read_patients_from(&bytes[..], "patients.csv")
                .unwrap_or_else(|e| panic!("written back, refused: {e}"));
            assert_eq!(again, patients);
        }
        Err(Error::Io { source, .. }) => panic!("I/O error from memory: {source}"),
        Err(Error::Invalid(errors)) => {
            assert!(errors.len() <= MAX_ERRORS && !errors.is_empty());
            assert!(errors.found() >= errors.len() as u64);
            let vocabulary = vocabulary();
            let mut previous = 0;
            for e in errors.iter() {
                assert_eq!(e.file, "patients.csv");
                assert!(
                    e.line >= 1 && e.line >= previous,
                    "lines out of order: {errors:?}"
                );
                previous = e.line;
                assert!(
                    vocabulary.contains(&shape(&e.message)),
                    "a message outside the vocabulary (may echo a value): {:?}",
                    e.message
                );
            }
        }
    }
});
