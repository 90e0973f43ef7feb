//! A uniform latitude/longitude grid over points, for "which points are within r metres".

use super::{Coordinates, EARTH_RADIUS_M, chord2, chord2_bound};

/// Points bucketed in a grid of cells of about `cell_m` metres; queries visit the cells of a
/// bounding box and prune with the chord bound. The caller decides with the exact distance.
#[derive(Debug, Clone)]
pub struct PointIndex {
    cell_deg_lat: f64,
    cell_deg_lon: f64,
    lat0: f64,
    lon0: f64,
    rows: usize,
    cols: usize,
    /// CSR: cell → range in `items`.
    starts: Vec<u32>,
    items: Vec<u32>,
    units: Vec<[f64; 3]>,
}

impl PointIndex {
    /// Indexes `points` (their positions in the slice are the ids returned by queries).
    ///
    /// # Complexity
    /// O(n + cells).
    pub fn new(points: &[Coordinates], cell_m: f64) -> Self {
        let cell_deg_lat = (cell_m / EARTH_RADIUS_M).to_degrees().max(1e-4);
        let (mut lat_min, mut lat_max, mut lon_min, mut lon_max) =
            (90.0f64, -90.0f64, 180.0f64, -180.0f64);
        for p in points {
            lat_min = lat_min.min(p.lat());
            lat_max = lat_max.max(p.lat());
            lon_min = lon_min.min(p.lon());
            lon_max = lon_max.max(p.lon());
        }
        if points.is_empty() {
            (lat_min, lat_max, lon_min, lon_max) = (0.0, 0.0, 0.0, 0.0);
        }
        // Longitude cells are sized at the latitude farthest from the equator, so that no cell is
        // narrower than `cell_m`; capped so that polar data stay a sane grid.
        let max_abs_lat = lat_min.abs().max(lat_max.abs()).min(85.0);
        let cell_deg_lon = cell_deg_lat / max_abs_lat.to_radians().cos();
        // Keep the grid at most ~4M cells whatever the spread of the data.
        let mut rows = ((lat_max - lat_min) / cell_deg_lat) as usize + 1;
        let mut cols = ((lon_max - lon_min) / cell_deg_lon) as usize + 1;
        let (mut cdl, mut cdo) = (cell_deg_lat, cell_deg_lon);
        while rows * cols > 4_000_000 {
            cdl *= 2.0;
            cdo *= 2.0;
            rows = ((lat_max - lat_min) / cdl) as usize + 1;
            cols = ((lon_max - lon_min) / cdo) as usize + 1;
        }
        let mut idx = Self {
            cell_deg_lat: cdl,
            cell_deg_lon: cdo,
            lat0: lat_min,
            lon0: lon_min,
            rows,
            cols,
            starts: vec![0; rows * cols + 1],
            items: vec![0; points.len()],
            units: points.iter().map(Coordinates::unit_vector).collect(),
        };
        let cells: Vec<usize> = points.iter().map(|p| idx.cell_of(p)).collect();
        for &c in &cells {
            idx.starts[c + 1] += 1;
        }
        for c in 0..rows * cols {
            idx.starts[c + 1] += idx.starts[c];
        }
        let mut fill = idx.starts.clone();
        for (i, &c) in cells.iter().enumerate() {
            idx.items[fill[c] as usize] = i as u32;
            fill[c] += 1;
        }
        idx
    }

    fn cell_of(&self, p: &Coordinates) -> usize {
        let r = (((p.lat() - self.lat0) / self.cell_deg_lat) as usize).min(self.rows - 1);
        let c = (((p.lon() - self.lon0) / self.cell_deg_lon) as usize).min(self.cols - 1);
        r * self.cols + c
    }

    /// Number of indexed points.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True when no point is indexed.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Calls `f(id, chord2)` for every point that may lie within `radius_m` of `center` (a
    /// superset: all points within the radius, and some just beyond it), with the squared chord
    /// between the unit vectors, a monotone stand-in for the distance. Ids come in cell order.
    pub fn for_each_near(&self, center: Coordinates, radius_m: f64, mut f: impl FnMut(u32, f64)) {
        if self.units.is_empty() {
            return;
        }
        let bound = chord2_bound(radius_m);
        let u = center.unit_vector();
        let dlat = (radius_m / EARTH_RADIUS_M).to_degrees() + self.cell_deg_lat * 1e-6;
        let lat_lo = center.lat() - dlat;
        let lat_hi = center.lat() + dlat;
        let max_abs = lat_lo.abs().max(lat_hi.abs());
        // Near a pole, or for a radius of a continent, the longitude window is everything.
        let whole_lon = max_abs >= 89.0 || dlat >= 60.0;
        let dlon = if whole_lon {
            360.0
        } else {
            dlat / max_abs.to_radians().cos()
        };
        let row_lo = ((lat_lo - self.lat0) / self.cell_deg_lat).floor().max(0.0) as usize;
        let row_hi_f = ((lat_hi - self.lat0) / self.cell_deg_lat).floor();
        if row_hi_f < 0.0 || row_lo >= self.rows {
            return;
        }
        let row_hi = (row_hi_f as usize).min(self.rows - 1);
        let mut col_ranges: [(usize, usize); 2] = [(1, 0), (1, 0)];
        if whole_lon || dlon >= 180.0 {
            col_ranges[0] = (0, self.cols - 1);
        } else {
            // The window may wrap across ±180°: visit up to two column ranges.
            let lo = center.lon() - dlon;
            let hi = center.lon() + dlon;
            let mut k = 0;
            for (a, b) in [(lo, hi), (lo + 360.0, hi + 360.0), (lo - 360.0, hi - 360.0)] {
                let ca = ((a - self.lon0) / self.cell_deg_lon).floor();
                let cb = ((b - self.lon0) / self.cell_deg_lon).floor();
                if cb < 0.0 || ca >= self.cols as f64 {
                    continue;
                }
                if k < 2 {
                    col_ranges[k] = (ca.max(0.0) as usize, (cb as usize).min(self.cols - 1));
                    k += 1;
                }
            }
        }
        for row in row_lo..=row_hi {
            for &(c0, c1) in &col_ranges {
                if c0 > c1 {
                    continue;
                }
                let s = self.starts[row * self.cols + c0] as usize;
                let e = self.starts[row * self.cols + c1 + 1] as usize;
                for &id in &self.items[s..e] {
                    let c2 = chord2(&u, &self.units[id as usize]);
                    if c2 <= bound {
                        f(id, c2);
                    }
                }
            }
        }
    }
}

impl PointIndex {
    /// The `k` nearest points to `center` within `radius_m` among those `keep(id, chord2)`
    /// accepts, visiting cells ring by ring from the center's and stopping as soon as no
    /// unvisited cell can hold a nearer one: in a dense area it looks at a few cells where
    /// [`PointIndex::for_each_near`] looks at the whole disc.
    ///
    /// On return `out` holds `(chord2, id)` pairs. When `out.len() ≤ k` they are every kept
    /// point within the radius. Otherwise the `k` smallest of `out` by `(chord2, id)` are the
    /// `k` smallest of all kept points within the radius, and at least one more exists. Points
    /// come in an unspecified order: select them with the same `(chord2, id)` order.
    pub fn nearest_k(
        &self,
        center: Coordinates,
        radius_m: f64,
        k: usize,
        mut keep: impl FnMut(u32, f64) -> bool,
        out: &mut Vec<(f64, u32)>,
    ) {
        out.clear();
        if self.units.is_empty() {
            return;
        }
        let dlat = (radius_m / EARTH_RADIUS_M).to_degrees() + self.cell_deg_lat * 1e-6;
        let max_abs = (center.lat().abs() + dlat).min(90.0);
        let dlon = dlat / max_abs.to_radians().cos();
        if k == 0
            || max_abs >= 89.0
            || dlat >= 60.0
            || center.lon() - dlon < -180.0
            || center.lon() + dlon > 180.0
        {
            // Poles, continents and the antimeridian: the plain scan handles them.
            self.for_each_near(center, radius_m, |id, c2| {
                if keep(id, c2) {
                    out.push((c2, id));
                }
            });
            return;
        }
        let bound = chord2_bound(radius_m);
        let u = center.unit_vector();
        // The query's box in (possibly negative or past-the-end) cell coordinates.
        let fr = (center.lat() - self.lat0) / self.cell_deg_lat;
        let fc = (center.lon() - self.lon0) / self.cell_deg_lon;
        let (r0, c0) = (fr.floor() as i64, fc.floor() as i64);
        let row_lo =
            (((center.lat() - dlat - self.lat0) / self.cell_deg_lat).floor() as i64).max(0);
        let row_hi = (((center.lat() + dlat - self.lat0) / self.cell_deg_lat).floor() as i64)
            .min(self.rows as i64 - 1);
        let col_lo =
            (((center.lon() - dlon - self.lon0) / self.cell_deg_lon).floor() as i64).max(0);
        let col_hi = (((center.lon() + dlon - self.lon0) / self.cell_deg_lon).floor() as i64)
            .min(self.cols as i64 - 1);
        if row_lo > row_hi || col_lo > col_hi {
            return;
        }
        let cos_lat = center.lat().to_radians().cos();
        let (cell_lat, cell_lon) = (
            self.cell_deg_lat.to_radians(),
            self.cell_deg_lon.to_radians(),
        );
        let mut visit = |row: i64, ca: i64, cb: i64, out: &mut Vec<(f64, u32)>| {
            if row < row_lo || row > row_hi {
                return;
            }
            let (ca, cb) = (ca.max(col_lo), cb.min(col_hi));
            if ca > cb {
                return;
            }
            let base = row as usize * self.cols;
            let s = self.starts[base + ca as usize] as usize;
            let e = self.starts[base + cb as usize + 1] as usize;
            for &id in &self.items[s..e] {
                let c2 = chord2(&u, &self.units[id as usize]);
                if c2 <= bound && keep(id, c2) {
                    out.push((c2, id));
                }
            }
        };
        let mut r: i64 = 0;
        loop {
            if r == 0 {
                visit(r0, c0, c0, out);
            } else {
                visit(r0 - r, c0 - r, c0 + r, out);
                visit(r0 + r, c0 - r, c0 + r, out);
                for row in (r0 - r + 1).max(row_lo)..(r0 + r).min(row_hi + 1) {
                    visit(row, c0 - r, c0 - r, out);
                    visit(row, c0 + r, c0 + r, out);
                }
            }
            let covered =
                r0 - r <= row_lo && r0 + r >= row_hi && c0 - r <= col_lo && c0 + r >= col_hi;
            if covered {
                return;
            }
            if out.len() > k {
                // The center lies inside cell (r0, c0), so a point outside the visited block is
                // more than r cells away in latitude, or beyond the meridian r cells away
                // (distance asin(cos φ · sin Δλ) from the center, whatever the point's
                // latitude): a metre less, for rounding. Once k visited points are nearer than
                // that, no unvisited one is among the k nearest.
                let steps = r as f64;
                let by_lat = steps * cell_lat;
                let by_lon = (cos_lat * (steps * cell_lon).min(std::f64::consts::FRAC_PI_2).sin())
                    .min(1.0)
                    .asin();
                let away_m = by_lat.min(by_lon) * EARTH_RADIUS_M - 1.0;
                if away_m > 0.0 {
                    let c = 2.0 * (away_m / (2.0 * EARTH_RADIUS_M)).sin();
                    let nearer = c * c * (1.0 - 1e-9);
                    if out.iter().filter(|x| x.0 < nearer).count() >= k {
                        return;
                    }
                }
            }
            r += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::haversine_m;

    #[test]
    fn finds_every_point_within_the_radius() {
        let mut pts = Vec::new();
        for i in 0..60 {
            for j in 0..60 {
                pts.push(
                    Coordinates::new(48.5 + f64::from(i) * 0.01, 6.0 + f64::from(j) * 0.013)
                        .unwrap(),
                );
            }
        }
        let idx = PointIndex::new(&pts, 1500.0);
        let c = Coordinates::new(48.77, 6.41).unwrap();
        for r in [0.0, 800.0, 5000.0, 20_000.0, 200_000.0] {
            let mut got = Vec::new();
            idx.for_each_near(c, r, |i, _| got.push(i));
            for (i, p) in pts.iter().enumerate() {
                if haversine_m(c, *p) <= r {
                    assert!(got.contains(&(i as u32)), "missed {i} at r={r}");
                }
            }
        }
    }

    #[test]
    fn wraps_across_the_antimeridian() {
        let pts = vec![
            Coordinates::new(-17.5, 179.99).unwrap(),
            Coordinates::new(-17.5, -179.99).unwrap(),
        ];
        let idx = PointIndex::new(&pts, 1000.0);
        let mut got = Vec::new();
        idx.for_each_near(pts[0], 5000.0, |i, _| got.push(i));
        got.sort_unstable();
        assert_eq!(got, vec![0, 1]);
    }

    #[test]
    fn nearest_k_matches_a_full_scan() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let by_chord = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        for (lat, spread, cell) in [
            (48.7, 0.3, 2500.0),
            (-21.1, 0.5, 700.0),
            (64.0, 2.0, 5000.0),
        ] {
            let pts: Vec<Coordinates> = (0..400)
                .map(|_| {
                    let (a, b) = (next() - 0.5, next() - 0.5);
                    // Clustered: squares pull points towards the centre.
                    Coordinates::new(lat + a * a.abs() * spread, 6.0 + b * spread).unwrap()
                })
                .collect();
            let idx = PointIndex::new(&pts, cell);
            for q in 0..300 {
                let c = Coordinates::new(
                    lat + (next() - 0.5) * spread * 1.5,
                    6.0 + (next() - 0.5) * spread * 1.5,
                )
                .unwrap();
                let radius = [500.0, 5_000.0, 30_000.0, 200_000.0][q % 4];
                let k = [1, 3, 12, 50][q % 4];
                let keep = |id: u32, _: f64| id % 7 != 3;
                let mut all = Vec::new();
                idx.for_each_near(c, radius, |id, c2| {
                    if keep(id, c2) {
                        all.push((c2, id));
                    }
                });
                all.sort_unstable_by(by_chord);
                let mut got = Vec::new();
                idx.nearest_k(c, radius, k, keep, &mut got);
                if got.len() > k {
                    got.select_nth_unstable_by(k - 1, by_chord);
                    assert!(all.len() > k);
                } else {
                    assert_eq!(got.len(), all.len());
                }
                let take = got.len().min(k);
                let mut head = got[..take].to_vec();
                head.sort_unstable_by(by_chord);
                assert_eq!(
                    head,
                    all[..take].to_vec(),
                    "query {q} at {c}, r {radius}, k {k}"
                );
            }
        }
    }
}
