//! Commune centroids: where a search "near commune 54395" starts.
//!
//! From the repository's copy of the INSEE commune list (`fixtures/data/communes_france.csv`,
//! see fixtures/data/README.md: `insee`, `lat`, `lon`), compiled into the binary and parsed
//! once, on first use. No I/O.

use super::Coordinates;
use std::collections::HashMap;
use std::sync::OnceLock;

const COMMUNES: &str = include_str!("../../fixtures/data/communes_france.csv");

fn centroids() -> &'static HashMap<String, Coordinates> {
    static CENTROIDS: OnceLock<HashMap<String, Coordinates>> = OnceLock::new();
    CENTROIDS.get_or_init(|| {
        let mut reader = csv::Reader::from_reader(COMMUNES.as_bytes());
        let headers = reader
            .headers()
            .expect("the compiled commune list has a header")
            .clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .expect("the compiled commune list has insee, lat and lon columns")
        };
        let (insee, lat, lon) = (col("insee"), col("lat"), col("lon"));
        let mut out = HashMap::new();
        for record in reader.records().flatten() {
            let (Some(code), Some(lat), Some(lon)) =
                (record.get(insee), record.get(lat), record.get(lon))
            else {
                continue;
            };
            if let (Ok(lat), Ok(lon)) = (lat.parse(), lon.parse())
                && let Ok(c) = Coordinates::new(lat, lon)
            {
                out.insert(code.to_owned(), c);
            }
        }
        out
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
