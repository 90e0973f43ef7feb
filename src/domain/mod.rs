//! Value types that cannot be wrong. No I/O, no async, no SQL; nothing else of the crate but
//! [`crate::geo::Coordinates`], which is a value type too.

pub mod address;
pub mod batch;
pub mod doctor;
pub mod identity;
pub mod ids;
pub mod insee;
pub mod patient;
pub mod phone;
pub mod proposal;
pub mod role;
pub mod territory;
pub mod text;

pub use address::{Address, AddressError, Postcode, PostcodeError};
pub use batch::{AssignmentRow, UnmatchedRow};
pub use doctor::MatchingDoctor;
pub use identity::{Identity, IdentityError};
pub use ids::{CabinetId, IdError, PatientId, Rpps, RppsError};
pub use insee::{Departement, InseeCode, InseeError};
pub use patient::{MaxKm, MaxKmError, Patient, Tier};
pub use phone::{Phone, PhoneError};
pub use proposal::{Action, ProposalState, RefusalReason, RefusedBy};
pub use role::{Role, RoleError};
pub use territory::{CptsId, Finess, Scope, Territory, TerritoryError};
pub use text::{Name, NameError};
