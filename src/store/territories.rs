//! The `cpts` and `cpts_communes` tables (issue 16): each CPTS, its name, FINESS number and
//! communes. Départements need no table: a département is an INSEE prefix.

use super::{AuditEntry, Error, Store, append_audit_in, now};
use crate::domain::{CptsId, Departement, Finess, InseeCode};
use sqlx::Row;
use std::collections::BTreeSet;

/// A CPTS as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CptsRecord {
    pub id: CptsId,
    pub name: String,
    pub finess: Option<Finess>,
    /// Its communes, sorted.
    pub communes: Vec<InseeCode>,
    /// The month (1–12) its garde reference year starts on (issue 18; 1: the calendar year).
    pub garde_year_start: u32,
    /// Whether a swap of garde shifts needs its coordinator's approval (issue 18).
    pub swap_approval: bool,
    /// Unix seconds (0 for the CPTS seeded by the migration).
    pub updated_at: i64,
}

impl CptsRecord {
    /// The départements its communes lie in.
    pub fn departements(&self) -> BTreeSet<Departement> {
        self.communes.iter().map(InseeCode::departement).collect()
    }
}

/// A CPTS to create or replace.
#[derive(Clone, Debug)]
pub struct NewCpts {
    pub id: CptsId,
    pub name: String,
    pub finess: Option<Finess>,
    pub communes: Vec<InseeCode>,
    /// The month (1–12) its garde reference year starts on; `None` keeps the stored one (1 for
    /// a new CPTS).
    pub garde_year_start: Option<u32>,
    /// Whether swaps need the coordinator's approval; `None` keeps the stored one (no for a
    /// new CPTS).
    pub swap_approval: Option<bool>,
}

/// What deleting a CPTS did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CptsDeletion {
    Deleted,
    NotFound,
    /// Cabinets belong to it (foreign key): kept.
    InUse,
}

const CHUNK: usize = 400;

impl Store {
    /// Every CPTS, by id, with its communes.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn cpts_list(&self) -> Result<Vec<CptsRecord>, Error> {
        let rows = sqlx::query(
            "SELECT id, name, finess, garde_year_start, swap_approval, updated_at FROM cpts ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let communes =
            sqlx::query("SELECT cpts_id, insee FROM cpts_communes ORDER BY cpts_id, insee")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut record = record_of(&row)?;
            for c in &communes {
                let id: String = c.try_get("cpts_id")?;
                if id == record.id.as_str() {
                    let insee: String = c.try_get("insee")?;
                    record.communes.push(
                        insee
                            .parse()
                            .map_err(|_| Error::Corrupt("cpts_communes.insee"))?,
                    );
                }
            }
            out.push(record);
        }
        Ok(out)
    }

    /// The CPTS with this id, with its communes.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn cpts(&self, id: &CptsId) -> Result<Option<CptsRecord>, Error> {
        let Some(row) = sqlx::query(
            "SELECT id, name, finess, garde_year_start, swap_approval, updated_at FROM cpts WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut record = record_of(&row)?;
        let communes: Vec<String> =
            sqlx::query_scalar("SELECT insee FROM cpts_communes WHERE cpts_id = $1 ORDER BY insee")
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await?;
        record.communes = communes
            .iter()
            .map(|c| c.parse())
            .collect::<Result<_, _>>()
            .map_err(|_| Error::Corrupt("cpts_communes.insee"))?;
        Ok(Some(record))
    }

    /// Creates or replaces a CPTS and its communes, with its audit row, in one transaction;
    /// `true` when it was created.
    ///
    /// # Errors
    /// [`Error::Conflict`] when another CPTS has this FINESS number, [`Error::Unavailable`].
    pub async fn put_cpts(&self, c: &NewCpts) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let existed: Option<String> = sqlx::query_scalar("SELECT id FROM cpts WHERE id = $1")
            .bind(c.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let finess = c.finess.as_ref().map(Finess::as_str);
        if existed.is_some() {
            sqlx::query(
                "UPDATE cpts SET name = $1, finess = $2, updated_at = $3, \
                 garde_year_start = COALESCE($4, garde_year_start), \
                 swap_approval = COALESCE($6, swap_approval) WHERE id = $5",
            )
            .bind(&c.name)
            .bind(finess)
            .bind(now())
            .bind(c.garde_year_start.map(i64::from))
            .bind(c.id.as_str())
            .bind(c.swap_approval.map(i64::from))
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM cpts_communes WHERE cpts_id = $1")
                .bind(c.id.as_str())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO cpts (id, name, finess, updated_at, garde_year_start, \
                 swap_approval) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(c.id.as_str())
            .bind(&c.name)
            .bind(finess)
            .bind(now())
            .bind(i64::from(c.garde_year_start.unwrap_or(1)))
            .bind(i64::from(c.swap_approval.unwrap_or(false)))
            .execute(&mut *tx)
            .await?;
        }
        let communes: BTreeSet<&InseeCode> = c.communes.iter().collect();
        let communes: Vec<&InseeCode> = communes.into_iter().collect();
        for chunk in communes.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO cpts_communes (cpts_id, insee) VALUES {}",
                super::values_clause(chunk.len(), 2, 1)
            );
            let mut q = sqlx::query(&sql);
            for insee in chunk {
                q = q.bind(c.id.as_str()).bind(insee.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        let action = if existed.is_some() {
            "cpts.update"
        } else {
            "cpts.create"
        };
        let entry = AuditEntry::new(action, "cpts", Some(c.id.to_string())).with_detail(
            serde_json::json!({ "communes": communes.len(), "finess": c.finess.is_some() }),
        );
        append_audit_in(&mut tx, self.actor(), &entry).await?;
        tx.commit().await?;
        Ok(existed.is_none())
    }

    /// Deletes a CPTS and its commune list, unless cabinets belong to it (the foreign key
    /// decides, in the same statement).
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn delete_cpts(&self, id: &CptsId) -> Result<CptsDeletion, Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM cpts_communes WHERE cpts_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM cpts WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await;
        match done {
            Ok(d) if d.rows_affected() == 1 => {
                let entry = AuditEntry::new("cpts.delete", "cpts", Some(id.to_string()));
                append_audit_in(&mut tx, self.actor(), &entry).await?;
                tx.commit().await?;
                Ok(CptsDeletion::Deleted)
            }
            Ok(_) => Ok(CptsDeletion::NotFound),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Ok(CptsDeletion::InUse)
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn record_of(row: &sqlx::any::AnyRow) -> Result<CptsRecord, Error> {
    let id: String = row.try_get("id")?;
    let finess: Option<String> = row.try_get("finess")?;
    Ok(CptsRecord {
        id: id.parse().map_err(|_| Error::Corrupt("cpts.id"))?,
        name: row.try_get("name")?,
        finess: finess
            .map(|f| f.parse())
            .transpose()
            .map_err(|_| Error::Corrupt("cpts.finess"))?,
        communes: Vec::new(),
        garde_year_start: row
            .try_get::<i64, _>("garde_year_start")
            .ok()
            .and_then(|m| u32::try_from(m).ok())
            .filter(|m| (1..=12).contains(m))
            .ok_or(Error::Corrupt("cpts.garde_year_start"))?,
        swap_approval: row.try_get::<i64, _>("swap_approval")? == 1,
        updated_at: row.try_get("updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url).await.expect("a store");
        store.migrate().await.expect("migrated");
        (dir, store)
    }

    #[tokio::test]
    async fn the_migration_seeds_the_ten_cpts_of_the_fixtures() {
        let (_dir, store) = store().await;
        let all = store.cpts_list().await.unwrap();
        assert_eq!(all.len(), 10);
        let nancy = store
            .cpts(&"grand_nancy".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(nancy.communes.iter().any(|c| c.as_str() == "54395"));
        assert_eq!(
            nancy
                .departements()
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>(),
            ["54"]
        );
    }

    #[tokio::test]
    async fn a_cpts_is_replaced_whole_and_kept_while_cabinets_belong_to_it() {
        let (_dir, store) = store().await;
        let id: CptsId = "test_cpts".parse().unwrap();
        let new = |communes: &[&str]| NewCpts {
            id: id.clone(),
            name: "Test".into(),
            finess: Some("540019832".parse().unwrap()),
            communes: communes.iter().map(|c| c.parse().unwrap()).collect(),
            garde_year_start: None,
            swap_approval: None,
        };
        assert!(store.put_cpts(&new(&["54395", "54547"])).await.unwrap());
        assert!(!store.put_cpts(&new(&["57463"])).await.unwrap());
        let got = store.cpts(&id).await.unwrap().unwrap();
        assert_eq!(got.communes.len(), 1);
        assert_eq!(got.communes[0].as_str(), "57463");
        sqlx::query(
            "INSERT INTO cabinets (cabinet_id, name, lat, lon, insee, need, updated_at, cpts_id) \
             VALUES ('c1', 'C', 49.1, 6.2, '57463', 1, 0, 'test_cpts')",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        assert_eq!(store.delete_cpts(&id).await.unwrap(), CptsDeletion::InUse);
        assert_eq!(
            store.cpts(&id).await.unwrap().unwrap().communes.len(),
            1,
            "the refused delete rolled back"
        );
        sqlx::query("DELETE FROM cabinets")
            .execute(&store.pool)
            .await
            .unwrap();
        assert_eq!(store.delete_cpts(&id).await.unwrap(), CptsDeletion::Deleted);
        assert_eq!(
            store.delete_cpts(&id).await.unwrap(),
            CptsDeletion::NotFound
        );
    }
}
