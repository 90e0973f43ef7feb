//! Strongly connected components of a directed graph on indices, by Tarjan's algorithm.
//!
//! The graph is given in CSR form: the successors of node `v` are
//! `head[start[v]..start[v + 1]]`. Iterative (no recursion depth limit), visiting nodes and
//! edges in index order, so the numbering is deterministic.
//!
//! Components are numbered as the algorithm completes them, which is a reverse topological
//! order of the condensation: every edge between two components goes from a higher number to a
//! lower one. Callers building closures over the condensation rely on that.
//!
//! Why not petgraph's `tarjan_scc`: it needs its own graph (a copy of every edge, with two
//! linked lists per node) and returns one `Vec` per component; here the caller's CSR arrays are
//! read in place and the answer is one `u32` per node. The algorithm is the same.
//!
//! # Complexity
//! O(V + E) time; O(V) memory besides the graph.

/// The component of every node of the CSR graph `(start, head)`, and the number of components.
///
/// # Panics
/// If `start` is empty, not non-decreasing, or points past `head`, or if `head` names a node
/// `≥ start.len() − 1`: the caller's graph is malformed.
pub fn tarjan(start: &[usize], head: &[u32]) -> (Vec<u32>, usize) {
    const UNSEEN: u32 = u32::MAX;
    let n = start.len() - 1;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut comp = vec![UNSEEN; n];
    let mut next = 0u32;
    let mut count = 0usize;
    // (node, position of its next edge)
    let mut call: Vec<(u32, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        call.push((root as u32, start[root]));
        while let Some(&(v, pos)) = call.last() {
            let v = v as usize;
            if pos < start[v + 1] {
                let top = call.len() - 1;
                call[top].1 += 1;
                let w = head[pos] as usize;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    call.push((w as u32, start[w]));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            call.pop();
            if let Some(&(u, _)) = call.last() {
                low[u as usize] = low[u as usize].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    comp[w as usize] = count as u32;
                    if w as usize == v {
                        break;
                    }
                }
                count += 1;
            }
        }
    }
    (comp, count)
}

#[cfg(test)]
mod tests {
    use super::tarjan;

    /// CSR arrays of the adjacency lists `adj`.
    fn csr(adj: &[&[u32]]) -> (Vec<usize>, Vec<u32>) {
        let mut start = vec![0];
        let mut head = Vec::new();
        for list in adj {
            head.extend_from_slice(list);
            start.push(head.len());
        }
        (start, head)
    }

    #[test]
    fn a_cycle_is_one_component_and_edges_go_down() {
        // 0 → 1 → 2 → 0 is a cycle; 2 → 3 → 4; 5 alone.
        let (start, head) = csr(&[&[1], &[2], &[0, 3], &[4], &[], &[]]);
        let (comp, count) = tarjan(&start, &head);
        assert_eq!(count, 4);
        assert_eq!(comp[0], comp[1]);
        assert_eq!(comp[1], comp[2]);
        // Completed first: 4, then 3, then the cycle, then 5.
        assert_eq!(comp, [2, 2, 2, 1, 0, 3]);
        for v in 0..6 {
            for &w in &head[start[v]..start[v + 1]] {
                assert!(comp[v] >= comp[w as usize], "edge {v} → {w}");
            }
        }
    }

    #[test]
    fn an_empty_graph_has_no_component() {
        assert_eq!(tarjan(&[0], &[]), (vec![], 0));
    }

    #[test]
    fn a_long_path_needs_no_recursion() {
        // 0 → 1 → … → n − 1: n components, node i numbered n − 1 − i.
        let n = 200_000usize;
        let start: Vec<usize> = (0..=n).map(|v| v.min(n - 1)).collect();
        let head: Vec<u32> = (1..n as u32).collect();
        let (comp, count) = tarjan(&start, &head);
        assert_eq!(count, n);
        assert!(
            comp.iter()
                .enumerate()
                .all(|(i, &c)| c as usize == n - 1 - i)
        );
    }
}
