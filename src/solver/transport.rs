//! Min-cost transportation with unit supplies and capacitated sinks: our core algorithm.
//!
//! Every *source* (a patient, for `matching/`) holds one unit. It either goes to one of its arcs'
//! *sinks* (a doctor, at the arc's cost) or stays unassigned at its `penalty`. Sink `d` takes at
//! most `capacity[d]` units. The solver minimises Σ cost of the chosen arcs + Σ penalties of the
//! unassigned sources, exactly, in integers. Indices and `i64` costs only: this room never sees a
//! patient or a doctor.
//!
//! # Algorithm
//!
//! Successive shortest paths from a *pseudoflow*, on a graph of sinks only:
//!
//! * Start: every source at its cheapest arc. With all sink potentials 0 this satisfies the
//!   reduced-cost optimality conditions; sinks loaded beyond capacity hold *excess*.
//! * The residual network is sources, sinks and one terminal `T` (the unassigned state, and the
//!   sink of every capacity arc). A source's own potential cancels out of any path through it, so
//!   the Dijkstra runs on sinks + `T` only, with *composite* edges: from sink `a`, through a source
//!   `q` it holds, to another arc `b` of `q` (move `q`, reduced cost `c(q,b) − c(q,a) + p(a) −
//!   p(b)`) or to `T` (unassign `q`, `penalty(q) − c(q,a) + p(a) − p(T)`); and `a → T` while `a`
//!   has spare capacity (`p(a) − p(T)`).
//! * Each excess unit is routed along a shortest path to `T` (or to a sink in deficit, which only
//!   warm starts create); potentials of the settled nodes are updated as `p += δ − δ(target)`, so
//!   `p(T)` never moves and reduced costs stay ≥ 0.
//!
//! At the end the flow is feasible and the potentials prove it optimal: for every arc
//! `c(q,d) + p(q) − p(d) ≥ 0`, with `p(q) = p(a) − c(q,a)` for a source at `a` and
//! `p(q) = p(T) − penalty(q)` for an unassigned one ([`Transport::source_potential`]). Arcs can be
//! added afterwards ([`Transport::add_arcs`]: column generation); their sources are taken out and
//! routed again, from the current flow and potentials.
//!
//! # Complexity
//!
//! One Dijkstra per unit of excess, on `m + 1` nodes; settling a sink scans the arcs of the
//! sources it holds. O(excess × (settled arcs + settled nodes · log m)) in all; in practice the
//! paths are short because sources start at their cheapest arc.
//!
//! # Determinism
//!
//! Arcs are ordered by (cost, sink); the heap breaks ties by node index; queues are FIFO by
//! index. The same problem gives the same assignment and potentials.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Sweeps of [`Transport::raise_prices`] before the exact routing.
const PRICE_SWEEPS: usize = 6;

/// "No sink": an unassigned source.
pub const UNASSIGNED: u32 = u32::MAX;
/// A source taken out of the flow, waiting to be routed again (warm start only).
const FREE: u32 = u32::MAX - 1;
const NONE: u32 = u32::MAX;

/// Why a transportation problem is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("source {index} has a penalty {penalty} not above its arc cost {cost}")]
    PenaltyTooSmall {
        index: usize,
        penalty: i64,
        cost: i64,
    },
    #[error("arc of source {index} points to sink {sink}, out of range")]
    SinkOutOfRange { index: usize, sink: u32 },
    #[error("more than 2^31 sources or sinks")]
    TooLarge,
}

/// Arcs of one source: `(sink, cost)`.
pub type Arcs = Vec<(u32, i64)>;

/// The problem and its current flow and potentials.
#[derive(Debug, Clone)]
pub struct Transport {
    m: usize,
    capacity: Vec<u32>,
    penalty: Vec<i64>,
    // CSR arcs by source, each list sorted by (cost, sink).
    start: Vec<usize>,
    head: Vec<u32>,
    cost: Vec<i64>,
    // Flow.
    sink_of: Vec<u32>,
    cost_of: Vec<i64>,
    held: Vec<Vec<u32>>,
    /// Per sink, the composite edges leaving it, summarised: for each other sink `b` the best
    /// source to move there, and the best source to unassign. Rebuilt when the sink's sources
    /// change (`dirty`), so a search settles a clean sink in O(its neighbours).
    summary: Vec<Summary>,
    dirty: Vec<bool>,
    scratch: Vec<(i64, u32)>,
    pos: Vec<u32>,
    to_t: Vec<u32>,
    free: VecDeque<u32>,
    /// Units the terminal still has to absorb; when 0, T is an ordinary node of the search.
    t_deficit: i64,
    // Potentials of the sinks; p(T) is 0 for ever.
    pot: Vec<i64>,
    // Dijkstra scratch, reused between runs.
    dist: Vec<i64>,
    stamp: Vec<u32>,
    done: Vec<u32>,
    epoch: u32,
    pred_node: Vec<u32>,
    pred_src: Vec<u32>,
    stats: Stats,
}

/// What the solver did, for logs and benches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Shortest-path searches (one per unit of excess routed).
    pub searches: u64,
    /// Sinks settled over all searches.
    pub settled: u64,
    /// Composite edges relaxed over all searches.
    pub relaxed: u64,
}

impl Transport {
    /// Builds the problem and its starting pseudoflow (each source at its cheapest arc).
    ///
    /// `arcs[q]` lists the arcs of source `q`; `penalty[q]` must exceed every arc cost of `q`.
    ///
    /// # Errors
    /// [`Error::PenaltyTooSmall`], [`Error::SinkOutOfRange`], [`Error::TooLarge`].
    pub fn new(capacity: Vec<u32>, penalty: Vec<i64>, arcs: &[Arcs]) -> Result<Self, Error> {
        let n = penalty.len();
        let m = capacity.len();
        if n >= (1 << 31) || m >= (1 << 31) {
            return Err(Error::TooLarge);
        }
        let mut t = Self {
            m,
            capacity,
            penalty,
            start: Vec::new(),
            head: Vec::new(),
            cost: Vec::new(),
            sink_of: vec![UNASSIGNED; n],
            cost_of: vec![0; n],
            held: vec![Vec::new(); m],
            summary: vec![Summary::default(); m],
            dirty: vec![true; m],
            scratch: vec![(i64::MAX, NONE); m],
            pos: vec![0; n],
            to_t: vec![0; m],
            free: VecDeque::new(),
            t_deficit: 0,
            pot: vec![0; m],
            dist: vec![0; m + 1],
            stamp: vec![0; m + 1],
            done: vec![0; m + 1],
            epoch: 0,
            pred_node: vec![NONE; m + 1],
            pred_src: vec![NONE; m + 1],
            stats: Stats::default(),
        };
        t.set_arcs(arcs)?;
        for q in 0..n {
            let (s, e) = (t.start[q], t.start[q + 1]);
            if s < e {
                t.attach(q as u32, t.head[s], t.cost[s]);
            }
        }
        t.raise_prices(PRICE_SWEEPS);
        for d in 0..m {
            t.to_t[d] = (t.held[d].len() as u32).min(t.capacity[d]);
            t.t_deficit += t.excess(d);
        }
        Ok(t)
    }

    /// A better start than "every source at its cheapest arc": a few Gauss–Seidel sweeps of
    /// block auction. Each overloaded sink raises its price `π = −p` just enough that only
    /// `capacity` sources still prefer it; the others move to their next best option (another
    /// sink at its current price, or unassigned). Every source stays at a best response to the
    /// prices, so reduced costs stay ≥ 0; a sink whose price rose is full and stays full (prices
    /// elsewhere only rise), so no sink is left in deficit. What is left over is routed exactly
    /// by [`Transport::solve`].
    fn raise_prices(&mut self, sweeps: usize) {
        let mut margins: Vec<(i64, u32, u32, i64)> = Vec::new();
        for _ in 0..sweeps {
            let mut changed = false;
            for a in 0..self.m {
                let cap = self.capacity[a] as usize;
                if self.held[a].len() <= cap {
                    continue;
                }
                let pi_a = -self.pot[a];
                margins.clear();
                for &q in &self.held[a] {
                    let qi = q as usize;
                    // Next best option of q: (value, sink or NONE for unassigned, arc cost).
                    let mut best = (self.penalty[qi], NONE, 0i64);
                    for k in self.start[qi]..self.start[qi + 1] {
                        let d = self.head[k];
                        if d as usize == a {
                            continue;
                        }
                        let v = self.cost[k] - self.pot[d as usize];
                        if v < best.0 {
                            best = (v, d, self.cost[k]);
                        }
                    }
                    margins.push((best.0 - (self.cost_of[qi] + pi_a), q, best.1, best.2));
                }
                margins.sort_unstable_by_key(|&(m, q, _, _)| (m, q));
                let evict = margins.len() - cap;
                let raise = margins[evict - 1].0.max(0);
                self.pot[a] -= raise;
                for &(_, q, d, c) in &margins[..evict] {
                    self.detach(q);
                    if d != NONE {
                        self.attach(q, d, c);
                    }
                }
                changed = true;
            }
            if !changed {
                break;
            }
        }
    }

    fn set_arcs(&mut self, arcs: &[Arcs]) -> Result<(), Error> {
        let total: usize = arcs.iter().map(Vec::len).sum();
        self.start = Vec::with_capacity(arcs.len() + 1);
        self.head = Vec::with_capacity(total);
        self.cost = Vec::with_capacity(total);
        self.start.push(0);
        let mut sorted = Vec::new();
        for (q, list) in arcs.iter().enumerate() {
            sorted.clear();
            sorted.extend_from_slice(list);
            sorted.sort_unstable_by_key(|&(d, c)| (c, d));
            for (i, &(d, c)) in sorted.iter().enumerate() {
                if sorted[..i].iter().any(|x| x.0 == d) {
                    continue; // a sink appears once per source: its cheapest arc
                }
                if d as usize >= self.m {
                    return Err(Error::SinkOutOfRange { index: q, sink: d });
                }
                if c >= self.penalty[q] {
                    return Err(Error::PenaltyTooSmall {
                        index: q,
                        penalty: self.penalty[q],
                        cost: c,
                    });
                }
                self.head.push(d);
                self.cost.push(c);
            }
            self.start.push(self.head.len());
        }
        Ok(())
    }

    /// Number of sources.
    pub fn sources(&self) -> usize {
        self.penalty.len()
    }

    /// Number of arcs.
    pub fn arc_count(&self) -> usize {
        self.head.len()
    }

    /// The arcs of source `q`, sorted by (cost, sink).
    pub fn arcs(&self, q: usize) -> impl Iterator<Item = (u32, i64)> + '_ {
        let (s, e) = (self.start[q], self.start[q + 1]);
        self.head[s..e]
            .iter()
            .copied()
            .zip(self.cost[s..e].iter().copied())
    }

    fn attach(&mut self, q: u32, d: u32, c: i64) {
        self.dirty[d as usize] = true;
        self.sink_of[q as usize] = d;
        self.cost_of[q as usize] = c;
        self.pos[q as usize] = self.held[d as usize].len() as u32;
        self.held[d as usize].push(q);
    }

    fn detach(&mut self, q: u32) {
        let d = self.sink_of[q as usize];
        if d < FREE {
            self.dirty[d as usize] = true;
            let list = &mut self.held[d as usize];
            let i = self.pos[q as usize] as usize;
            let last = *list.last().expect("a held source is in its sink's list");
            list.swap_remove(i);
            if last != q {
                self.pos[last as usize] = i as u32;
            }
        }
        self.sink_of[q as usize] = UNASSIGNED;
    }

    /// Adds arcs (column generation) and marks their sources for re-routing; call
    /// [`Transport::solve`] again afterwards. Arcs already present are ignored.
    ///
    /// # Errors
    /// As [`Transport::new`].
    pub fn add_arcs(&mut self, new_arcs: &[(u32, Arcs)]) -> Result<(), Error> {
        let n = self.sources();
        let mut arcs: Vec<Arcs> = (0..n).map(|q| self.arcs(q).collect()).collect();
        for (q, list) in new_arcs {
            arcs[*q as usize].extend_from_slice(list);
        }
        self.set_arcs(&arcs)?;
        self.dirty.fill(true);
        for (q, _) in new_arcs {
            // Taking the source out keeps every other reduced cost ≥ 0; the source itself gets a
            // fresh potential when it is routed (see `route_free`).
            if self.sink_of[*q as usize] != FREE {
                if self.sink_of[*q as usize] == UNASSIGNED {
                    self.t_deficit += 1; // T no longer receives this source's unit
                }
                self.detach(*q);
                self.sink_of[*q as usize] = FREE;
                self.free.push_back(*q);
            }
        }
        Ok(())
    }

    fn excess(&self, d: usize) -> i64 {
        self.held[d].len() as i64 - i64::from(self.to_t[d])
    }

    /// Routes every unit of excess; afterwards the flow is feasible and optimal.
    ///
    /// # Complexity
    /// See the module documentation.
    pub fn solve(&mut self) {
        while let Some(q) = self.free.pop_front() {
            self.route(Start::Source(q));
        }
        for d in 0..self.m {
            while self.excess(d) > 0 {
                self.route(Start::Sink(d as u32));
            }
        }
    }

    fn relax(
        &mut self,
        heap: &mut BinaryHeap<Reverse<(i64, u32)>>,
        v: u32,
        dv: i64,
        from: u32,
        via: u32,
    ) {
        let vi = v as usize;
        if self.stamp[vi] != self.epoch || dv < self.dist[vi] {
            self.stamp[vi] = self.epoch;
            self.dist[vi] = dv;
            self.pred_node[vi] = from;
            self.pred_src[vi] = via;
            heap.push(Reverse((dv, v)));
        }
    }

    fn route(&mut self, start: Start) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.fill(0);
            self.done.fill(0);
            self.epoch = 1;
        }
        self.stats.searches += 1;
        let t = self.m as u32;
        let mut heap = BinaryHeap::new();
        let mut settled: Vec<u32> = Vec::new();
        let origin = match start {
            Start::Sink(a) => {
                self.stamp[a as usize] = self.epoch;
                self.dist[a as usize] = 0;
                self.pred_node[a as usize] = NONE;
                heap.push(Reverse((0, a)));
                a
            }
            Start::Source(q) => {
                // A free source's potential: the largest value keeping all its arcs' reduced costs
                // ≥ 0, and its arc to T too.
                let qi = q as usize;
                let mut pq = -self.penalty[qi];
                for k in self.start[qi]..self.start[qi + 1] {
                    pq = pq.max(self.pot[self.head[k] as usize] - self.cost[k]);
                }
                for k in self.start[qi]..self.start[qi + 1] {
                    let (d, c) = (self.head[k], self.cost[k]);
                    let dv = c + pq - self.pot[d as usize];
                    self.relax(&mut heap, d, dv, FREE, q);
                }
                self.relax(&mut heap, t, self.penalty[qi] + pq, FREE, q);
                FREE
            }
        };
        let target = loop {
            let Some(Reverse((du, u))) = heap.pop() else {
                unreachable!("T is always reachable: every held source can be unassigned");
            };
            let ui = u as usize;
            if self.done[ui] == self.epoch || du > self.dist[ui] {
                continue;
            }
            self.done[ui] = self.epoch;
            if (u == t && self.t_deficit > 0) || (u != t && u != origin && self.excess(ui) < 0) {
                break u;
            }
            settled.push(u);
            self.stats.settled += 1;
            if u == t {
                self.expand_terminal(&mut heap, du);
                continue;
            }
            let base = du + self.pot[ui];
            if self.to_t[ui] < self.capacity[ui] {
                self.relax(&mut heap, t, base, u, NONE);
            }
            if self.dirty[ui] {
                self.rebuild_summary(ui);
            }
            let summary = std::mem::take(&mut self.summary[ui]);
            if summary.unassign.1 != NONE {
                self.relax(
                    &mut heap,
                    t,
                    base + summary.unassign.0,
                    u,
                    summary.unassign.1,
                );
            }
            self.stats.relaxed += summary.moves.len() as u64;
            for &(d, val, q) in &summary.moves {
                if self.done[d as usize] != self.epoch {
                    let dv = base + val - self.pot[d as usize];
                    self.relax(&mut heap, d, dv, u, q);
                }
            }
            self.summary[ui] = summary;
        };
        let dt = self.dist[target as usize];
        // p(T) stays 0: shift everything so, which leaves reduced costs unchanged.
        let shift_t = if self.done[t as usize] == self.epoch && target != t {
            self.dist[t as usize] - dt
        } else {
            0
        };
        for &v in &settled {
            if v != t {
                self.pot[v as usize] += self.dist[v as usize] - dt;
            }
        }
        if shift_t != 0 {
            for p in &mut self.pot {
                *p -= shift_t;
            }
        }
        if target == t {
            self.t_deficit -= 1;
        }
        // Augment one unit along the path, from the target back to the origin.
        let mut v = target;
        while v != origin {
            let (u, q) = (self.pred_node[v as usize], self.pred_src[v as usize]);
            if q == NONE && u == t {
                self.to_t[v as usize] -= 1; // T → v: v sends one unit less to T
            } else if q == NONE {
                self.to_t[u as usize] += 1; // u → T over u's spare capacity
            } else {
                self.detach(q);
                if v == t {
                    self.sink_of[q as usize] = UNASSIGNED;
                } else if u == t {
                    // T → q → v: an unassigned source is assigned.
                    let c = self.arc_cost(q as usize, v);
                    self.attach(q, v, c);
                } else {
                    let c = self.arc_cost(q as usize, v);
                    self.attach(q, v, c);
                }
            }
            v = u;
        }
    }

    /// Recomputes the composite edges leaving sink `a` from the sources it holds.
    fn rebuild_summary(&mut self, a: usize) {
        let mut sm = std::mem::take(&mut self.summary[a]);
        sm.moves.clear();
        sm.unassign = (i64::MAX, NONE);
        let mut touched: Vec<u32> = Vec::new();
        for &q in &self.held[a] {
            let qi = q as usize;
            let cq = self.cost_of[qi];
            let un = self.penalty[qi] - cq;
            if (un, q) < sm.unassign {
                sm.unassign = (un, q);
            }
            for k in self.start[qi]..self.start[qi + 1] {
                let d = self.head[k];
                if d as usize == a {
                    continue;
                }
                let val = self.cost[k] - cq;
                let slot = &mut self.scratch[d as usize];
                if slot.1 == NONE {
                    touched.push(d);
                }
                if (val, q) < *slot {
                    *slot = (val, q);
                }
            }
        }
        touched.sort_unstable();
        for d in touched {
            let (val, q) = self.scratch[d as usize];
            sm.moves.push((d, val, q));
            self.scratch[d as usize] = (i64::MAX, NONE);
        }
        self.summary[a] = sm;
        self.dirty[a] = false;
    }

    /// Settles the terminal when it has nothing left to absorb (warm starts only): from T, a
    /// sink's flow to T can shrink, or an unassigned source can be assigned.
    fn expand_terminal(&mut self, heap: &mut BinaryHeap<Reverse<(i64, u32)>>, dt: i64) {
        let t = self.m as u32;
        for a in 0..self.m {
            if self.to_t[a] > 0 && self.done[a] != self.epoch {
                let dv = dt - self.pot[a];
                self.relax(heap, a as u32, dv, t, NONE);
            }
        }
        for q in 0..self.sources() {
            if self.sink_of[q] != UNASSIGNED {
                continue;
            }
            let b2 = dt - self.penalty[q];
            for k in self.start[q]..self.start[q + 1] {
                let d = self.head[k];
                if self.done[d as usize] != self.epoch {
                    let dv = b2 + self.cost[k] - self.pot[d as usize];
                    self.relax(heap, d, dv, t, q as u32);
                }
            }
        }
    }

    fn arc_cost(&self, q: usize, d: u32) -> i64 {
        let k = (self.start[q]..self.start[q + 1])
            .find(|&k| self.head[k] == d)
            .expect("a path only follows existing arcs");
        self.cost[k]
    }

    /// Sink of each source, or [`UNASSIGNED`].
    pub fn assignment(&self) -> &[u32] {
        &self.sink_of
    }

    /// Potential of each sink (the terminal's is 0). With [`Transport::source_potential`], they
    /// give every arc a reduced cost `c(q,d) + p(q) − p(d) ≥ 0` at the optimum.
    pub fn potentials(&self) -> &[i64] {
        &self.pot
    }

    /// The implied potential of source `q`: `p(a) − c(q,a)` at sink `a`, `−penalty(q)` when
    /// unassigned.
    pub fn source_potential(&self, q: usize) -> i64 {
        match self.sink_of[q] {
            UNASSIGNED | FREE => -self.penalty[q],
            d => self.pot[d as usize] - self.cost_of[q],
        }
    }

    /// Total cost: Σ arc costs + Σ penalties of unassigned sources.
    pub fn total_cost(&self) -> i64 {
        (0..self.sources())
            .map(|q| {
                if self.sink_of[q] >= FREE {
                    self.penalty[q]
                } else {
                    self.cost_of[q]
                }
            })
            .sum()
    }

    /// Counters of the work done.
    pub fn stats(&self) -> Stats {
        self.stats
    }
}

/// Composite edges leaving one sink: `(other sink, c(q,b) − c(q,a), q)` and
/// `(penalty(q) − c(q,a), q)`, each the best over the sources held.
#[derive(Clone, Debug, Default)]
struct Summary {
    moves: Vec<(u32, i64, u32)>,
    unassign: (i64, u32),
}

#[derive(Clone, Copy, Debug)]
enum Start {
    Sink(u32),
    Source(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over all assignments, for tiny problems.
    fn brute(capacity: &[u32], penalty: &[i64], arcs: &[Arcs]) -> i64 {
        fn go(q: usize, cap: &mut Vec<u32>, penalty: &[i64], arcs: &[Arcs]) -> i64 {
            if q == penalty.len() {
                return 0;
            }
            let mut best = penalty[q] + go(q + 1, cap, penalty, arcs);
            for &(d, c) in &arcs[q] {
                if cap[d as usize] > 0 {
                    cap[d as usize] -= 1;
                    best = best.min(c + go(q + 1, cap, penalty, arcs));
                    cap[d as usize] += 1;
                }
            }
            best
        }
        go(0, &mut capacity.to_vec(), penalty, arcs)
    }

    fn check_optimality(t: &Transport) {
        for q in 0..t.sources() {
            let pq = t.source_potential(q);
            for (d, c) in t.arcs(q) {
                assert!(c + pq - t.potentials()[d as usize] >= 0, "arc {q}->{d}");
            }
            assert!(t.penalty[q] + pq >= 0, "unassign {q}");
        }
    }

    #[test]
    fn a_single_sink_keeps_the_cheapest_sources() {
        // One seat; the source with the largest saving (penalty − cost) wins it.
        let arcs = vec![vec![(0, 5)], vec![(0, 1)], vec![(0, 3)]];
        let mut t = Transport::new(vec![1], vec![100, 100, 100], &arcs).unwrap();
        t.solve();
        assert_eq!(t.assignment(), &[UNASSIGNED, 0, UNASSIGNED]);
        assert_eq!(t.total_cost(), 201);
        check_optimality(&t);
    }

    #[test]
    fn a_chain_of_moves_makes_room() {
        // q0 only reaches s0; q1 prefers s0 but can go to s1 at +2.
        let arcs = vec![vec![(0, 10)], vec![(0, 1), (1, 3)]];
        let mut t = Transport::new(vec![1, 1], vec![1000, 1000], &arcs).unwrap();
        t.solve();
        assert_eq!(t.assignment(), &[0, 1]);
        check_optimality(&t);
    }

    #[test]
    fn random_small_problems_match_brute_force() {
        let mut seed = 7u64;
        let mut next = |k: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % k
        };
        for _ in 0..400 {
            let n = 1 + next(7) as usize;
            let m = 1 + next(4) as usize;
            let capacity: Vec<u32> = (0..m).map(|_| next(3) as u32).collect();
            let mut arcs: Vec<Arcs> = vec![Vec::new(); n];
            for list in &mut arcs {
                for d in 0..m as u32 {
                    if next(3) > 0 {
                        list.push((d, next(20) as i64));
                    }
                }
            }
            let penalty: Vec<i64> = (0..n).map(|_| 20 + next(3) as i64 * 30).collect();
            let mut t = Transport::new(capacity.clone(), penalty.clone(), &arcs).unwrap();
            t.solve();
            assert_eq!(t.total_cost(), brute(&capacity, &penalty, &arcs));
            check_optimality(&t);
            // Warm start: add arcs, solve again, compare with a cold solve.
            let mut extra: Vec<(u32, Arcs)> = Vec::new();
            for q in 0..n as u32 {
                if next(2) == 0 {
                    extra.push((q, vec![(next(m as u64) as u32, next(20) as i64)]));
                }
            }
            let mut all = arcs.clone();
            for (q, a) in &extra {
                for &(d, c) in a {
                    if !all[*q as usize].iter().any(|x| x.0 == d) {
                        all[*q as usize].push((d, c));
                    }
                }
            }
            let filtered: Vec<(u32, Arcs)> = extra
                .iter()
                .map(|(q, a)| {
                    (
                        *q,
                        a.iter()
                            .copied()
                            .filter(|x| !arcs[*q as usize].iter().any(|y| y.0 == x.0))
                            .collect(),
                    )
                })
                .collect();
            t.add_arcs(&filtered).unwrap();
            t.solve();
            assert_eq!(t.total_cost(), brute(&capacity, &penalty, &all));
            check_optimality(&t);
        }
    }
}
