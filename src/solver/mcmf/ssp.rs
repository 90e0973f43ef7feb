//! Successive shortest paths from a pseudoflow (Ahuja, Magnanti & Orlin, *Network Flows*,
//! §9.7), one deficit node at a time.
//!
//! * Start: every arc of negative cost saturated, the others empty, prices 0: every
//!   residual arc has a reduced cost `c + p(u) − p(v) ≥ 0`.
//! * Deficit nodes are taken in index order. For each, a *reverse* Dijkstra on reduced costs
//!   runs from it until it settles a node with excess; the path found is a shortest path from
//!   that node, and as much as possible is sent along it.
//! * Prices: with `R` the distance of the excess node and `r(v) ≤ R` that of each settled
//!   node, `p(v) += R − r(v)` for settled nodes only. This equals `π(v) −= min(r(v), R)` for
//!   every node, up to a common constant: reduced costs stay `≥ 0` and the path becomes tight,
//!   so after each augmentation the pseudoflow has least cost for its imbalances.
//! * Ties: the heap orders by (distance, node index); arcs are scanned in residual order and
//!   only strict improvements relabel.
//!
//! # Complexity
//! At most `U` augmentations (`U` the total deficit), each a truncated Dijkstra:
//! `O(U · (m + n log n))`; no per-search `O(n)` reset (visit stamps).

use super::{Error, NONE, Residual};
use std::cmp::Reverse;

/// Prices stay within this bound (checked), far from `i64::MAX`.
const LIMIT: i64 = super::LIMIT;

impl Residual {
    pub(super) fn run_ssp(&mut self) -> Result<(), Error> {
        for l in 0..self.nodes() {
            while self.excess[l] < 0 {
                let Some(k) = self.search(l)? else {
                    return Err(Error::Infeasible);
                };
                self.augment(k, l);
            }
        }
        Ok(())
    }

    fn next_stamp(&mut self) -> u32 {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.fill(0);
            self.done.fill(0);
            self.stamp = 1;
        }
        self.stamp
    }

    /// Reverse Dijkstra from deficit node `l` to the nearest node with excess; updates the
    /// prices of the settled nodes. Returns that node, or `None` when none is reachable.
    fn search(&mut self, l: usize) -> Result<Option<usize>, Error> {
        self.work.iterations += 1;
        let stamp = self.next_stamp();
        self.heap.clear();
        self.settled.clear();
        self.dist[l] = 0;
        self.seen[l] = stamp;
        self.pred[l] = NONE;
        self.heap.push(Reverse((0, l as u32)));
        let mut found = None;
        while let Some(Reverse((d, v))) = self.heap.pop() {
            let v = v as usize;
            if self.done[v] == stamp || d > self.dist[v] {
                continue;
            }
            self.done[v] = stamp;
            self.settled.push(v as u32);
            if self.excess[v] > 0 {
                found = Some((v, d));
                break;
            }
            let pv = self.p[v];
            for i in self.first[v]..self.first[v + 1] {
                // `r` leaves v; its pair `r ^ 1` enters v from `u`: the arc a reverse search
                // follows backwards.
                let r = self.adj[i as usize] as usize;
                let back = r ^ 1;
                if self.res[back] == 0 {
                    continue;
                }
                let u = self.head[r] as usize;
                if self.done[u] == stamp {
                    continue;
                }
                let rc = self.cost[back] + self.p[u] - pv;
                debug_assert!(rc >= 0, "negative reduced cost {rc} on {u} → {v}");
                let nd = d.saturating_add(rc);
                if self.seen[u] != stamp || nd < self.dist[u] {
                    self.seen[u] = stamp;
                    self.dist[u] = nd;
                    self.pred[u] = back as u32;
                    self.heap.push(Reverse((nd, u as u32)));
                }
            }
        }
        self.work.updates += self.settled.len() as u64;
        let Some((k, big_r)) = found else {
            return Ok(None);
        };
        for &v in &self.settled {
            let v = v as usize;
            self.p[v] = self.p[v]
                .checked_add(big_r - self.dist[v])
                .filter(|p| *p <= LIMIT)
                .ok_or(Error::CostRange)?;
        }
        Ok(Some(k))
    }

    /// Sends as much as possible from `k` to `l` along the predecessor arcs of the last search.
    fn augment(&mut self, k: usize, l: usize) {
        self.work.augmentations += 1;
        let mut delta = self.excess[k].min(-self.excess[l]);
        let mut v = k;
        while v != l {
            let r = self.pred[v] as usize;
            delta = delta.min(self.res[r]);
            v = self.head[r] as usize;
        }
        let mut v = k;
        while v != l {
            let r = self.pred[v] as usize;
            self.push(v, r, delta);
            v = self.head[r] as usize;
        }
    }
}
