//! Commune centroids: where a search "near commune 54395" starts.
//!
//! From the repository's copy of the INSEE commune list (`fixtures/data/communes_france.csv`,
//! see fixtures/data/README.md: `insee`, `epci_code`, `lat`, `lon`), compiled into the binary
//! once and parsed once, on first use ([`communes`], shared with `matching::territory`). No I/O.

use super::Coordinates;
use std::collections::HashMap;
use std::sync::OnceLock;

const COMMUNES: &str = include_str!("../../fixtures/data/communes_france.csv");

/// One row of the compiled commune list.
pub(crate) struct Commune {
    pub insee: String,
    /// SIREN code of the commune's EPCI; empty when it has none.
    pub epci_code: String,
    pub coords: Option<Coordinates>,
}

/// Every commune of the compiled list, in file order, parsed once for the whole process
/// (centroids here, EPCI membership in `matching::territory`).
pub(crate) fn communes() -> &'static [Commune] {
    static COMMUNE_LIST: OnceLock<Vec<Commune>> = OnceLock::new();
    COMMUNE_LIST.get_or_init(|| {
        let mut reader = csv::Reader::from_reader(COMMUNES.as_bytes());
        let headers = reader
            .headers()
            .expect("the compiled commune list has a header")
            .clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .expect("the compiled commune list has insee, epci_code, lat and lon columns")
        };
        let (insee, epci, lat, lon) = (col("insee"), col("epci_code"), col("lat"), col("lon"));
        let mut out = Vec::new();
        for record in reader.records().flatten() {
            let Some(code) = record.get(insee) else {
                continue;
            };
            let coords = match (record.get(lat), record.get(lon)) {
                (Some(lat), Some(lon)) => match (lat.parse(), lon.parse()) {
                    (Ok(lat), Ok(lon)) => Coordinates::new(lat, lon).ok(),
                    _ => None,
                },
                _ => None,
            };
            out.push(Commune {
                insee: code.to_owned(),
                epci_code: record.get(epci).unwrap_or_default().to_owned(),
                coords,
            });
        }
        out
    })
}

fn centroids() -> &'static HashMap<String, Coordinates> {
    static CENTROIDS: OnceLock<HashMap<String, Coordinates>> = OnceLock::new();
    CENTROIDS.get_or_init(|| {
        communes()
            .iter()
            .filter_map(|c| c.coords.map(|xy| (c.insee.clone(), xy)))
            .collect()
    })
}

/// The centroid of the commune with this INSEE code, or `None` when the list has no such
/// commune (a valid-looking code may still name none).
pub fn commune_centroid(insee: &str) -> Option<Coordinates> {
    centroids().get(insee).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nancy_and_ajaccio_have_centroids_and_unknown_codes_none() {
        // communes_france.csv: 54395 Nancy at (48.6881, 6.1734).
        let nancy = commune_centroid("54395").unwrap();
        assert!((nancy.lat() - 48.69).abs() < 0.05 && (nancy.lon() - 6.18).abs() < 0.05);
        assert!(commune_centroid("2A004").is_some());
        assert!(commune_centroid("54999").is_none());
    }
}
