//! What every garde solver returns (FORMATS.md §3): a [`Roster`] of [`Assignment`]s, its
//! [`Objective`] vector, and the feasibility check every roster passes, computed from the
//! instance alone (calendar, windows, haversine) so that it shares nothing with a solver.

use super::calendar;
use super::instance::Instance;
use crate::geo::{cost_m, haversine_m};
use chrono::NaiveDate;
use std::collections::HashMap;

/// The objective vector of FORMATS.md §3, compared lexicographically as (filled ↑,
/// Σ (prior + load)² ↓, preference score ↓, metres ↓). Pinned positions count in every level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Objective {
    /// Filled positions.
    pub filled: u64,
    /// Σ over doctors of (prior_shifts + load)², load = shifts assigned in this period
    /// (`sum_load_sq` in `summary.json`, as FORMATS.md §3 names it).
    #[serde(rename = "sum_load_sq")]
    pub sum_load_squared: u64,
    /// Σ over assigned positions of the preference score: `avoid` +1, `prefer` −1, none 0.
    pub preference_score: i64,
    /// Σ integer metres doctor → cabinet over assigned positions (`distance_m` in
    /// `summary.json`).
    #[serde(rename = "distance_m")]
    pub metres: u64,
}

/// One position filled: a doctor on a cabinet's shift of a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Assignment {
    pub date: NaiveDate,
    /// Index in [`Instance::cabinets`].
    pub cabinet: u32,
    /// Index in [`Instance::doctors`].
    pub doctor: u32,
    /// Integer metres doctor → cabinet.
    pub metres: u32,
}

/// A roster: every assignment, sorted by (date, cabinet, doctor).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roster {
    pub assignments: Vec<Assignment>,
}

impl Roster {
    /// Builds a roster, sorting the assignments.
    pub fn new(mut assignments: Vec<Assignment>) -> Self {
        assignments.sort_unstable();
        Self { assignments }
    }

    /// Shifts assigned to each doctor.
    pub fn loads(&self, doctors: usize) -> Vec<u32> {
        let mut loads = vec![0u32; doctors];
        for a in &self.assignments {
            loads[a.doctor as usize] += 1;
        }
        loads
    }

    /// The objective, recomputed from the assignments, the coordinates and the optional data
    /// (prior shifts, preferences).
    pub fn objective(&self, inst: &Instance) -> Objective {
        let ext = &inst.extensions;
        let sum_load_squared = self
            .loads(inst.doctors.len())
            .iter()
            .enumerate()
            .map(|(d, &l)| {
                let t = u64::from(ext.prior(d)) + u64::from(l);
                t * t
            })
            .sum();
        let preference_score = self
            .assignments
            .iter()
            .map(|a| ext.score(a.doctor, a.date))
            .sum();
        let metres = self
            .assignments
            .iter()
            .map(|a| {
                let d = &inst.doctors[a.doctor as usize];
                let c = &inst.cabinets[a.cabinet as usize];
                u64::from(cost_m(haversine_m(d.coords, c.coords)))
            })
            .sum();
        Objective {
            filled: self.assignments.len() as u64,
            sum_load_squared,
            preference_score,
            metres,
        }
    }

    /// Checks every constraint of FORMATS.md §3 from the instance alone (calendar, windows,
    /// haversine), independently of [`super::instance::Eligibility`] and of the network, that
    /// every pinned position is in the roster, and
    /// that no position stays empty while a doctor could take it as things are (a cheap
    /// optimality test).
    ///
    /// # Errors
    /// Every violation found, one line each.
    pub fn check(&self, inst: &Instance) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        let mut per_shift: HashMap<(NaiveDate, u32), u32> = HashMap::new();
        let mut per_day: HashMap<(u32, NaiveDate), u32> = HashMap::new();
        for a in &self.assignments {
            let (Some(cab), Some(doc)) = (
                inst.cabinets.get(a.cabinet as usize),
                inst.doctors.get(a.doctor as usize),
            ) else {
                errors.push(format!("{a:?}: no such cabinet or doctor"));
                continue;
            };
            if a.date < inst.period.start() || a.date > inst.period.end() {
                errors.push(format!("{a:?}: outside the period"));
            }
            let Some(kind) = calendar::shift_kind(a.date, cab.alsace_moselle()) else {
                errors.push(format!("{a:?}: no shift at {} that day", cab.id));
                continue;
            };
            let (start, end) = calendar::shift_instants(a.date, kind);
            if !inst.windows[a.doctor as usize]
                .iter()
                .any(|w| w.covers(start, end))
            {
                errors.push(format!("{a:?}: {} is not available", doc.rpps));
            }
            let m = haversine_m(doc.coords, cab.coords);
            if m > doc.max_km.metres() {
                errors.push(format!("{a:?}: {} is beyond max_km", doc.rpps));
            }
            if a.metres != cost_m(m) {
                errors.push(format!("{a:?}: wrong distance, {} m", cost_m(m)));
            }
            *per_shift.entry((a.date, a.cabinet)).or_default() += 1;
            *per_day.entry((a.doctor, a.date)).or_default() += 1;
        }
        for ((date, c), n) in &per_shift {
            if *n > inst.cabinets[*c as usize].need {
                errors.push(format!(
                    "{date} {}: {n} doctors",
                    inst.cabinets[*c as usize].id
                ));
            }
        }
        for ((d, date), n) in &per_day {
            if *n > 1 {
                errors.push(format!(
                    "{} has {n} shifts on {date}",
                    inst.doctors[*d as usize].rpps
                ));
            }
        }
        let held: std::collections::HashSet<(NaiveDate, u32, u32)> = self
            .assignments
            .iter()
            .map(|a| (a.date, a.cabinet, a.doctor))
            .collect();
        for p in &inst.extensions.pinned {
            if !held.contains(&(p.date, p.cabinet, p.doctor)) {
                errors.push(format!("{p:?}: a pinned position is missing"));
            }
        }
        let loads = self.loads(inst.doctors.len());
        for (d, doc) in inst.doctors.iter().enumerate() {
            if loads[d] > doc.max_shifts {
                errors.push(format!("{} has {} shifts > max_shifts", doc.rpps, loads[d]));
            }
        }
        if errors.is_empty() {
            self.check_no_free_candidate(inst, &per_shift, &per_day, &loads, &mut errors);
        }
        errors.sort();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn check_no_free_candidate(
        &self,
        inst: &Instance,
        per_shift: &HashMap<(NaiveDate, u32), u32>,
        per_day: &HashMap<(u32, NaiveDate), u32>,
        loads: &[u32],
        errors: &mut Vec<String>,
    ) {
        for date in inst.period.dates() {
            for (c, cab) in inst.cabinets.iter().enumerate() {
                let Some(kind) = calendar::shift_kind(date, cab.alsace_moselle()) else {
                    continue;
                };
                let c = c as u32;
                if per_shift.get(&(date, c)).copied().unwrap_or(0) >= cab.need {
                    continue;
                }
                let (start, end) = calendar::shift_instants(date, kind);
                for (d, doc) in inst.doctors.iter().enumerate() {
                    let free = loads[d] < doc.max_shifts
                        && !per_day.contains_key(&(d as u32, date))
                        && haversine_m(doc.coords, cab.coords) <= doc.max_km.metres()
                        && inst.windows[d].iter().any(|w| w.covers(start, end));
                    if free {
                        errors.push(format!(
                            "{date} {}: a position is empty while {} is free",
                            cab.id, doc.rpps
                        ));
                    }
                }
            }
        }
    }
}
