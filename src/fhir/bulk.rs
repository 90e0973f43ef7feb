//! SMART Scheduling Links (issue 19): the garde's public slots as a `$bulk-publish` manifest
//! and three NDJSON files of plain FHIR R4 resources, so that any slot aggregator can list them
//! without an agreement with us (<https://github.com/smart-on-fhir/smart-scheduling-links>).
//!
//! * `Location/{cabinet key}`: the cabinet de garde, its name, position, telephone and, when
//!   known, its postal address (a cabinet without one is still listed: its slots are real);
//! * `Schedule/{cabinet key}`: the soins non programmés of that cabinet (service type 124,
//!   General Practice), whose actor is the Location. One per cabinet: which doctor is on duty
//!   is not published;
//! * `Slot/{slot id}`: `free` or `busy` (booked), and `busy-unavailable` for a slot withdrawn
//!   since `_since`; a free slot carries the `booking-deep-link` into our web app's
//!   régulation page, which opens on that slot.
//!
//! The files list the slots of the next [`HORIZON_DAYS`] days. With `_since`, the Slot file
//! lists only the slots published, booked, cancelled or withdrawn since then (the Location and
//! Schedule files are always whole: they are small).
//!
//! Pure: `api::fhir` reads the rows and serves the bytes.

use super::sas::{cabinet_key, regulation_page};
use crate::garde::calendar::paris_rfc3339;
use crate::store::{PlaceRow, PublicSlotRow, SlotRecord};
use serde::Serialize;

/// How far ahead the published files reach, in days.
pub const HORIZON_DAYS: i64 = 28;
/// The media type of the NDJSON files.
pub const NDJSON: &str = "application/fhir+ndjson";
pub const DEEP_LINK_EXTENSION: &str =
    "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link";
const SERVICE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/service-type";

/// The files a manifest lists, in its order.
pub const FILES: [&str; 3] = ["Location", "Schedule", "Slot"];

/// The manifest (`$bulk-publish`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// When this data set was read (UTC, RFC 3339): a client's next `_since`.
    pub transaction_time: String,
    /// The manifest's own URL, as requested.
    pub request: String,
    pub output: Vec<Output>,
    pub error: Vec<Output>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Output {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url: String,
}

/// The manifest of the files under `{fhir_base}/$bulk-publish/`, `_since` passed on to the
/// Slot file.
pub fn manifest(fhir_base: &str, now: i64, since: Option<&str>) -> Manifest {
    let base = format!("{fhir_base}/$bulk-publish");
    let query = since
        .map(|s| {
            format!(
                "?_since={}",
                form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
            )
        })
        .unwrap_or_default();
    Manifest {
        transaction_time: chrono::DateTime::from_timestamp(now, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        request: format!("{base}{query}"),
        output: FILES
            .iter()
            .map(|&kind| Output {
                kind,
                url: if kind == "Slot" {
                    format!("{base}/{kind}.ndjson{query}")
                } else {
                    format!("{base}/{kind}.ndjson")
                },
            })
            .collect(),
        error: Vec::new(),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "resourceType")]
pub enum Published {
    Location(Location),
    Schedule(Schedule),
    Slot(Slot),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Location {
    pub id: String,
    pub identifier: Vec<Identifier>,
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub telecom: Vec<Telecom>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    pub position: Position,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Identifier {
    pub system: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Telecom {
    pub system: &'static str,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub line: Vec<String>,
    pub city: String,
    pub postal_code: String,
    /// The département (INSEE code).
    pub district: String,
    pub country: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Position {
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub id: String,
    pub service_type: Vec<Concept>,
    pub actor: Vec<Reference>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Concept {
    pub coding: Vec<Coding>,
    pub text: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coding {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reference {
    pub reference: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Slot {
    pub id: String,
    pub schedule: Reference,
    /// `free`, `busy` or `busy-unavailable`.
    pub status: &'static str,
    pub start: String,
    pub end: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<UrlExtension>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlExtension {
    pub url: &'static str,
    pub value_url: String,
}

/// The Location of a cabinet; `app_base` names our identifier system.
pub fn location(app_base: &str, place: &PlaceRow) -> Location {
    let c = &place.cabinet;
    Location {
        id: cabinet_key(&c.id),
        identifier: vec![Identifier {
            system: format!("{app_base}/cabinets"),
            value: c.id.to_string(),
        }],
        name: c.name.clone(),
        telecom: c
            .phone
            .as_ref()
            .map(|p| Telecom {
                system: "phone",
                value: p.e164(),
            })
            .into_iter()
            .collect(),
        address: c.address.as_ref().map(|a| Address {
            line: vec![a.line.as_str().to_owned()],
            city: a.city.as_str().to_owned(),
            postal_code: a.postcode.to_string(),
            district: c.insee.departement().to_string(),
            country: "FR",
        }),
        position: Position {
            latitude: c.coords.lat(),
            longitude: c.coords.lon(),
        },
    }
}

/// The Schedule of a cabinet: its soins non programmés.
pub fn schedule(place: &PlaceRow) -> Schedule {
    let key = cabinet_key(&place.cabinet.id);
    Schedule {
        id: key.clone(),
        service_type: vec![Concept {
            coding: vec![Coding {
                system: SERVICE_TYPE,
                code: "124",
                display: "General Practice",
            }],
            text: "Soins non programmés (cabinet de garde)",
        }],
        actor: vec![Reference {
            reference: format!("Location/{key}"),
        }],
    }
}

/// The web app's régulation page opened on a slot: the slot, from when (its start, so that
/// it heads the list) and where to search around it.
pub fn deep_link(app_base: &str, slot: &SlotRecord, place: &PlaceRow) -> String {
    let start: String =
        form_urlencoded::byte_serialize(paris_rfc3339(slot.start_at).as_bytes()).collect();
    regulation_page(
        app_base,
        &format!("creneau={}&debut={start}", slot.id),
        Some(place),
    )
}

/// A slot as published; `place` is its cabinet.
pub fn slot(app_base: &str, row: &PublicSlotRow, place: &PlaceRow) -> Slot {
    let status = if row.withdrawn {
        "busy-unavailable"
    } else if row.booked {
        "busy"
    } else {
        "free"
    };
    Slot {
        id: row.slot.id.to_string(),
        schedule: Reference {
            reference: format!("Schedule/{}", cabinet_key(&place.cabinet.id)),
        },
        status,
        start: paris_rfc3339(row.slot.start_at),
        end: paris_rfc3339(row.slot.end_at),
        extension: if status == "free" {
            vec![UrlExtension {
                url: DEEP_LINK_EXTENSION,
                value_url: deep_link(app_base, &row.slot, place),
            }]
        } else {
            Vec::new()
        },
    }
}

/// Resources as NDJSON: one minified JSON object per line.
pub fn ndjson<'a>(resources: impl IntoIterator<Item = &'a Published>) -> Vec<u8> {
    let mut out = Vec::new();
    for r in resources {
        // A resource of plain strings and numbers always serializes.
        if serde_json::to_writer(&mut out, r).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Address as PostalAddress, CabinetId};
    use crate::geo::Coordinates;
    use crate::store::CabinetRow;

    fn place(address: bool) -> PlaceRow {
        PlaceRow {
            cabinet: CabinetRow {
                id: "NANCY-1".parse::<CabinetId>().unwrap(),
                name: "MMG de Nancy & environs".to_owned(),
                coords: Coordinates::new(48.6921, 6.1844).unwrap(),
                insee: "54395".parse().unwrap(),
                need: 1,
                slot_minutes: 15,
                phone: Some("0383123456".parse().unwrap()),
                address: address
                    .then(|| PostalAddress::new("12 rue Saint-Dizier", "Nancy", "54000").unwrap()),
            },
            cpts: None,
        }
    }

    fn row(booked: bool, withdrawn: bool) -> PublicSlotRow {
        PublicSlotRow {
            slot: SlotRecord {
                id: 42,
                cabinet_id: "NANCY-1".parse().unwrap(),
                rpps: "10000000009".parse().unwrap(),
                // 2026-03-02 18:00 Paris (UTC+1).
                start_at: 1_772_470_800,
                end_at: 1_772_471_700,
            },
            booked,
            withdrawn,
        }
    }

    #[test]
    fn a_free_slot_links_to_the_regulation_page_and_a_taken_one_does_not() {
        let p = place(true);
        let free = serde_json::to_value(Published::Slot(slot(
            "https://cpts.example",
            &row(false, false),
            &p,
        )))
        .unwrap();
        assert_eq!(free["resourceType"], "Slot");
        assert_eq!(free["id"], "42");
        assert_eq!(free["status"], "free");
        assert_eq!(free["start"], "2026-03-02T18:00:00+01:00");
        assert_eq!(
            free["schedule"]["reference"],
            format!("Schedule/{}", cabinet_key(&p.cabinet.id))
        );
        assert_eq!(free["extension"][0]["url"], DEEP_LINK_EXTENSION);
        assert_eq!(
            free["extension"][0]["valueUrl"],
            "https://cpts.example/app/regulation?creneau=42&debut=2026-03-02T18%3A00%3A00%2B01%3A00\
             &lat=48.69210&lon=6.18440&lieu=MMG+de+Nancy+%26+environs"
        );
        let busy =
            serde_json::to_value(slot("https://cpts.example", &row(true, false), &p)).unwrap();
        assert_eq!(busy["status"], "busy");
        assert!(busy.get("extension").is_none());
        assert_eq!(slot("x", &row(false, true), &p).status, "busy-unavailable");
    }

    #[test]
    fn a_location_carries_its_address_when_known_and_its_schedule_points_to_it() {
        let with = serde_json::to_value(location("https://cpts.example", &place(true))).unwrap();
        assert_eq!(with["address"]["postalCode"], "54000");
        assert_eq!(with["address"]["district"], "54");
        assert_eq!(with["telecom"][0]["value"], "+33383123456");
        assert_eq!(with["position"]["latitude"], 48.6921);
        let without =
            serde_json::to_value(location("https://cpts.example", &place(false))).unwrap();
        assert!(without.get("address").is_none());
        let s = schedule(&place(true));
        assert_eq!(
            s.actor[0].reference,
            format!("Location/{}", with["id"].as_str().unwrap())
        );
    }

    #[test]
    fn the_manifest_passes_since_on_to_the_slot_file_only() {
        let m = manifest(
            "https://cpts.example/fhir",
            1_772_470_800,
            Some("2026-03-02T17:00:00+01:00"),
        );
        assert_eq!(m.transaction_time, "2026-03-02T17:00:00Z");
        assert_eq!(
            m.request,
            "https://cpts.example/fhir/$bulk-publish?_since=2026-03-02T17%3A00%3A00%2B01%3A00"
        );
        let urls: Vec<&str> = m.output.iter().map(|o| o.url.as_str()).collect();
        assert_eq!(
            urls[0],
            "https://cpts.example/fhir/$bulk-publish/Location.ndjson"
        );
        assert_eq!(
            urls[1],
            "https://cpts.example/fhir/$bulk-publish/Schedule.ndjson"
        );
        assert!(urls[2].ends_with("/Slot.ndjson?_since=2026-03-02T17%3A00%3A00%2B01%3A00"));
        let plain = manifest("https://cpts.example/fhir", 0, None);
        assert_eq!(
            plain.output[2].url,
            "https://cpts.example/fhir/$bulk-publish/Slot.ndjson"
        );
    }

    #[test]
    fn ndjson_is_one_object_per_line() {
        let p = place(true);
        let resources = [
            Published::Location(location("x", &p)),
            Published::Schedule(schedule(&p)),
        ];
        let text = String::from_utf8(ndjson(&resources)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        for line in lines {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["resourceType"].is_string());
        }
    }
}
