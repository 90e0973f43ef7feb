//! The `doctors` table: GPs as imported by the CPAM, and the capacity they declare.

use super::{Error, Store, float_or_absent, now};
use crate::domain::{MatchingDoctor, MaxKm, Rpps};
use crate::geo::Coordinates;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stored doctor, with when the capacity was last declared.
#[derive(Clone, Debug, PartialEq)]
pub struct DoctorRecord {
    pub doctor: MatchingDoctor,
    /// Unix seconds of the last capacity declaration through the API; `None` when the
    /// capacity is still the imported one.
    pub capacity_updated_at: Option<i64>,
    /// Unix seconds of the last change of any kind.
    pub updated_at: i64,
    /// The capacity and max_km of the last CPAM import, and its date (Unix seconds); `None`
    /// for a doctor no import brought.
    pub imported: Option<(u32, Option<f64>, i64)>,
}

pub(super) const COLUMNS: &str = "rpps, name, lat, lon, insee, capacity, max_km, capacity_updated_at, \
     updated_at, imported_capacity, imported_max_km, imported_at";

impl TryFrom<AnyRow> for DoctorRecord {
    type Error = Error;
    fn try_from(row: AnyRow) -> Result<Self, Error> {
        let rpps: String = row.try_get("rpps")?;
        let insee: String = row.try_get("insee")?;
        let capacity: i64 = row.try_get("capacity")?;
        let max_km: Option<f64> = row.try_get("max_km")?;
        let doctor = MatchingDoctor {
            rpps: rpps.parse().map_err(|_| Error::Corrupt("doctors.rpps"))?,
            name: row.try_get("name")?,
            coords: Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                .map_err(|_| Error::Corrupt("doctors.lat/lon"))?,
            insee: insee.parse().map_err(|_| Error::Corrupt("doctors.insee"))?,
            capacity: u32::try_from(capacity).map_err(|_| Error::Corrupt("doctors.capacity"))?,
            max_km: max_km
                .map(MaxKm::new)
                .transpose()
                .map_err(|_| Error::Corrupt("doctors.max_km"))?,
        };
        let imported_capacity: Option<i64> = row.try_get("imported_capacity")?;
        let imported_at: Option<i64> = row.try_get("imported_at")?;
        let imported = match (imported_capacity, imported_at) {
            (Some(c), Some(at)) => Some((
                u32::try_from(c).map_err(|_| Error::Corrupt("doctors.imported_capacity"))?,
                row.try_get("imported_max_km")?,
                at,
            )),
            _ => None,
        };
        Ok(Self {
            doctor,
            capacity_updated_at: row.try_get("capacity_updated_at")?,
            updated_at: row.try_get("updated_at")?,
            imported,
        })
    }
}

impl Store {
    /// Inserts or replaces doctors by RPPS, all or none (one transaction).
    ///
    /// # Errors
    /// [`Error::Unavailable`]; nothing is written on any error.
    pub async fn upsert_doctors(&self, doctors: &[MatchingDoctor]) -> Result<(), Error> {
        let at = now();
        let mut tx = self.begin_write().await?;
        for d in doctors {
            sqlx::query(
                "INSERT INTO doctors (rpps, name, lat, lon, insee, capacity, max_km, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, -1.0), $8) \
                 ON CONFLICT (rpps) DO UPDATE SET name = excluded.name, lat = excluded.lat, \
                 lon = excluded.lon, insee = excluded.insee, capacity = excluded.capacity, \
                 max_km = excluded.max_km, updated_at = excluded.updated_at",
            )
            .bind(d.rpps.as_str())
            .bind(&d.name)
            .bind(d.coords.lat())
            .bind(d.coords.lon())
            .bind(d.insee.as_str())
            .bind(i64::from(d.capacity))
            .bind(float_or_absent(d.max_km.map(MaxKm::km)))
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The doctor with this RPPS.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn doctor(&self, rpps: &Rpps) -> Result<Option<DoctorRecord>, Error> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM doctors WHERE rpps = $1"))
            .bind(rpps.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(DoctorRecord::try_from)
            .transpose()
    }

    /// Records a declared capacity and distance limit (`None`: no doctor-side limit) and
    /// returns the updated doctor, or `None` when no doctor has this RPPS.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn set_capacity(
        &self,
        rpps: &Rpps,
        capacity: u32,
        max_km: Option<MaxKm>,
    ) -> Result<Option<DoctorRecord>, Error> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(&format!(
            "UPDATE doctors SET capacity = $1, max_km = NULLIF($2, -1.0), capacity_updated_at = $3, \
             updated_at = $3 WHERE rpps = $4 RETURNING {COLUMNS}"
        ))
        .bind(i64::from(capacity))
        .bind(float_or_absent(max_km.map(MaxKm::km)))
        .bind(at)
        .bind(rpps.as_str())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let record = DoctorRecord::try_from(row)?;
        let entry = super::AuditEntry::new("capacity.declare", "doctor", Some(rpps.to_string()))
            .with_detail(serde_json::json!({
                "capacity": capacity,
                "max_km": max_km.map(MaxKm::km),
            }));
        super::append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(Some(record))
    }
}
