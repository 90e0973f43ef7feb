//! Generic optimisation: indices and `i64` costs only; never imports `domain`.
//! `matching/` and `garde/` translate into these problems and back.

pub mod mcmf;
pub mod milp;
pub mod transport;
