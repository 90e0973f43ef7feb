//! Our slots in the SAS's profiles (IG `ans.fhir.fr.sas` 1.2.0, flux INT_R04 for CPTS and
//! INT_R01): the resources of a searchset and how they refer to each other.
//!
//! * `Slot/{slot id}` (`sas-cpts-slot-aggregator`): security label `CPTS`, `serviceType` AMB
//!   and, when its CPTS has a FINESS number, TRE_R66 604 with the extension pointing to the
//!   CPTS's HealthcareService; `appointmentType` ROUTINE; `comment` the doctor's agenda in the
//!   web app;
//! * `Schedule/{rpps}-{cabinet key}` and `PractitionerRole/{rpps}-{cabinet key}`: one per
//!   doctor and cabinet (the cabinet key is a digest of its id, since a cabinet id may hold an
//!   `_` or be 64 characters, which a FHIR id may not); the role contains the cabinet's
//!   Location (with its address) and names the CPTS by its FINESS;
//! * `Practitioner/{rpps}`: identified by `8` + RPPS (IDNPS);
//! * `HealthcareService/cpts-{finess}` and `Organization/{finess}`: one per CPTS, identified
//!   by `1` + FINESS (IDNST), the IG's rule `^1[0-9]{9}$`.
//!
//! Pure: the caller reads the slots, places and names; nothing here reads a database.

use super::resources::{
    Address, Bundle, BundleEntry, BundleLink, BundleSearch, CodeableConcept, Coding, ContactPoint,
    Extension, HealthcareService, HumanName, Identifier, Location, Meta, Organization,
    Practitioner, PractitionerRole, Reference, Resource, Schedule, Slot,
};
use crate::domain::{CabinetId, Finess, Rpps};
use crate::garde::calendar::paris_rfc3339;
use crate::store::{CptsRef, PlaceRow, SlotRecord};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

pub const SLOT_PROFILE: &str =
    "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-slot-aggregator";
pub const BUNDLE_PROFILE: &str =
    "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-bundle-aggregator";
pub const HEALTHCARE_SERVICE_PROFILE: &str = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-healthcareservice-aggregator";
pub const ORGANIZATION_PROFILE: &str = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-organization-aggregator";
pub const SCHEDULE_PROFILE: &str = "http://sas.fr/fhir/StructureDefinition/FrScheduleAgregateur";
pub const PRACTITIONER_PROFILE: &str =
    "http://sas.fr/fhir/StructureDefinition/FrPractitionerAgregateur";
pub const PRACTITIONER_ROLE_PROFILE: &str =
    "http://sas.fr/fhir/StructureDefinition/FrPractitionerRoleExerciceAgregateur";
pub const LOCATION_PROFILE: &str = "http://sas.fr/fhir/StructureDefinition/FrLocationAgregateur";

/// RPPS (IDNPS) identifiers: `8` + the 11 digits.
pub const RPPS_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.1";
/// Structure (IDNST) identifiers: `1` + the FINESS number.
pub const IDNST_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.2";
pub const TRE_R314: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau";
pub const TRE_R66: &str = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement";
pub const TRE_R38: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale";
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const V2_0276: &str = "http://terminology.hl7.org/CodeSystem/v2-0276";
pub const SERVICE_TYPE_EXTENSION: &str =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType";
/// Identifier types of the French v2 table 0203 (IDNPS, IDNST, INTRN).
pub const FR_V2_0203: &str = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203";
const FR_CORE_V2_0203: &str = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
const LOCATION_ID_TYPE: &str =
    "http://interopsante.org/fhir/CodeSystem/fr-location-identifier-type";

/// Where our answers point: the FHIR base (`https://host/fhir`) for `fullUrl`s, and the web
/// app's base (`https://host`) for the doctors' agendas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Links {
    pub fhir_base: String,
    pub app_base: String,
}

impl Links {
    /// The links of a service answering at `base` (no trailing slash).
    pub fn at(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            fhir_base: format!("{base}/fhir"),
            app_base: base.to_owned(),
        }
    }

    /// The agenda of a doctor in the web app: the régulation page showing his free slots
    /// around his cabinet (`place`, when known).
    pub fn agenda(&self, rpps: &Rpps, place: Option<&PlaceRow>) -> String {
        regulation_page(&self.app_base, &format!("medecin={rpps}"), place)
    }
}

/// The web app's régulation page at `app_base`, with the query `first` and, when `place` is
/// given, the search around that cabinet (`lat`, `lon`, `lieu`) that the page reads.
pub fn regulation_page(app_base: &str, first: &str, place: Option<&PlaceRow>) -> String {
    let mut url = format!("{app_base}/app/regulation?{first}");
    if let Some(p) = place {
        let name: String = form_urlencoded::byte_serialize(p.cabinet.name.as_bytes()).collect();
        url.push_str(&format!(
            "&lat={:.5}&lon={:.5}&lieu={name}",
            p.cabinet.coords.lat(),
            p.cabinet.coords.lon()
        ));
    }
    url
}

/// Which `_include`s a search asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Includes {
    /// `_include=Slot:schedule`
    pub schedule: bool,
    /// `_include:iterate=Schedule:actor`: Practitioner and PractitionerRole.
    pub actors: bool,
    /// `_include=Slot:service-type-reference`: the CPTS's HealthcareService.
    pub service: bool,
    /// `_include:iterate=HealthcareService:organization`.
    pub organization: bool,
}

impl Includes {
    /// Everything, as the SAS asks.
    pub const ALL: Includes = Includes {
        schedule: true,
        actors: true,
        service: true,
        organization: true,
    };
}

/// The short, FHIR-id-safe key of a cabinet: 16 hex digits of the SHA-256 of its id.
pub fn cabinet_key(id: &CabinetId) -> String {
    let digest = Sha256::digest(id.as_str().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The id of the Schedule (and PractitionerRole) of a doctor at a cabinet.
pub fn schedule_id(rpps: &Rpps, cabinet: &CabinetId) -> String {
    format!("{rpps}-{}", cabinet_key(cabinet))
}

/// The RPPS and cabinet key of a Schedule id, if it has that shape.
pub fn parse_schedule_id(id: &str) -> Option<(Rpps, &str)> {
    let (rpps, key) = id.split_once('-')?;
    let ok = key.len() == 16 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then_some(())?;
    Some((rpps.parse().ok()?, key))
}

fn healthcare_service_id(finess: &Finess) -> String {
    format!("cpts-{}", finess.as_str())
}

/// `1` + FINESS: the IDNST identifier value of a structure.
fn idnst(finess: &Finess) -> String {
    format!("1{}", finess.as_str())
}

/// `8` + RPPS: the IDNPS identifier value of a practitioner.
pub fn idnps(rpps: &Rpps) -> String {
    format!("8{rpps}")
}

/// A free or busy slot of a doctor at a place.
pub fn slot(links: &Links, s: &SlotRecord, free: bool, place: Option<&PlaceRow>) -> Slot {
    let mut service_type = vec![CodeableConcept::of(ACT_CODE, "AMB")];
    if let Some(finess) = place
        .and_then(|p| p.cpts.as_ref())
        .and_then(|c| c.finess.as_ref())
    {
        service_type.push(CodeableConcept {
            extension: vec![Extension {
                url: SERVICE_TYPE_EXTENSION.to_owned(),
                value_reference: Reference::to(format!(
                    "HealthcareService/{}",
                    healthcare_service_id(finess)
                )),
            }],
            coding: vec![Coding::new(TRE_R66, "604")],
            text: None,
        });
    }
    Slot {
        id: s.id.to_string(),
        // The profile fixes `status` to free: a busy slot (read by id) claims none.
        meta: Some(Meta {
            profile: if free {
                vec![SLOT_PROFILE.to_owned()]
            } else {
                Vec::new()
            },
            security: vec![Coding::new(TRE_R314, "CPTS")],
        }),
        service_type,
        // Médecine générale: the garde's doctors are GPs.
        specialty: vec![CodeableConcept::of(TRE_R38, "SM54")],
        appointment_type: Some(CodeableConcept::of(V2_0276, "ROUTINE")),
        schedule: Reference::to(format!("Schedule/{}", schedule_id(&s.rpps, &s.cabinet_id))),
        status: if free { "free" } else { "busy" },
        start: paris_rfc3339(s.start_at),
        end: paris_rfc3339(s.end_at),
        comment: Some(links.agenda(&s.rpps, place)),
    }
}

/// The Schedule of a doctor at a cabinet.
pub fn schedule(rpps: &Rpps, cabinet: &CabinetId) -> Schedule {
    let id = schedule_id(rpps, cabinet);
    Schedule {
        meta: Meta::profile(SCHEDULE_PROFILE),
        actor: vec![
            Reference::to(format!("Practitioner/{rpps}")),
            Reference::to(format!("PractitionerRole/{id}")),
        ],
        id,
    }
}

/// A doctor's name as the doctors table holds it (`Dr M. Morel`): the whole as `text`, a
/// leading `Dr` as `prefix`, the last word as `family` and the others as `given`.
fn human_name(name: &str) -> HumanName {
    let mut words: Vec<&str> = name.split_whitespace().collect();
    let prefix = match words.first() {
        Some(w) if matches!(*w, "Dr" | "Dr." | "Docteur") && words.len() > 1 => {
            words.remove(0);
            vec!["Dr".to_owned()]
        }
        _ => Vec::new(),
    };
    let family = words.pop().map(str::to_owned);
    HumanName {
        text: Some(name.trim().to_owned()).filter(|t| !t.is_empty()),
        family,
        given: words.into_iter().map(str::to_owned).collect(),
        prefix,
    }
}

/// A doctor, with his name when known.
pub fn practitioner(rpps: &Rpps, name: Option<&str>) -> Practitioner {
    Practitioner {
        id: rpps.to_string(),
        meta: Meta::profile(PRACTITIONER_PROFILE),
        identifier: vec![Identifier {
            kind: Some(CodeableConcept::of(FR_V2_0203, "IDNPS")),
            system: Some(RPPS_SYSTEM.to_owned()),
            value: idnps(rpps),
        }],
        name: name
            .map(human_name)
            .filter(|n| n.text.is_some())
            .into_iter()
            .collect(),
    }
}

/// The exercise of a doctor at a cabinet: the cabinet as a contained Location, its CPTS by
/// FINESS, its telephone.
pub fn practitioner_role(links: &Links, rpps: &Rpps, place: &PlaceRow) -> PractitionerRole {
    let c = &place.cabinet;
    let location = Location {
        id: "location".to_owned(),
        // FrLocationAgregateur requires the postal address: a cabinet whose address is not
        // known yet gives a plain Location, which claims nothing it does not hold.
        meta: c
            .address
            .as_ref()
            .and_then(|_| Meta::profile(LOCATION_PROFILE)),
        identifier: vec![Identifier {
            kind: Some(CodeableConcept::of(LOCATION_ID_TYPE, "INTRN")),
            system: Some(format!("{}/cabinets", links.app_base)),
            value: c.id.to_string(),
        }],
        name: Some(c.name.clone()),
        address: c.address.as_ref().map(|a| Address {
            line: vec![a.line.as_str().to_owned()],
            city: a.city.as_str().to_owned(),
            postal_code: a.postcode.to_string(),
        }),
    };
    let organization = place
        .cpts
        .as_ref()
        .and_then(|p| p.finess.as_ref())
        .map(|f| Reference {
            identifier: Some(Identifier {
                kind: Some(CodeableConcept::of(FR_V2_0203, "IDNST")),
                system: Some(IDNST_SYSTEM.to_owned()),
                value: idnst(f),
            }),
            ..Reference::default()
        });
    PractitionerRole {
        id: schedule_id(rpps, &c.id),
        meta: Meta::profile(PRACTITIONER_ROLE_PROFILE),
        contained: vec![Resource::Location(location)],
        practitioner: Reference::to(format!("Practitioner/{rpps}")),
        organization,
        location: vec![Reference::to("#location")],
        telecom: c
            .phone
            .as_ref()
            .map(|p| ContactPoint {
                system: "phone",
                value: p.e164(),
            })
            .into_iter()
            .collect(),
    }
}

/// The HealthcareService and Organization of a CPTS with a FINESS number.
pub fn cpts_resources(cpts: &CptsRef) -> Option<(HealthcareService, Organization)> {
    let finess = cpts.finess.as_ref()?;
    let org_id = finess.as_str().to_owned();
    Some((
        HealthcareService {
            id: healthcare_service_id(finess),
            meta: Meta::profile(HEALTHCARE_SERVICE_PROFILE),
            provided_by: Reference::to(format!("Organization/{org_id}")),
            name: Some(cpts.name.clone()),
        },
        Organization {
            id: org_id,
            meta: Meta::profile(ORGANIZATION_PROFILE),
            identifier: vec![Identifier {
                kind: Some(CodeableConcept::of(FR_CORE_V2_0203, "IDNST")),
                system: Some(IDNST_SYSTEM.to_owned()),
                value: idnst(finess),
            }],
            name: Some(cpts.name.clone()),
        },
    ))
}

/// The entry of a resource, its `fullUrl` under the FHIR base.
pub fn entry(links: &Links, resource: Resource, mode: &'static str) -> BundleEntry {
    let local = resource.local_reference().unwrap_or_default();
    BundleEntry {
        full_url: format!("{}/{local}", links.fhir_base),
        resource,
        search: BundleSearch { mode },
    }
}

/// The searchset of free slots: `slots` (the page, by start) as `match` entries, then the
/// resources `includes` asks for, each once, as `include` entries. `total` counts every match,
/// beyond the page too; `self_url` is the search as understood. An empty page is a plain
/// searchset (the CPTS Bundle profile needs at least four entries, so it is claimed only by a
/// non-empty one).
pub fn searchset(
    links: &Links,
    self_url: String,
    total: u64,
    slots: &[SlotRecord],
    places: &HashMap<CabinetId, PlaceRow>,
    names: &HashMap<Rpps, String>,
    includes: Includes,
) -> Bundle {
    let mut entries: Vec<BundleEntry> = slots
        .iter()
        .map(|s| {
            let resource = slot(links, s, true, places.get(&s.cabinet_id));
            entry(links, Resource::Slot(resource), "match")
        })
        .collect();
    // Each included resource once, in a fixed order (by id), whatever the slots' order.
    let pairs: BTreeMap<String, (&Rpps, &CabinetId)> = slots
        .iter()
        .map(|s| {
            (
                schedule_id(&s.rpps, &s.cabinet_id),
                (&s.rpps, &s.cabinet_id),
            )
        })
        .collect();
    if includes.schedule {
        for (rpps, cabinet) in pairs.values() {
            let r = Resource::Schedule(schedule(rpps, cabinet));
            entries.push(entry(links, r, "include"));
        }
    }
    if includes.schedule && includes.actors {
        let doctors: BTreeMap<&str, &Rpps> =
            slots.iter().map(|s| (s.rpps.as_str(), &s.rpps)).collect();
        for rpps in doctors.values() {
            let r =
                Resource::Practitioner(practitioner(rpps, names.get(*rpps).map(String::as_str)));
            entries.push(entry(links, r, "include"));
        }
        for (rpps, cabinet) in pairs.values() {
            if let Some(place) = places.get(*cabinet) {
                let r = Resource::PractitionerRole(practitioner_role(links, rpps, place));
                entries.push(entry(links, r, "include"));
            }
        }
    }
    if includes.service {
        let cpts: BTreeMap<&str, &CptsRef> = slots
            .iter()
            .filter_map(|s| places.get(&s.cabinet_id)?.cpts.as_ref())
            .map(|c| (c.id.as_str(), c))
            .collect();
        let resources: Vec<_> = cpts.values().filter_map(|c| cpts_resources(c)).collect();
        for (service, _) in &resources {
            entries.push(entry(
                links,
                Resource::HealthcareService(service.clone()),
                "include",
            ));
        }
        if includes.organization {
            for (_, org) in resources {
                entries.push(entry(links, Resource::Organization(org), "include"));
            }
        }
    }
    Bundle {
        meta: if slots.is_empty() {
            None
        } else {
            Meta::profile(BUNDLE_PROFILE)
        },
        kind: "searchset",
        total: Some(total),
        link: vec![BundleLink {
            relation: "self",
            url: self_url,
        }],
        entry: entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_prefix_given_and_family() {
        let n = human_name("Dr M. Morel");
        assert_eq!(n.prefix, ["Dr"]);
        assert_eq!(n.given, ["M."]);
        assert_eq!(n.family.as_deref(), Some("Morel"));
        assert_eq!(n.text.as_deref(), Some("Dr M. Morel"));
        assert_eq!(human_name("Morel").family.as_deref(), Some("Morel"));
        assert_eq!(human_name("Dr").family.as_deref(), Some("Dr"));
    }

    #[test]
    fn schedule_ids_are_fhir_ids_and_read_back() {
        let rpps: Rpps = "10000000009".parse().unwrap();
        let cab: CabinetId = "a_cabinet_id_with_underscores_of_64_chars_".repeat(2)[..64]
            .parse()
            .unwrap();
        let id = schedule_id(&rpps, &cab);
        assert!(id.len() <= 64);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        );
        let (back, key) = parse_schedule_id(&id).unwrap();
        assert_eq!((back, key), (rpps, cabinet_key(&cab).as_str()));
        assert!(parse_schedule_id("10000000009-XYZ").is_none());
        assert!(parse_schedule_id("10000000008-0123456789abcdef").is_none());
    }
}
