//! CPTS matching & garde engine: médecin-traitant matching for orphan patients, and cabinet de
//! garde rosters with consultation slots (see README.md and FORMATS.md).

/// CLI subcommands: match, verify, check-exact, garde, fixtures.
pub mod cli;
/// Value types that cannot be wrong: RPPS, INSEE, patient ids, tiers.
pub mod domain;
/// Deterministic instances built from the reference data in fixtures/.
pub mod fixtures;
/// Cabinet de garde rosters (FORMATS.md §3): calendar, exact schedule, reports, slots.
pub mod garde;
/// Coordinates, haversine distance, spatial index.
pub mod geo;
/// CSV readers: typed rows, errors with file, line, column and field.
pub mod import;
/// Médecin-traitant matching: network, exact optimum, oracle, explanations.
pub mod matching;
/// Generic optimisation: min-cost flow and MILP glue, indices and integer costs only.
pub mod solver;
