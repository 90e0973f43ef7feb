//! The communes of an EPCI (intercommunalité), for batches over a territory.
//!
//! Membership comes from the repository's copy of the INSEE commune list
//! (`fixtures/data/communes_france.csv`, see fixtures/data/README.md), compiled into the binary
//! and parsed once by [`crate::geo::communes`]. No I/O.

use crate::domain::InseeCode;
use crate::geo::communes::communes;
use std::collections::HashMap;
use std::sync::OnceLock;

/// SIREN code of each EPCI → its communes, in INSEE order.
fn epcis() -> &'static HashMap<String, Vec<InseeCode>> {
    static EPCIS: OnceLock<HashMap<String, Vec<InseeCode>>> = OnceLock::new();
    EPCIS.get_or_init(|| {
        let mut out: HashMap<String, Vec<InseeCode>> = HashMap::new();
        for c in communes() {
            if let (Ok(code), false) = (c.insee.parse::<InseeCode>(), c.epci_code.is_empty()) {
                out.entry(c.epci_code.clone()).or_default().push(code);
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
