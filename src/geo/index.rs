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
}
