//! Independent exact MILP oracle (being written).
