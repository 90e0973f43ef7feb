//! `PatientId` and `CabinetId` from any text: accepted exactly when the written rules hold
//! (1–64 characters of `[A-Za-z0-9_.-]`; a patient id never NIR-shaped), and round-trip.
#![no_main]

use cpts::domain::ids::is_nir_shaped;
use cpts::domain::{CabinetId, IdError, PatientId};
use libfuzzer_sys::fuzz_target;

/// FORMATS.md §1, written independently: 13 or 15 characters, all digits except that the
/// 7th may be A or B (Corsica, either case).
fn nir_shaped(s: &str) -> bool {
    let c: Vec<char> = s.chars().collect();
    (c.len() == 13 || c.len() == 15)
        && c.iter()
            .enumerate()
            .all(|(i, ch)| ch.is_ascii_digit() || (i == 6 && "AaBb".contains(*ch)))
}

fn identifier_ok(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars().count() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(is_nir_shaped(s), nir_shaped(s), "{s:?}");
    match s.parse::<PatientId>() {
        Ok(id) => {
            assert!(identifier_ok(s) && !nir_shaped(s), "accepted {s:?}");
            assert_eq!(id.as_str(), s);
            assert_eq!(id.to_string().parse::<PatientId>().as_ref(), Ok(&id));
            let json = serde_json::to_string(&id).expect("a string serializes");
            assert_eq!(serde_json::from_str::<PatientId>(&json).ok(), Some(id));
        }
        Err(IdError::NirShaped) => assert!(identifier_ok(s) && nir_shaped(s), "{s:?}"),
        Err(IdError::Empty) => assert!(s.is_empty()),
        Err(IdError::TooLong) => assert!(s.len() > 64),
        Err(IdError::Charset) => assert!(!identifier_ok(s) && !s.is_empty() && s.len() <= 64),
        Err(IdError::DotSegment) => assert!(s == "." || s == "..", "{s:?}"),
    }
    match s.parse::<CabinetId>() {
        Ok(id) => {
            assert!(identifier_ok(s), "accepted {s:?}");
            assert_eq!(id.to_string().parse::<CabinetId>().as_ref(), Ok(&id));
        }
        Err(_) => assert!(!identifier_ok(s), "refused {s:?}"),
    }
    let json = serde_json::to_string(s).expect("a string serializes");
    assert_eq!(
        serde_json::from_str::<PatientId>(&json).ok(),
        s.parse().ok()
    );
});
