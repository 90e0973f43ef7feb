#![allow(clippy::unwrap_used)]
//! Solver tests: the flow against the exact MILP oracle on random small instances, the oracle
//! against brute force, hand-solved instances, the committed fixtures, and the oracle at a real
//! batch's size (ignored).

mod fixtures;
mod garde_extended;
mod hand_solved;
mod instances;
mod properties;
mod scale;
