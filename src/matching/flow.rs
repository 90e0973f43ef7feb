//! Instance → network → Matching (being written).

use super::{Instance, Matching, Objective};

/// The exact lexicographic optimum of FORMATS.md §2.
#[derive(Clone, Debug)]
pub struct Solution {
    pub matching: Matching,
    pub objective: Objective,
}

/// Solves `inst` exactly.
pub fn solve(inst: &Instance) -> Solution {
    let matching = Matching {
        doctor_of: vec![None; inst.patients.len()],
    };
    let objective = matching.objective(inst);
    Solution {
        matching,
        objective,
    }
}
