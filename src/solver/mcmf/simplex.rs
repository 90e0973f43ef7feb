//! Primal network simplex with block-search pivoting and strongly feasible spanning trees
//! (Ahuja, Magnanti & Orlin, *Network Flows*, ch. 11; the pivot rule and leaving-arc rule of
//! LEMON's `NetworkSimplex`, Kovács, *Minimum-cost flow algorithms: an experimental
//! evaluation*, 2015).
//!
//! * **Start.** An artificial root `R`; each node `v` has an artificial arc `v → R` (cost 0)
//!   carrying its supply when `b(v) ≥ 0`, or `R → v` (cost `A`) carrying its demand. With
//!   `A = (n + 1)·(max|cost| + 1)` above the cost of any simple path, an optimum carries no
//!   artificial flow unless the supplies cannot be met. The tree of artificial arcs is
//!   strongly feasible.
//! * **Pivot.** Arcs are priced in blocks of `⌈√m / 2⌉` in cyclic order; the most violating arc
//!   of the first block holding one enters (at its lower bound with a negative reduced cost,
//!   or at its upper bound with a positive one).
//! * **Leaving arc.** Along the cycle closed by the entering arc, the blocking arc met last
//!   when walking the cycle from its apex in the direction of the flow: this keeps the tree
//!   strongly feasible, so degenerate pivots cannot cycle.
//! * **Tree update.** The subtree cut off by the leaving arc is re-hung on the entering arc
//!   (parent pointers along the path reversed); its depths and potentials are updated by one
//!   walk over its child lists. Potentials stay exact integers: `p(to) = p(from) + cost` on
//!   every tree arc, so every reduced cost is exact and the final potentials are exact duals.
//!
//! # Complexity
//! Exponential in the worst case (as every primal simplex); in practice a few times `n`
//! pivots, each `O(√m)` pricing plus the cycle length and the re-hung subtree.

use super::{Error, Network, Work};

const LOWER: i8 = 1;
const UPPER: i8 = -1;
const TREE: i8 = 0;
const NONE: u32 = u32::MAX;

/// Flow on every arc of `net`, exact potentials (reduced cost `c + p(u) − p(v)`), and work.
pub(super) fn solve(net: &Network) -> Result<(Vec<i64>, Vec<i64>, Work), Error> {
    let mut s = Simplex::new(net)?;
    s.run();
    let m = net.arc_count();
    if s.flow[m..].iter().any(|&f| f != 0) {
        return Err(Error::Infeasible);
    }
    let mut p = s.pi;
    p.truncate(s.n);
    Ok((s.flow[..m].to_vec(), p, s.work))
}

struct Simplex {
    n: usize,
    /// Arcs: the network's, then one artificial arc per node.
    src: Vec<u32>,
    dst: Vec<u32>,
    cap: Vec<i64>,
    cost: Vec<i64>,
    flow: Vec<i64>,
    state: Vec<i8>,
    /// Nodes `0..n` and the root `n`.
    pi: Vec<i64>,
    parent: Vec<u32>,
    pred: Vec<u32>,
    /// True when `pred[v]` is directed `v → parent[v]`.
    up: Vec<bool>,
    depth: Vec<u32>,
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    prev_sibling: Vec<u32>,
    /// Pricing: arcs searched (the network's only), block size, where the next block starts.
    searched: usize,
    block: usize,
    next_arc: usize,
    stack: Vec<u32>,
    work: Work,
}

impl Simplex {
    fn new(net: &Network) -> Result<Self, Error> {
        let n = net.node_count();
        let m = net.arc_count();
        let max_cost = net.cost.iter().map(|c| c.abs()).max().unwrap_or(0);
        // Network::check bounds (n + 1)·max|cost| by 2^60: A and every potential fit.
        let art = (n as i64 + 1) * (max_cost + 1);
        let total: i64 = net.supply.iter().filter(|&&b| b > 0).sum();
        let inf = total
            .checked_add(net.cap.iter().copied().max().unwrap_or(0))
            .ok_or(Error::CostRange)?;
        let root = n as u32;
        let mut s = Self {
            n,
            src: net.from.clone(),
            dst: net.to.clone(),
            cap: net.cap.clone(),
            cost: net.cost.clone(),
            flow: vec![0; m],
            state: vec![LOWER; m],
            pi: vec![0; n + 1],
            parent: vec![root; n + 1],
            pred: vec![NONE; n + 1],
            up: vec![false; n + 1],
            depth: vec![1; n + 1],
            first_child: vec![NONE; n + 1],
            next_sibling: vec![NONE; n + 1],
            prev_sibling: vec![NONE; n + 1],
            searched: m,
            // Half of √m: measured on the garde fixtures, smaller blocks price less per pivot
            // for few more pivots (0.3–1 × √m are within noise of each other).
            block: ((m as f64).sqrt() * 0.5).ceil().max(10.0) as usize,
            next_arc: 0,
            stack: Vec::new(),
            work: Work::default(),
        };
        s.parent[n] = NONE;
        s.depth[n] = 0;
        for v in 0..n {
            let e = (m + v) as u32;
            let b = net.supply[v];
            s.pred[v] = e;
            if b >= 0 {
                s.src.push(v as u32);
                s.dst.push(root);
                s.cost.push(0);
                s.flow.push(b);
                s.up[v] = true;
            } else {
                s.src.push(root);
                s.dst.push(v as u32);
                s.cost.push(art);
                s.flow.push(-b);
                s.pi[v] = art;
            }
            s.cap.push(inf);
            s.state.push(TREE);
        }
        // Children of the root in index order (pushed at the front, so in reverse).
        for v in (0..n).rev() {
            s.attach(v as u32, root);
        }
        Ok(s)
    }

    fn reduced(&self, e: usize) -> i64 {
        self.cost[e] + self.pi[self.src[e] as usize] - self.pi[self.dst[e] as usize]
    }

    fn attach(&mut self, v: u32, p: u32) {
        let (vi, pi) = (v as usize, p as usize);
        let head = self.first_child[pi];
        self.next_sibling[vi] = head;
        self.prev_sibling[vi] = NONE;
        if head != NONE {
            self.prev_sibling[head as usize] = v;
        }
        self.first_child[pi] = v;
    }

    fn detach(&mut self, v: u32) {
        let vi = v as usize;
        let (prev, next) = (self.prev_sibling[vi], self.next_sibling[vi]);
        if prev == NONE {
            self.first_child[self.parent[vi] as usize] = next;
        } else {
            self.next_sibling[prev as usize] = next;
        }
        if next != NONE {
            self.prev_sibling[next as usize] = prev;
        }
    }

    /// Block search: the most violating arc of the first block (in cyclic order from
    /// `next_arc`) that holds a violating arc.
    fn entering(&mut self) -> Option<usize> {
        if self.searched == 0 {
            return None;
        }
        let mut best = 0i64;
        let mut found = None;
        let mut count = 0;
        let mut e = self.next_arc;
        for _ in 0..self.searched {
            let v = i64::from(self.state[e]) * self.reduced(e);
            if v < best {
                best = v;
                found = Some(e);
            }
            e += 1;
            if e == self.searched {
                e = 0;
            }
            count += 1;
            if count == self.block {
                if found.is_some() {
                    break;
                }
                count = 0;
            }
        }
        self.next_arc = e;
        found
    }

    fn join(&self, mut u: usize, mut v: usize) -> usize {
        while u != v {
            if self.depth[u] > self.depth[v] {
                u = self.parent[u] as usize;
            } else if self.depth[v] > self.depth[u] {
                v = self.parent[v] as usize;
            } else {
                u = self.parent[u] as usize;
                v = self.parent[v] as usize;
            }
        }
        u
    }

    fn run(&mut self) {
        while let Some(e) = self.entering() {
            self.work.iterations += 1;
            self.pivot(e);
        }
    }

    fn pivot(&mut self, e: usize) {
        let (first, second) = if self.state[e] == LOWER {
            (self.src[e] as usize, self.dst[e] as usize)
        } else {
            (self.dst[e] as usize, self.src[e] as usize)
        };
        let join = self.join(first, second);
        // Leaving arc: `<` on the first side keeps the blocking arc nearest `first`, `<=` on
        // the second keeps the one nearest the apex: the last blocking arc met when walking
        // the cycle from the apex along the flow (strongly feasible rule).
        let mut delta = self.cap[e];
        let mut out = NONE;
        let mut side = 0;
        let mut u = first;
        while u != join {
            let a = self.pred[u] as usize;
            let d = if self.up[u] {
                self.flow[a]
            } else {
                self.cap[a] - self.flow[a]
            };
            if d < delta {
                delta = d;
                out = u as u32;
                side = 1;
            }
            u = self.parent[u] as usize;
        }
        let mut u = second;
        while u != join {
            let a = self.pred[u] as usize;
            let d = if self.up[u] {
                self.cap[a] - self.flow[a]
            } else {
                self.flow[a]
            };
            if d <= delta {
                delta = d;
                out = u as u32;
                side = 2;
            }
            u = self.parent[u] as usize;
        }
        if delta > 0 {
            let val = i64::from(self.state[e]) * delta;
            self.flow[e] += val;
            let mut u = self.src[e] as usize;
            while u != join {
                let a = self.pred[u] as usize;
                self.flow[a] += if self.up[u] { -val } else { val };
                u = self.parent[u] as usize;
            }
            let mut u = self.dst[e] as usize;
            while u != join {
                let a = self.pred[u] as usize;
                self.flow[a] += if self.up[u] { val } else { -val };
                u = self.parent[u] as usize;
            }
            self.work.augmentations += 1;
        }
        if out == NONE {
            // The entering arc blocks itself: it moves to its other bound.
            self.state[e] = -self.state[e];
            return;
        }
        let (u_in, v_in) = if side == 1 {
            (first, second)
        } else {
            (second, first)
        };
        let leaving = self.pred[out as usize] as usize;
        self.state[leaving] = if self.flow[leaving] == 0 {
            LOWER
        } else {
            UPPER
        };
        self.state[e] = TREE;
        // New potentials of the re-hung subtree: the entering arc becomes tight.
        let rc = self.reduced(e);
        let shift = if u_in == self.src[e] as usize {
            -rc
        } else {
            rc
        };
        // Re-hang: reverse the parent pointers on the path u_in → … → out.
        self.detach(out);
        let mut new_parent = v_in as u32;
        let mut new_pred = e as u32;
        let mut cur = u_in as u32;
        loop {
            let ci = cur as usize;
            let (old_parent, old_pred) = (self.parent[ci], self.pred[ci]);
            if cur != out {
                self.detach(cur);
            }
            self.parent[ci] = new_parent;
            self.pred[ci] = new_pred;
            self.up[ci] = self.src[new_pred as usize] == cur;
            self.attach(cur, new_parent);
            if cur == out {
                break;
            }
            new_parent = cur;
            new_pred = old_pred;
            cur = old_parent;
        }
        // Depths and potentials of the subtree now rooted at u_in.
        self.stack.clear();
        self.stack.push(u_in as u32);
        while let Some(v) = self.stack.pop() {
            let vi = v as usize;
            self.depth[vi] = self.depth[self.parent[vi] as usize] + 1;
            self.pi[vi] += shift;
            self.work.updates += 1;
            let mut c = self.first_child[vi];
            while c != NONE {
                self.stack.push(c);
                c = self.next_sibling[c as usize];
            }
        }
    }
}
