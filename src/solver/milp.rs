//! good_lp glue: the one place that names the MILP backend (HiGHS, through good_lp).
//!
//! A [`BinaryProgram`] is a 0/1 program over column indices with integer coefficients: rows
//! `Σ a·x ≤ b` or `Σ a·x ≥ b`, and a linear objective. [`BinaryProgram::solve`] builds the good_lp
//! problem, silences HiGHS, asks for a proven optimum (no relative gap), and maps every status
//! to an [`Error`]. Values come back as floats; read them with [`is_one`] and re-check the
//! answer in integers, because the solver works within tolerances (STYLE.md §6).
//!
//! This room knows indices and numbers only: it must not import `crate::domain`, patients or
//! cabinets. A program can be solved several times with different objectives and added rows,
//! which is what a staged lexicographic model needs.

use good_lp::solvers::highs::{HighsProblem, HighsSolution};
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolutionStatus, SolverModel, Variable,
    constraint, highs, variable,
};

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
    /// Wall-clock limit in seconds; reaching it gives [`Error::Stopped`].
    pub time_limit_s: Option<f64>,
    /// Threads HiGHS may use; `None` lets HiGHS choose.
    pub threads: Option<u32>,
    /// Let HiGHS print its log on stdout (off by default: tests and batches stay quiet).
    pub log: bool,
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
    /// The objective is integral (integer coefficients, binary variables), so HiGHS runs with
    /// no relative gap and an absolute gap of 0.5: a gap below 1 between the incumbent and the
    /// bound proves the incumbent optimal. A program without columns is decided here, without
    /// calling HiGHS (which refuses empty models).
    ///
    /// # Errors
    /// [`Error::Infeasible`], [`Error::Unbounded`], [`Error::Stopped`] at a limit of
    /// `options`, or [`Error::Solver`] for anything else HiGHS reports.
    ///
    /// # Panics
    /// When an objective column is out of range (a bug in the caller).
    ///
    /// # Complexity
    /// Building is linear in the number of non-zeros; solving is HiGHS's branch and bound,
    /// exponential in the worst case.
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
        let mut vars = ProblemVariables::new();
        let relax = std::env::var("ZZ_RELAX").is_ok(); // ZZHACK
        let def = if relax { variable().min(0).max(1) } else { variable().binary() }; // ZZHACK
        let x: Vec<Variable> = vars.add_vector(def, self.columns);
        let goal = linear(&x, objective);
        let unsolved = match sense {
            Sense::Maximise => vars.maximise(goal),
            Sense::Minimise => vars.minimise(goal),
        };
        let mut problem: HighsProblem = unsolved
            .using(highs)
            .set_option("output_flag", options.log)
            .set_option("mip_rel_gap", 0.0)
            .set_option("mip_abs_gap", 0.5)
            .set_option("mip_heuristic_run_feasibility_jump", false)
            .set_option("mip_detect_symmetry", false);
        problem.set_verbose(options.log);
        for kv in std::env::var("ZZ_OPTS").unwrap_or_default().split(',').filter(|s| !s.is_empty()) { // ZZHACK
            let (k, v) = kv.split_once('=').unwrap();
            problem = if let Ok(b) = v.parse::<bool>() { problem.set_option(k, b) } else if let Ok(i) = v.parse::<i32>() { problem.set_option(k, i) } else if let Ok(f) = v.parse::<f64>() { problem.set_option(k, f) } else { problem.set_option(k, v) };
        }
        if let Some(t) = options.time_limit_s {
            problem = problem.set_time_limit(t);
        }
        if let Some(n) = options.threads {
            problem = problem.set_threads(n);
        }
        for row in &self.rows {
            let lhs = linear(&x, &row.terms);
            let c = match row.bound {
                Bound::AtMost(up) => constraint!(lhs <= up as f64),
                Bound::AtLeast(lo) => constraint!(lhs >= lo as f64),
            };
            problem.add_constraint(c);
        }
        let solution: HighsSolution = problem.solve()?;
        match solution.status() {
            // GapLimit: stopped within the gaps set above, which prove optimality here.
            SolutionStatus::Optimal | SolutionStatus::GapLimit => {}
            SolutionStatus::TimeLimit => return Err(Error::Stopped),
        }
        let values: Vec<f64> = x.iter().map(|&v| solution.value(v)).collect();
        let objective = objective.iter().map(|&(j, c)| c as f64 * values[j]).sum();
        Ok(Optimum { objective, values })
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
            })
        } else {
            Err(Error::Infeasible)
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
