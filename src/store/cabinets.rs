//! The `cabinets` table as CPTS coordinators manage it (FORMATS.md §3). Rows are
//! [`CabinetRow`]s, the same type a garde plan reads.

use super::{AuditEntry, CabinetRow, Error, Store, append_audit_in, now};
use crate::domain::{CabinetId, CptsId};

const COLUMNS: &str = "cabinet_id, name, lat, lon, insee, need, slot_minutes, phone, \
     address_line, address_city, address_postcode";

/// What updating a cabinet did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CabinetUpdate {
    Updated,
    NotFound,
    /// Its position, commune, need or slot length would change while it has this many slots
    /// that have not ended: refused.
    HasFutureSlots(i64),
}

/// What deleting a cabinet did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CabinetDeletion {
    Deleted,
    NotFound,
    /// A roster, an unfilled report or slots refer to it (foreign keys): kept.
    InUse,
}

/// The audit row of a cabinet written whole: its id and its need.
fn cabinet_entry(action: &'static str, c: &CabinetRow) -> AuditEntry {
    AuditEntry::new(action, "cabinet", Some(c.id.as_str().to_owned()))
        .with_detail(serde_json::json!({ "need": c.need, "slot_minutes": c.slot_minutes }))
}

/// One part of a cabinet's address, to bind (NULL without an address).
fn address_part(c: &CabinetRow, part: fn(&crate::domain::Address) -> &str) -> Option<String> {
    c.address.as_ref().map(|a| part(a).to_owned())
}

impl Store {
    /// Creates a cabinet of the CPTS `cpts`.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the id is taken (or the CPTS is gone), [`Error::Unavailable`].
    pub async fn create_cabinet(&self, c: &CabinetRow, cpts: &CptsId) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO cabinets ({COLUMNS}, updated_at, cpts_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(c.id.as_str())
        .bind(&c.name)
        .bind(c.coords.lat())
        .bind(c.coords.lon())
        .bind(c.insee.as_str())
        .bind(i64::from(c.need))
        .bind(i64::from(c.slot_minutes))
        .bind(c.phone.as_ref().map(|p| p.as_str().to_owned()))
        .bind(address_part(c, |a| a.line.as_str()))
        .bind(address_part(c, |a| a.city.as_str()))
        .bind(address_part(c, |a| a.postcode.as_str()))
        .bind(now())
        .bind(cpts.as_str())
        .execute(&mut *tx)
        .await?;
        append_audit_in(&mut tx, self.actor(), &cabinet_entry("cabinet.create", c)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces every field of a cabinet but its id; [`CabinetUpdate::HasFutureSlots`] when
    /// anything but its name would change while published slots have not ended. `within`:
    /// only a cabinet of this CPTS (another is [`CabinetUpdate::NotFound`]); `None`: any.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn update_cabinet(
        &self,
        c: &CabinetRow,
        within: Option<&CptsId>,
    ) -> Result<CabinetUpdate, Error> {
        let at = now();
        let mut tx = self.begin_write().await?;
        // One statement decides (issue 15): while the cabinet has slots that have not ended
        // (published rosters), its position, commune, need and slot length stay as they are;
        // its name may change. Slots follow their cabinet, so a move would move them too.
        let done = sqlx::query(
            "UPDATE cabinets SET name = $1, lat = $2, lon = $3, insee = $4, need = $5, \
             slot_minutes = $6, updated_at = $7, phone = $10, address_line = $11, \
             address_city = $12, address_postcode = $13 WHERE cabinet_id = $8 \
             AND (CAST($9 AS TEXT) IS NULL OR cpts_id = $9) \
             AND (NOT EXISTS (SELECT 1 FROM slots WHERE slots.cabinet_id = $8 AND slots.end_at > $7) \
                  OR (lat = $2 AND lon = $3 AND insee = $4 AND need = $5 AND slot_minutes = $6))",
        )
        .bind(&c.name)
        .bind(c.coords.lat())
        .bind(c.coords.lon())
        .bind(c.insee.as_str())
        .bind(i64::from(c.need))
        .bind(i64::from(c.slot_minutes))
        .bind(at)
        .bind(c.id.as_str())
        .bind(within.map(CptsId::as_str))
        .bind(c.phone.as_ref().map(|p| p.as_str().to_owned()))
        .bind(address_part(c, |a| a.line.as_str()))
        .bind(address_part(c, |a| a.city.as_str()))
        .bind(address_part(c, |a| a.postcode.as_str()))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            let future: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM slots WHERE cabinet_id = $1 AND end_at > $2",
            )
            .bind(c.id.as_str())
            .bind(at)
            .fetch_one(&self.pool)
            .await?;
            return Ok(match self.cabinet(&c.id, within).await? {
                None => CabinetUpdate::NotFound,
                Some(_) => CabinetUpdate::HasFutureSlots(future),
            });
        }
        append_audit_in(&mut tx, self.actor(), &cabinet_entry("cabinet.update", c)).await?;
        tx.commit().await?;
        Ok(CabinetUpdate::Updated)
    }

    /// The cabinet with this id; `within`: only if it belongs to this CPTS.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn cabinet(
        &self,
        id: &CabinetId,
        within: Option<&CptsId>,
    ) -> Result<Option<CabinetRow>, Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM cabinets WHERE cabinet_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR cpts_id = $2)"
        ))
        .bind(id.as_str())
        .bind(within.map(CptsId::as_str))
        .fetch_optional(&self.pool)
        .await?
        .map(CabinetRow::try_from)
        .transpose()
    }

    /// Every cabinet (`within`: of this CPTS), by id.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn cabinets(&self, within: Option<&CptsId>) -> Result<Vec<CabinetRow>, Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM cabinets WHERE (CAST($1 AS TEXT) IS NULL OR cpts_id = $1) \
             ORDER BY cabinet_id"
        ))
        .bind(within.map(CptsId::as_str))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(CabinetRow::try_from)
        .collect()
    }

    /// Deletes a cabinet (`within`: only one of this CPTS), unless a roster, an unfilled
    /// report or a slot refers to it: the foreign keys decide, in the same statement (no
    /// check-then-delete).
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn delete_cabinet(
        &self,
        id: &CabinetId,
        within: Option<&CptsId>,
    ) -> Result<CabinetDeletion, Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM cabinets WHERE cabinet_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR cpts_id = $2)",
        )
        .bind(id.as_str())
        .bind(within.map(CptsId::as_str))
        .execute(&mut *tx)
        .await;
        match done {
            Ok(d) if d.rows_affected() == 1 => {
                let entry = AuditEntry::new("cabinet.delete", "cabinet", Some(id.to_string()));
                append_audit_in(&mut tx, self.actor(), &entry).await?;
                tx.commit().await?;
                Ok(CabinetDeletion::Deleted)
            }
            Ok(_) => Ok(CabinetDeletion::NotFound),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Ok(CabinetDeletion::InUse)
            }
            Err(e) => Err(e.into()),
        }
    }
}
