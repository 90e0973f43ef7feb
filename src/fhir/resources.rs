//! The FHIR R4 resources and data types we emit, as plain serde structs: only the elements we
//! fill, each skipped when empty, so that a resource never carries an empty string, array or
//! object (FHIR forbids them, `ele-1`).

use serde::Serialize;

/// `Meta`: the profiles a resource claims, and its security labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Meta {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profile: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security: Vec<Coding>,
}

impl Meta {
    /// A `meta` claiming one profile.
    pub fn profile(url: &str) -> Option<Self> {
        Some(Self {
            profile: vec![url.to_owned()],
            security: Vec::new(),
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Coding {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Coding {
    /// A coding of `code` in `system`.
    pub fn new(system: &str, code: &str) -> Self {
        Self {
            system: Some(system.to_owned()),
            code: Some(code.to_owned()),
            display: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CodeableConcept {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coding: Vec<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl CodeableConcept {
    /// A concept of one coding.
    pub fn of(system: &str, code: &str) -> Self {
        Self {
            extension: Vec::new(),
            coding: vec![Coding::new(system, code)],
            text: None,
        }
    }
}

/// An extension whose value is a reference (the only kind we emit).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Extension {
    pub url: String,
    #[serde(rename = "valueReference")]
    pub value_reference: Reference,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Reference {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Reference {
    /// A literal reference, `Type/id` or `#contained`.
    pub fn to(reference: impl Into<String>) -> Self {
        Self {
            reference: Some(reference.into()),
            ..Self::default()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Identifier {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<CodeableConcept>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HumanName {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub given: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prefix: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContactPoint {
    pub system: &'static str,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Address {
    pub line: Vec<String>,
    pub city: String,
    #[serde(rename = "postalCode")]
    pub postal_code: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_type: Vec<CodeableConcept>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub specialty: Vec<CodeableConcept>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_type: Option<CodeableConcept>,
    pub schedule: Reference,
    pub status: &'static str,
    /// FHIR `instant`: with seconds and a zone.
    pub start: String,
    pub end: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schedule {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    pub actor: Vec<Reference>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Practitioner {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    pub identifier: Vec<Identifier>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub name: Vec<HumanName>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PractitionerRole {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    pub contained: Vec<Resource>,
    pub practitioner: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Reference>,
    pub location: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub telecom: Vec<ContactPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Location {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthcareService {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    pub provided_by: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Organization {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    pub identifier: Vec<Identifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `Appointment` (FrAppointmentSAS): the appointment feedback we send the SAS (INT_R03).
/// No `id`: the SAS's own, which a conditional update by `identifier` never needs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Appointment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    pub extension: Vec<Extension>,
    pub identifier: Vec<Identifier>,
    /// `booked`, `cancelled` (the `AppointmentStatus` value set).
    pub status: &'static str,
    pub start: String,
    pub end: String,
    /// FHIR `dateTime`: when the booking was made.
    pub created: String,
    pub participant: Vec<AppointmentParticipant>,
}

/// A participant of an [`Appointment`]: the doctor, by identifier.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppointmentParticipant {
    pub actor: Reference,
    /// `accepted` (the IG's `sas-valueset-participant-status`).
    pub status: &'static str,
}

/// `OperationOutcome`: every FHIR route's error body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OperationOutcome {
    pub issue: Vec<Issue>,
}

/// One issue of an [`OperationOutcome`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Issue {
    /// `fatal`, `error`, `warning` or `information`.
    pub severity: &'static str,
    /// From the `IssueType` value set: `invalid`, `not-found`, `security`, `login`…
    pub code: &'static str,
    pub diagnostics: String,
    /// The search parameter at fault, as FHIRPath-ish text (`Slot.start`), when one is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
}

/// Any resource we emit, tagged with its `resourceType`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "resourceType")]
pub enum Resource {
    Slot(Slot),
    Schedule(Schedule),
    Practitioner(Practitioner),
    PractitionerRole(PractitionerRole),
    Location(Location),
    HealthcareService(HealthcareService),
    Organization(Organization),
    OperationOutcome(OperationOutcome),
    Bundle(Bundle),
    Appointment(Appointment),
}

impl Resource {
    /// Its type and id (`Slot/42`), for `fullUrl`s and references.
    pub fn local_reference(&self) -> Option<String> {
        let (kind, id) = match self {
            Resource::Slot(r) => ("Slot", &r.id),
            Resource::Schedule(r) => ("Schedule", &r.id),
            Resource::Practitioner(r) => ("Practitioner", &r.id),
            Resource::PractitionerRole(r) => ("PractitionerRole", &r.id),
            Resource::Location(r) => ("Location", &r.id),
            Resource::HealthcareService(r) => ("HealthcareService", &r.id),
            Resource::Organization(r) => ("Organization", &r.id),
            Resource::OperationOutcome(_) | Resource::Bundle(_) | Resource::Appointment(_) => {
                return None;
            }
        };
        Some(format!("{kind}/{id}"))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bundle {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<BundleLink>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<BundleEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BundleLink {
    pub relation: &'static str,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntry {
    pub full_url: String,
    pub resource: Resource,
    pub search: BundleSearch,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BundleSearch {
    /// `match` or `include`.
    pub mode: &'static str,
}
