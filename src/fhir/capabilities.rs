//! The CapabilityStatement of `GET /fhir/metadata`: exactly what `api::fhir` serves (the
//! SAS's "gestionnaire d'agenda CPTS" role, reads and the slot search), and nothing else.

use super::sas::{PRACTITIONER_PROFILE, SCHEDULE_PROFILE, SLOT_PROFILE};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityStatement {
    pub resource_type: &'static str,
    pub status: &'static str,
    pub date: &'static str,
    pub publisher: &'static str,
    pub kind: &'static str,
    pub software: Software,
    /// What instance this is (R4's `cpb-14`: an `instance` statement names it).
    pub implementation: Implementation,
    pub fhir_version: &'static str,
    pub format: Vec<&'static str>,
    pub instantiates: Vec<&'static str>,
    pub rest: Vec<Rest>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Software {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Implementation {
    pub description: &'static str,
    /// The FHIR base of this server.
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rest {
    pub mode: &'static str,
    pub resource: Vec<RestResource>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestResource {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub supported_profile: Vec<&'static str>,
    pub interaction: Vec<Interaction>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub search_include: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub search_param: Vec<SearchParam>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interaction {
    pub code: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchParam {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub documentation: &'static str,
}

fn interactions(codes: &[&'static str]) -> Vec<Interaction> {
    codes.iter().map(|&code| Interaction { code }).collect()
}

/// The statement of this server, whose FHIR base is `fhir_base`.
pub fn statement(fhir_base: &str) -> CapabilityStatement {
    CapabilityStatement {
        resource_type: "CapabilityStatement",
        status: "active",
        date: "2026-12-04",
        publisher: "cpts",
        kind: "instance",
        software: Software {
            name: "cpts",
            version: env!("CARGO_PKG_VERSION"),
        },
        implementation: Implementation {
            description: "Créneaux des cabinets de garde (CPTS), pour le SAS",
            url: fhir_base.to_owned(),
        },
        fhir_version: "4.0.1",
        format: vec![super::FHIR_JSON, super::FHIR_JSON_LEGACY, "json"],
        instantiates: vec![
            "https://interop.esante.gouv.fr/ig/fhir/sas/CapabilityStatement/SAS-GestionnaireAgenda-CPTS",
        ],
        rest: vec![Rest {
            mode: "server",
            resource: vec![
                RestResource {
                    kind: "Slot",
                    supported_profile: vec![SLOT_PROFILE],
                    interaction: interactions(&["read", "search-type"]),
                    search_include: vec![
                        "Slot:schedule",
                        "Schedule:actor",
                        "Slot:service-type-reference",
                        "HealthcareService:organization",
                    ],
                    search_param: vec![
                        SearchParam {
                            name: "start",
                            kind: "date",
                            documentation: "ge/gt and le/lt bounds; an instant without a zone is \
                                            Europe/Paris time; at most 31 days (default: the next 7)",
                        },
                        SearchParam {
                            name: "schedule.actor:Practitioner.identifier",
                            kind: "token",
                            documentation: "1 to 25 RPPS, with or without the 8 prefix, \
                                            comma-separated; required",
                        },
                        SearchParam {
                            name: "status",
                            kind: "token",
                            documentation: "free only (the default)",
                        },
                        SearchParam {
                            name: "_count",
                            kind: "number",
                            documentation: "0 to 1000 Slots in the page; total counts them all",
                        },
                    ],
                },
                RestResource {
                    kind: "Schedule",
                    supported_profile: vec![SCHEDULE_PROFILE],
                    interaction: interactions(&["read"]),
                    search_include: Vec::new(),
                    search_param: Vec::new(),
                },
                RestResource {
                    kind: "Practitioner",
                    supported_profile: vec![PRACTITIONER_PROFILE],
                    interaction: interactions(&["search-type"]),
                    search_include: Vec::new(),
                    search_param: vec![SearchParam {
                        name: "identifier",
                        kind: "token",
                        documentation: "one RPPS, with or without the 8 prefix",
                    }],
                },
            ],
        }],
    }
}
