//! The communes of an EPCI (intercommunalité), for batches over a territory.
//!
//! Membership comes from the repository's copy of the INSEE commune list
//! (`fixtures/data/communes_france.csv`, see fixtures/data/README.md), compiled into the binary
//! and parsed once, on first use. No I/O.

use crate::domain::InseeCode;
use std::collections::HashMap;
use std::sync::OnceLock;

const COMMUNES: &str = include_str!("../../fixtures/data/communes_france.csv");

/// SIREN code of each EPCI → its communes, in INSEE order.
fn epcis() -> &'static HashMap<String, Vec<InseeCode>> {
    static EPCIS: OnceLock<HashMap<String, Vec<InseeCode>>> = OnceLock::new();
    EPCIS.get_or_init(|| {
        let mut out: HashMap<String, Vec<InseeCode>> = HashMap::new();
        let mut reader = csv::Reader::from_reader(COMMUNES.as_bytes());
        let headers = reader
            .headers()
            .expect("the compiled commune list has a header")
            .clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .expect("the compiled commune list has insee and epci_code columns")
        };
        let (insee, epci) = (col("insee"), col("epci_code"));
        for record in reader.records().flatten() {
            let (Some(code), Some(e)) = (record.get(insee), record.get(epci)) else {
                continue;
            };
            if let (Ok(code), false) = (code.parse::<InseeCode>(), e.is_empty()) {
                out.entry(e.to_owned()).or_default().push(code);
            }
        }
        for communes in out.values_mut() {
            communes.sort_unstable();
            communes.dedup();
        }
        out
    })
}

/// The communes of the EPCI with this SIREN code (9 digits), or `None` when no commune of
/// the list belongs to it.
pub fn communes_of_epci(code: &str) -> Option<&'static [InseeCode]> {
    epcis().get(code).map(Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grand_nancy_metropole_has_its_twenty_communes() {
        // territories.csv: grand_nancy is EPCI 245400676, 20 communes, Nancy (54395) among them.
        let communes = communes_of_epci("245400676").unwrap();
        assert_eq!(communes.len(), 20);
        assert!(communes.iter().any(|c| c.as_str() == "54395"));
        assert!(communes_of_epci("000000000").is_none());
    }
}
