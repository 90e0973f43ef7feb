//! A booking as the SAS's FrAppointmentSAS (IG `ans.fhir.fr.sas` 1.2.0, flux INT_R03), the
//! appointment feedback `feedback` sends: our identifier (the booking id under our system),
//! its status (`booked`, `cancelled`), start and end, when it was booked, the doctor as the
//! participant (IDNPS) and the person who booked as the operator: IDNPS when he signed in with
//! his RPPS, else our internal id of his principal (INTRN), never a name.
//!
//! Pure: `feedback` reads the row and sends the resource.

use super::resources::{
    Appointment, AppointmentParticipant, CodeableConcept, Extension, Identifier, Meta, Reference,
};
use super::sas::{FR_V2_0203, RPPS_SYSTEM, idnps};
use crate::domain::Rpps;
use crate::garde::calendar::paris_rfc3339;
use crate::store::AppointmentRow;

pub const APPOINTMENT_PROFILE: &str = "http://sas.fr/fhir/StructureDefinition/FrAppointmentSAS";
pub const OPERATOR_EXTENSION: &str =
    "http://interopsante.org/fhir/StructureDefinition/FrAppointmentOperator";

/// The identifier systems of our Appointments, under the service's public URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Systems {
    /// Our bookings: `{public_url}/fhir/sid/booking`.
    pub booking: String,
    /// Our principals (who booked, when not a person with an RPPS):
    /// `{public_url}/fhir/sid/principal`.
    pub principal: String,
}

impl Systems {
    /// The systems of a service whose public URL is `base` (no trailing slash).
    pub fn at(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            booking: format!("{base}/fhir/sid/booking"),
            principal: format!("{base}/fhir/sid/principal"),
        }
    }

    /// `system|value` of booking `id`: the token of the SAS's `identifier` search parameter,
    /// unencoded.
    pub fn booking_token(&self, id: i64) -> String {
        format!("{}|{id}", self.booking)
    }
}

fn typed(code: &str, system: &str, value: String) -> Identifier {
    Identifier {
        kind: Some(CodeableConcept::of(FR_V2_0203, code)),
        system: Some(system.to_owned()),
        value,
    }
}

/// Booking `row` as an FrAppointmentSAS.
pub fn appointment(systems: &Systems, row: &AppointmentRow) -> Appointment {
    let operator = match row
        .booked_by_identity
        .as_deref()
        .and_then(|i| i.strip_prefix("rpps:"))
        .and_then(|r| r.parse::<Rpps>().ok())
    {
        Some(rpps) => typed("IDNPS", RPPS_SYSTEM, idnps(&rpps)),
        None => typed("INTRN", &systems.principal, row.booked_by.clone()),
    };
    Appointment {
        meta: Meta::profile(APPOINTMENT_PROFILE),
        extension: vec![Extension {
            url: OPERATOR_EXTENSION.to_owned(),
            value_reference: Reference {
                identifier: Some(operator),
                ..Reference::default()
            },
        }],
        identifier: vec![Identifier {
            kind: None,
            system: Some(systems.booking.clone()),
            value: row.booking_id.to_string(),
        }],
        status: if row.cancelled_at.is_some() {
            "cancelled"
        } else {
            "booked"
        },
        start: paris_rfc3339(row.start_at),
        end: paris_rfc3339(row.end_at),
        created: paris_rfc3339(row.created_at),
        participant: vec![AppointmentParticipant {
            actor: Reference {
                identifier: Some(typed("IDNPS", RPPS_SYSTEM, idnps(&row.rpps))),
                ..Reference::default()
            },
            status: "accepted",
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::Resource;

    /// The IG's Appointment-1.json (fixtures/fhir-sas/), its narrative and id left out, with
    /// our identifier system, times and ids.
    #[test]
    fn a_booking_is_shaped_like_the_igs_example_appointment() {
        let row = AppointmentRow {
            booking_id: 4_503_599_627_370_495,
            rpps: "10000000009".parse().unwrap(),
            // 2026-03-02T17:00:00Z: 18:00 in Paris (winter).
            start_at: 1_772_470_800,
            end_at: 1_772_471_700,
            created_at: 1_772_460_000,
            cancelled_at: None,
            booked_by: "tok1".to_owned(),
            booked_by_identity: Some("rpps:10000000017".to_owned()),
        };
        let systems = Systems::at("https://cpts.example.fr/");
        let json = serde_json::to_value(Resource::Appointment(appointment(&systems, &row)))
            .expect("serializable");
        let expected = serde_json::json!({
            "resourceType": "Appointment",
            "meta": {"profile": [APPOINTMENT_PROFILE]},
            "extension": [{
                "url": OPERATOR_EXTENSION,
                "valueReference": {"identifier": {
                    "type": {"coding": [{"system": FR_V2_0203, "code": "IDNPS"}]},
                    "system": "urn:oid:1.2.250.1.71.4.2.1",
                    "value": "810000000017"
                }}
            }],
            "identifier": [{
                "system": "https://cpts.example.fr/fhir/sid/booking",
                "value": "4503599627370495"
            }],
            "status": "booked",
            "start": "2026-03-02T18:00:00+01:00",
            "end": "2026-03-02T18:15:00+01:00",
            "created": "2026-03-02T15:00:00+01:00",
            "participant": [{
                "actor": {"identifier": {
                    "type": {"coding": [{"system": FR_V2_0203, "code": "IDNPS"}]},
                    "system": "urn:oid:1.2.250.1.71.4.2.1",
                    "value": "810000000009"
                }},
                "status": "accepted"
            }]
        });
        assert_eq!(json, expected);

        let cancelled = AppointmentRow {
            cancelled_at: Some(1_772_461_000),
            booked_by_identity: None,
            ..row
        };
        let json = serde_json::to_value(appointment(&systems, &cancelled)).unwrap();
        assert_eq!(json["status"], "cancelled");
        assert_eq!(
            json["extension"][0]["valueReference"]["identifier"],
            serde_json::json!({
                "type": {"coding": [{"system": FR_V2_0203, "code": "INTRN"}]},
                "system": "https://cpts.example.fr/fhir/sid/principal",
                "value": "tok1"
            })
        );
        assert_eq!(
            systems.booking_token(7),
            "https://cpts.example.fr/fhir/sid/booking|7"
        );
    }
}
