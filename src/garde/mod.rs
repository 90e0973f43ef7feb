//! Cabinet de garde scheduling (FORMATS.md §3) and consultation slots (§4).
//!
//! * [`calendar`]: shifts of a period, public holidays (Alsace-Moselle included), DST.
//! * [`instance`]: the typed instance, its shifts and who may take each one.
//! * [`roster`]: what solvers return, its objective vector and the feasibility check.
//! * [`schedule`]: the exact lexicographic optimum by min-cost flow ([`mcmf`]).
//! * [`exact`]: the independent MILP oracle (tests and benches).
//! * [`report`]: empty positions and why, carence per cabinet and month, fairness.
//! * [`slots`]: consultation slots of a roster.
//! * [`fixtures`]: deterministic instances from the reference data (metz-q, metz-y, dept-y).
//! * [`cli`]: `cpts garde DIR`.
//!
//! An instance folder is read by [`crate::import::garde`] (re-exported as [`read_instance`]):
//! the four CSV files → [`Instance`], or every error. The core (`schedule` → `report`/`slots`)
//! does no I/O; the HTTP API reuses it as is. Only `cli` and `fixtures` write files.
//!
//! [`calendar`]: crate::garde::calendar
//! [`read_instance`]: crate::garde::read_instance
//! [`Instance`]: crate::garde::Instance
//! [`instance`]: crate::garde::instance
//! [`roster`]: crate::garde::roster
//! [`schedule`]: crate::garde::schedule
//! [`mcmf`]: crate::solver::mcmf
//! [`exact`]: crate::garde::exact
//! [`report`]: crate::garde::report
//! [`slots`]: crate::garde::slots
//! [`fixtures`]: crate::garde::fixtures
//! [`cli`]: crate::garde::cli

pub mod calendar;
pub mod cli;
pub mod exact;
pub mod fixtures;
pub mod instance;
pub mod report;
pub mod roster;
pub mod schedule;
pub mod slots;

pub use crate::import::garde::read_instance;
pub use cli::{GardeArgs, run_cli};
pub use fixtures::generate_fixtures;
pub use instance::{Cabinet, GardeDoctor, Instance, Period, Window};
pub use schedule::{Objective, Roster, Schedule, solve};
