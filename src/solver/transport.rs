//! Placeholder, replaced by the transportation solver.
