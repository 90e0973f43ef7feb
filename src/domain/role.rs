//! [`Role`]: what the holder of an API token may do.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The kinds of users of the service (issue 6, "Roles and access"; issue 8 adds the
/// auditeur).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// CPAM staff: imports, matching batches, their results.
    Cpam,
    /// Centre 15 régulateur: slot search and bookings.
    Regulateur,
    /// A GP, bound to one RPPS: capacity and garde availability.
    Medecin,
    /// CPTS coordinator: cabinets, garde plans, rosters.
    Coordinateur,
    /// Auditor (CPAM, ARS, CNIL): reads the audit trail, nothing else.
    Auditeur,
    /// Administrator (issue 16): manages the territories; reads no health data.
    Admin,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 6] = [
        Role::Cpam,
        Role::Regulateur,
        Role::Medecin,
        Role::Coordinateur,
        Role::Auditeur,
        Role::Admin,
    ];

    /// The lowercase name used on the command line, in the database and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cpam => "cpam",
            Role::Regulateur => "regulateur",
            Role::Medecin => "medecin",
            Role::Coordinateur => "coordinateur",
            Role::Auditeur => "auditeur",
            Role::Admin => "admin",
        }
    }
}

/// Why a string is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of cpam, regulateur, medecin, coordinateur, auditeur, admin")]
pub struct RoleError;

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Self, RoleError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(RoleError)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!("Medecin".parse::<Role>(), Err(RoleError));
        assert_eq!("".parse::<Role>(), Err(RoleError));
    }
}
