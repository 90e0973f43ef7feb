//! [`MatchingDoctor`]: a GP who declared free capacity for new médecin-traitant patients.

use super::{InseeCode, MaxKm, Rpps};
use crate::geo::Coordinates;
use serde::{Deserialize, Serialize};

/// A GP as the médecin-traitant matching sees them, read from the matching `doctors.csv`
/// (FORMATS.md §2): a capacity for new patients and an optional distance limit.
///
/// Named for the room that uses it: the garde has its own doctor,
/// [`crate::garde::GardeDoctor`] (a shift limit and a required `max_km`, no capacity), so a
/// bare `Doctor` would hide which of the two this is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchingDoctor {
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
