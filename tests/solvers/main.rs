//! Solver tests.
