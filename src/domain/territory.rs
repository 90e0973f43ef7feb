//! Territories and scopes (issue 16): who may see and change what.
//!
//! * A [`Territory`] is a département (`dep:54`, an INSEE prefix) or a CPTS (`cpts:grand_nancy`).
//! * A [`Scope`] is what a principal's token is bound to: `national`, or a set of territories.
//!   It is written canonically (sorted, comma-separated: `dep:54,dep:57`) in the tokens table,
//!   and the same string names a régulateur's SAS on its bookings, a job's territory, and an
//!   audit row's territory.
//! * [`Scope::for_role`] holds the rules of which role takes which scope.

use super::{Departement, InseeCode, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// The id of a CPTS: 1 to 64 characters among `a`–`z`, `0`–`9` and `_` (the `territory_id`
/// column of fixtures/data/territories.csv).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CptsId(String);

impl CptsId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CptsId {
    type Err = TerritoryError;
    fn from_str(s: &str) -> Result<Self, TerritoryError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| Self(s.to_owned())).ok_or(TerritoryError::CptsId)
    }
}

impl TryFrom<String> for CptsId {
    type Error = TerritoryError;
    fn try_from(s: String) -> Result<Self, TerritoryError> {
        s.parse()
    }
}

impl From<CptsId> for String {
    fn from(c: CptsId) -> String {
        c.0
    }
}

impl fmt::Display for CptsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A FINESS number: 9 characters, digits except a département letter (`2A`, `2B`) in second
/// place. Optional on a CPTS; the FHIR interface identifies the CPTS's Organization by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Finess(String);

impl Finess {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Finess {
    type Err = TerritoryError;
    fn from_str(s: &str) -> Result<Self, TerritoryError> {
        let b = s.as_bytes();
        let ok = b.len() == 9
            && b.iter()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || (i == 1 && matches!(c, b'A' | b'B')));
        ok.then(|| Self(s.to_owned())).ok_or(TerritoryError::Finess)
    }
}

impl TryFrom<String> for Finess {
    type Error = TerritoryError;
    fn try_from(s: String) -> Result<Self, TerritoryError> {
        s.parse()
    }
}

impl From<Finess> for String {
    fn from(f: Finess) -> String {
        f.0
    }
}

/// A département or a CPTS.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Territory {
    Dep(Departement),
    Cpts(CptsId),
}

/// Why a string is not a territory or a scope, or a scope does not fit a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerritoryError {
    #[error("expected dep:<département> (dep:54, dep:2A, dep:974) or cpts:<id>")]
    Territory,
    #[error("a CPTS id has 1 to 64 characters among a-z, 0-9 and _")]
    CptsId,
    #[error("a FINESS number has 9 digits (2A/2B allowed in second place)")]
    Finess,
    #[error("at most {MAX_TERRITORIES} territories per token")]
    TooMany,
    #[error("a {0} token is bound to {1}")]
    Role(Role, &'static str),
}

impl FromStr for Territory {
    type Err = TerritoryError;
    fn from_str(s: &str) -> Result<Self, TerritoryError> {
        if let Some(dep) = s.strip_prefix("dep:") {
            return dep
                .parse()
                .map(Territory::Dep)
                .map_err(|_| TerritoryError::Territory);
        }
        if let Some(id) = s.strip_prefix("cpts:") {
            return id.parse().map(Territory::Cpts);
        }
        Err(TerritoryError::Territory)
    }
}

impl fmt::Display for Territory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Territory::Dep(d) => write!(f, "dep:{d}"),
            Territory::Cpts(c) => write!(f, "cpts:{c}"),
        }
    }
}

/// Most territories one token is bound to.
pub const MAX_TERRITORIES: usize = 16;

/// What a principal may see: everything, or a set of territories.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    National,
    Within(BTreeSet<Territory>),
}

impl Scope {
    /// The scope of `territories`, or [`Scope::National`] when `national`; checked against
    /// the rules of `role`:
    ///
    /// | role | scope |
    /// |---|---|
    /// | `cpam`, `regulateur` | one or more départements |
    /// | `coordinateur` | exactly one CPTS |
    /// | `medecin` | none (its RPPS binds it) |
    /// | `auditeur` | territories, or national |
    /// | `admin` | national |
    ///
    /// # Errors
    /// [`TerritoryError::Role`] naming what the role takes; [`TerritoryError::TooMany`].
    pub fn for_role(
        role: Role,
        territories: Vec<Territory>,
        national: bool,
    ) -> Result<Scope, TerritoryError> {
        let set: BTreeSet<Territory> = territories.into_iter().collect();
        if set.len() > MAX_TERRITORIES {
            return Err(TerritoryError::TooMany);
        }
        let deps_only = !set.is_empty() && set.iter().all(|t| matches!(t, Territory::Dep(_)));
        let scope = match (role, national) {
            (Role::Cpam | Role::Regulateur, false) if deps_only => Scope::Within(set),
            (Role::Cpam | Role::Regulateur, _) => {
                return Err(TerritoryError::Role(
                    role,
                    "one or more départements (--territory dep:54)",
                ));
            }
            (Role::Coordinateur, false)
                if set.len() == 1 && set.iter().all(|t| matches!(t, Territory::Cpts(_))) =>
            {
                Scope::Within(set)
            }
            (Role::Coordinateur, _) => {
                return Err(TerritoryError::Role(
                    role,
                    "exactly one CPTS (--territory cpts:<id>)",
                ));
            }
            (Role::Medecin, false) if set.is_empty() => Scope::National,
            (Role::Medecin, _) => {
                return Err(TerritoryError::Role(role, "its RPPS only (no --territory)"));
            }
            (Role::Auditeur, true) if set.is_empty() => Scope::National,
            (Role::Auditeur, false) if !set.is_empty() => Scope::Within(set),
            (Role::Auditeur, _) => {
                return Err(TerritoryError::Role(
                    role,
                    "territories (--territory) or --national, not both",
                ));
            }
            (Role::Admin, _) if set.is_empty() => Scope::National,
            (Role::Admin, _) => {
                return Err(TerritoryError::Role(role, "the nation (no --territory)"));
            }
        };
        Ok(scope)
    }

    /// True when every territory of `other` is in this scope (a national scope covers all,
    /// and only a national scope covers the national one).
    pub fn covers(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::National, _) => true,
            (Scope::Within(_), Scope::National) => false,
            (Scope::Within(mine), Scope::Within(theirs)) => theirs.is_subset(mine),
        }
    }

    /// True when the commune `insee` lies in one of the scope's départements.
    pub fn covers_commune(&self, insee: &InseeCode) -> bool {
        match self {
            Scope::National => true,
            Scope::Within(set) => set.contains(&Territory::Dep(insee.departement())),
        }
    }

    /// The scope's CPTS, when it is one CPTS (a coordinator's).
    pub fn cpts(&self) -> Option<&CptsId> {
        match self {
            Scope::Within(set) if set.len() == 1 => match set.iter().next() {
                Some(Territory::Cpts(id)) => Some(id),
                _ => None,
            },
            _ => None,
        }
    }

    /// The territories, empty for a national scope.
    pub fn territories(&self) -> impl Iterator<Item = &Territory> {
        match self {
            Scope::National => None,
            Scope::Within(set) => Some(set.iter()),
        }
        .into_iter()
        .flatten()
    }

    /// The départements of the scope (empty when national).
    pub fn departements(&self) -> impl Iterator<Item = &Departement> {
        self.territories().filter_map(|t| match t {
            Territory::Dep(d) => Some(d),
            Territory::Cpts(_) => None,
        })
    }
}

impl FromStr for Scope {
    type Err = TerritoryError;
    /// `national`, or territories separated by commas.
    fn from_str(s: &str) -> Result<Self, TerritoryError> {
        if s == "national" {
            return Ok(Scope::National);
        }
        let set = s
            .split(',')
            .map(str::parse)
            .collect::<Result<BTreeSet<Territory>, _>>()?;
        if set.len() > MAX_TERRITORIES {
            return Err(TerritoryError::TooMany);
        }
        Ok(Scope::Within(set))
    }
}

impl fmt::Display for Scope {
    /// The canonical form: `national`, or the territories sorted and comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::National => f.write_str("national"),
            Scope::Within(set) => {
                for (i, t) in set.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{t}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Territory {
        s.parse().unwrap()
    }

    #[test]
    fn territories_round_trip_and_refuse_garbage() {
        for ok in ["dep:54", "dep:2A", "dep:974", "cpts:grand_nancy", "cpts:x1"] {
            assert_eq!(t(ok).to_string(), ok);
        }
        for bad in [
            "54",
            "dep:",
            "dep:20",
            "dep:5",
            "cpts:",
            "cpts:Grand",
            "cpts:a-b",
            "region:44",
            "dep:54,",
        ] {
            assert!(bad.parse::<Territory>().is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_are_canonical_whatever_the_order() {
        let s: Scope = "dep:57,dep:54,dep:57".parse().unwrap();
        assert_eq!(s.to_string(), "dep:54,dep:57");
        assert_eq!("national".parse::<Scope>().unwrap(), Scope::National);
        assert!("".parse::<Scope>().is_err());
    }

    #[test]
    fn each_role_takes_its_own_kind_of_scope() {
        let dep = || vec![t("dep:54")];
        let cpts = || vec![t("cpts:grand_nancy")];
        assert!(Scope::for_role(Role::Cpam, dep(), false).is_ok());
        assert!(Scope::for_role(Role::Cpam, vec![], false).is_err());
        assert!(Scope::for_role(Role::Cpam, vec![], true).is_err());
        assert!(Scope::for_role(Role::Cpam, cpts(), false).is_err());
        assert!(Scope::for_role(Role::Regulateur, vec![t("dep:54"), t("dep:57")], false).is_ok());
        assert!(Scope::for_role(Role::Coordinateur, cpts(), false).is_ok());
        assert!(
            Scope::for_role(Role::Coordinateur, vec![t("cpts:a"), t("cpts:b")], false).is_err()
        );
        assert!(Scope::for_role(Role::Coordinateur, dep(), false).is_err());
        assert_eq!(
            Scope::for_role(Role::Medecin, vec![], false),
            Ok(Scope::National)
        );
        assert!(Scope::for_role(Role::Medecin, dep(), false).is_err());
        assert_eq!(
            Scope::for_role(Role::Auditeur, vec![], true),
            Ok(Scope::National)
        );
        assert!(Scope::for_role(Role::Auditeur, cpts(), false).is_ok());
        assert!(Scope::for_role(Role::Auditeur, vec![], false).is_err());
        assert!(Scope::for_role(Role::Admin, vec![], false).is_ok());
        assert!(Scope::for_role(Role::Admin, dep(), false).is_err());
    }

    #[test]
    fn coverage_is_inclusion() {
        let a: Scope = "dep:54".parse().unwrap();
        let ab: Scope = "dep:54,dep:57".parse().unwrap();
        assert!(ab.covers(&a));
        assert!(!a.covers(&ab));
        assert!(Scope::National.covers(&ab));
        assert!(!ab.covers(&Scope::National));
        let nancy: InseeCode = "54395".parse().unwrap();
        let metz: InseeCode = "57463".parse().unwrap();
        assert!(a.covers_commune(&nancy));
        assert!(!a.covers_commune(&metz));
        assert!(Scope::National.covers_commune(&metz));
    }

    #[test]
    fn finess_numbers_have_nine_characters() {
        assert!("540019832".parse::<Finess>().is_ok());
        assert!("2A0000016".parse::<Finess>().is_ok());
        assert!("54001983".parse::<Finess>().is_err());
        assert!("5400198X2".parse::<Finess>().is_err());
    }
}
