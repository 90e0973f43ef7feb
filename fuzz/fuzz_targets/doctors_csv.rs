//! Matching `doctors.csv` reader from any bytes: no panic and never an I/O error from memory;
//! a refused file lists at most `MAX_ERRORS` errors in line order; an accepted file has
//! unique RPPS numbers and re-reads identically after being written back (names quoted by
//! the CSV writer whatever they hold).
#![no_main]

use cpts::import::{Error, MAX_ERRORS, read_doctors_from};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    match read_doctors_from(data, "doctors.csv") {
        Ok(doctors) => {
            let rpps: HashSet<_> = doctors.iter().map(|d| d.rpps.clone()).collect();
            assert_eq!(rpps.len(), doctors.len(), "duplicate rpps accepted");
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["rpps", "name", "lat", "lon", "insee", "capacity", "max_km"])
                .expect("in memory");
            for d in &doctors {
                let max_km = d.max_km.map(|m| m.km().to_string()).unwrap_or_default();
                w.write_record([
                    d.rpps.as_str(),
                    &d.name,
                    &d.coords.lat().to_string(),
                    &d.coords.lon().to_string(),
                    d.insee.as_str(),
                    &d.capacity.to_string(),
                    &max_km,
                ])
                .expect("in memory");
            }
            let bytes = w.into_inner().expect("in memory");
            let again = read_doctors_from(&bytes[..], "doctors.csv")
                .unwrap_or_else(|e| panic!("written back, refused: {e}"));
            assert_eq!(again, doctors);
        }
        Err(Error::Io { source, .. }) => panic!("I/O error from memory: {source}"),
        Err(Error::Invalid(errors)) => {
            assert!(errors.len() <= MAX_ERRORS && !errors.is_empty());
            assert!(errors.found() >= errors.len() as u64);
            let mut previous = 0;
            for e in errors.iter() {
                assert_eq!(e.file, "doctors.csv");
                assert!(
                    e.line >= 1 && e.line >= previous,
                    "lines out of order: {errors:?}"
                );
                previous = e.line;
                assert!(!e.message.is_empty());
            }
        }
    }
});
