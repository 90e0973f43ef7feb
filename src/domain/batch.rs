//! The rows of a matching batch's result (FORMATS.md §2): one [`AssignmentRow`] per line of
//! `assignments.csv`, one [`UnmatchedRow`] per line of `unmatched.csv`.
//!
//! They live in `domain` because four rooms handle the same rows and `domain` is the only room
//! all of them may import: `jobs` builds them from a solution, `store` keeps them (and may know
//! only `domain`), `api` serves them, and `import` reads them back for `matching::verify`. Rows
//! read from the database or a file pass through the ids' constructors like any other input.

use super::{PatientId, Rpps, Tier};

/// One line of `assignments.csv`: a patient, its doctor, and the rounded distance between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentRow {
    pub patient: PatientId,
    pub rpps: Rpps,
    /// Great-circle distance, rounded to the metre (FORMATS.md §1).
    pub distance_m: u64,
}

/// One line of `unmatched.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnmatchedRow {
    pub patient: PatientId,
    pub tier: Tier,
    /// `no_doctor_in_range` or `capacity_exhausted` when written by the solver; kept as text
    /// because `cpts verify` reads files it did not write, and reports any other value itself.
    pub reason: String,
    /// Human-readable explanation (doctor ids only, never patient data); left empty when
    /// `cpts verify` reads the file back, as it does not check it.
    pub detail: String,
}
