//! `Rpps` from any text: accepted exactly when 11 ASCII digits pass an independent Luhn check;
//! an accepted value displays, serializes and re-parses as itself.
#![no_main]

use cpts::domain::{Rpps, RppsError};
use libfuzzer_sys::fuzz_target;

/// Luhn written another way than in the crate: a lookup table for the doubled digits, summed
/// from the left with the parity of the length.
fn luhn_ok(digits: &[u8]) -> bool {
    const DOUBLED: [u32; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
    let n = digits.len();
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let d = usize::from(b - b'0');
            // From the right, positions 1, 3, 5, … (0-based) are doubled.
            if (n - 1 - i) % 2 == 1 {
                DOUBLED[d]
            } else {
                d as u32
            }
        })
        .sum();
    sum % 10 == 0
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let shape = s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit());
    match s.parse::<Rpps>() {
        Ok(r) => {
            assert!(shape && luhn_ok(s.as_bytes()), "accepted {s:?}");
            assert_eq!(r.as_str(), s);
            assert_eq!(r.to_string(), s);
            assert_eq!(Rpps::with_check_digit(&s[..10]).as_ref(), Ok(&r));
            let json = serde_json::to_string(&r).expect("a string serializes");
            assert_eq!(serde_json::from_str::<Rpps>(&json).ok(), Some(r.clone()));
            assert_eq!(String::from(r), s);
        }
        Err(RppsError::Shape) => assert!(!shape, "shape refused for {s:?}"),
        Err(RppsError::CheckDigit) => assert!(shape && !luhn_ok(s.as_bytes()), "{s:?}"),
    }
    // Appending the key to any 10 digits gives a valid number with that body.
    if let Ok(r) = Rpps::with_check_digit(s) {
        assert_eq!(&r.as_str()[..10], s);
        assert!(luhn_ok(r.as_str().as_bytes()));
        assert_eq!(r.as_str().parse::<Rpps>().as_ref(), Ok(&r));
    } else {
        assert!(!(s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit())));
    }
    // The API's JSON path agrees with FromStr.
    let json = serde_json::to_string(s).expect("a string serializes");
    assert_eq!(serde_json::from_str::<Rpps>(&json).ok(), s.parse().ok());
});
