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

/// Capacities respected, every assigned source on one of its arcs, the cost recomputed.
fn check_feasibility(t: &Transport, capacity: &[u32]) {
    let mut load = vec![0u32; capacity.len()];
    for q in 0..t.sources() {
        let d = t.assignment()[q];
        if d != UNASSIGNED {
            assert!(t.arcs(q).any(|(s, _)| s == d), "source {q} off its arcs");
            load[d as usize] += 1;
        }
    }
    for (d, (&l, &c)) in load.iter().zip(capacity).enumerate() {
        assert!(l <= c, "sink {d} holds {l} > {c}");
    }
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

/// A random problem with costs up to `max_cost` and the matching's three penalty levels.
fn random_problem(
    next: &mut impl FnMut(u64) -> u64,
    n: usize,
    m: usize,
    max_cost: u64,
) -> (Vec<u32>, Vec<i64>, Vec<Arcs>) {
    let capacity: Vec<u32> = (0..m).map(|_| next(4) as u32).collect();
    let mut arcs: Vec<Arcs> = vec![Vec::new(); n];
    for list in &mut arcs {
        for d in 0..m as u32 {
            if next(3) > 0 {
                list.push((d, next(max_cost) as i64));
            }
        }
    }
    let level = max_cost as i64 + 1;
    let penalty: Vec<i64> = (0..n).map(|_| level * (1 + next(3) as i64)).collect();
    (capacity, penalty, arcs)
}

#[test]
fn the_scaled_start_reaches_the_brute_force_optimum() {
    // Costs up to 5,000 (three coarser copies at SCALE 32), problems small enough for brute
    // force; then the warm path (arcs added) as in `random_small_problems_match_brute_force`.
    let mut seed = 11u64;
    let mut next = |k: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % k
    };
    for round in 0..300 {
        let n = 1 + next(7) as usize;
        let m = 1 + next(4) as usize;
        let max_cost = if round % 2 == 0 { 5000 } else { 70 };
        let (capacity, penalty, arcs) = random_problem(&mut next, n, m, max_cost);
        let mut t =
            Transport::build(capacity.clone(), penalty.clone(), &arcs, Start::Scaled).unwrap();
        t.solve();
        assert_eq!(
            t.total_cost(),
            brute(&capacity, &penalty, &arcs),
            "round {round}"
        );
        check_optimality(&t);
        check_feasibility(&t, &capacity);
    }
}

#[test]
fn the_scaled_start_and_the_ladder_reach_the_same_cost() {
    // Larger than brute force allows: the two starts against each other, each checked by its
    // potentials (reduced costs ≥ 0) and for feasibility.
    let mut seed = 5u64;
    let mut next = |k: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % k
    };
    for round in 0..40 {
        let n = 100 + next(400) as usize;
        let m = 2 + next(30) as usize;
        let (capacity, penalty, arcs) = random_problem(&mut next, n, m, 20_000);
        let mut scaled =
            Transport::build(capacity.clone(), penalty.clone(), &arcs, Start::Scaled).unwrap();
        scaled.solve();
        let mut ladder =
            Transport::build(capacity.clone(), penalty.clone(), &arcs, Start::Ladder).unwrap();
        ladder.solve();
        assert_eq!(scaled.total_cost(), ladder.total_cost(), "round {round}");
        check_optimality(&scaled);
        check_feasibility(&scaled, &capacity);
    }
}

#[test]
fn a_warm_start_from_a_changed_problem_reaches_the_brute_force_optimum() {
    // Solve, then change capacities and costs and start from the first optimum's potentials
    // and assignment (plus guesses out of range: prices above 0, hints to sinks the source
    // has no arc to): the warm solve must still reach the optimum, with its potentials.
    let mut seed = 23u64;
    let mut next = |k: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % k
    };
    for round in 0..300 {
        let n = 1 + next(7) as usize;
        let m = 1 + next(4) as usize;
        let (capacity, penalty, arcs) = random_problem(&mut next, n, m, 70);
        let mut first = Transport::new(capacity.clone(), penalty.clone(), &arcs).unwrap();
        first.solve();
        let capacity: Vec<u32> = capacity
            .iter()
            .map(|&c| if next(3) == 0 { next(4) as u32 } else { c })
            .collect();
        let mut changed: Vec<Arcs> = vec![Vec::new(); n];
        for (list, old) in changed.iter_mut().zip(&arcs) {
            for &(d, c) in old {
                if next(5) > 0 {
                    list.push((d, if next(4) == 0 { next(71) as i64 } else { c }));
                }
            }
        }
        let arcs = changed;
        let mut pot = first.potentials().to_vec();
        if next(4) == 0 {
            pot[0] = 5;
        }
        let hint: Vec<u32> = first
            .assignment()
            .iter()
            .map(|&d| {
                if next(6) == 0 {
                    next(m as u64) as u32
                } else {
                    d
                }
            })
            .collect();
        let mut t = Transport::warm(capacity.clone(), penalty.clone(), &arcs, &pot, &hint).unwrap();
        t.solve();
        assert_eq!(
            t.total_cost(),
            brute(&capacity, &penalty, &arcs),
            "round {round}"
        );
        check_optimality(&t);
        check_feasibility(&t, &capacity);
    }
}
