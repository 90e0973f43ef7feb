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
    pub name: String,
    /// The name folded for search ([`fold`]).
    folded: String,
    pub departement: String,
    pub population: Option<u64>,
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
                folded: fold(&row.name),
                name: row.name,
                departement: row.departement,
                population: row.population,
                insee: row.insee,
                epci_code: row.epci_code,
            })
            .collect()
    })
}

/// The commune of this INSEE code in the compiled list: one index for the centroids and the
/// lookups by code.
fn by_code(insee: &str) -> Option<&'static Commune> {
    static BY_CODE: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    let index = BY_CODE.get_or_init(|| {
        communes()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.insee.as_str(), i))
            .collect()
    });
    Some(&communes()[*index.get(insee)?])
}

/// The centroid of the commune with this INSEE code, or `None` when the list has no such
/// commune (a valid-looking code may still name none).
pub fn commune_centroid(insee: &str) -> Option<Coordinates> {
    by_code(insee)?.coords
}

/// A commune as a search finds it.
#[derive(Clone, Debug, PartialEq)]
pub struct CommuneMatch {
    pub insee: String,
    pub name: String,
    pub departement: String,
    pub population: Option<u64>,
    pub coords: Coordinates,
}

/// The commune of this INSEE code, if the compiled list has it (with a point).
pub fn commune_by_code(insee: &str) -> Option<CommuneMatch> {
    by_code(insee)?.found()
}

impl Commune {
    /// As a search answers it; `None` for a commune without a point.
    fn found(&self) -> Option<CommuneMatch> {
        Some(CommuneMatch {
            insee: self.insee.clone(),
            name: self.name.clone(),
            departement: self.departement.clone(),
            population: self.population,
            coords: self.coords?,
        })
    }
}

/// A name lowercased, without accents, hyphens or apostrophes (« Saint-Étienne » →
/// « saint etienne »), so that what a person types finds it.
pub fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'î' | 'ï' | 'í' | 'ì' => "i",
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => "o",
            'ù' | 'û' | 'ü' | 'ú' => "u",
            'ç' => "c",
            'ÿ' => "y",
            'ñ' => "n",
            'œ' => "oe",
            'æ' => "ae",
            '-' | '\'' | '’' | ' ' => " ",
            c if c.is_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => continue,
        };
        if !(plain == " " && (out.is_empty() || out.ends_with(' '))) {
            out.push_str(plain);
        }
    }
    out.trim_end().to_owned()
}

/// The communes whose name starts with `query` (folded, [`fold`]; or whose INSEE code starts
/// with it, for digits), of `departement` when given: exact names first, then the most
/// populated. Without a query, every commune of `departement` (a map's base layer), by
/// population. At most `limit`.
pub fn search_communes(query: &str, departement: Option<&str>, limit: usize) -> Vec<CommuneMatch> {
    let q = fold(query);
    // An INSEE code starts with a digit (2A/2B: Corse); a name never does.
    let code = query.trim().to_ascii_uppercase();
    let by_code = code.starts_with(|c: char| c.is_ascii_digit());
    // A word inside the name (« les nancy » finds « Vandœuvre-lès-Nancy »).
    let inner = format!(" {q}");
    let mut found: Vec<&Commune> = communes()
        .iter()
        .filter(|c| c.coords.is_some() && departement.is_none_or(|d| c.departement == d))
        .filter(|c| {
            q.is_empty()
                || if by_code {
                    c.insee.starts_with(&code)
                } else {
                    c.folded.starts_with(&q) || c.folded.contains(&inner)
                }
        })
        .collect();
    found.sort_by(|a, b| {
        let rank = |c: &Commune| (c.folded != q, !c.folded.starts_with(&q));
        rank(a)
            .cmp(&rank(b))
            .then(b.population.cmp(&a.population))
            .then(a.insee.cmp(&b.insee))
    });
    found
        .into_iter()
        .take(limit)
        .filter_map(Commune::found)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_as_people_type_them() {
        assert_eq!(
            fold("Saint-Étienne-lès-Remiremont"),
            "saint etienne les remiremont"
        );
        assert_eq!(fold("L'Haÿ-les-Roses"), "l hay les roses");
        let nancy = search_communes("nan", Some("54"), 5);
        // The most populated commune of Meurthe-et-Moselle starting with « nan »: Nancy.
        assert_eq!(nancy[0].name, "Nancy");
        assert_eq!(search_communes("NANCY", None, 1)[0].insee, "54395");
        assert_eq!(search_communes("54395", None, 3)[0].name, "Nancy");
        // « vandoeuvre » finds Vandœuvre-lès-Nancy.
        assert_eq!(
            search_communes("vandoeuvre", Some("54"), 1)[0].insee,
            "54547"
        );
        // A word inside the name: « les nancy » finds the « …-lès-Nancy » communes.
        assert!(search_communes("les nancy", Some("54"), 10).len() >= 2);
        // Without a query: the whole département (Meurthe-et-Moselle has 591 communes).
        assert_eq!(search_communes("", Some("54"), 5000).len(), 591);
        assert!(search_communes("zzzz", None, 5).is_empty());
    }

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
