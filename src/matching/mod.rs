//! Médecin-traitant assignment (FORMATS.md §2): an instance, the exact lexicographic optimum by
//! our min-cost flow, an independent MILP oracle, and the reason each unmatched patient is left.

pub mod exact;
pub mod explain;
pub mod flow;
pub mod instance;
pub mod report;
pub mod territory;
pub mod verify;
pub mod whatif;

pub use flow::{Error, Solution, solve};
pub use instance::{DEFAULT_MAX_KM, Exclusions, FeasibilityError, Instance, Matching, Objective};
