//! Where the exact routing starts from: prices (a ladder, coarser copies, or a previous solve's
//! potentials for a warm re-batch), every source at a best response to them, then a short block
//! auction. Every source stays at a best response to the sink prices, so the
//! pseudoflow left satisfies the reduced-cost conditions and [`Transport::solve`] only routes
//! what is left; the prices only change the amount of work, never the optimum.
//!
//! # Which prices
//!
//! * Small problems: one price for all sinks, from a ladder ([`Transport::place_at_starting_prices`]).
//! * From `SCALED_START_SOURCES` sources: the optimal prices of a coarser copy of the problem
//!   (costs and penalties divided by `SCALE`), times `SCALE` ([`Transport::coarse_prices`]),
//!   itself started the same way: cost scaling, with the exact successive shortest paths at
//!   every level. One price for all sinks left most places of priced sinks free (103,873 of
//!   150,000 on the 300,000-patient grand-est instance), and the region's first solve took
//!   2,591 primal-dual phases of about 6 ms to fill them: a phase usually fills one place per
//!   sink in deficit by a tight path, since the sources a sink can draw sit at distinct
//!   distances, so the phases number about the largest deficit of a sink. A coarse copy has few distinct distances, so few
//!   phases; its prices, scaled back, leave each fine sink a few units out of place (the
//!   rounding of its sources' costs), and the phases at the fine level are few too.

use super::{EXCESS_WEIGHT, MAX_PRICE_LEVELS, NONE, SCALE, Stats, Transport, UNASSIGNED};

impl Transport {
    /// Sets one starting price for every sink (`pot = −price`) and places every source at its
    /// best response: its cheapest arc if that beats its penalty, else unassigned.
    ///
    /// The price is chosen from a ladder: 0 and `P − x − 1` for each distinct penalty `P` and
    /// `x` a decile of the sources' cheapest arc costs. At a price just below a penalty `P`,
    /// the sources of penalty ≤ `P` far from every sink start unassigned. The units left out of
    /// place are *excess* (sources beyond a sink's capacity, one search each) and *deficit*
    /// (free places of a sink with a price, filled many per phase from the terminal); the
    /// choice minimises `EXCESS_WEIGHT × excess + deficit`. When demand far exceeds capacity
    /// this routes a fraction of what starting from 0 would.
    ///
    /// Every source is at a best response to the prices, so reduced costs are ≥ 0 whatever
    /// the price; it only changes the amount of work.
    ///
    /// # Complexity
    /// O(ladder rungs × sources + arcs).
    pub(super) fn place_at_starting_prices(&mut self) {
        let mut best = (u64::MAX, 0);
        let mut load = vec![0u64; self.m];
        for price in self.price_ladder() {
            load.fill(0);
            for q in 0..self.sources() {
                let s = self.start[q];
                if s < self.start[q + 1] && self.cost[s] + price < self.penalty[q] {
                    load[self.head[s] as usize] += 1;
                }
            }
            let score: u64 = load
                .iter()
                .zip(&self.capacity)
                .map(|(&l, &c)| {
                    let c = u64::from(c);
                    let excess = l.saturating_sub(c);
                    let deficit = if price > 0 { c.saturating_sub(l) } else { 0 };
                    EXCESS_WEIGHT * excess + deficit
                })
                .sum();
            if score < best.0 {
                best = (score, price);
            }
        }
        self.pot.fill(-best.1);
        for q in 0..self.sources() {
            if let Some((d, c)) = self.best_response(q) {
                self.attach(q as u32, d, c);
            }
        }
    }

    /// The cheapest option of source `q` at the current prices: `(sink, arc cost)`, or `None`
    /// when no arc beats its penalty. Ties go to the first arc in (cost, sink) order.
    pub(super) fn best_response(&self, q: usize) -> Option<(u32, i64)> {
        let mut best: Option<(u32, i64)> = None;
        let mut value = self.penalty[q];
        for k in self.start[q]..self.start[q + 1] {
            let d = self.head[k];
            let v = self.cost[k] - self.pot[d as usize];
            if v < value {
                value = v;
                best = Some((d, self.cost[k]));
            }
        }
        best
    }

    /// Starting prices, highest first, ending with 0 (see
    /// [`Transport::place_at_starting_prices`]); only 0 when the penalties take more than
    /// [`MAX_PRICE_LEVELS`] values.
    fn price_ladder(&self) -> Vec<i64> {
        let mut levels: Vec<i64> = self.penalty.clone();
        levels.sort_unstable();
        levels.dedup();
        let mut cheapest: Vec<i64> = (0..self.sources())
            .filter(|&q| self.start[q] < self.start[q + 1])
            .map(|q| self.cost[self.start[q]])
            .collect();
        if levels.len() > MAX_PRICE_LEVELS || cheapest.is_empty() {
            return vec![0];
        }
        cheapest.sort_unstable();
        let mut ladder = vec![0];
        for &p in &levels {
            ladder.extend((0..=10).map(|j| {
                let x = cheapest[(cheapest.len() - 1) * j / 10];
                (p - x - 1).max(0)
            }));
        }
        ladder.sort_unstable_by(|a, b| b.cmp(a));
        ladder.dedup();
        ladder
    }

    /// A better start than "every source at its cheapest arc": a few Gauss–Seidel sweeps of
    /// block auction. Each overloaded sink raises its price `π = −p` just enough that only
    /// `capacity` sources still prefer it; the others move to their next best option (another
    /// sink at its current price, or unassigned). Every source stays at a best response to the
    /// prices, so reduced costs stay ≥ 0; a sink whose price rose is full and stays full (prices
    /// elsewhere only rise), so no sink is left in deficit. What is left over is routed exactly
    /// by [`Transport::solve`].
    pub(super) fn raise_prices(&mut self, sweeps: usize) {
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
}

impl Transport {
    /// The optimal prices of a coarser copy of this problem, scaled back: costs divided by
    /// [`SCALE`] (rounded down, an order-preserving map), penalties divided and plus 1 (so they
    /// still exceed every arc cost), solved exactly (starting, in turn, from a coarser copy),
    /// and its potentials times [`SCALE`]. `None` when every cost is below [`SCALE`]: the copy
    /// would have no distances left. Adds the copy's work to [`Transport::stats`].
    ///
    /// # Complexity
    /// One copy of the arcs; the coarse solve's work, which shrinks with the distinct costs.
    pub(super) fn coarse_prices(&mut self) -> Option<Vec<i64>> {
        let cmax = self.cost.iter().copied().max()?;
        if cmax < SCALE {
            return None;
        }
        let t0 = std::time::Instant::now();
        let penalty = self.penalty.iter().map(|&p| p / SCALE + 1).collect();
        let mut coarse = Self::empty(self.capacity.clone(), penalty);
        coarse.start.clone_from(&self.start);
        coarse.head.clone_from(&self.head);
        coarse.cost = self.cost.iter().map(|&c| c / SCALE).collect();
        coarse.prepare(super::Start::Scaled);
        let t1 = std::time::Instant::now();
        let at_start = coarse.stats;
        coarse.solve();
        tracing::debug!(
            max_cost = cmax / SCALE,
            start_ms = (t1 - t0).as_secs_f64() * 1e3,
            solve_ms = t1.elapsed().as_secs_f64() * 1e3,
            excess = coarse.stats.start_excess,
            deficit = coarse.stats.start_deficit,
            searches = coarse.stats.searches - at_start.searches,
            phases = coarse.stats.phases - at_start.phases,
            "coarse copy solved"
        );
        let Stats {
            searches,
            settled,
            relaxed,
            phases,
            ..
        } = coarse.stats;
        self.stats.searches += searches;
        self.stats.settled += settled;
        self.stats.relaxed += relaxed;
        self.stats.phases += phases;
        Some(
            coarse
                .pot
                .iter()
                .map(|&p| p.saturating_mul(SCALE).min(0))
                .collect(),
        )
    }

    /// Sets the sink potentials `pot` (each ≤ 0: a price `−pot` ≥ 0) and places every source at
    /// its best response.
    pub(super) fn place_at_prices(&mut self, pot: Vec<i64>) {
        debug_assert!(pot.len() == self.m && pot.iter().all(|&p| p <= 0));
        self.pot = pot;
        for q in 0..self.sources() {
            if let Some((d, c)) = self.best_response(q) {
                self.attach(q as u32, d, c);
            }
        }
    }
}

impl Transport {
    /// Sets the sink potentials `pot` (each ≤ 0) and places every source at a best response,
    /// preferring the state `hint[q]` (a sink, or [`UNASSIGNED`]) among equally good ones: a
    /// warm start keeps the previous flow wherever the prices still support it, and where
    /// several options tie (common at an optimum) it does not reshuffle sources between them.
    pub(super) fn place_near(&mut self, pot: Vec<i64>, hint: &[u32]) {
        debug_assert!(pot.len() == self.m && pot.iter().all(|&p| p <= 0));
        self.pot = pot;
        for (q, &h) in hint.iter().enumerate() {
            let best = self.best_response(q);
            let value = best.map_or(self.penalty[q], |(d, c)| c - self.pot[d as usize]);
            let kept = if h == UNASSIGNED {
                (self.penalty[q] == value).then_some(None)
            } else {
                (self.start[q]..self.start[q + 1])
                    .find(|&k| self.head[k] == h)
                    .filter(|&k| self.cost[k] - self.pot[h as usize] == value)
                    .map(|k| Some((h, self.cost[k])))
            };
            if let Some((d, c)) = kept.unwrap_or(best) {
                self.attach(q as u32, d, c);
            }
        }
    }
}
