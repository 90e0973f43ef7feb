//! good_lp glue: the one place that names the MILP backend (STYLE.md §6).
//!
//! A [`BinaryProgram`] is a 0/1 program over column indices with integer coefficients: rows
//! `Σ a·x ≤ b` or `Σ a·x ≥ b`, and a linear objective. [`BinaryProgram::solve`] builds the
//! good_lp problem, proves optimality (an integral LP relaxation, else branch and bound with
//! no gap), and maps every status to an [`Error`]. Values come back as floats; read them with
//! [`is_one`] and re-check the answer in integers, because the solver works within tolerances
//! (STYLE.md §6).
//!
//! # Backends
//! By default the backend is microlp, pure Rust: `cargo build` needs nothing but Rust. Its
//! simplex is fine for the property tests' instances (hundreds of columns) and the garde
//! oracle, not for a real batch (13,000 patients, over a million columns). The cargo feature
//! `highs` switches to HiGHS (C++, built from source: cmake, a C++ compiler, libclang), which
//! checks such a batch in about a minute:
//! `cargo run --release --features highs -- check-exact fixtures/nancy`. [`BACKEND`] names the
//! one compiled in. Both honour [`Options::time_limit_s`]; [`Options::threads`],
//! [`Options::log`] and [`Options::lp`] only steer HiGHS (microlp is single-threaded, quiet,
//! and always uses its bounded-variable simplex, which also ends on a vertex).
//!
//! This room knows indices and numbers only: it must not import `crate::domain`, patients or
//! cabinets. A program can be solved several times with different objectives and added rows,
//! which is what a staged lexicographic model needs.

use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolutionStatus, SolverModel, Variable,
    constraint, variable,
};

/// The MILP backend compiled in: `"HiGHS"` with the cargo feature `highs`, else `"microlp"`.
pub const BACKEND: &str = backend::NAME;

/// Why a program has no proven optimum.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("the program is infeasible")]
    Infeasible,
    #[error("the program is unbounded")]
    Unbounded,
    #[error("the solver stopped at a time or resource limit before proving optimality")]
    Stopped,
    #[error("the solver failed: {0}")]
    Solver(String),
}

impl From<ResolutionError> for Error {
    fn from(e: ResolutionError) -> Self {
        match e {
            ResolutionError::Infeasible => Error::Infeasible,
            ResolutionError::Unbounded => Error::Unbounded,
            other => Error::Solver(other.to_string()),
        }
    }
}

/// A binary value as read from the solver: 1 when above one half (STYLE.md §6).
pub fn is_one(v: f64) -> bool {
    v > 0.5
}

/// Direction of the objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sense {
    Maximise,
    Minimise,
}

/// Limits for one solve. The default has none.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Wall-clock limit in seconds for each solver run (both backends); reaching it gives
    /// [`Error::Stopped`].
    pub time_limit_s: Option<f64>,
    /// Threads HiGHS may use; `None` lets HiGHS choose. Ignored by microlp (one thread).
    pub threads: Option<u32>,
    /// Let HiGHS print its log on stdout (off by default: tests and batches stay quiet).
    /// Ignored by microlp, which only logs through the `log` crate at debug level.
    pub log: bool,
    /// Go straight to branch and bound, without trying the LP relaxation first.
    pub skip_relaxation: bool,
    /// The algorithm for the LP relaxation (HiGHS only).
    pub lp: LpAlgorithm,
}

/// How HiGHS solves an LP relaxation (microlp ignores it: it always runs its bounded-variable
/// simplex). Which is faster depends on the program. On assignment programs of 13,000 rows and
/// 0.5–1.25 M columns, interior point wins by far when the objective is a count (a very
/// degenerate LP: 5 s against more than 158 s by dual simplex), dual simplex when it is a sum of
/// distinct costs (10 s against 86 s on fixtures/nancy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LpAlgorithm {
    /// Interior point (IPX), then crossover to an optimal vertex.
    #[default]
    InteriorPoint,
    /// Dual simplex, which ends on a vertex.
    Simplex,
}

impl LpAlgorithm {
    #[cfg(feature = "highs")]
    fn highs_name(self) -> &'static str {
        match self {
            LpAlgorithm::InteriorPoint => "ipm",
            LpAlgorithm::Simplex => "simplex",
        }
    }
}

/// How far from 0 or 1 a relaxation value may be and still count as integral.
const INTEGRALITY_TOL: f64 = 1e-6;

#[derive(Clone, Copy, Debug)]
enum Integrality {
    Binary,
    Relaxed,
}

/// How an optimum was proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The LP relaxation had an integral optimal vertex.
    IntegralRelaxation,
    /// The backend's branch and bound closed the gap.
    BranchAndBound,
}

/// One row: `Σ coef·x[col]` compared with a bound.
#[derive(Clone, Debug)]
struct Row {
    terms: Vec<(usize, i64)>,
    bound: Bound,
}

#[derive(Clone, Copy, Debug)]
enum Bound {
    AtMost(i64),
    AtLeast(i64),
}

/// A program over `columns` binary variables with integer coefficients.
#[derive(Clone, Debug, Default)]
pub struct BinaryProgram {
    columns: usize,
    rows: Vec<Row>,
}

/// A proven optimum: the objective value and every column's value, as the solver gives them.
#[derive(Clone, Debug)]
pub struct Optimum {
    /// The objective evaluated on the solver's values (a float, within its tolerances).
    pub objective: f64,
    /// One value per column, in column order.
    pub values: Vec<f64>,
    /// How optimality was proven.
    pub method: Method,
}

impl Optimum {
    /// The columns read as 1 ([`is_one`]), in increasing order.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter(|&(_, &v)| is_one(v))
            .map(|(j, _)| j)
    }
}

impl BinaryProgram {
    /// A program with `columns` binary variables and no rows.
    pub fn new(columns: usize) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    /// Number of binary variables.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Adds `Σ coef·x[col] ≤ upper`.
    ///
    /// # Panics
    /// When a column index is out of range (a bug in the caller).
    pub fn add_le(&mut self, terms: impl IntoIterator<Item = (usize, i64)>, upper: i64) {
        self.add_row(terms, Bound::AtMost(upper));
    }

    /// Adds `Σ coef·x[col] ≥ lower`.
    ///
    /// # Panics
    /// When a column index is out of range (a bug in the caller).
    pub fn add_ge(&mut self, terms: impl IntoIterator<Item = (usize, i64)>, lower: i64) {
        self.add_row(terms, Bound::AtLeast(lower));
    }

    fn add_row(&mut self, terms: impl IntoIterator<Item = (usize, i64)>, bound: Bound) {
        let terms: Vec<(usize, i64)> = terms.into_iter().collect();
        assert!(
            terms.iter().all(|&(j, _)| j < self.columns),
            "row refers to a column past {}",
            self.columns
        );
        self.rows.push(Row { terms, bound });
    }

    /// Optimises `Σ coef·x[col]` over the program and returns a proven optimum.
    ///
    /// First the LP relaxation (`0 ≤ x ≤ 1`), by [`Options::lp`], which ends on a vertex:
    /// when that vertex is integral, satisfies every row in exact integer arithmetic, and its
    /// integer objective is within 0.5 of the relaxation's, it is optimal (no integer point
    /// beats the relaxation, and the objective is integral), and no branch and bound runs.
    /// Otherwise the backend's branch and bound decides: HiGHS with no relative gap and an
    /// absolute gap of 0.5, microlp with no gap at all; either proves optimality for an
    /// integral objective. A program without columns is decided here, without calling the
    /// backend (HiGHS refuses empty models).
    ///
    /// # Errors
    /// [`Error::Infeasible`], [`Error::Unbounded`], [`Error::Stopped`] at a limit of
    /// `options`, or [`Error::Solver`] for anything else the backend reports, including an
    /// answer that breaks a row once read as 0/1.
    ///
    /// # Panics
    /// When an objective column is out of range (a bug in the caller).
    ///
    /// # Complexity
    /// Building is linear in the non-zeros. The relaxation is an interior-point solve
    /// (polynomial) plus crossover, or a simplex (exponential in the worst case, fast in
    /// practice; microlp's is far slower than HiGHS's on large programs); branch and bound,
    /// when needed, is exponential in the worst case.
    pub fn solve(
        &self,
        sense: Sense,
        objective: &[(usize, i64)],
        options: &Options,
    ) -> Result<Optimum, Error> {
        assert!(
            objective.iter().all(|&(j, _)| j < self.columns),
            "objective refers to a column past {}",
            self.columns
        );
        if self.columns == 0 {
            return self.solve_empty();
        }
        if !options.skip_relaxation {
            let lp = self.run(sense, objective, options, Integrality::Relaxed)?;
            if self.proves_optimal(sense, objective, &lp) {
                return Ok(Optimum {
                    method: Method::IntegralRelaxation,
                    ..lp
                });
            }
        }
        let mip = self.run(sense, objective, options, Integrality::Binary)?;
        if let Some(row) = self.violated_row(&mip.values) {
            return Err(Error::Solver(format!(
                "the answer read as 0/1 violates row {row}"
            )));
        }
        Ok(mip)
    }

    /// One backend run over the program, binary or relaxed.
    fn run(
        &self,
        sense: Sense,
        objective: &[(usize, i64)],
        options: &Options,
        integrality: Integrality,
    ) -> Result<Optimum, Error> {
        let mut vars = ProblemVariables::new();
        let definition = match integrality {
            Integrality::Binary => variable().binary(),
            Integrality::Relaxed => variable().min(0).max(1),
        };
        let x: Vec<Variable> = vars.add_vector(definition, self.columns);
        let goal = linear(&x, objective);
        let unsolved = match sense {
            Sense::Maximise => vars.maximise(goal),
            Sense::Minimise => vars.minimise(goal),
        };
        let mut problem = backend::model(unsolved, options, integrality);
        for row in &self.rows {
            let lhs = linear(&x, &row.terms);
            let c = match row.bound {
                Bound::AtMost(up) => constraint!(lhs <= up as f64),
                Bound::AtLeast(lo) => constraint!(lhs >= lo as f64),
            };
            problem.add_constraint(c);
        }
        let solution = problem.solve().map_err(|e| backend::error(e, options))?;
        match solution.status() {
            SolutionStatus::Optimal => {}
            // HiGHS stopped within the gaps of `backend::model`, which prove optimality here.
            // microlp runs with no gap, so it never reports this.
            SolutionStatus::GapLimit if backend::GAP_PROVES_OPTIMUM => {}
            SolutionStatus::GapLimit | SolutionStatus::TimeLimit => return Err(Error::Stopped),
        }
        let values: Vec<f64> = x.iter().map(|&v| solution.value(v)).collect();
        let objective = objective.iter().map(|&(j, c)| c as f64 * values[j]).sum();
        Ok(Optimum {
            objective,
            values,
            method: Method::BranchAndBound,
        })
    }

    /// True when the relaxation's optimum `lp` is integral, feasible once rounded (checked in
    /// integers), and no worse after rounding than the relaxation minus the integrality gap.
    fn proves_optimal(&self, sense: Sense, objective: &[(usize, i64)], lp: &Optimum) -> bool {
        if !lp
            .values
            .iter()
            .all(|&v| v.abs() <= INTEGRALITY_TOL || (v - 1.0).abs() <= INTEGRALITY_TOL)
        {
            return false;
        }
        if self.violated_row(&lp.values).is_some() {
            return false;
        }
        let rounded: i64 = objective
            .iter()
            .filter(|&&(j, _)| is_one(lp.values[j]))
            .map(|&(_, c)| c)
            .sum();
        // An integral objective: a better integer point would beat the rounded one by 1 or
        // more, so it would exceed the relaxation bound, which cannot be.
        match sense {
            Sense::Maximise => rounded as f64 >= lp.objective - 0.5,
            Sense::Minimise => rounded as f64 <= lp.objective + 0.5,
        }
    }

    /// The first row that the values, read as 0/1, violate in integer arithmetic.
    fn violated_row(&self, values: &[f64]) -> Option<usize> {
        self.rows.iter().position(|row| {
            let lhs: i64 = row
                .terms
                .iter()
                .filter(|&&(j, _)| is_one(values[j]))
                .map(|&(_, c)| c)
                .sum();
            match row.bound {
                Bound::AtMost(up) => lhs > up,
                Bound::AtLeast(lo) => lhs < lo,
            }
        })
    }

    /// No columns: every row compares 0 with its bound, and the objective is 0.
    fn solve_empty(&self) -> Result<Optimum, Error> {
        let holds = self.rows.iter().all(|r| match r.bound {
            Bound::AtMost(up) => up >= 0,
            Bound::AtLeast(lo) => lo <= 0,
        });
        if holds {
            Ok(Optimum {
                objective: 0.0,
                values: Vec::new(),
                method: Method::IntegralRelaxation,
            })
        } else {
            Err(Error::Infeasible)
        }
    }
}

/// HiGHS, with the cargo feature `highs`.
#[cfg(feature = "highs")]
mod backend {
    use super::{Error, Integrality, Options};
    use good_lp::solvers::highs::HighsProblem;
    use good_lp::variable::UnsolvedProblem;
    use good_lp::{ResolutionError, highs};

    pub const NAME: &str = "HiGHS";

    /// The gaps set below (none relative, 0.5 absolute) prove optimality for an integral
    /// objective, so a stop at them is an optimum.
    pub const GAP_PROVES_OPTIMUM: bool = true;

    /// The HiGHS model for one run, silenced unless `options.log`, with `options`' limits.
    pub fn model(
        unsolved: UnsolvedProblem,
        options: &Options,
        integrality: Integrality,
    ) -> HighsProblem {
        let mut problem = unsolved.using(highs).set_option("output_flag", options.log);
        problem.set_verbose(options.log);
        problem = match integrality {
            // Crossover after interior point, so the answer is a vertex.
            Integrality::Relaxed => problem
                .set_option("solver", options.lp.highs_name())
                .set_option("run_crossover", "on"),
            // The heuristics and symmetry detection cost seconds on large programs whose root
            // LP is usually integral already.
            Integrality::Binary => problem
                .set_option("mip_rel_gap", 0.0)
                .set_option("mip_abs_gap", 0.5)
                .set_option("mip_heuristic_run_feasibility_jump", false)
                .set_option("mip_detect_symmetry", false),
        };
        if let Some(t) = options.time_limit_s {
            problem = problem.set_time_limit(t);
        }
        if let Some(n) = options.threads {
            problem = problem.set_threads(n);
        }
        problem
    }

    /// good_lp's HiGHS glue reports a limit reached before any feasible point (no primal
    /// solution to return) as `ResolutionError::Other("NoSolutionFound")`; with a time limit
    /// set, that is a stop, not a failure.
    pub fn error(e: ResolutionError, options: &Options) -> Error {
        match e {
            ResolutionError::Other("NoSolutionFound") if options.time_limit_s.is_some() => {
                Error::Stopped
            }
            other => other.into(),
        }
    }
}

/// microlp (pure Rust), the default.
#[cfg(not(feature = "highs"))]
mod backend {
    use super::{Error, Integrality, Options};
    use good_lp::solvers::microlp::MicroLpProblem;
    use good_lp::variable::UnsolvedProblem;
    use good_lp::{ResolutionError, WithTimeLimit, microlp};

    pub const NAME: &str = "microlp";

    /// No gap is set, so microlp never stops at one; if it did, that would not be a proof.
    pub const GAP_PROVES_OPTIMUM: bool = false;

    /// The microlp model for one run: the same for both integralities (binaries are integer
    /// columns in 0..=1, and its branch and bound runs only when some are declared), with the
    /// time limit of `options`. Threads, log and LP algorithm do not apply.
    pub fn model(
        unsolved: UnsolvedProblem,
        options: &Options,
        _integrality: Integrality,
    ) -> MicroLpProblem {
        let problem = unsolved.using(microlp);
        match options.time_limit_s {
            Some(t) => problem.with_time_limit(t),
            None => problem,
        }
    }

    /// good_lp's microlp glue reports a time limit reached before any feasible point as
    /// `ResolutionError::Other` (its only use of that variant); a limit reached after one
    /// comes back as [`good_lp::SolutionStatus::TimeLimit`] instead.
    pub fn error(e: ResolutionError, _options: &Options) -> Error {
        match e {
            ResolutionError::Other(_) => Error::Stopped,
            other => other.into(),
        }
    }
}

/// `Σ coef·x[col]` as a good_lp expression.
fn linear(x: &[Variable], terms: &[(usize, i64)]) -> Expression {
    let mut e = Expression::with_capacity(terms.len());
    for &(j, c) in terms {
        e.add_mul(c as f64, x[j]);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_knapsack_is_solved_exactly() {
        // max 5a + 4b + 3c s.t. 2a + 3b + c ≤ 5 (binaries): by hand, a + b gives 9, a + c
        // gives 8, b + c gives 7, a + b + c needs 6 > 5, so the optimum is {a, b} = 9.
        let mut p = BinaryProgram::new(3);
        p.add_le([(0, 2), (1, 3), (2, 1)], 5);
        let opt = p
            .solve(
                Sense::Maximise,
                &[(0, 5), (1, 4), (2, 3)],
                &Options::default(),
            )
            .unwrap();
        assert_eq!(opt.ones().collect::<Vec<_>>(), vec![0, 1]);
        assert!((opt.objective - 9.0).abs() < 1e-6);
        // The relaxation takes a, c and 2/3 of b (10.67): fractional, so branch and bound.
        assert_eq!(opt.method, Method::BranchAndBound);
    }

    #[test]
    fn an_assignment_is_proven_by_its_integral_relaxation() {
        // Two workers, two jobs, x[w][j] at column 2w + j; costs 1 4 / 3 1. By hand: the
        // diagonal costs 2, the other pairing 7. Assignment LPs are totally unimodular, so the
        // relaxation's vertex is integral; skipping it gives the same optimum.
        let mut p = BinaryProgram::new(4);
        p.add_le([(0, 1), (1, 1)], 1);
        p.add_le([(2, 1), (3, 1)], 1);
        p.add_ge([(0, 1), (2, 1)], 1);
        p.add_ge([(1, 1), (3, 1)], 1);
        let cost = [(0, 1), (1, 4), (2, 3), (3, 1)];
        let lp = p
            .solve(Sense::Minimise, &cost, &Options::default())
            .unwrap();
        assert_eq!(lp.method, Method::IntegralRelaxation);
        assert_eq!(lp.ones().collect::<Vec<_>>(), vec![0, 3]);
        let bb = Options {
            skip_relaxation: true,
            ..Options::default()
        };
        let mip = p.solve(Sense::Minimise, &cost, &bb).unwrap();
        assert_eq!(mip.method, Method::BranchAndBound);
        assert_eq!(mip.ones().collect::<Vec<_>>(), vec![0, 3]);
    }

    #[test]
    fn statuses_map_to_errors() {
        // x0 + x1 ≥ 3 cannot hold with two binaries.
        let mut p = BinaryProgram::new(2);
        p.add_ge([(0, 1), (1, 1)], 3);
        assert_eq!(
            p.solve(Sense::Minimise, &[(0, 1)], &Options::default())
                .unwrap_err(),
            Error::Infeasible
        );
    }

    #[test]
    fn a_time_limit_of_zero_stops_both_the_relaxation_and_branch_and_bound() {
        // The knapsack of the first test: its relaxation needs pivots and is fractional, so
        // no backend can finish either run before a limit of zero seconds.
        let mut p = BinaryProgram::new(3);
        p.add_le([(0, 2), (1, 3), (2, 1)], 5);
        let objective = [(0, 5), (1, 4), (2, 3)];
        for skip_relaxation in [false, true] {
            let options = Options {
                time_limit_s: Some(0.0),
                skip_relaxation,
                ..Options::default()
            };
            assert_eq!(
                p.solve(Sense::Maximise, &objective, &options).unwrap_err(),
                Error::Stopped,
                "skip_relaxation: {skip_relaxation}, backend {BACKEND}"
            );
        }
    }

    #[test]
    fn a_program_without_columns_is_decided_without_the_solver() {
        let mut p = BinaryProgram::new(0);
        let opt = p.solve(Sense::Maximise, &[], &Options::default()).unwrap();
        assert_eq!((opt.objective, opt.values.len()), (0.0, 0));
        p.add_ge([], 1);
        assert_eq!(
            p.solve(Sense::Maximise, &[], &Options::default())
                .unwrap_err(),
            Error::Infeasible
        );
    }

    #[test]
    fn columns_absent_from_every_row_and_the_objective_are_allowed() {
        let mut p = BinaryProgram::new(3);
        p.add_le([(0, 1)], 1);
        let opt = p
            .solve(Sense::Maximise, &[(0, 1)], &Options::default())
            .unwrap();
        assert!(is_one(opt.values[0]));
    }

    #[test]
    fn is_one_reads_above_one_half() {
        assert!(is_one(0.999_999));
        assert!(!is_one(0.5));
        assert!(!is_one(1e-9));
    }
}
