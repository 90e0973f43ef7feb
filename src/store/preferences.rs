//! Garde wishes and history (issue 18): the `garde_preferences` table (a médecin's `prefer` or
//! `avoid` per date), the CPTS's reference year, and each doctor's published shifts of that year
//! before a period (the prior shifts of FORMATS.md §3 `history.csv`).

use super::{AuditEntry, Error, Store, append_audit_in, now};
use crate::domain::{CptsId, Rpps};
use crate::garde::instance::Preference;
use chrono::NaiveDate;
use sqlx::Row;

/// One stored wish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreferenceRecord {
    pub date: NaiveDate,
    pub preference: Preference,
}

fn date_of(text: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| Error::Corrupt("garde_preferences.day"))
}

fn record_of(row: &sqlx::any::AnyRow) -> Result<PreferenceRecord, Error> {
    let day: String = row.try_get("day")?;
    let word: String = row.try_get("preference")?;
    Ok(PreferenceRecord {
        date: date_of(&day)?,
        preference: Preference::from_word(&word)
            .map_err(|_| Error::Corrupt("garde_preferences.preference"))?,
    })
}

impl Store {
    /// The wishes of `rpps` dated `from` to `to` (inclusive), by date.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn garde_preferences_of(
        &self,
        rpps: &Rpps,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<PreferenceRecord>, Error> {
        let rows = sqlx::query(
            "SELECT day, preference FROM garde_preferences \
             WHERE rpps = $1 AND day >= $2 AND day <= $3 ORDER BY day",
        )
        .bind(rpps.as_str())
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_of).collect()
    }

    /// Every doctor's wishes dated `from` to `to` (inclusive), for a plan.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn garde_preferences_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(Rpps, PreferenceRecord)>, Error> {
        let rows = sqlx::query(
            "SELECT rpps, day, preference FROM garde_preferences \
             WHERE day >= $1 AND day <= $2 ORDER BY rpps, day",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let rpps: String = r.try_get("rpps")?;
                let rpps = rpps
                    .parse()
                    .map_err(|_| Error::Corrupt("garde_preferences.rpps"))?;
                Ok((rpps, record_of(r)?))
            })
            .collect()
    }

    /// Records (`Some`) or clears (`None`) the wish of `rpps` for `date`, with its audit row;
    /// `false` when no doctor has this RPPS.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn set_garde_preference(
        &self,
        rpps: &Rpps,
        date: NaiveDate,
        preference: Option<Preference>,
    ) -> Result<bool, Error> {
        let mut tx = self.begin_write().await?;
        let known: Option<String> = sqlx::query_scalar("SELECT rpps FROM doctors WHERE rpps = $1")
            .bind(rpps.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Ok(false);
        }
        let (action, changed) = match preference {
            Some(p) => {
                let done = sqlx::query(
                    "INSERT INTO garde_preferences (rpps, day, preference, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (rpps, day) DO UPDATE SET \
                     preference = excluded.preference, updated_at = excluded.updated_at",
                )
                .bind(rpps.as_str())
                .bind(date.to_string())
                .bind(p.as_str())
                .bind(now())
                .execute(&mut *tx)
                .await?;
                ("garde_preference.set", done.rows_affected())
            }
            None => {
                let done =
                    sqlx::query("DELETE FROM garde_preferences WHERE rpps = $1 AND day = $2")
                        .bind(rpps.as_str())
                        .bind(date.to_string())
                        .execute(&mut *tx)
                        .await?;
                ("garde_preference.clear", done.rows_affected())
            }
        };
        if changed > 0 {
            let entry = AuditEntry::new(action, "doctor", Some(rpps.to_string())).with_detail(
                serde_json::json!({
                    "date": date.to_string(),
                    "preference": preference.map(Preference::as_str),
                }),
            );
            append_audit_in(&mut tx, self.actor(), &entry).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The month the garde reference year of `cpts` starts on (1–12; 1 when it has none).
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn garde_year_start(&self, cpts: &CptsId) -> Result<u32, Error> {
        let month: Option<i64> =
            sqlx::query_scalar("SELECT garde_year_start FROM cpts WHERE id = $1")
                .bind(cpts.as_str())
                .fetch_optional(&self.pool)
                .await?;
        match month {
            None => Ok(1),
            Some(m) => u32::try_from(m)
                .ok()
                .filter(|m| (1..=12).contains(m))
                .ok_or(Error::Corrupt("cpts.garde_year_start")),
        }
    }

    /// Each doctor's published garde shifts dated `from` (inclusive) to `to` (exclusive), every
    /// plan and cabinet: the prior shifts of a period starting at `to`.
    ///
    /// # Errors
    /// [`Error::Unavailable`], [`Error::Corrupt`].
    pub async fn published_shift_counts(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(Rpps, u32)>, Error> {
        let rows = sqlx::query(
            "SELECT rpps, COUNT(*) AS n FROM published_positions \
             WHERE shift_day >= $1 AND shift_day < $2 GROUP BY rpps ORDER BY rpps",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let rpps: String = r.try_get("rpps")?;
                let n: i64 = r.try_get("n")?;
                Ok((
                    rpps.parse()
                        .map_err(|_| Error::Corrupt("published_positions.rpps"))?,
                    u32::try_from(n).map_err(|_| Error::Corrupt("a count"))?,
                ))
            })
            .collect()
    }
}

/// The first day of the garde reference year that holds `date`, when that year starts on the
/// first of `month` (1–12).
pub fn reference_year_start(date: NaiveDate, month: u32) -> NaiveDate {
    use chrono::Datelike;
    let this_year = NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date);
    if this_year <= date {
        this_year
    } else {
        NaiveDate::from_ymd_opt(date.year() - 1, month, 1).unwrap_or(date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    #[test]
    fn the_reference_year_starts_on_the_first_of_its_month_at_or_before_the_date() {
        assert_eq!(reference_year_start(d("2027-03-15"), 1), d("2027-01-01"));
        assert_eq!(reference_year_start(d("2027-01-01"), 1), d("2027-01-01"));
        assert_eq!(reference_year_start(d("2027-03-15"), 9), d("2026-09-01"));
        assert_eq!(reference_year_start(d("2027-09-01"), 9), d("2027-09-01"));
        assert_eq!(reference_year_start(d("2027-12-31"), 12), d("2027-12-01"));
    }

    #[tokio::test]
    async fn wishes_are_set_replaced_cleared_and_history_counts_published_shifts() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let store = Store::connect(&url).await.expect("connects");
        store.migrate().await.expect("migrates");
        let rpps: Rpps = "10000000009".parse().expect("an RPPS");
        let day = d("2027-03-02");
        assert!(
            !store
                .set_garde_preference(&rpps, day, Some(Preference::Avoid))
                .await
                .expect("answers"),
            "an unknown doctor"
        );
        sqlx::query(
            "INSERT INTO doctors (rpps, name, lat, lon, insee, capacity, updated_at) \
             VALUES ('10000000009', 'Dr A', 48.69, 6.18, '54395', 0, 0)",
        )
        .execute(&store.pool)
        .await
        .expect("a doctor");
        for p in [Preference::Avoid, Preference::Prefer] {
            assert!(
                store
                    .set_garde_preference(&rpps, day, Some(p))
                    .await
                    .expect("sets")
            );
        }
        let got = store
            .garde_preferences_of(&rpps, d("2027-03-01"), d("2027-03-31"))
            .await
            .expect("reads");
        assert_eq!(
            got,
            [PreferenceRecord {
                date: day,
                preference: Preference::Prefer
            }]
        );
        assert_eq!(
            store
                .garde_preferences_between(d("2027-03-03"), d("2027-03-31"))
                .await
                .expect("reads"),
            []
        );
        assert!(
            store
                .set_garde_preference(&rpps, day, None)
                .await
                .expect("clears")
        );
        assert_eq!(
            store
                .garde_preferences_between(d("2027-01-01"), d("2027-12-31"))
                .await
                .expect("reads"),
            []
        );
        assert_eq!(
            store
                .published_shift_counts(d("2027-01-01"), d("2027-03-01"))
                .await
                .expect("counts"),
            []
        );
        let gy = store
            .garde_year_start(&"grand_nancy".parse().expect("an id"))
            .await
            .expect("reads");
        assert_eq!(gy, 1);
    }
}
