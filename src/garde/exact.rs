//! The oracle: an independent MILP written from FORMATS.md §3, for tests and benches.
//!
//! It shares only the instance types and the calendar with [`super::schedule`]: eligibility is
//! recomputed here by scanning windows and measuring distances, and the model is solved in
//! four stages (lexicographic by fixing each optimum):
//!
//! * binary `x[d,s]` for each doctor available for the whole shift `s` and within `max_km`;
//! * `Σ_d x[d,s] ≤ need`, `Σ_{s on a date} x[d,s] ≤ 1`, `Σ_s x[d,s] ≤ max_shifts`;
//! * pins (`pinned.csv`): `x[d,s] ≥ 1` for each pinned position (a pin that is not an
//!   eligible pair is refused, [`ExactError::PinNotEligible`]);
//! * stage 1: maximise `Σ x` → `F`; stage 2: add `Σ x ≥ F`, minimise
//!   `Σ_d Σ_k (2(prior_d + k) − 1)·y[d,k]` with binary `y[d,k]` ("load ≥ k") and
//!   `Σ_k y[d,k] = Σ_s x[d,s]` → `L` (the cheapest `n` of those increasing odd numbers sum to
//!   `(prior + n)² − prior²`, so the optimum is Σ (prior + load)² − Σ prior²); stage 3: add
//!   that sum `≤ L`, minimise the preference score `Σ score(d, date)·x` → `S`; stage 4: add
//!   that sum `≤ S`, minimise Σ metres · x.
//!
//! Values are read as `v > 0.5` and every optimum is recomputed in integers from the roster.
//! Exponential in the worst case: small instances only.

use super::calendar;
use super::instance::Instance;
use super::schedule::{Assignment, Roster};
use crate::geo::{cost_m, haversine_m};
use crate::solver::milp::{self, BinaryProgram, Options, Sense};

/// Why the oracle failed.
#[derive(Debug, thiserror::Error)]
pub enum ExactError {
    #[error("MILP stage {stage} failed")]
    Milp {
        stage: u8,
        #[source]
        source: milp::Error,
    },
    /// The pinned position of this index is not an eligible pair (no shift, unavailable or
    /// beyond `max_km`).
    #[error("pinned position {0} is not an eligible pair")]
    PinNotEligible(usize),
}

/// The lexicographic optimum of FORMATS.md §3 by staged MILP (module documentation).
///
/// # Errors
/// [`ExactError::Milp`] when the MILP backend fails or stops at `options`' limits (or the
/// pins break a count: infeasible); [`ExactError::PinNotEligible`] for an ineligible pin.
///
/// # Complexity
/// Four MILPs over `pairs + Σ_d min(max_shifts, pairs of d)` binaries: exponential in the
/// worst case.
pub fn solve(inst: &Instance, options: &Options) -> Result<Roster, ExactError> {
    // Eligible pairs, by scanning: (date, cabinet, doctor, metres).
    let mut pairs: Vec<Assignment> = Vec::new();
    for date in inst.period.dates() {
        for (c, cab) in inst.cabinets.iter().enumerate() {
            let Some(kind) = calendar::shift_kind(date, cab.alsace_moselle()) else {
                continue;
            };
            let (start, end) = calendar::shift_instants(date, kind);
            for (d, doc) in inst.doctors.iter().enumerate() {
                let m = haversine_m(doc.coords, cab.coords);
                if m <= doc.max_km.metres()
                    && inst.windows[d]
                        .iter()
                        .any(|w| w.start <= start && end <= w.end)
                {
                    pairs.push(Assignment {
                        date,
                        cabinet: c as u32,
                        doctor: d as u32,
                        metres: cost_m(m),
                    });
                }
            }
        }
    }
    let n = pairs.len();
    let mut of_doctor: Vec<Vec<usize>> = vec![Vec::new(); inst.doctors.len()];
    for (i, a) in pairs.iter().enumerate() {
        of_doctor[a.doctor as usize].push(i);
    }
    // y[d,k] columns after the x columns: k = 1..=min(max_shifts, pairs of d).
    let mut y: Vec<Vec<usize>> = Vec::with_capacity(inst.doctors.len());
    let mut columns = n;
    for (d, doc) in inst.doctors.iter().enumerate() {
        let k = (doc.max_shifts as usize).min(of_doctor[d].len());
        y.push((columns..columns + k).collect());
        columns += k;
    }
    let mut p = BinaryProgram::new(columns);
    let mut shift_rows: std::collections::BTreeMap<(chrono::NaiveDate, u32), Vec<usize>> =
        Default::default();
    let mut day_rows: std::collections::BTreeMap<(u32, chrono::NaiveDate), Vec<usize>> =
        Default::default();
    for (i, a) in pairs.iter().enumerate() {
        shift_rows.entry((a.date, a.cabinet)).or_default().push(i);
        day_rows.entry((a.doctor, a.date)).or_default().push(i);
    }
    for ((_, c), cols) in &shift_rows {
        let need = i64::from(inst.cabinets[*c as usize].need);
        p.add_le(cols.iter().map(|&i| (i, 1)), need);
    }
    for cols in day_rows.values() {
        p.add_le(cols.iter().map(|&i| (i, 1)), 1);
    }
    let ext = &inst.extensions;
    for (k, pin) in ext.pinned.iter().enumerate() {
        let i = pairs
            .iter()
            .position(|a| (a.date, a.cabinet, a.doctor) == (pin.date, pin.cabinet, pin.doctor))
            .ok_or(ExactError::PinNotEligible(k))?;
        p.add_ge([(i, 1)], 1);
    }
    for (d, doc) in inst.doctors.iter().enumerate() {
        let xs = &of_doctor[d];
        p.add_le(xs.iter().map(|&i| (i, 1)), i64::from(doc.max_shifts));
        // Σ_k y[d,k] − Σ_s x[d,s] = 0
        let terms: Vec<(usize, i64)> = y[d]
            .iter()
            .map(|&j| (j, 1))
            .chain(xs.iter().map(|&i| (i, -1)))
            .collect();
        p.add_le(terms.iter().copied(), 0);
        p.add_ge(terms, 0);
    }
    let roster_of = |values: &[f64]| {
        Roster::new(
            (0..n)
                .filter(|&i| milp::is_one(values[i]))
                .map(|i| pairs[i])
                .collect(),
        )
    };
    let stage = |s: u8| move |source: milp::Error| ExactError::Milp { stage: s, source };

    let filled: Vec<(usize, i64)> = (0..n).map(|i| (i, 1)).collect();
    let first = p
        .solve(Sense::Maximise, &filled, options)
        .map_err(stage(1))?;
    let f = roster_of(&first.values).assignments.len() as i64;
    p.add_ge(filled, f);

    // The k-th shift (k from 0) of doctor d costs 2(prior + k + 1) − 1.
    let load_cost: Vec<(usize, i64)> = y
        .iter()
        .enumerate()
        .flat_map(|(d, ys)| {
            let prior = i64::from(ext.prior(d));
            ys.iter()
                .enumerate()
                .map(move |(k, &j)| (j, 2 * (prior + k as i64) + 1))
        })
        .collect();
    let second = p
        .solve(Sense::Minimise, &load_cost, options)
        .map_err(stage(2))?;
    let prior_sq: i64 = (0..inst.doctors.len())
        .map(|d| i64::from(ext.prior(d)).pow(2))
        .sum();
    let l = roster_of(&second.values).objective(inst).sum_load_squared as i64 - prior_sq;
    p.add_le(load_cost, l);

    let score: Vec<(usize, i64)> = (0..n)
        .map(|i| (i, ext.score(pairs[i].doctor, pairs[i].date)))
        .filter(|&(_, v)| v != 0)
        .collect();
    let third = p
        .solve(Sense::Minimise, &score, options)
        .map_err(stage(3))?;
    let sc = roster_of(&third.values).objective(inst).preference_score;
    p.add_le(score, sc);

    let metres: Vec<(usize, i64)> = (0..n).map(|i| (i, i64::from(pairs[i].metres))).collect();
    let fourth = p
        .solve(Sense::Minimise, &metres, options)
        .map_err(stage(4))?;
    Ok(roster_of(&fourth.values))
}
