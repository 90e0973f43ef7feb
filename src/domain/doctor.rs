//! [`Doctor`]: a GP who declared free capacity for new médecin-traitant patients.

use super::{InseeCode, MaxKm, Rpps};
use crate::geo::Coordinates;
use serde::{Deserialize, Serialize};

/// A GP as read from the matching `doctors.csv` (FORMATS.md §2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Doctor {
    pub rpps: Rpps,
    /// Display only.
    pub name: String,
    /// The practice.
    pub coords: Coordinates,
    pub insee: InseeCode,
    /// New médecin-traitant patients accepted in this batch.
    pub capacity: u32,
    /// Doctor-side distance limit; `None` = none.
    pub max_km: Option<MaxKm>,
}
