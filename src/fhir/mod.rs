//! FHIR R4 for the SAS (issue 19): the resources we emit as plain serde structs
//! ([`resources`]), our slots in the SAS's profiles and the searchset Bundle ([`sas`]), the
//! search parameters as the SAS sends them ([`search`]), the CapabilityStatement of what is
//! implemented ([`capabilities`]), and a booking as the SAS's Appointment ([`appointment`]).
//!
//! It knows neither HTTP nor SQL: `api::fhir` reads the request, asks the slot room
//! ([`crate::slots`]) and `store`, and hands the rows to this room.

pub mod appointment;
pub mod bulk;
pub mod capabilities;
pub mod resources;
pub mod sas;
pub mod search;

pub use resources::{Bundle, Issue, OperationOutcome, Resource};
pub use sas::{Includes, Links};
pub use search::{BadParameter, SlotSearch};

/// The media type of FHIR JSON (R4).
pub const FHIR_JSON: &str = "application/fhir+json";
/// The DSTU2 spelling, which the SAS's aggregator still sends in `Accept`.
pub const FHIR_JSON_LEGACY: &str = "application/json+fhir";

impl OperationOutcome {
    /// An outcome of one error issue.
    pub fn error(code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self {
            issue: vec![Issue {
                severity: "error",
                code,
                diagnostics: diagnostics.into(),
                expression: Vec::new(),
            }],
        }
    }

    /// An outcome listing the search parameters that cannot be understood.
    pub fn bad_parameters(bad: &[BadParameter]) -> Self {
        Self {
            issue: bad
                .iter()
                .map(|b| Issue {
                    severity: "error",
                    code: "invalid",
                    diagnostics: format!("{}: {}", b.parameter, b.detail),
                    expression: vec![b.parameter.clone()],
                })
                .collect(),
        }
    }
}
