//! Min-cost transportation with unit supplies and capacitated sinks: the médecin-traitant
//! matching's solver, made for column generation (arcs added between solves, warm restarts).
//! See the table in [`crate::solver`] for when to use [`crate::solver::mcmf`] instead.
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
//! * Start (`start.rs`): prices for the sinks; from [`SCALED_START_SOURCES`] sources, the
//!   optimal prices of a coarser copy of the problem (costs divided by [`SCALE`], solved the
//!   same way, recursively), scaled back: cost scaling, exact at every level; below that, one
//!   price for all sinks from a ladder (0 and levels just below the penalties), the one that
//!   leaves the least work. Every source at its best response (a sink, or unassigned); then a
//!   few sweeps of block auction. Every
//!   source is at a best response to the prices, so the reduced-cost optimality conditions
//!   hold; sinks loaded beyond capacity hold *excess*, sinks with a price and free places are
//!   in *deficit* (a priced sink must end full).
//! * Warm re-batches ([`Transport::warm`]): the prices are a previous solve's potentials (of a
//!   slightly different problem: sources added or removed, capacities changed, arcs gone), and
//!   each source keeps its previous sink when that is still one of its best responses. No
//!   coarse copies: the previous optimum is nearer than any of them, and only the churn is
//!   left out of place.
//! * The residual network is sources, sinks and one terminal `T` (the unassigned state, and the
//!   sink of every capacity arc). A source's own potential cancels out of any path through it, so
//!   the Dijkstra runs on sinks + `T` only, with *composite* edges: from sink `a`, through a source
//!   `q` it holds, to another arc `b` of `q` (move `q`, reduced cost `c(q,b) − c(q,a) + p(a) −
//!   p(b)`) or to `T` (unassign `q`, `penalty(q) − c(q,a) + p(a) − p(T)`); and `a → T` while `a`
//!   has spare capacity (`p(a) − p(T)`).
//! * Each excess unit is routed along a shortest path to `T` or to a sink in deficit; then `T`
//!   fills the deficits left, in primal-dual phases (one Dijkstra, stopped once it has
//!   settled [`PHASE_TARGETS`] sinks in deficit or all of them, then every tight path it opens,
//!   found by a depth-first search with a current arc per node; `T`'s edges: a sink's flow to
//!   `T` shrinks, or an unassigned source is assigned). Potentials of the settled nodes are updated as `p += δ − δ(target)`, so
//!   `p(T)` never moves and reduced costs stay ≥ 0.
//! * The composite edges leaving each sink are kept in lazy min-heaps, one per neighbouring
//!   sink, updated when a source is attached: settling a sink costs O(its neighbours), not
//!   O(its sources × their arcs).
//!
//! At the end the flow is feasible and the potentials prove it optimal: for every arc
//! `c(q,d) + p(q) − p(d) ≥ 0`, with `p(q) = p(a) − c(q,a)` for a source at `a` and
//! `p(q) = p(T) − penalty(q)` for an unassigned one ([`Transport::source_potential`]). Arcs can be
//! added afterwards ([`Transport::add_arcs`]: column generation); their sources are taken out and
//! routed again, from the current flow and potentials.
//!
//! # Complexity
//!
//! One Dijkstra per unit out of place, on `m + 1` nodes; settling a sink costs O(its
//! neighbouring sinks), plus heap pops of stale entries (at most the entries pushed, K per
//! attach). O(units × settled · (neighbours + log m)) in all; the start keeps the units few.
//! The scaled start adds a copy of the arcs per level (levels: log_SCALE of the largest cost,
//! three for a region's metres) and each level's own routing, which is small: a coarse copy
//! has few distinct costs, so few phases, and each finer level starts a few units per sink
//! away from its optimum.
//!
//! # Why cost scaling, and not another flow algorithm
//!
//! A profile of the region instance (1 M sources, 5,000 sinks, 500,000 places, `cpts
//! fixtures --area grand-est --patients 1000000 --doctors 12500`) showed the flow's time in
//! the primal-dual phases filling deficits: 16.3 s of its 22.3 s in the first solve, 2,591
//! phases, each a Dijkstra over many sinks. One price for all sinks leaves most places of
//! priced sinks free (103,873 of 150,000 on the 300,000-patient instance), and a phase
//! usually fills one place per sink in deficit along a tight path (the sources a sink can draw
//! sit at distinct distances). Scaled prices leave the region 28,549 free places and 328
//! units of excess. The successive shortest paths stay: their potentials are the certificate
//! `matching::verify` checks, they resume after pricing, and their optimality argument is
//! unchanged; only the starting prices differ, and any prices ≤ 0 with every source at a best
//! response are a valid start. Tried and left out: primal-dual phases for the excess too (a
//! Dijkstra from every sink in excess at once: the re-routing after the region's first
//! pricing round took 10.4 s in 768 phases, against 5.7 s at one search per unit before,
//! each phase exploring nearly every sink), a reverse
//! block auction for the deficits (the deficits moved between neighbours rather than shrank),
//! and factors 8, 16, 64 and 128 (no faster than 32 on the region; 8 holds four copies and
//! 2 GB).
//!
//! # Determinism
//!
//! Arcs are ordered by (cost, sink); the heap breaks ties by node index; queues are FIFO by
//! index. The same problem gives the same assignment and potentials.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

mod start;

/// Sweeps of [`Transport::raise_prices`] before the exact routing.
const PRICE_SWEEPS: usize = 6;

/// Sources from which [`Transport::new`] starts from the prices of coarser copies of the
/// problem (`start.rs`); below, the price ladder is as good and the copies cost more than they
/// save.
pub const SCALED_START_SOURCES: usize = 50_000;
/// Cost divisor between one copy of the problem and the next coarser one.
const SCALE: i64 = 32;

/// Distinct penalties beyond which the starting prices are all 0.
const MAX_PRICE_LEVELS: usize = 8;
/// Deficit sinks a phase's Dijkstra settles before it stops (the others wait for a later
/// phase): beyond a point, a wider search costs more than the paths it opens.
const PHASE_TARGETS: usize = 256;

/// How much more a unit of excess costs than a unit of deficit, for the choice of the starting
/// price: excess takes one search per unit, deficits are filled many per search.
const EXCESS_WEIGHT: u64 = 8;

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
    #[error("new arcs name source {index}, out of range")]
    SourceOutOfRange { index: usize },
    #[error("more than 2^31 sources or sinks")]
    TooLarge,
}

/// Where the starting prices come from (`start.rs`).
#[derive(Clone, Copy, Debug)]
enum Start<'a> {
    /// One price for all sinks, from a ladder.
    Ladder,
    /// The optimal prices of coarser copies of the problem (cost scaling).
    Scaled,
    /// A previous solve's potentials, and the sink each source held (or [`UNASSIGNED`]).
    Warm {
        potentials: &'a [i64],
        hint: &'a [u32],
    },
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
    /// Per sink, the composite edges leaving it: for each other sink `b`, a heap of the sources
    /// held that could move there, and a heap of those that could be unassigned. Kept up to date
    /// on every attach (stale entries are dropped when they reach the top), so a search settles
    /// a sink in O(its neighbours), whatever the number of sources it holds.
    edges: Vec<Edges>,
    /// Per sink `d`, the unassigned sources with an arc to it, as `(c(q,d) − penalty(q), q)`:
    /// the edges leaving the terminal. Lazy like `edges`: live while `q` is unassigned.
    enter: Vec<BinaryHeap<Reverse<(i64, u32)>>>,
    /// False during the price start, which moves sources too often for the heaps to pay off.
    edges_live: bool,
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
    frontier: Frontier,
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
    /// Primal-dual phases, routing excess or filling deficits (counted in `searches` too).
    pub phases: u64,
    /// Units in excess after the start (price ladder and block auctions).
    pub start_excess: u64,
    /// Free places of priced sinks after the start.
    pub start_deficit: u64,
}

impl Transport {
    /// Builds the problem and its starting pseudoflow (each source at its cheapest arc).
    ///
    /// `arcs[q]` lists the arcs of source `q`; `penalty[q]` must exceed every arc cost of `q`.
    ///
    /// # Errors
    /// [`Error::PenaltyTooSmall`], [`Error::SinkOutOfRange`], [`Error::TooLarge`].
    pub fn new(capacity: Vec<u32>, penalty: Vec<i64>, arcs: &[Arcs]) -> Result<Self, Error> {
        let start = if penalty.len() >= SCALED_START_SOURCES {
            Start::Scaled
        } else {
            Start::Ladder
        };
        Self::build(capacity, penalty, arcs, start)
    }

    /// [`Transport::new`] started from a previous solve of a similar problem (a warm
    /// re-batch): `potentials[d]` is a price guess for sink `d` (values above 0 count as 0) and
    /// `hint[q]` the sink source `q` held, or [`UNASSIGNED`]. Each source keeps its hinted
    /// state when that is one of its best responses to the prices, else takes a best response,
    /// so the start is valid whatever the guesses; good guesses leave little to route. The
    /// optimum is the one [`Transport::new`] reaches (same total cost; ties may be broken
    /// differently).
    ///
    /// # Errors
    /// As [`Transport::new`].
    ///
    /// # Panics
    /// If `potentials` does not hold one value per sink or `hint` one per source.
    pub fn warm(
        capacity: Vec<u32>,
        penalty: Vec<i64>,
        arcs: &[Arcs],
        potentials: &[i64],
        hint: &[u32],
    ) -> Result<Self, Error> {
        assert_eq!(potentials.len(), capacity.len(), "one potential per sink");
        assert_eq!(hint.len(), penalty.len(), "one hint per source");
        Self::build(capacity, penalty, arcs, Start::Warm { potentials, hint })
    }

    /// [`Transport::new`] from the given start (see `start.rs`).
    fn build(
        capacity: Vec<u32>,
        penalty: Vec<i64>,
        arcs: &[Arcs],
        start: Start<'_>,
    ) -> Result<Self, Error> {
        let n = penalty.len();
        let m = capacity.len();
        if n >= (1 << 31) || m >= (1 << 31) {
            return Err(Error::TooLarge);
        }
        let mut t = Self::empty(capacity, penalty);
        t.set_arcs(arcs)?;
        t.prepare(start);
        Ok(t)
    }

    /// A problem without arcs, flow or prices yet.
    fn empty(capacity: Vec<u32>, penalty: Vec<i64>) -> Self {
        let n = penalty.len();
        let m = capacity.len();
        Self {
            m,
            capacity,
            penalty,
            start: Vec::new(),
            head: Vec::new(),
            cost: Vec::new(),
            sink_of: vec![UNASSIGNED; n],
            cost_of: vec![0; n],
            held: vec![Vec::new(); m],
            edges: vec![Edges::default(); m],
            enter: vec![BinaryHeap::new(); m],
            edges_live: false,
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
            frontier: Frontier::new(m + 1),
            stats: Stats::default(),
        }
    }

    /// The starting pseudoflow of the arcs set: prices (from coarser copies, the ladder or a
    /// previous solve), every source at a best response, block auction, then the edge heaps
    /// and what each sink sends to the terminal.
    fn prepare(&mut self, start: Start<'_>) {
        match start {
            Start::Warm { potentials, hint } => {
                let pot = potentials.iter().map(|&p| p.min(0)).collect();
                self.place_near(pot, hint);
            }
            Start::Scaled => match self.coarse_prices() {
                Some(pot) => self.place_at_prices(pot),
                None => self.place_at_starting_prices(),
            },
            Start::Ladder => self.place_at_starting_prices(),
        }
        self.raise_prices(PRICE_SWEEPS);
        self.rebuild_edges();
        for d in 0..self.m {
            // A sink with a price must end full (complementary slackness): until then it is
            // in deficit, and the terminal fills it.
            self.to_t[d] = if self.pot[d] < 0 {
                self.capacity[d]
            } else {
                (self.held[d].len() as u32).min(self.capacity[d])
            };
            let e = self.excess(d);
            self.t_deficit += e;
            if e > 0 {
                self.stats.start_excess += e as u64;
            } else {
                self.stats.start_deficit += e.unsigned_abs();
            }
        }
    }

    fn set_arcs(&mut self, arcs: &[Arcs]) -> Result<(), Error> {
        for (q, list) in arcs.iter().enumerate() {
            self.check_arcs(q, list)?;
        }
        let total: usize = arcs.iter().map(Vec::len).sum();
        self.start = Vec::with_capacity(arcs.len() + 1);
        self.head = Vec::with_capacity(total);
        self.cost = Vec::with_capacity(total);
        self.start.push(0);
        let mut sorted = Vec::new();
        for list in arcs {
            sorted.clear();
            sorted.extend_from_slice(list);
            self.push_arcs(&mut sorted);
        }
        Ok(())
    }

    fn check_arcs(&self, q: usize, list: &[(u32, i64)]) -> Result<(), Error> {
        for &(d, c) in list {
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
        }
        Ok(())
    }

    /// Appends the arcs of the next source, sorted by (cost, sink), each sink once at its
    /// cheapest.
    fn push_arcs(&mut self, list: &mut Arcs) {
        list.sort_unstable_by_key(|&(d, c)| (c, d));
        for (i, &(d, c)) in list.iter().enumerate() {
            if list[..i].iter().any(|x| x.0 == d) {
                continue;
            }
            self.head.push(d);
            self.cost.push(c);
        }
        self.start.push(self.head.len());
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
        if self.edges_live {
            self.push_edges(q, d, c);
        }
        self.sink_of[q as usize] = d;
        self.cost_of[q as usize] = c;
        self.pos[q as usize] = self.held[d as usize].len() as u32;
        self.held[d as usize].push(q);
    }

    fn detach(&mut self, q: u32) {
        let d = self.sink_of[q as usize];
        if d < FREE {
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
        let mut extra: Vec<Vec<usize>> = Vec::new();
        let mut slot = vec![NONE; n];
        for (i, (q, list)) in new_arcs.iter().enumerate() {
            let qi = *q as usize;
            if qi >= n {
                return Err(Error::SourceOutOfRange { index: qi });
            }
            self.check_arcs(qi, list)?;
            if slot[qi] == NONE {
                slot[qi] = extra.len() as u32;
                extra.push(Vec::new());
            }
            extra[slot[qi] as usize].push(i);
        }
        let start = std::mem::take(&mut self.start);
        let head = std::mem::take(&mut self.head);
        let cost = std::mem::take(&mut self.cost);
        let added: usize = new_arcs.iter().map(|(_, l)| l.len()).sum();
        self.start = Vec::with_capacity(n + 1);
        self.head = Vec::with_capacity(head.len() + added);
        self.cost = Vec::with_capacity(head.len() + added);
        self.start.push(0);
        let mut merged: Arcs = Vec::new();
        for q in 0..n {
            let (s, e) = (start[q], start[q + 1]);
            if slot[q] == NONE {
                self.head.extend_from_slice(&head[s..e]);
                self.cost.extend_from_slice(&cost[s..e]);
                self.start.push(self.head.len());
                continue;
            }
            merged.clear();
            merged.extend(head[s..e].iter().copied().zip(cost[s..e].iter().copied()));
            for &i in &extra[slot[q] as usize] {
                merged.extend_from_slice(&new_arcs[i].1);
            }
            self.push_arcs(&mut merged);
        }
        for (q, _) in new_arcs {
            // Taking the source out keeps every other reduced cost ≥ 0; the source itself gets a
            // best response again in `solve`. The edge heaps stay valid:
            // the source's own entries turn stale, and it pushes new ones when attached again.
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

    /// Rebuilds every sink's edge heaps from the sources it holds, and keeps them live.
    ///
    /// In bulk: entries are bucketed by sink, then by neighbour, and each heap is built in
    /// linear time, rather than pushed one by one through a sorted insert. The heaps hold the
    /// same entries as [`Transport::push_edges`] would push, all distinct, so they pop in the
    /// same order.
    fn rebuild_edges(&mut self) {
        let m = self.m;
        let n = self.sources();
        // Terminal edges: per sink, the unassigned sources with an arc to it.
        let mut enter: Vec<Vec<Reverse<(i64, u32)>>> = vec![Vec::new(); m];
        // Composite edges: per sink, `(neighbour, value, source)`.
        let mut moves: Vec<Vec<(u32, i64, u32)>> = vec![Vec::new(); m];
        let mut unassign: Vec<Vec<Reverse<(i64, u32)>>> = vec![Vec::new(); m];
        for q in 0..n {
            let a = self.sink_of[q];
            let (s, e) = (self.start[q], self.start[q + 1]);
            if a < FREE {
                let c = self.cost_of[q];
                unassign[a as usize].push(Reverse((self.penalty[q] - c, q as u32)));
                let list = &mut moves[a as usize];
                for k in s..e {
                    if self.head[k] != a {
                        list.push((self.head[k], self.cost[k] - c, q as u32));
                    }
                }
            } else if a == UNASSIGNED {
                for k in s..e {
                    let d = self.head[k] as usize;
                    enter[d].push(Reverse((self.cost[k] - self.penalty[q], q as u32)));
                }
            }
        }
        for (d, list) in enter.into_iter().enumerate() {
            self.enter[d] = BinaryHeap::from(list);
        }
        for (a, (mut list, un)) in moves.into_iter().zip(unassign).enumerate() {
            list.sort_unstable_by_key(|&(b, _, _)| b);
            let mut edges = Edges {
                to: Vec::new(),
                moves: Vec::new(),
                unassign: BinaryHeap::from(un),
            };
            for group in list.chunk_by(|x, y| x.0 == y.0) {
                edges.to.push(group[0].0);
                let heap: Vec<_> = group.iter().map(|&(_, v, q)| Reverse((v, q))).collect();
                edges.moves.push(BinaryHeap::from(heap));
            }
            self.edges[a] = edges;
        }
        self.edges_live = true;
    }

    /// Records the edges from the terminal through source `q`, now unassigned.
    fn push_enter(&mut self, q: u32) {
        let qi = q as usize;
        for k in self.start[qi]..self.start[qi + 1] {
            let d = self.head[k] as usize;
            self.enter[d].push(Reverse((self.cost[k] - self.penalty[qi], q)));
        }
    }

    /// Records the composite edges through source `q`, now held by sink `a` at cost `c`.
    fn push_edges(&mut self, q: u32, a: u32, c: i64) {
        let qi = q as usize;
        let e = &mut self.edges[a as usize];
        e.unassign.push(Reverse((self.penalty[qi] - c, q)));
        for k in self.start[qi]..self.start[qi + 1] {
            let b = self.head[k];
            if b == a {
                continue;
            }
            let slot = match e.to.binary_search(&b) {
                Ok(i) => i,
                Err(i) => {
                    e.to.insert(i, b);
                    e.moves.insert(i, BinaryHeap::new());
                    i
                }
            };
            e.moves[slot].push(Reverse((self.cost[k] - c, q)));
        }
    }

    fn excess(&self, d: usize) -> i64 {
        self.held[d].len() as i64 - i64::from(self.to_t[d])
    }

    /// Routes every unit of excess; afterwards the flow is feasible and optimal.
    ///
    /// # Complexity
    /// See the module documentation.
    pub fn solve(&mut self) {
        // Sources taken out by `add_arcs` go to their best response at the current prices, which
        // keeps every reduced cost ≥ 0; the places this overfills or empties are routed below.
        while let Some(q) = self.free.pop_front() {
            match self.best_response(q as usize) {
                Some((d, c)) => self.attach(q, d, c),
                None => {
                    self.sink_of[q as usize] = UNASSIGNED;
                    self.push_enter(q);
                    self.t_deficit -= 1; // T receives this source's unit again
                }
            }
        }
        for d in 0..self.m {
            while self.excess(d) > 0 {
                self.route(d as u32);
            }
        }
        // What is left: sinks in deficit, which the terminal fills, many per phase.
        while self.t_deficit < 0 {
            self.fill_deficits();
        }
    }

    fn relax(&mut self, v: u32, dv: i64, from: u32, via: u32) {
        let vi = v as usize;
        if self.stamp[vi] != self.epoch || dv < self.dist[vi] {
            self.stamp[vi] = self.epoch;
            self.dist[vi] = dv;
            self.pred_node[vi] = from;
            self.pred_src[vi] = via;
            self.frontier.push_or_decrease(v, &self.dist);
        }
    }

    fn new_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.fill(0);
            self.done.fill(0);
            self.epoch = 1;
        }
    }

    /// One phase of primal-dual from the terminal: a Dijkstra from `T` over everything it
    /// reaches, potentials raised by the distances (capped at the largest, so reduced costs stay
    /// ≥ 0 and `p(T)` stays 0), then unit paths along tight edges (reduced cost 0) from `T` to
    /// sinks in deficit, as many as a depth-first search finds. The shortest path to the
    /// nearest deficit is tight, so each phase fills at least one place; usually it fills one
    /// in every deficit sink at once, where a search per unit would explore the whole network
    /// each time.
    fn fill_deficits(&mut self) {
        self.new_epoch();
        self.stats.searches += 1;
        self.stats.phases += 1;
        let t = self.m as u32;
        self.frontier.clear();
        self.stamp[t as usize] = self.epoch;
        self.dist[t as usize] = 0;
        self.frontier.push_or_decrease(t, &self.dist);
        let mut dmax = 0;
        let mut reached = 0;
        // Nothing settled after the last target can lie on a tight path to one.
        let wanted = PHASE_TARGETS.min((0..self.m).filter(|&d| self.excess(d) < 0).count());
        while let Some(u) = self.frontier.pop(&self.dist) {
            let ui = u as usize;
            let du = self.dist[ui];
            if self.done[ui] == self.epoch {
                continue;
            }
            self.done[ui] = self.epoch;
            dmax = du;
            self.stats.settled += 1;
            if u != t && self.excess(ui) < 0 {
                reached += 1;
                if reached >= wanted {
                    break;
                }
            }
            if u == t {
                self.expand_terminal(du);
            } else {
                self.scan_sink(u, du);
            }
        }
        for v in 0..self.m {
            self.pot[v] += if self.done[v] == self.epoch {
                self.dist[v]
            } else {
                dmax
            };
        }
        // Depth-first search over tight edges; a node found to lead nowhere stays dead for the
        // phase (paths opened by this phase's own augmentations wait for the next phase).
        let mut dead = vec![false; self.m];
        let mut on_path = vec![false; self.m];
        let mut cursor = vec![0usize; self.m];
        let mut path: Vec<u32> = Vec::new();
        let mut root = 0usize;
        while self.t_deficit < 0 && root < self.m {
            if path.is_empty() {
                let a = root;
                if dead[a] || !self.tight_from_terminal(a) {
                    root += 1;
                    continue;
                }
                on_path[a] = true;
                path.push(a as u32);
            }
            let u = *path.last().expect("the path is not empty");
            let ui = u as usize;
            if self.excess(ui) < 0 {
                self.augment(t, u);
                for &v in &path {
                    on_path[v as usize] = false;
                }
                path.clear();
                continue;
            }
            match self.next_tight_move(u, &mut cursor[ui], &dead, &on_path) {
                Some(b) => {
                    on_path[b as usize] = true;
                    path.push(b);
                }
                None => {
                    dead[ui] = true;
                    on_path[ui] = false;
                    path.pop();
                }
            }
        }
    }

    /// Whether an edge `T → a` has reduced cost 0; if so, records it as `a`'s predecessor.
    fn tight_from_terminal(&mut self, a: usize) -> bool {
        let t = self.m as u32;
        while let Some(&Reverse((val, q))) = self.enter[a].peek() {
            if self.sink_of[q as usize] == UNASSIGNED {
                if val - self.pot[a] == 0 {
                    self.pred_node[a] = t;
                    self.pred_src[a] = q;
                    return true;
                }
                break;
            }
            self.enter[a].pop();
        }
        if self.to_t[a] > 0 && self.pot[a] == 0 {
            self.pred_node[a] = t;
            self.pred_src[a] = NONE;
            return true;
        }
        false
    }

    /// The next sink `b` after `*cursor` in `u`'s neighbours with a tight move `u → b`, not
    /// dead nor on the path; records the move as `b`'s predecessor.
    fn next_tight_move(
        &mut self,
        u: u32,
        cursor: &mut usize,
        dead: &[bool],
        on_path: &[bool],
    ) -> Option<u32> {
        let ui = u as usize;
        let pu = self.pot[ui];
        let edges = &mut self.edges[ui];
        while *cursor < edges.to.len() {
            let i = *cursor;
            let b = edges.to[i];
            let bi = b as usize;
            if !dead[bi] && !on_path[bi] {
                let moves = &mut edges.moves[i];
                while let Some(&Reverse((val, q))) = moves.peek() {
                    if self.sink_of[q as usize] == u {
                        if val + pu - self.pot[bi] == 0 {
                            self.pred_node[bi] = u;
                            self.pred_src[bi] = q;
                            return Some(b);
                        }
                        break;
                    }
                    moves.pop();
                }
            }
            *cursor += 1;
        }
        None
    }

    /// Routes one unit of excess from sink `origin` along a shortest path to `T` or to a sink
    /// in deficit, and updates the potentials of the nodes settled on the way.
    fn route(&mut self, origin: u32) {
        self.new_epoch();
        self.stats.searches += 1;
        let t = self.m as u32;
        let mut settled: Vec<u32> = Vec::new();
        self.frontier.clear();
        self.stamp[origin as usize] = self.epoch;
        self.dist[origin as usize] = 0;
        self.pred_node[origin as usize] = NONE;
        self.frontier.push_or_decrease(origin, &self.dist);
        let target = loop {
            let Some(u) = self.frontier.pop(&self.dist) else {
                unreachable!("T is always reachable: every held source can be unassigned");
            };
            let ui = u as usize;
            let du = self.dist[ui];
            if self.done[ui] == self.epoch {
                continue;
            }
            self.done[ui] = self.epoch;
            if (u == t && self.t_deficit > 0) || (u != t && u != origin && self.excess(ui) < 0) {
                break u;
            }
            settled.push(u);
            self.stats.settled += 1;
            if u == t {
                self.expand_terminal(du);
                continue;
            }
            self.scan_sink(u, du);
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
        self.augment(origin, target);
    }

    /// Relaxes the edges leaving sink `u`, settled at distance `du`: to `T` over spare
    /// capacity or by unassigning a source, and to other sinks by moving a source.
    fn scan_sink(&mut self, u: u32, du: i64) {
        let ui = u as usize;
        let t = self.m as u32;
        let base = du + self.pot[ui];
        if self.to_t[ui] < self.capacity[ui] {
            self.relax(t, base, u, NONE);
        }
        // Entries of sources no longer held by `u` are stale: drop them from the tops.
        let mut edges = std::mem::take(&mut self.edges[ui]);
        while let Some(&Reverse((val, q))) = edges.unassign.peek() {
            if self.sink_of[q as usize] == u {
                self.relax(t, base + val, u, q);
                break;
            }
            edges.unassign.pop();
        }
        self.stats.relaxed += edges.to.len() as u64;
        for (&d, moves) in edges.to.iter().zip(&mut edges.moves) {
            if self.done[d as usize] == self.epoch {
                continue;
            }
            while let Some(&Reverse((val, q))) = moves.peek() {
                if self.sink_of[q as usize] == u {
                    let dv = base + val - self.pot[d as usize];
                    self.relax(d, dv, u, q);
                    break;
                }
                moves.pop();
            }
        }
        self.edges[ui] = edges;
    }

    /// Moves one unit along the path recorded in `pred_node`/`pred_src`, from `origin` to
    /// `target`.
    fn augment(&mut self, origin: u32, target: u32) {
        let t = self.m as u32;
        if target == t {
            self.t_deficit -= 1;
        }
        if origin == t {
            self.t_deficit += 1;
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
                    self.push_enter(q);
                } else {
                    // From a sink, or from T (an unassigned source is assigned).
                    let c = self.arc_cost(q as usize, v);
                    self.attach(q, v, c);
                }
            }
            v = u;
        }
    }

    /// Settles the terminal when it has nothing left to absorb (warm starts only): from T, a
    /// sink's flow to T can shrink, or an unassigned source can be assigned.
    fn expand_terminal(&mut self, dt: i64) {
        let t = self.m as u32;
        for a in 0..self.m {
            if self.done[a] == self.epoch {
                continue;
            }
            if self.to_t[a] > 0 {
                let dv = dt - self.pot[a];
                self.relax(a as u32, dv, t, NONE);
            }
            let mut enter = std::mem::take(&mut self.enter[a]);
            while let Some(&Reverse((val, q))) = enter.peek() {
                if self.sink_of[q as usize] == UNASSIGNED {
                    let dv = dt + val - self.pot[a];
                    self.relax(a as u32, dv, t, q);
                    break;
                }
                enter.pop();
            }
            self.enter[a] = enter;
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

/// The reached, unsettled nodes of a search: a binary heap of nodes keyed by
/// `(distance, node)`, with each node's place so that a shorter distance moves it up in place.
/// The heap never holds more than the nodes, where pushing a node again at each improvement
/// would leave a stale entry to pop for each.
#[derive(Debug, Clone)]
struct Frontier {
    heap: Vec<u32>,
    /// Per node, its index in `heap`, or `NONE`.
    place: Vec<u32>,
}

impl Frontier {
    fn new(nodes: usize) -> Self {
        Self {
            heap: Vec::new(),
            place: vec![NONE; nodes],
        }
    }

    fn clear(&mut self) {
        for &v in &self.heap {
            self.place[v as usize] = NONE;
        }
        self.heap.clear();
    }

    #[inline]
    fn less(dist: &[i64], a: u32, b: u32) -> bool {
        (dist[a as usize], a) < (dist[b as usize], b)
    }

    /// Adds `v`, or moves it up after its distance shrank.
    fn push_or_decrease(&mut self, v: u32, dist: &[i64]) {
        let mut i = match self.place[v as usize] {
            NONE => {
                self.heap.push(v);
                self.heap.len() - 1
            }
            i => i as usize,
        };
        while i > 0 {
            let parent = (i - 1) / 2;
            let p = self.heap[parent];
            if !Self::less(dist, v, p) {
                break;
            }
            self.heap[i] = p;
            self.place[p as usize] = i as u32;
            i = parent;
        }
        self.heap[i] = v;
        self.place[v as usize] = i as u32;
    }

    /// Takes the node of least `(distance, node)`.
    fn pop(&mut self, dist: &[i64]) -> Option<u32> {
        let top = *self.heap.first()?;
        self.place[top as usize] = NONE;
        let last = self.heap.pop().expect("the heap is not empty");
        let n = self.heap.len();
        if n > 0 {
            let mut i = 0;
            loop {
                let l = 2 * i + 1;
                if l >= n {
                    break;
                }
                let r = l + 1;
                let c = if r < n && Self::less(dist, self.heap[r], self.heap[l]) {
                    r
                } else {
                    l
                };
                let child = self.heap[c];
                if !Self::less(dist, child, last) {
                    break;
                }
                self.heap[i] = child;
                self.place[child as usize] = i as u32;
                i = c;
            }
            self.heap[i] = last;
            self.place[last as usize] = i as u32;
        }
        Some(top)
    }
}

/// Composite edges leaving one sink `a`: per other sink `b`, the sources held that can move
/// there as `(c(q,b) − c(q,a), q)`; and the sources that can be unassigned as
/// `(penalty(q) − c(q,a), q)`. Min-heaps with lazy deletion: an entry is live while `q` is held
/// by `a` (a source re-attached to `a` pushes equal entries again, which are harmless).
#[derive(Clone, Debug, Default)]
struct Edges {
    to: Vec<u32>,
    moves: Vec<BinaryHeap<Reverse<(i64, u32)>>>,
    unassign: BinaryHeap<Reverse<(i64, u32)>>,
}

#[cfg(test)]
mod tests;
