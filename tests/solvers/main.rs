#![allow(clippy::unwrap_used)]
//! Solver tests: the flow against the exact MILP oracle on random small instances, the oracle
//! against brute force, hand-solved instances, the committed fixtures, and the oracle at a real
//! batch's size (ignored); the garde solvers against each other and their MILP (`garde`); warm re-batches against
//! cold ones after churn (`warm`).

mod fixtures;
mod garde;
mod garde_extended;
mod hand_solved;
mod instances;
mod properties;
mod scale;
mod warm;
