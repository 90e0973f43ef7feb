//! A garde plan (FORMATS.md §3) from the stored cabinets, doctors and availability windows.
//!
//! The instance: the plan's cabinets (all, or those listed), and every doctor with at least
//! one declared, not withdrawn, window meeting the period, with those windows. A doctor's
//! `max_shifts` and `garde_max_km` are the stored ones; when not declared, `max_shifts` is
//! the number of days of the period (no limit but one shift a day) and the distance limit is
//! [`DEFAULT_GARDE_MAX_KM`].
//!
//! The optional data of FORMATS.md §3 come from the service (issue 18):
//! * **pins**: the published positions of the period (every plan's), kept as given;
//! * **history**: each doctor's published shifts of the garde reference year before the period
//!   (from the first of the CPTS's `garde_year_start` month; the calendar year by default), every
//!   cabinet and plan, as its prior shifts;
//! * **preferences**: the médecins' stored wishes for the period's dates;
//! * **withdrawals**: a doctor taken off a published shift (`/garde/withdrawals`) is kept off it
//!   (his windows are cut around it), so that a plan over the period is the repair plan: every
//!   other published position pinned, the hole filled at the optimum.

use super::{Progress, blocking};
use crate::domain::MaxKm;
use crate::garde::instance::{ExtensionFile, HistoryRow, PinnedRow, PreferenceRow};
use crate::garde::report::{self, Reason};
use crate::garde::{Cabinet, GardeDoctor, Instance, Period, Window, calendar, schedule};
use crate::store::{CabinetRow, JobRecord, NewSlot, RosterEntryRow, Store, UnfilledRow};
use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The distance limit of a doctor who declared none, in km.
pub const DEFAULT_GARDE_MAX_KM: f64 = 30.0;

/// The parameters of a garde plan job (`jobs.params`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GardePlanParams {
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// `None`: every cabinet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cabinets: Option<Vec<String>>,
}

/// Loads, solves and stores plan `job`; `Ok(false)` when another worker took it over.
pub(super) async fn run(
    store: &Store,
    job: &JobRecord,
    progress: Progress,
) -> anyhow::Result<bool> {
    let params: GardePlanParams =
        serde_json::from_str(&job.params).context("reading the plan's parameters")?;
    let period = Period::new(params.start, params.end).context("the plan's period")?;
    progress.report("loading", 0.0);
    let cabinets = store
        .garde_cabinets(params.cabinets.as_deref(), None)
        .await
        .context("loading the cabinets")?;
    anyhow::ensure!(!cabinets.is_empty(), "the plan has no cabinet");
    // Windows meeting the period, with a day's margin on each side for the time zone.
    let unix = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc().timestamp();
    let from = unix(period.start()) - 86_400;
    let to = unix(period.end()) + 2 * 86_400;
    let (doctor_rows, window_rows) = store
        .garde_availability(from, to)
        .await
        .context("loading the availability windows")?;
    let days = u32::try_from(period.dates().count()).unwrap_or(u32::MAX);
    let default_km = MaxKm::new(DEFAULT_GARDE_MAX_KM).expect("the default limit is > 0");
    let index: HashMap<String, usize> = doctor_rows
        .iter()
        .enumerate()
        .map(|(i, d)| (d.rpps.as_str().to_owned(), i))
        .collect();
    let mut windows = vec![Vec::new(); doctor_rows.len()];
    for w in window_rows {
        let (Some(&d), Some(start), Some(end)) = (
            index.get(w.rpps.as_str()),
            DateTime::from_timestamp(w.start_at, 0),
            DateTime::from_timestamp(w.end_at, 0),
        ) else {
            continue;
        };
        windows[d].push(Window { start, end });
    }
    // A doctor taken off a published shift (a repair) is not put back on it: his windows are
    // cut around that shift.
    for w in store
        .withdrawals(period.start(), period.end(), None)
        .await
        .context("loading the withdrawals")?
    {
        let (Some(&d), Some(start), Some(end)) = (
            index.get(w.rpps.as_str()),
            DateTime::from_timestamp(w.shift_start, 0),
            DateTime::from_timestamp(w.shift_end, 0),
        ) else {
            continue;
        };
        windows[d] = cut(&windows[d], start, end);
    }
    // Published rosters overlapping the period (every plan's): their positions are kept as
    // given (FORMATS.md §3, pinned.csv), and shifts at cabinets outside this plan count in the
    // doctors' max_shifts (issue 15).
    let published = store
        .published_positions(from, to)
        .await
        .context("loading the published rosters")?;
    let in_plan: std::collections::HashSet<&str> = cabinets.iter().map(|c| c.id.as_str()).collect();
    let mut pins = Vec::new();
    let mut elsewhere: HashMap<String, u32> = HashMap::new();
    for (cabinet_id, shift_start, rpps) in published {
        let Some(start) = DateTime::from_timestamp(shift_start, 0) else {
            continue;
        };
        let date = start.with_timezone(&chrono_tz::Europe::Paris).date_naive();
        if date < period.start() || date > period.end() {
            continue;
        }
        if in_plan.contains(cabinet_id.as_str()) {
            if let (Ok(cabinet_id), Ok(rpps)) = (cabinet_id.parse(), rpps.parse()) {
                pins.push(PinnedRow {
                    cabinet_id,
                    date,
                    rpps,
                });
            }
        } else {
            *elsewhere.entry(rpps).or_default() += 1;
        }
    }
    let inst = Instance {
        cabinets: cabinets.into_iter().map(cabinet).collect(),
        doctors: doctor_rows
            .into_iter()
            .map(|d| GardeDoctor {
                max_shifts: d
                    .max_shifts
                    .unwrap_or(days)
                    .saturating_sub(elsewhere.get(d.rpps.as_str()).copied().unwrap_or(0)),
                rpps: d.rpps,
                name: d.name,
                coords: d.coords,
                insee: d.insee,
                max_km: d.garde_max_km.unwrap_or(default_km),
            })
            .collect(),
        windows,
        period,
        extensions: Default::default(),
    };
    // Fairness over the reference year: the published shifts before the period.
    let cpts = job
        .territory
        .parse::<crate::domain::Scope>()
        .ok()
        .and_then(|s| s.cpts().cloned());
    let year_month = match &cpts {
        Some(id) => store
            .garde_year_start(id)
            .await
            .context("reading the CPTS's reference year")?,
        None => 1,
    };
    let year_start = crate::store::reference_year_start(period.start(), year_month);
    let known: std::collections::HashSet<String> = inst
        .doctors
        .iter()
        .map(|d| d.rpps.as_str().to_owned())
        .collect();
    // Shifts at cabinets outside this plan during the period count as served too.
    let mut prior: BTreeMap<String, u32> = elsewhere.into_iter().collect();
    for (rpps, n) in store
        .published_shift_counts(year_start, period.start())
        .await
        .context("counting the published shifts of the reference year")?
    {
        *prior.entry(rpps.as_str().to_owned()).or_default() += n;
    }
    let history: Vec<HistoryRow> = prior
        .into_iter()
        .filter(|(rpps, n)| *n > 0 && known.contains(rpps.as_str()))
        .filter_map(|(rpps, prior_shifts)| {
            Some(HistoryRow {
                rpps: rpps.parse().ok()?,
                prior_shifts,
            })
        })
        .collect();
    let preferences: Vec<PreferenceRow> = store
        .garde_preferences_between(period.start(), period.end())
        .await
        .context("loading the médecins' wishes")?
        .into_iter()
        .filter(|(rpps, _)| known.contains(rpps.as_str()))
        .map(|(rpps, p)| PreferenceRow {
            rpps,
            date: p.date,
            preference: p.preference,
        })
        .collect();
    tracing::info!(
        year_start = %year_start,
        with_history = history.len(),
        preferences = preferences.len(),
        "garde plan: history and wishes"
    );
    let inst = with_published_pins(inst, &history, &preferences, &pins)?;
    tracing::info!(
        cabinets = inst.cabinets.len(),
        doctors = inst.doctors.len(),
        "garde plan loaded"
    );
    let worker_progress = progress.clone();
    let (summary, roster, unfilled) = blocking(move || {
        worker_progress.report("schedule", 0.1);
        let sched = schedule::solve(&inst).context("solving the roster")?;
        if let Err(errors) = sched.roster.check(&inst) {
            anyhow::bail!("the roster fails its own check: {}", errors.join("; "));
        }
        worker_progress.report("report", 0.8);
        let el = &sched.eligibility;
        let unfilled = report::unfilled(&inst, el, &sched.roster);
        let counts = report::counts(&inst, el);
        let fairness = report::fairness(&inst, el, &sched.roster);
        let roster: Vec<RosterEntryRow> = sched
            .roster
            .assignments
            .iter()
            .filter_map(|a| {
                let cab = &inst.cabinets[a.cabinet as usize];
                let kind = calendar::shift_kind(a.date, cab.alsace_moselle())?;
                let (start, end) = calendar::shift_instants(a.date, kind);
                Some(RosterEntryRow {
                    cabinet_id: cab.id.as_str().to_owned(),
                    shift_start: start.timestamp(),
                    shift_end: end.timestamp(),
                    rpps: inst.doctors[a.doctor as usize].rpps.as_str().to_owned(),
                    distance_m: u64::from(a.metres),
                })
            })
            .collect();
        let unfilled_rows: Vec<UnfilledRow> = unfilled
            .iter()
            .map(|u| {
                let s = &el.shifts[u.shift];
                UnfilledRow {
                    cabinet_id: inst.cabinets[s.cabinet].id.as_str().to_owned(),
                    shift_start: s.start.timestamp(),
                    shift_end: s.end.timestamp(),
                    missing: u.missing,
                    reason: u.reason.as_str().to_owned(),
                }
            })
            .collect();
        let mut by_reason: BTreeMap<&'static str, u64> =
            Reason::ALL.iter().map(|r| (r.as_str(), 0)).collect();
        for u in &unfilled {
            *by_reason.entry(u.reason.as_str()).or_default() += u64::from(u.missing);
        }
        let summary = serde_json::json!({
            "period": { "start": inst.period.start(), "end": inst.period.end() },
            "cabinets": inst.cabinets.len(),
            "doctors": inst.doctors.len(),
            "objective": sched.objective,
            "counts": counts,
            "unfilled": { "positions": by_reason.values().sum::<u64>(), "by_reason": by_reason },
            "fairness": fairness,
        });
        worker_progress.report("saving", 0.9);
        Ok((summary, roster, unfilled_rows))
    })
    .await?;
    drop(progress);
    store
        .finish_garde_plan(
            &job.id,
            job.attempts,
            &summary.to_string(),
            &roster,
            &unfilled,
        )
        .await
        .context("storing the roster")
}

/// `inst` with the prior shifts, the wishes and the published positions as pins. A position
/// that no longer holds (its doctor has no window left in the period, or lowered max_km since)
/// is not pinned, and logged: the plan fills around the others, and publishing refuses what the
/// database would not hold. History and wishes are filtered to the instance's doctors and the
/// period beforehand, so they cannot be refused.
fn with_published_pins(
    inst: Instance,
    history: &[HistoryRow],
    preferences: &[PreferenceRow],
    pins: &[PinnedRow],
) -> anyhow::Result<Instance> {
    let mut kept: Vec<PinnedRow> = pins.to_vec();
    for _ in 0..3 {
        match inst.clone().with_extensions(history, preferences, &kept) {
            Ok(extended) => {
                if !kept.is_empty() {
                    tracing::info!(pinned = kept.len(), "published positions kept in the plan");
                }
                return Ok(extended);
            }
            Err(e) => {
                let not_pins: Vec<String> = e
                    .errors
                    .iter()
                    .filter(|r| r.file != ExtensionFile::Pinned)
                    .map(ToString::to_string)
                    .collect();
                anyhow::ensure!(
                    not_pins.is_empty(),
                    "the stored history or wishes do not fit the plan: {}",
                    not_pins.join("; ")
                );
                let bad: std::collections::HashSet<usize> =
                    e.errors.iter().map(|r| r.row).collect();
                tracing::warn!(
                    dropped = bad.len(),
                    first = %e.errors.first().map(ToString::to_string).unwrap_or_default(),
                    "published positions that no longer hold are not pinned"
                );
                kept = kept
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !bad.contains(i))
                    .map(|(_, p)| p)
                    .collect();
            }
        }
    }
    inst.with_extensions(history, preferences, &[])
        .map_err(|e| anyhow::anyhow!("the plan's history or wishes: {e}"))
}

/// `windows` without the instants of `[start, end)`: a window meeting it is split in two (an
/// empty part is dropped).
fn cut(
    windows: &[Window],
    start: DateTime<chrono::Utc>,
    end: DateTime<chrono::Utc>,
) -> Vec<Window> {
    let mut out = Vec::with_capacity(windows.len() + 1);
    for w in windows {
        if w.end <= start || w.start >= end {
            out.push(*w);
            continue;
        }
        if w.start < start {
            out.push(Window {
                start: w.start,
                end: start,
            });
        }
        if w.end > end {
            out.push(Window {
                start: end,
                end: w.end,
            });
        }
    }
    out
}

/// The garde core's cabinet of a stored one.
fn cabinet(c: CabinetRow) -> Cabinet {
    Cabinet {
        id: c.id,
        name: c.name,
        coords: c.coords,
        insee: c.insee,
        need: c.need,
        slot_minutes: c.slot_minutes,
    }
}

/// The consultation slots (FORMATS.md §4) of a stored roster, through
/// [`crate::garde::slots::shift_slots`]; entries of cabinets not in `cabinets` are skipped.
pub fn slots_of(roster: &[RosterEntryRow], cabinets: Vec<CabinetRow>) -> Vec<NewSlot> {
    let cabinets: HashMap<String, Cabinet> = cabinets
        .into_iter()
        .map(|c| (c.id.as_str().to_owned(), cabinet(c)))
        .collect();
    let mut out = Vec::new();
    for e in roster {
        let (Some(cab), Some(start)) = (
            cabinets.get(&e.cabinet_id),
            DateTime::from_timestamp(e.shift_start, 0),
        ) else {
            continue;
        };
        let date = start.with_timezone(&chrono_tz::Europe::Paris).date_naive();
        out.extend(
            crate::garde::slots::shift_slots(cab, date).map(|(s, end)| NewSlot {
                cabinet_id: e.cabinet_id.clone(),
                rpps: e.rpps.clone(),
                start_at: s.timestamp(),
                end_at: end.timestamp(),
            }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2037, 3, 3, h, 0, 0)
            .single()
            .expect("a time")
    }

    fn w(a: u32, b: u32) -> Window {
        Window {
            start: at(a),
            end: at(b),
        }
    }

    #[test]
    fn a_cut_splits_the_windows_it_meets_and_keeps_the_others() {
        // A shift 17–19 inside a window 8–22: two windows around it.
        assert_eq!(cut(&[w(8, 22)], at(17), at(19)), [w(8, 17), w(19, 22)]);
        // Windows that only touch it, or lie elsewhere, stay whole.
        assert_eq!(
            cut(&[w(8, 17), w(19, 22), w(1, 2)], at(17), at(19)),
            [w(8, 17), w(19, 22), w(1, 2)]
        );
        // A window inside it, or exactly it, goes; one overlapping an end is trimmed.
        assert_eq!(cut(&[w(17, 19), w(18, 19)], at(17), at(19)), []);
        assert_eq!(
            cut(&[w(16, 18), w(18, 21)], at(17), at(19)),
            [w(16, 17), w(19, 21)]
        );
    }
}
