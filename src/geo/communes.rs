//! The communes files and commune centroids: where a search "near commune 54395" starts.
//!
//! [`read_communes`] is the one reader of a communes file (`communes_france.csv`,
//! `communes_grand_est.csv`; fixtures/data/README.md), by column name: the fixture generators
//! read it from disk, and the compiled copy of `communes_france.csv` goes through it once, on
//! first use ([`communes`], shared with `matching::territory`). No I/O here.

use super::Coordinates;
use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

const COMMUNES: &str = include_str!("../../fixtures/data/communes_france.csv");

/// One row of a communes file (`insee,name,departement,region,epci_code,population,lat,lon`).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub(crate) struct CommuneRow {
    /// INSEE code, as a string (leading zeros, 2A/2B).
    pub insee: String,
    pub name: String,
    pub departement: String,
    /// SIREN code of the commune's EPCI; empty when it has none.
    pub epci_code: String,
    /// Population municipale; empty for the uninhabited territories.
    pub population: Option<u64>,
    /// WGS84, a point inside the commune.
    pub lat: f64,
    pub lon: f64,
}

/// Every row of a communes file, in file order, by column name (other columns ignored).
///
/// # Errors
/// A missing column or a cell that does not parse; the error gives the line.
pub(crate) fn read_communes(reader: impl Read) -> Result<Vec<CommuneRow>, csv::Error> {
    csv::Reader::from_reader(reader).deserialize().collect()
}

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
        read_communes(COMMUNES.as_bytes())
            .expect("the compiled commune list reads (tested below)")
            .into_iter()
            .map(|row| Commune {
                coords: Coordinates::new(row.lat, row.lon).ok(),
                insee: row.insee,
                epci_code: row.epci_code,
            })
            .collect()
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

    #[test]
    fn a_communes_file_is_read_by_column_name() {
        // Columns in another order, and one more: names decide, not positions.
        let text = "lat,lon,insee,extra,name,departement,region,epci_code,population\n\
                    48.6881,6.1734,54395,x,Nancy,54,44,245400676,104387\n\
                    -49.2352,69.3405,98412,y,Archipel des Kerguelen,984,984,,\n";
        let rows = read_communes(text.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].insee, "54395");
        assert_eq!(rows[0].population, Some(104_387));
        assert_eq!((rows[0].lat, rows[0].lon), (48.6881, 6.1734));
        assert_eq!((rows[1].epci_code.as_str(), rows[1].population), ("", None));
        let missing = "insee,name,lat,lon\n54395,Nancy,48.7,6.2\n";
        assert!(read_communes(missing.as_bytes()).is_err());
    }

    #[test]
    fn the_compiled_list_has_every_commune_of_france() {
        // fixtures/data/README.md: 34,969 communes (COG 2026, overseas included).
        assert_eq!(communes().len(), 34_969);
    }
}
