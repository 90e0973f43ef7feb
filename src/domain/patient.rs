//! [`Patient`] without a médecin traitant, its [`Tier`], and the [`MaxKm`] travel limit.

use super::{InseeCode, PatientId};
use crate::geo::Coordinates;
use serde::{Deserialize, Serialize};

/// A distance limit in kilometres: finite and > 0 (FORMATS.md §2, `max_km`).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct MaxKm(f64);

/// Why a number is not a distance limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a finite number of kilometres greater than 0")]
pub struct MaxKmError;

impl MaxKm {
    /// # Errors
    /// When `km` is not finite or not > 0.
    pub fn new(km: f64) -> Result<Self, MaxKmError> {
        if km.is_finite() && km > 0.0 {
            Ok(Self(km))
        } else {
            Err(MaxKmError)
        }
    }

    /// Kilometres.
    pub fn km(self) -> f64 {
        self.0
    }

    /// The limit in metres, `max_km × 1000`, compared with the unrounded distance.
    pub fn metres(self) -> f64 {
        self.0 * 1000.0
    }
}

impl TryFrom<f64> for MaxKm {
    type Error = MaxKmError;
    fn try_from(v: f64) -> Result<Self, MaxKmError> {
        Self::new(v)
    }
}

impl From<MaxKm> for f64 {
    fn from(m: MaxKm) -> f64 {
        m.0
    }
}

/// Priority tier (FORMATS.md §2): 1 for ALD; 2 for age ≥ 70 or CSS; 3 for everyone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    /// Affection de longue durée.
    Ald = 1,
    /// Age 70 or more, or complémentaire santé solidaire.
    SeniorOrCss = 2,
    /// Everyone else.
    Other = 3,
}

impl Tier {
    /// All tiers, most vulnerable first.
    pub const ALL: [Tier; 3] = [Tier::Ald, Tier::SeniorOrCss, Tier::Other];

    /// The tier of a patient of `age` with or without ALD and CSS (FORMATS.md §2).
    pub fn of(age: u8, ald: bool, css: bool) -> Tier {
        if ald {
            Tier::Ald
        } else if age >= 70 || css {
            Tier::SeniorOrCss
        } else {
            Tier::Other
        }
    }

    /// 1, 2 or 3.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// 0, 1 or 2, for arrays indexed by tier.
    pub fn index(self) -> usize {
        self as usize - 1
    }

    /// The tier of 1, 2 or 3.
    pub fn from_number(n: u8) -> Option<Tier> {
        match n {
            1 => Some(Tier::Ald),
            2 => Some(Tier::SeniorOrCss),
            3 => Some(Tier::Other),
            _ => None,
        }
    }
}

/// A patient without a médecin traitant, as read from `patients.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    pub id: PatientId,
    pub coords: Coordinates,
    pub insee: InseeCode,
    /// Years, 0–130.
    pub age: u8,
    pub ald: bool,
    pub css: bool,
    /// Farthest the patient will travel; `None` = the batch default.
    pub max_km: Option<MaxKm>,
}

impl Patient {
    /// The priority tier of FORMATS.md §2.
    pub fn tier(&self) -> Tier {
        Tier::of(self.age, self.ald, self.css)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(age: u8, ald: bool, css: bool) -> Patient {
        Patient {
            id: "p1".parse().unwrap(),
            coords: Coordinates::new(48.7, 6.2).unwrap(),
            insee: "54395".parse().unwrap(),
            age,
            ald,
            css,
            max_km: None,
        }
    }

    #[test]
    fn tiers_follow_formats_md() {
        assert_eq!(patient(30, true, false).tier(), Tier::Ald);
        assert_eq!(patient(80, true, true).tier(), Tier::Ald);
        assert_eq!(patient(70, false, false).tier(), Tier::SeniorOrCss);
        assert_eq!(patient(69, false, true).tier(), Tier::SeniorOrCss);
        assert_eq!(patient(69, false, false).tier(), Tier::Other);
    }

    #[test]
    fn max_km_must_be_positive_and_finite() {
        assert!(MaxKm::new(0.0).is_err());
        assert!(MaxKm::new(-1.0).is_err());
        assert!(MaxKm::new(f64::INFINITY).is_err());
        assert_eq!(MaxKm::new(2.5).unwrap().metres(), 2500.0);
    }
}
