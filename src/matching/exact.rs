//! The independent exact oracle of FORMATS.md §2: a 0/1 program solved by [`crate::solver::milp`]
//! (microlp by default, HiGHS with the cargo feature `highs`), to check
//! [`crate::matching::solve`] in tests and under `--verify`.
//!
//! It is written from FORMATS.md alone and shares only the instance types with the flow
//! solver: eligibility (haversine against `min(patient limit, doctor limit)`, capacity > 0),
//! costs (metres rounded ties-to-even) and tiers are recomputed here, not taken from
//! [`Instance::eligible_cost`] or [`crate::domain::Patient::tier`].
//!
//! # Model
//! One binary `x[p,d]` per eligible pair; `Σ_d x[p,d] ≤ 1` for each patient and
//! `Σ_p x[p,d] ≤ capacity(d)` for each doctor.
//!
//! # Lexicographic order, by stages
//! The order of FORMATS.md §2 holds by solving four programs over the same rows, never by
//! weights: (1) maximise the tier-1 count `n1`; add the row `tier-1 count ≥ n1`;
//! (2) maximise tier 2 and fix it the same way; (3) tier 3; (4) minimise Σ metres. Each stage
//! is optimal among the optima of the previous ones because those optima are exactly the
//! feasible points of the added rows. Each stage optimum is read from the binaries (`v > 0.5`)
//! and compared with the solver's float objective; the final answer is rebuilt as a
//! [`Matching`], checked with [`Matching::check`], and its objective recomputed in integers
//! must equal the stage optima. Any disagreement is an [`Error`], never a silent answer.
//!
//! # Complexity
//! Building is O(P·D) distance evaluations and O(E) non-zeros for E eligible pairs. Stage 1 is
//! a bipartite b-matching: its constraint matrix is totally unimodular, so the polytope of its
//! LP relaxation has integral vertices. Each added row `count ≥ n` sets a count to its maximum
//! over that polytope, so it keeps exactly a face of it, whose vertices are still integral. So
//! every stage is solved as an LP ([`BinaryProgram::solve`]: interior point and crossover for
//! the counts, dual simplex for the metres, each ending on a vertex, then an integer check of
//! that vertex); branch and bound only runs if numerical trouble leaves a fractional vertex.
//! Four solves of E columns and P + D + 3 rows: fine for tests and, with HiGHS, for verifying
//! a batch, far slower than the flow (fixtures/nancy: 13,000 patients, 1.25 M pairs, about a
//! minute in release with HiGHS, against 0.2 s). microlp, the pure-Rust default, is for small
//! instances only: at a batch's size, build with `--features highs`.
//!
//! This module must not call the flow solver: it is the flow's judge.

use super::{FeasibilityError, Instance, Matching, Objective};
use crate::geo::{cost_m, haversine_m};
use crate::solver::milp::{self, BinaryProgram, LpAlgorithm, Options, Sense};
use std::fmt;
use std::time::Instant;

/// A stage of the lexicographic model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Maximise the matched patients of tier 1, 2 or 3.
    Tier(u8),
    /// Minimise the total metres.
    Metres,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Tier(t) => write!(f, "tier {t}"),
            Stage::Metres => f.write_str("metres"),
        }
    }
}

/// Why the oracle has no trusted answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("the MILP solver failed at the {stage} stage")]
    Milp {
        stage: Stage,
        #[source]
        source: milp::Error,
    },
    #[error("the MILP answer is not a feasible matching")]
    Infeasible(#[source] FeasibilityError),
    #[error("the MILP answer gives patient #{patient} two doctors")]
    TwoDoctors { patient: usize },
    #[error("{stage} stage: the solver reports {reported} but its binaries give {recomputed}")]
    Disagree {
        stage: Stage,
        reported: f64,
        recomputed: u64,
    },
    #[error("{stage} stage: the optimum was {optimum} but the final answer has {last}")]
    StageLost {
        stage: Stage,
        optimum: u64,
        last: u64,
    },
    #[error("the oracle's objective {ours:?} differs from the instance's recount {theirs:?}")]
    Recount { ours: Objective, theirs: Objective },
}

/// One column of the program: an eligible pair.
struct Pair {
    patient: usize,
    doctor: usize,
    tier: usize,
    cost: u32,
}

/// Tier index 0..3 of FORMATS.md §2: 1 = ALD; 2 = not 1, and age ≥ 70 or CSS; 3 = others.
fn tier_of(ald: bool, age: u8, css: bool) -> usize {
    if ald {
        0
    } else if age >= 70 || css {
        1
    } else {
        2
    }
}

/// Every eligible pair of FORMATS.md §2, patient-major then doctor order.
fn eligible_pairs(inst: &Instance) -> Vec<Pair> {
    let default_m = inst.default_max_km.km() * 1000.0;
    let mut pairs = Vec::new();
    for (p, pat) in inst.patients.iter().enumerate() {
        let patient_m = pat.max_km.map_or(default_m, |k| k.km() * 1000.0);
        let tier = tier_of(pat.ald, pat.age, pat.css);
        for (d, doc) in inst.doctors.iter().enumerate() {
            // FORMATS.md §2: an excluded pair is not eligible (read from the set itself).
            if doc.capacity == 0 || inst.excluded.contains(&(p as u32, d as u32)) {
                continue;
            }
            let limit_m = doc
                .max_km
                .map_or(patient_m, |k| patient_m.min(k.km() * 1000.0));
            // FORMATS.md §1: eligibility compares the unrounded distance with the limit.
            let dist = haversine_m(pat.coords, doc.coords);
            if dist <= limit_m {
                pairs.push(Pair {
                    patient: p,
                    doctor: d,
                    tier,
                    cost: cost_m(dist),
                });
            }
        }
    }
    pairs
}

/// The solver's float objective must round to the integer read from the binaries. The slack
/// covers values within the backend's integrality tolerance (1e-6 per column for HiGHS and
/// microlp alike, and for the relaxation check of `milp`) times the costs.
fn agree(reported: f64, recomputed: u64, scale: f64) -> bool {
    (reported - recomputed as f64).abs() <= 0.5 + 1e-6 * scale
}

/// The exact lexicographic optimum of FORMATS.md §2, by the staged MILP of this module.
///
/// # Errors
/// [`Error::Milp`] when the MILP backend fails at a stage, and [`Error::Infeasible`],
/// [`Error::TwoDoctors`], [`Error::Disagree`], [`Error::StageLost`] or [`Error::Recount`] when
/// the answer does not survive its re-check in integers.
///
/// # Complexity
/// O(P·D) to find the pairs, then four MILP solves over E eligible pairs (module doc).
pub fn solve(inst: &Instance) -> Result<Matching, Error> {
    solve_with(inst, &Options::default())
}

/// [`solve`] with solver limits (a time limit; with HiGHS, threads and its log). `options.lp` is
/// ignored: the count stages use interior point and the metres stage dual simplex, the faster
/// choice for each (see [`LpAlgorithm`]).
///
/// # Errors
/// As [`solve`]; a limit reached gives [`Error::Milp`] with [`milp::Error::Stopped`].
pub fn solve_with(inst: &Instance, options: &Options) -> Result<Matching, Error> {
    let started = Instant::now();
    let pairs = eligible_pairs(inst);
    let mut program = BinaryProgram::new(pairs.len());
    let mut of_patient: Vec<Vec<(usize, i64)>> = vec![Vec::new(); inst.patients.len()];
    let mut of_doctor: Vec<Vec<(usize, i64)>> = vec![Vec::new(); inst.doctors.len()];
    for (j, pair) in pairs.iter().enumerate() {
        of_patient[pair.patient].push((j, 1));
        of_doctor[pair.doctor].push((j, 1));
    }
    for terms in of_patient.into_iter().filter(|t| t.len() > 1) {
        program.add_le(terms, 1);
    }
    for (d, terms) in of_doctor.into_iter().enumerate() {
        let capacity = i64::from(inst.doctors[d].capacity);
        if terms.len() as i64 > capacity {
            program.add_le(terms, capacity);
        }
    }

    tracing::debug!(
        pairs = pairs.len(),
        rows = program.rows(),
        elapsed_ms = crate::telemetry::ms(started.elapsed()),
        "exact model built"
    );
    let counting = Options {
        lp: LpAlgorithm::InteriorPoint,
        ..options.clone()
    };
    let costing = Options {
        lp: LpAlgorithm::Simplex,
        ..options.clone()
    };
    let mut optima = [0u64; 3];
    for (t, optimum) in optima.iter_mut().enumerate() {
        let stage = Stage::Tier(t as u8 + 1);
        let count: Vec<(usize, i64)> = pairs
            .iter()
            .enumerate()
            .filter(|(_, pair)| pair.tier == t)
            .map(|(j, _)| (j, 1))
            .collect();
        let best = program
            .solve(Sense::Maximise, &count, &counting)
            .map_err(|source| Error::Milp { stage, source })?;
        tracing::debug!(
            %stage,
            method = ?best.method,
            elapsed_ms = crate::telemetry::ms(started.elapsed()),
            "stage solved"
        );
        let n = best.ones().filter(|&j| pairs[j].tier == t).count() as u64;
        if !agree(best.objective, n, count.len() as f64) {
            return Err(Error::Disagree {
                stage,
                reported: best.objective,
                recomputed: n,
            });
        }
        *optimum = n;
        program.add_ge(count, n as i64);
    }

    let metres: Vec<(usize, i64)> = pairs
        .iter()
        .enumerate()
        .map(|(j, pair)| (j, i64::from(pair.cost)))
        .collect();
    let best = program
        .solve(Sense::Minimise, &metres, &costing)
        .map_err(|source| Error::Milp {
            stage: Stage::Metres,
            source,
        })?;
    tracing::debug!(
        stage = %Stage::Metres,
        method = ?best.method,
        elapsed_ms = crate::telemetry::ms(started.elapsed()),
        "stage solved"
    );

    let mut matching = Matching {
        doctor_of: vec![None; inst.patients.len()],
    };
    let mut ours = Objective {
        matched: [0; 3],
        metres: 0,
    };
    for j in best.ones() {
        let pair = &pairs[j];
        let doctor = u32::try_from(pair.doctor).expect("fewer than 2^32 doctors");
        if matching.doctor_of[pair.patient].replace(doctor).is_some() {
            // Matching::check cannot see this: a Matching holds one doctor per patient.
            return Err(Error::TwoDoctors {
                patient: pair.patient,
            });
        }
        ours.matched[pair.tier] += 1;
        ours.metres += u64::from(pair.cost);
    }
    matching.check(inst).map_err(Error::Infeasible)?;

    let scale: f64 = pairs.iter().map(|p| f64::from(p.cost)).sum();
    if !agree(best.objective, ours.metres, scale) {
        return Err(Error::Disagree {
            stage: Stage::Metres,
            reported: best.objective,
            recomputed: ours.metres,
        });
    }
    for (t, (&last, &optimum)) in ours.matched.iter().zip(&optima).enumerate() {
        if last != optimum {
            return Err(Error::StageLost {
                stage: Stage::Tier(t as u8 + 1),
                optimum,
                last,
            });
        }
    }
    let theirs = matching.objective(inst);
    if theirs != ours {
        return Err(Error::Recount { ours, theirs });
    }
    Ok(matching)
}

/// The optimal objective vector `(n1, n2, n3, metres)` of FORMATS.md §2, from [`solve`].
///
/// # Errors
/// As [`solve`].
pub fn objective(inst: &Instance) -> Result<Objective, Error> {
    solve(inst).map(|m| m.objective(inst))
}
