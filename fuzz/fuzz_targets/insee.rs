//! `InseeCode` from any text: accepted exactly when an independently written list of
//! départements says so; display, serde and the département agree with the input.
#![no_main]

use cpts::domain::InseeCode;
use libfuzzer_sys::fuzz_target;

/// FORMATS.md §1: `01`–`19`, `2A`, `2B`, `21`–`95`, then 3 digits; `971`–`978`, `984`–`989`,
/// then 2 digits.
fn departement_of(s: &str) -> Option<String> {
    if s.len() != 5 || !s.is_ascii() {
        return None;
    }
    let mut deps: Vec<String> = (1..=95)
        .filter(|&d| d != 20)
        .map(|d| format!("{d:02}"))
        .collect();
    deps.extend(["2A".to_owned(), "2B".to_owned()]);
    deps.extend((971..=978).chain(984..=989).map(|d| d.to_string()));
    deps.into_iter()
        .find(|d| s.starts_with(d.as_str()) && s[d.len()..].bytes().all(|b| b.is_ascii_digit()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let expected = departement_of(s);
    match s.parse::<InseeCode>() {
        Ok(code) => {
            let dep = expected.unwrap_or_else(|| panic!("accepted {s:?}"));
            assert_eq!(code.as_str(), s);
            assert_eq!(code.to_string(), s);
            assert_eq!(code.departement().as_str(), dep);
            assert_eq!(
                code.departement().is_alsace_moselle(),
                matches!(dep.as_str(), "57" | "67" | "68")
            );
            assert_eq!(code.to_string().parse::<InseeCode>(), Ok(code));
            let json = serde_json::to_string(&code).expect("a string serializes");
            assert_eq!(serde_json::from_str::<InseeCode>(&json).ok(), Some(code));
        }
        Err(e) => assert!(expected.is_none(), "refused {s:?}: {e}"),
    }
});
