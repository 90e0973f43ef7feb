//! What a roster leaves undone and how fair it is: `unfilled.csv` (one row per shift with an
//! empty position, and why), `carence.csv` (per cabinet and month), and the typed
//! `summary.json` ([`Summary`]) with its fairness figures. No I/O: `cli::garde` writes the
//! files.
//!
//! # Reasons (FORMATS.md §3), decided per shift with an empty position
//!
//! Start from every doctor not already on the shift, and filter; the reason names the filter
//! that leaves nobody:
//!
//! 1. `no_doctor_available`: no such doctor has a window holding the whole shift.
//! 2. `no_doctor_in_range`: some are available, but the cabinet is beyond the `max_km` of each.
//! 3. `doctors_at_max_shifts`: some are available and in range, and every one of them already
//!    has `max_shifts` shifts (a doctor with `max_shifts = 0` counts as at the maximum).
//! 4. `doctors_busy_that_day`: some available, in-range doctor is below `max_shifts`; each
//!    such doctor already has another shift that calendar day.
//!
//! In an optimal roster these four cover every case: an available, in-range doctor below the
//! maximum and free that day would fill the position, and the roster would not be optimal
//! (checked by [`super::roster::Roster::check`]). Reasons describe the final roster: a doctor
//! "at max shifts" may have been placed elsewhere so that more positions are filled overall.

use super::calendar::ShiftKind;
use super::instance::{Eligibility, Instance};
use super::schedule::{NetworkStats, Objective, Roster};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Why a position stays empty (module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NoDoctorAvailable,
    NoDoctorInRange,
    DoctorsAtMaxShifts,
    DoctorsBusyThatDay,
}

impl Reason {
    /// All reasons, in the order of the module documentation.
    pub const ALL: [Reason; 4] = [
        Reason::NoDoctorAvailable,
        Reason::NoDoctorInRange,
        Reason::DoctorsAtMaxShifts,
        Reason::DoctorsBusyThatDay,
    ];

    /// The name used in `unfilled.csv` and `summary.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoDoctorAvailable => "no_doctor_available",
            Reason::NoDoctorInRange => "no_doctor_in_range",
            Reason::DoctorsAtMaxShifts => "doctors_at_max_shifts",
            Reason::DoctorsBusyThatDay => "doctors_busy_that_day",
        }
    }
}

/// A shift with empty positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unfilled {
    /// Index in [`Eligibility::shifts`].
    pub shift: usize,
    /// Positions still empty (`need − filled`).
    pub missing: u32,
    pub reason: Reason,
}

/// Doctors assigned to each shift of `el` (by shift index).
pub fn filled_per_shift(el: &Eligibility, roster: &Roster) -> Vec<u32> {
    let index: HashMap<_, _> = el
        .shifts
        .iter()
        .enumerate()
        .map(|(j, s)| ((s.date, s.cabinet as u32), j))
        .collect();
    let mut filled = vec![0u32; el.shifts.len()];
    for a in &roster.assignments {
        if let Some(&j) = index.get(&(a.date, a.cabinet)) {
            filled[j] += 1;
        }
    }
    filled
}

/// Every shift with an empty position and its reason, in shift order.
///
/// # Complexity
/// O(assignments + unfilled shifts · doctors).
pub fn unfilled(inst: &Instance, el: &Eligibility, roster: &Roster) -> Vec<Unfilled> {
    let filled = filled_per_shift(el, roster);
    let loads = roster.loads(inst.doctors.len());
    let busy: HashSet<(u32, chrono::NaiveDate)> = roster
        .assignments
        .iter()
        .map(|a| (a.doctor, a.date))
        .collect();
    let on_shift: HashSet<(u32, chrono::NaiveDate, u32)> = roster
        .assignments
        .iter()
        .map(|a| (a.doctor, a.date, a.cabinet))
        .collect();
    let mut out = Vec::new();
    for (j, s) in el.shifts.iter().enumerate() {
        let need = inst.cabinets[s.cabinet].need;
        if filled[j] >= need {
            continue;
        }
        let mut available = false;
        let mut in_range = false;
        let mut below_max = false;
        for (d, doc) in inst.doctors.iter().enumerate() {
            let di = d as u32;
            if on_shift.contains(&(di, s.date, s.cabinet as u32)) || !el.is_available(d, s.day) {
                continue;
            }
            available = true;
            if el.in_range(d, s.cabinet).is_none() {
                continue;
            }
            in_range = true;
            if loads[d] < doc.max_shifts {
                below_max = true;
                debug_assert!(busy.contains(&(di, s.date)), "a free doctor left a gap");
            }
        }
        let reason = if !available {
            Reason::NoDoctorAvailable
        } else if !in_range {
            Reason::NoDoctorInRange
        } else if !below_max {
            Reason::DoctorsAtMaxShifts
        } else {
            Reason::DoctorsBusyThatDay
        };
        out.push(Unfilled {
            shift: j,
            missing: need - filled[j],
            reason,
        });
    }
    out
}

/// One row of `carence.csv`: a cabinet over one month.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Carence {
    pub cabinet_id: String,
    /// `YYYY-MM`.
    pub month: String,
    pub shifts: u32,
    pub positions: u32,
    pub filled: u32,
    pub missing: u32,
    /// Shifts with nobody at all.
    pub empty_shifts: u32,
    /// Shifts with some but not all positions filled.
    pub short_shifts: u32,
    /// Empty positions by reason, in [`Reason::ALL`] order.
    pub missing_by_reason: [u32; 4],
}

/// Per cabinet (instance order) and month, the shifts and positions left empty and why.
pub fn carence(
    inst: &Instance,
    el: &Eligibility,
    roster: &Roster,
    unfilled: &[Unfilled],
) -> Vec<Carence> {
    let filled = filled_per_shift(el, roster);
    let reason: HashMap<usize, Reason> = unfilled.iter().map(|u| (u.shift, u.reason)).collect();
    let mut rows: BTreeMap<(usize, String), Carence> = BTreeMap::new();
    for (j, s) in el.shifts.iter().enumerate() {
        let cab = &inst.cabinets[s.cabinet];
        let month = s.date.format("%Y-%m").to_string();
        let row = rows
            .entry((s.cabinet, month.clone()))
            .or_insert_with(|| Carence {
                cabinet_id: cab.id.to_string(),
                month,
                shifts: 0,
                positions: 0,
                filled: 0,
                missing: 0,
                empty_shifts: 0,
                short_shifts: 0,
                missing_by_reason: [0; 4],
            });
        let f = filled[j].min(cab.need);
        row.shifts += 1;
        row.positions += cab.need;
        row.filled += f;
        row.missing += cab.need - f;
        if f == 0 {
            row.empty_shifts += 1;
        } else if f < cab.need {
            row.short_shifts += 1;
        }
        if let Some(r) = reason.get(&j) {
            let k = Reason::ALL
                .iter()
                .position(|x| x == r)
                .expect("a listed reason");
            row.missing_by_reason[k] += cab.need - f;
        }
    }
    rows.into_values().collect()
}

/// How evenly the shifts are spread (`summary.json`, printed summary).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Fairness {
    /// Doctors with at least one candidate shift (available for it, cabinet in range,
    /// `max_shifts > 0`): the loads below are over them.
    pub eligible_doctors: u64,
    pub load_min: u32,
    /// Median load (mean of the two middle values for an even count).
    pub load_median: f64,
    pub load_max: u32,
    /// Doctors by load: `histogram[k]` doctors have `k` shifts.
    pub histogram: Vec<u64>,
    /// Eligible doctors given no shift at all, by RPPS: available and in range for some shift,
    /// yet every such shift went to others (or was of a day they were needed elsewhere).
    pub available_yet_idle: Vec<String>,
    /// Doctors who reached their `max_shifts`.
    pub at_max_shifts: u64,
}

/// The fairness figures of a roster.
pub fn fairness(inst: &Instance, el: &Eligibility, roster: &Roster) -> Fairness {
    let loads = roster.loads(inst.doctors.len());
    let mut eligible = vec![false; inst.doctors.len()];
    for c in el.candidates.iter().flatten() {
        eligible[c.doctor as usize] = true;
    }
    let mut l: Vec<u32> = (0..inst.doctors.len())
        .filter(|&d| eligible[d])
        .map(|d| loads[d])
        .collect();
    l.sort_unstable();
    let median = match l.len() {
        0 => 0.0,
        n if n % 2 == 1 => f64::from(l[n / 2]),
        n => (f64::from(l[n / 2 - 1]) + f64::from(l[n / 2])) / 2.0,
    };
    let max = l.last().copied().unwrap_or(0);
    let mut histogram = vec![0u64; max as usize + 1];
    for &x in &l {
        histogram[x as usize] += 1;
    }
    Fairness {
        eligible_doctors: l.len() as u64,
        load_min: l.first().copied().unwrap_or(0),
        load_median: median,
        load_max: max,
        histogram,
        available_yet_idle: (0..inst.doctors.len())
            .filter(|&d| eligible[d] && loads[d] == 0)
            .map(|d| inst.doctors[d].rpps.to_string())
            .collect(),
        at_max_shifts: (0..inst.doctors.len())
            .filter(|&d| loads[d] > 0 && loads[d] >= inst.doctors[d].max_shifts)
            .count() as u64,
    }
}

/// Shifts and positions of an instance, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub shifts: u64,
    pub weekday_shifts: u64,
    pub saturday_shifts: u64,
    /// Σ need over shifts.
    pub positions: u64,
}

/// Counts the shifts and positions of `el`.
pub fn counts(inst: &Instance, el: &Eligibility) -> Counts {
    let mut c = Counts::default();
    for s in &el.shifts {
        c.shifts += 1;
        match s.kind {
            ShiftKind::Weekday => c.weekday_shifts += 1,
            ShiftKind::Saturday => c.saturday_shifts += 1,
        }
        c.positions += u64::from(inst.cabinets[s.cabinet].need);
    }
    c
}

/// Wall-clock time per stage, in milliseconds ([`crate::telemetry::ms`]).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct StageTimings {
    pub parse_ms: f64,
    pub eligibility_ms: f64,
    pub network_ms: f64,
    pub flow_ms: f64,
    pub check_ms: f64,
    pub reports_ms: f64,
    pub write_ms: f64,
}

/// Empty positions in all, and by reason.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct UnfilledSummary {
    pub shifts: u64,
    pub positions: u64,
    /// Every reason of [`Reason::ALL`], zero included.
    pub by_reason: BTreeMap<&'static str, u64>,
}

impl UnfilledSummary {
    /// Totals of `unfilled`.
    pub fn new(unfilled: &[Unfilled]) -> Self {
        let mut by_reason: BTreeMap<&'static str, u64> =
            Reason::ALL.iter().map(|r| (r.as_str(), 0)).collect();
        for u in unfilled {
            *by_reason.entry(u.reason.as_str()).or_default() += u64::from(u.missing);
        }
        Self {
            shifts: unfilled.len() as u64,
            positions: unfilled.iter().map(|u| u64::from(u.missing)).sum(),
            by_reason,
        }
    }
}

/// The content of `summary.json` (`cpts garde`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    pub instance: String,
    /// SHA-256 of the four input files, concatenated in [`super::import::FILES`] order, each
    /// preceded by its name and byte length.
    pub instance_sha256: String,
    pub period_start: String,
    pub period_end: String,
    pub cabinets: u64,
    pub doctors: u64,
    pub windows: u64,
    pub shifts: Counts,
    pub objective: Objective,
    /// Positions to fill (Σ need over shifts).
    pub needed: u64,
    pub unfilled: UnfilledSummary,
    pub fairness: Fairness,
    pub slots: u64,
    pub network: NetworkStats,
    pub timings: StageTimings,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfilled_positions_are_summed_by_reason_with_every_reason_listed() {
        // Two shifts short of 2 and 1 positions for lack of doctors, one of 1 out of range.
        let u = |shift, missing, reason| Unfilled {
            shift,
            missing,
            reason,
        };
        let s = UnfilledSummary::new(&[
            u(0, 2, Reason::NoDoctorAvailable),
            u(3, 1, Reason::NoDoctorAvailable),
            u(5, 1, Reason::NoDoctorInRange),
        ]);
        assert_eq!((s.shifts, s.positions), (3, 4));
        assert_eq!(s.by_reason["no_doctor_available"], 3);
        assert_eq!(s.by_reason["no_doctor_in_range"], 1);
        assert_eq!(s.by_reason["doctors_at_max_shifts"], 0);
        assert_eq!(s.by_reason.len(), 4);
    }
}
