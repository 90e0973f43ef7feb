//! Generic optimisation: indices and `i64` costs only; never imports `domain`.
//! `matching/` and `garde/` translate into these problems and back.
//!
//! | problem shape | solver | used by | why not another |
//! |---|---|---|---|
//! | bipartite, one unit per source, capacitated sinks, a penalty for an unassigned source; arcs added after a solve | [`transport`]: successive shortest paths on a graph of sinks only, started from the optimal prices of coarser copies (cost scaling) on large problems, warm restarts | `matching::flow` (médecin traitant) | [`mcmf`] would hold a node per patient and restart from zero after each pricing round; `transport`'s Dijkstra runs on doctors only (a patient's potential cancels out) and resumes from the current flow when [`transport::Transport::add_arcs`] brings in priced pairs |
//! | general network: node supplies, arc capacities, convex costs as parallel unit arcs, lexicographic weights | [`mcmf`]: primal network simplex (and successive shortest paths as its reference) | `garde::schedule` | [`transport`] needs unit sources, one hop from source to sink and one cost per pair; the garde's network has several levels (source, doctors, doctor-days, shifts), supplies of `P_j` units per shift and convex `M·load²` ladders. Its shortest-path reference is slow on the huge weights; the simplex is not |
//! | 0/1 program, staged lexicographic objective | [`milp`]: good_lp glue (microlp, or HiGHS with the `highs` feature) | `matching::exact`, `garde::exact`: the oracles of the tests and `check-exact` | written from FORMATS.md alone, independent of the flows it checks; far too slow for a batch (MILP over every pair) |
//! | strongly connected components of a graph in CSR form | [`scc`]: iterative Tarjan | `matching::explain` | not an optimisation, but generic on indices like the rest of this room |
//!
//! Each solver returns exact integer potentials or proves optimality its own way; the rooms
//! above turn those into certificates (`matching::verify` checks the transport's).

pub mod mcmf;
pub mod milp;
pub mod scc;
pub mod transport;
