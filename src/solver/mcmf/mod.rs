//! Min-cost flow with node supplies on a general network, exact in integers: the garde
//! schedule's solver (multi-level network, convex costs as parallel unit arcs, lexicographic
//! weights). See the table in [`crate::solver`] for when to use [`crate::solver::transport`]
//! instead.
//!
//! A generic core (STYLE.md §6): nodes are indices, capacities and costs are `i64`. It never
//! sees a doctor or a cabinet; `garde/` translates into a [`Network`] and back.
//!
//! # Problem
//!
//! Nodes `0..n` with supplies `b(v)` (`Σ b = 0`; positive = to send, negative = to receive),
//! arcs `(u, v)` with capacity `≥ 0` and any integer cost. Find an integral flow meeting every
//! supply exactly that minimises `Σ cost · flow`.
//!
//! # Two exact algorithms
//!
//! * [`Network::solve`]: the **primal network simplex** ([`simplex`]) with block-search
//!   pricing and strongly feasible trees. Its speed hardly depends on how far apart the costs
//!   are, which matters for lexicographic weights (`garde::schedule`).
//! * [`Network::solve_ssp`]: **successive shortest paths** with Dijkstra and potentials, one
//!   deficit node at a time ([`ssp`]). Simple, with a textbook proof; slow when costs carry huge
//!   weights, since each search settles every node within one weight of its start. It is the
//!   reference the tests compare [`Network::solve`] with.
//!
//! Both return exact integer potentials `p` proving optimality ([`Flow::is_certified`]):
//! every arc with spare capacity has a reduced cost `c + p(u) − p(v) ≥ 0`, every arc with
//! flow has it `≤ 0`. Ties break by node and arc index: the same network gives the same flow.
//!
//! # Numeric range
//!
//! Costs must satisfy `(n + 1) · (max|cost| + 1) ≤ 2^60`, checked: potentials are sums of
//! costs along paths and stay far from `i64` overflow ([`Error::CostRange`]).

pub mod simplex;
pub mod ssp;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The handle of an arc: its insertion rank.
pub type ArcId = usize;

/// Why a flow problem has no solution, or is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The supplies do not sum to zero.
    #[error("supplies sum to {0}, not 0")]
    Unbalanced(i128),
    /// No flow meets every supply.
    #[error("no feasible flow meets the supplies")]
    Infeasible,
    /// Costs too large for exact `i64` arithmetic (see the module documentation).
    #[error("costs too large for exact i64 arithmetic")]
    CostRange,
    /// More than `2^31` nodes or arcs.
    #[error("network too large (more than 2^31 nodes or arcs)")]
    TooLarge,
}

/// A flow problem under construction: nodes, arcs and supplies.
#[derive(Clone, Debug, Default)]
pub struct Network {
    supply: Vec<i64>,
    from: Vec<u32>,
    to: Vec<u32>,
    cap: Vec<i64>,
    cost: Vec<i64>,
}

impl Network {
    /// A network of `nodes` nodes, no arcs and zero supplies.
    pub fn new(nodes: usize) -> Self {
        Self {
            supply: vec![0; nodes],
            ..Self::default()
        }
    }

    /// Adds a node of zero supply and returns its index.
    pub fn add_node(&mut self) -> usize {
        self.supply.push(0);
        self.supply.len() - 1
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.supply.len()
    }

    /// Number of arcs.
    pub fn arc_count(&self) -> usize {
        self.cap.len()
    }

    /// Adds arc `from → to` with `capacity ≥ 0` and a cost per unit; returns its id.
    ///
    /// # Panics
    /// When a node is out of range or the capacity negative: a bug of the caller.
    pub fn add_arc(&mut self, from: usize, to: usize, capacity: i64, cost: i64) -> ArcId {
        let n = self.supply.len();
        assert!(from < n && to < n, "arc {from} → {to} outside 0..{n}");
        assert!(capacity >= 0, "negative capacity {capacity}");
        self.from
            .push(u32::try_from(from).expect("fewer than 2^32 nodes"));
        self.to
            .push(u32::try_from(to).expect("fewer than 2^32 nodes"));
        self.cap.push(capacity);
        self.cost.push(cost);
        self.cap.len() - 1
    }

    /// Arc `arc` as `(from, to, capacity, cost)`.
    ///
    /// # Panics
    /// When `arc` is out of range.
    pub fn arc(&self, arc: ArcId) -> (usize, usize, i64, i64) {
        (
            self.from[arc] as usize,
            self.to[arc] as usize,
            self.cap[arc],
            self.cost[arc],
        )
    }

    /// Sets the supply of `node`: positive to send, negative to receive.
    ///
    /// # Panics
    /// When `node` is out of range.
    pub fn set_supply(&mut self, node: usize, supply: i64) {
        self.supply[node] = supply;
    }

    /// Solves the problem exactly by the network simplex (module documentation, [`simplex`]).
    ///
    /// # Errors
    /// [`Error::Unbalanced`] when supplies do not sum to 0; [`Error::Infeasible`] when
    /// no flow meets them; [`Error::CostRange`] when costs are too large for exact `i64`
    /// arithmetic; [`Error::TooLarge`] beyond `2^31` nodes or arcs.
    ///
    /// # Complexity
    /// Exponential in the worst case, like every primal simplex; in practice a few times `n`
    /// pivots of `O(√m)` pricing plus the length of the cycle and the size of the re-hung
    /// subtree.
    pub fn solve(&self) -> Result<Flow, Error> {
        self.check()?;
        let (flows, potentials, work) = simplex::solve(self)?;
        Ok(self.flow_from(flows, potentials, work))
    }

    /// Solves the problem exactly by successive shortest paths (module documentation, [`ssp`]).
    ///
    /// # Errors
    /// As [`Network::solve`].
    ///
    /// # Complexity
    /// `O(U · (m + n log n))`, `U` the total deficit once negative arcs are saturated.
    pub fn solve_ssp(&self) -> Result<Flow, Error> {
        self.check()?;
        let mut r = Residual::new(self);
        r.run_ssp()?;
        let flows = (0..self.cap.len()).map(|a| r.res[2 * a + 1]).collect();
        Ok(self.flow_from(flows, r.p, r.work))
    }

    fn check(&self) -> Result<(), Error> {
        let total: i128 = self.supply.iter().map(|&s| i128::from(s)).sum();
        if total != 0 {
            return Err(Error::Unbalanced(total));
        }
        let n = self.supply.len();
        let max_cost = self
            .cost
            .iter()
            .map(|c| i128::from(*c).abs())
            .max()
            .unwrap_or(0);
        if (max_cost + 1) * (n as i128 + 1) > i128::from(LIMIT) {
            return Err(Error::CostRange);
        }
        if self.cap.len() >= 1 << 31 || n >= 1 << 31 {
            return Err(Error::TooLarge);
        }
        Ok(())
    }

    fn flow_from(&self, flows: Vec<i64>, potentials: Vec<i64>, work: Work) -> Flow {
        let cost = flows
            .iter()
            .zip(&self.cost)
            .map(|(&f, &c)| i128::from(f) * i128::from(c))
            .sum();
        Flow {
            flows,
            cost,
            potentials,
            work,
        }
    }
}

/// Work counters of a solve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Work {
    /// Network simplex: pivots. Successive shortest paths: searches.
    pub iterations: u64,
    /// Network simplex: potentials updated. Successive shortest paths: nodes settled.
    pub updates: u64,
    /// Augmentations of non-zero amount.
    pub augmentations: u64,
}

/// An optimal flow and its certificate.
#[derive(Clone, Debug)]
pub struct Flow {
    flows: Vec<i64>,
    cost: i128,
    potentials: Vec<i64>,
    work: Work,
}

impl Flow {
    /// Flow on arc `arc`.
    pub fn flow(&self, arc: ArcId) -> i64 {
        self.flows[arc]
    }

    /// Flow on every arc, by arc id.
    pub fn flows(&self) -> &[i64] {
        &self.flows
    }

    /// `Σ cost · flow`, exact.
    pub fn cost(&self) -> i128 {
        self.cost
    }

    /// Exact node potentials: every arc with spare capacity has `cost + p(from) − p(to) ≥ 0`
    /// and every arc with flow has it `≤ 0` (complementary slackness).
    pub fn potentials(&self) -> &[i64] {
        &self.potentials
    }

    /// Work done.
    pub fn work(&self) -> Work {
        self.work
    }

    /// Checks the certificate of [`Flow::potentials`] against `net`, and that the flow meets
    /// capacities and supplies: an independent proof of optimality.
    pub fn is_certified(&self, net: &Network) -> bool {
        let p = &self.potentials;
        let mut balance: Vec<i128> = net.supply.iter().map(|&b| i128::from(b)).collect();
        for a in 0..net.arc_count() {
            let (u, v, cap, c) = net.arc(a);
            let f = self.flows[a];
            if f < 0 || f > cap {
                return false;
            }
            balance[u] -= i128::from(f);
            balance[v] += i128::from(f);
            let rc = i128::from(c) + i128::from(p[u]) - i128::from(p[v]);
            if (f < cap && rc < 0) || (f > 0 && rc > 0) {
                return false;
            }
        }
        balance.iter().all(|&b| b == 0)
    }
}

/// Costs times nodes stay below this (2^60), far from `i64::MAX`.
const LIMIT: i64 = 1 << 60;
const NONE: u32 = u32::MAX;

/// The residual network in CSR form: residual arc `2a` is arc `a`, `2a + 1` its reverse.
struct Residual {
    head: Vec<u32>,
    res: Vec<i64>,
    cost: Vec<i64>,
    /// Out-arcs of `v` (forward and reverse residual arcs) are `adj[first[v]..first[v + 1]]`,
    /// in residual-arc order.
    first: Vec<u32>,
    adj: Vec<u32>,
    excess: Vec<i64>,
    p: Vec<i64>,
    work: Work,
    // Scratch of the searches.
    dist: Vec<i64>,
    seen: Vec<u32>,
    done: Vec<u32>,
    pred: Vec<u32>,
    stamp: u32,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    settled: Vec<u32>,
}

impl Residual {
    /// The residual network of the flow that saturates every arc of negative cost and leaves
    /// the others empty; with zero prices, every residual arc has a reduced cost `≥ 0`.
    fn new(net: &Network) -> Self {
        let n = net.supply.len();
        let m = net.cap.len();
        let mut head = vec![0u32; 2 * m];
        let mut res = vec![0i64; 2 * m];
        let mut cost = vec![0i64; 2 * m];
        let mut excess = net.supply.clone();
        for a in 0..m {
            let (u, v) = (net.from[a], net.to[a]);
            head[2 * a] = v;
            head[2 * a + 1] = u;
            cost[2 * a] = net.cost[a];
            cost[2 * a + 1] = -net.cost[a];
            if net.cost[a] < 0 {
                res[2 * a + 1] = net.cap[a];
                excess[u as usize] -= net.cap[a];
                excess[v as usize] += net.cap[a];
            } else {
                res[2 * a] = net.cap[a];
            }
        }
        let mut first = vec![0u32; n + 1];
        for a in 0..m {
            first[net.from[a] as usize + 1] += 1;
            first[net.to[a] as usize + 1] += 1;
        }
        for v in 0..n {
            first[v + 1] += first[v];
        }
        let mut fill = first.clone();
        let mut adj = vec![0u32; 2 * m];
        for r in 0..2 * m {
            let tail = head[r ^ 1] as usize;
            adj[fill[tail] as usize] = r as u32;
            fill[tail] += 1;
        }
        Self {
            head,
            res,
            cost,
            first,
            adj,
            excess,
            p: vec![0; n],
            work: Work::default(),
            dist: vec![0; n],
            seen: vec![0; n],
            done: vec![0; n],
            pred: vec![NONE; n],
            stamp: 0,
            heap: BinaryHeap::new(),
            settled: Vec::new(),
        }
    }

    fn nodes(&self) -> usize {
        self.excess.len()
    }

    /// Pushes `delta` units along residual arc `r` from `v`.
    fn push(&mut self, v: usize, r: usize, delta: i64) {
        self.res[r] -= delta;
        self.res[r ^ 1] += delta;
        self.excess[v] -= delta;
        self.excess[self.head[r] as usize] += delta;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    type Solver = fn(&Network) -> Result<Flow, Error>;
    const BOTH: [(&str, Solver); 2] = [("simplex", Network::solve), ("ssp", Network::solve_ssp)];

    #[test]
    fn a_single_path_carries_the_supply() {
        for (name, solve) in BOTH {
            let mut net = Network::new(3);
            let a = net.add_arc(0, 1, 5, 2);
            let b = net.add_arc(1, 2, 5, 3);
            net.set_supply(0, 4);
            net.set_supply(2, -4);
            let f = solve(&net).unwrap();
            assert_eq!((f.flow(a), f.flow(b), f.cost()), (4, 4, 20), "{name}");
            assert!(f.is_certified(&net), "{name}");
        }
    }

    #[test]
    fn the_cheaper_route_fills_first() {
        // Two routes 0→1→3 (cost 1+1) and 0→2→3 (cost 2+2), capacity 2 each, 3 units:
        // 2 on the cheap one (4), 1 on the other (4): total 8, by hand.
        for (name, solve) in BOTH {
            let mut net = Network::new(4);
            let a = net.add_arc(0, 1, 2, 1);
            net.add_arc(1, 3, 2, 1);
            let c = net.add_arc(0, 2, 2, 2);
            net.add_arc(2, 3, 2, 2);
            net.set_supply(0, 3);
            net.set_supply(3, -3);
            let f = solve(&net).unwrap();
            assert_eq!((f.flow(a), f.flow(c), f.cost()), (2, 1, 8), "{name}");
        }
    }

    #[test]
    fn negative_costs_are_handled_by_saturating_first() {
        // The cycle 1→2→1 costs -10 + 3: worth taking with zero supplies; optimum -7.
        for (name, solve) in BOTH {
            let mut net = Network::new(3);
            let a = net.add_arc(1, 2, 1, -10);
            let b = net.add_arc(2, 1, 1, 3);
            let c = net.add_arc(0, 1, 1, 0);
            let f = solve(&net).unwrap();
            assert_eq!(
                (f.flow(a), f.flow(b), f.flow(c), f.cost()),
                (1, 1, 0, -7),
                "{name}"
            );
            assert!(f.is_certified(&net), "{name}");
        }
    }

    #[test]
    fn an_unmeetable_demand_is_infeasible() {
        for (name, solve) in BOTH {
            let mut net = Network::new(3);
            net.add_arc(0, 1, 1, 1);
            net.set_supply(0, 1);
            net.set_supply(2, -1);
            assert_eq!(solve(&net).unwrap_err(), Error::Infeasible, "{name}");
        }
    }

    #[test]
    fn unbalanced_supplies_and_huge_costs_are_refused() {
        let mut net = Network::new(2);
        net.set_supply(0, 1);
        assert_eq!(net.solve().unwrap_err(), Error::Unbalanced(1));
        let mut net = Network::new(2);
        net.add_arc(0, 1, 1, 1 << 60);
        assert_eq!(net.solve().unwrap_err(), Error::CostRange);
    }

    /// Exhaustive search over every integer flow of a tiny network: the oracle.
    fn brute_force(arcs: &[(usize, usize, i64, i64)], supply: &[i64]) -> Option<i128> {
        let mut best: Option<i128> = None;
        let mut flow = vec![0i64; arcs.len()];
        loop {
            let mut bal = supply.to_vec();
            for (a, &(u, v, _, _)) in arcs.iter().enumerate() {
                bal[u] -= flow[a];
                bal[v] += flow[a];
            }
            if bal.iter().all(|&b| b == 0) {
                let c: i128 = arcs
                    .iter()
                    .zip(&flow)
                    .map(|(a, &f)| i128::from(a.3) * i128::from(f))
                    .sum();
                best = Some(best.map_or(c, |b| b.min(c)));
            }
            let mut i = 0;
            loop {
                if i == arcs.len() {
                    return best;
                }
                if flow[i] < arcs[i].2 {
                    flow[i] += 1;
                    break;
                }
                flow[i] = 0;
                i += 1;
            }
        }
    }

    #[test]
    fn random_tiny_networks_match_exhaustive_search() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..600 {
            let n = rng.random_range(2..=5);
            let m = rng.random_range(1..=6);
            let arcs: Vec<(usize, usize, i64, i64)> = (0..m)
                .map(|_| {
                    let u = rng.random_range(0..n);
                    let v = (u + rng.random_range(1..n)) % n;
                    (u, v, rng.random_range(0..=2), rng.random_range(-5..=9))
                })
                .collect();
            let mut supply = vec![0i64; n];
            for _ in 0..rng.random_range(0..=3) {
                let (s, t) = (rng.random_range(0..n), rng.random_range(0..n));
                supply[s] += 1;
                supply[t] -= 1;
            }
            let mut net = Network::new(n);
            for &(u, v, c, w) in &arcs {
                net.add_arc(u, v, c, w);
            }
            for (v, &s) in supply.iter().enumerate() {
                net.set_supply(v, s);
            }
            let expected = brute_force(&arcs, &supply);
            for (name, solve) in BOTH {
                match solve(&net) {
                    Ok(f) => {
                        assert_eq!(Some(f.cost()), expected, "{name} {arcs:?} {supply:?}");
                        assert!(f.is_certified(&net), "{name} {arcs:?} {supply:?}");
                    }
                    Err(Error::Infeasible) => {
                        assert_eq!(expected, None, "{name} {arcs:?} {supply:?}")
                    }
                    Err(e) => panic!("{name}: {e}"),
                }
            }
        }
    }

    #[test]
    fn larger_random_networks_agree_between_the_two_algorithms() {
        // Transportation-like networks with wide cost ranges (as lexicographic weights make).
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..40 {
            let (left, right) = (rng.random_range(5..40), rng.random_range(5..40));
            let n = left + right + 1;
            let mut net = Network::new(n);
            let mut total = 0;
            for u in 0..left {
                let s = rng.random_range(0..4);
                net.set_supply(u, s);
                total += s;
                for _ in 0..rng.random_range(1..6) {
                    let v = left + rng.random_range(0..right);
                    let w = rng.random_range(0..1_000_000_000i64) * rng.random_range(0..2);
                    net.add_arc(u, v, rng.random_range(1..3), w);
                }
                net.add_arc(u, n - 1, 4, 3_000_000_000);
            }
            for v in left..left + right {
                net.add_arc(v, n - 1, rng.random_range(0..5), -rng.random_range(0..50));
            }
            net.set_supply(n - 1, -total);
            let a = net.solve().unwrap();
            let b = net.solve_ssp().unwrap();
            assert_eq!(a.cost(), b.cost());
            assert!(a.is_certified(&net) && b.is_certified(&net));
        }
    }

    #[test]
    fn the_same_network_gives_the_same_flow() {
        // Four equal-cost routes for two units: ties break the same way every time.
        let build = || {
            let mut net = Network::new(6);
            for mid in 1..5 {
                net.add_arc(0, mid, 1, 1);
                net.add_arc(mid, 5, 1, 1);
            }
            net.set_supply(0, 2);
            net.set_supply(5, -2);
            net
        };
        for (name, solve) in BOTH {
            let a = solve(&build()).unwrap();
            let b = solve(&build()).unwrap();
            assert_eq!(a.flows(), b.flows(), "{name}");
            assert_eq!(a.cost(), 4, "{name}");
        }
    }
}
