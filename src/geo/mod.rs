//! Coordinates, the distance of FORMATS.md §1, and a spatial index over points.
//!
//! No I/O here. Distances are haversine metres on a sphere of radius 6,371,008.8 m; the index
//! only prunes with a conservative chord bound and always decides with [`haversine_m`].

pub(crate) mod communes;
mod index;

pub use communes::{CommuneMatch, commune_by_code, commune_centroid, search_communes};
pub use index::PointIndex;

use serde::{Deserialize, Serialize};
use std::fmt;

/// Mean Earth radius of FORMATS.md §1, in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// WGS84 decimal degrees: finite, |lat| ≤ 90, |lon| ≤ 180.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "(f64, f64)", into = "(f64, f64)")]
pub struct Coordinates {
    lat: f64,
    lon: f64,
}

/// Why a pair of numbers is not a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordinatesError {
    #[error("latitude must be a finite number between -90 and 90")]
    Latitude,
    #[error("longitude must be a finite number between -180 and 180")]
    Longitude,
}

impl Coordinates {
    /// # Errors
    /// When either value is not finite or out of range.
    pub fn new(lat: f64, lon: f64) -> Result<Self, CoordinatesError> {
        if !lat.is_finite() || lat.abs() > 90.0 {
            return Err(CoordinatesError::Latitude);
        }
        if !lon.is_finite() || lon.abs() > 180.0 {
            return Err(CoordinatesError::Longitude);
        }
        Ok(Self { lat, lon })
    }

    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// The point on the unit sphere, for chord bounds.
    pub fn unit_vector(&self) -> [f64; 3] {
        let (phi, lambda) = (self.lat.to_radians(), self.lon.to_radians());
        [
            phi.cos() * lambda.cos(),
            phi.cos() * lambda.sin(),
            phi.sin(),
        ]
    }
}

impl TryFrom<(f64, f64)> for Coordinates {
    type Error = CoordinatesError;
    fn try_from((lat, lon): (f64, f64)) -> Result<Self, CoordinatesError> {
        Self::new(lat, lon)
    }
}

impl From<Coordinates> for (f64, f64) {
    fn from(c: Coordinates) -> (f64, f64) {
        (c.lat, c.lon)
    }
}

impl fmt::Display for Coordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:.5}, {:.5})", self.lat, self.lon)
    }
}

/// Haversine distance in metres, exactly as FORMATS.md §1 writes it.
pub fn haversine_m(a: Coordinates, b: Coordinates) -> f64 {
    let (phi1, phi2) = (a.lat.to_radians(), b.lat.to_radians());
    let dphi = (b.lat - a.lat).to_radians();
    let dlambda = (b.lon - a.lon).to_radians();
    let s1 = (dphi / 2.0).sin();
    let s2 = (dlambda / 2.0).sin();
    let h = s1 * s1 + phi1.cos() * phi2.cos() * s2 * s2;
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The cost of a pair: the distance rounded to the nearest metre, ties to even (FORMATS.md §1).
pub fn cost_m(distance_m: f64) -> u32 {
    // A distance on Earth is below 2.1e7 m, well inside u32.
    distance_m.round_ties_even() as u32
}

/// How far the chord distance may be from a rounding tie or from a limit before
/// [`cost_within`] asks the haversine: a millimetre, against errors below 1e-7 m (see there).
const CHORD_SLACK_M: f64 = 1e-3;

/// The great-circle distance in metres of a squared chord between unit vectors.
pub fn chord_distance_m(c2: f64) -> f64 {
    2.0 * EARTH_RADIUS_M * (c2.max(0.0).sqrt() * 0.5).min(1.0).asin()
}

/// The cost of pair `(a, b)` if `haversine_m(a, b) ≤ limit_m`, given the squared chord `c2`
/// between their unit vectors ([`Coordinates::unit_vector`]): exactly
/// `(haversine_m(a, b) <= limit_m).then(|| cost_m(haversine_m(a, b)))`, but usually without
/// the haversine's four trigonometric calls.
///
/// Why it is exact: both `R·2·asin(chord/2)` and the haversine formula are within 1e-7 m of the
/// true distance for angles below 120° (unit-vector components and `h` carry a few ulps; `asin`
/// has a slope ≤ 2 there; `R·ulp` is 1e-9 m). So when the chord distance is more than
/// [`CHORD_SLACK_M`] from the nearest half metre (where rounding changes) and from the limit,
/// the haversine lands on the same side of both, and the answer is the same. Otherwise, and for
/// wider angles, the haversine decides.
pub fn cost_within(a: Coordinates, b: Coordinates, c2: f64, limit_m: f64) -> Option<u32> {
    if c2 < 3.0 {
        let d = chord_distance_m(c2);
        let tie = ((d - d.floor()) - 0.5).abs();
        if tie > CHORD_SLACK_M && (d - limit_m).abs() > CHORD_SLACK_M {
            return (d <= limit_m).then(|| cost_m(d));
        }
    }
    let d = haversine_m(a, b);
    (d <= limit_m).then(|| cost_m(d))
}

/// A distance limit in metres from kilometres (`max_km × 1000`, FORMATS.md §2).
pub fn limit_m(max_km: f64) -> f64 {
    max_km * 1000.0
}

/// Squared chord length between two unit vectors.
#[inline]
pub fn chord2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let (x, y, z) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    x * x + y * y + z * z
}

/// The squared chord that corresponds to a great-circle distance, widened by a margin that
/// covers floating-point error, so that `chord2 > chord2_bound(d)` proves `haversine > d`.
pub fn chord2_bound(distance_m: f64) -> f64 {
    let angle = (distance_m + 1.0) / EARTH_RADIUS_M;
    if angle >= std::f64::consts::PI {
        return f64::INFINITY;
    }
    let c = 2.0 * (angle / 2.0).sin();
    c * c * (1.0 + 1e-9) + 1e-15
}

/// A latitude range and, unless the circle reaches a pole or crosses the antimeridian, a
/// longitude range, in degrees, that contain every point within `radius_m` of `center`: a
/// prefilter for an index on coordinates; [`haversine_m`] decides. Widened by 1 m like
/// [`chord2_bound`], and by a nanodegree for rounding.
pub fn degree_box(center: Coordinates, radius_m: f64) -> ((f64, f64), Option<(f64, f64)>) {
    const EPS: f64 = 1e-9;
    let angle = (radius_m.max(0.0) + 1.0) / EARTH_RADIUS_M;
    let dlat = angle.to_degrees() + EPS;
    let (lat_min, lat_max) = (center.lat - dlat, center.lat + dlat);
    if lat_min <= -90.0 || lat_max >= 90.0 || angle >= std::f64::consts::FRAC_PI_2 {
        return ((lat_min.max(-90.0), lat_max.min(90.0)), None);
    }
    // The widest longitude of a spherical cap of this angle around `center`.
    let s = angle.sin() / center.lat.to_radians().cos();
    if s >= 1.0 {
        return ((lat_min, lat_max), None);
    }
    let dlon = s.asin().to_degrees() + EPS;
    let (lon_min, lon_max) = (center.lon - dlon, center.lon + dlon);
    if lon_min < -180.0 || lon_max > 180.0 {
        return ((lat_min, lat_max), None);
    }
    ((lat_min, lat_max), Some((lon_min, lon_max)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_degree_box_holds_every_point_of_the_circle() {
        for (lat, lon, r) in [
            (48.69, 6.18, 20_000.0),
            (-13.3, -176.2, 50_000.0),
            (0.0, 0.0, 1.0),
        ] {
            let c = Coordinates::new(lat, lon).unwrap();
            let ((a, b), lons) = degree_box(c, r);
            for i in 0..3600 {
                // Points just inside the circle, all around it (one bearing per 0.1°).
                let bearing = f64::from(i).to_radians() / 10.0;
                let delta = (r * 0.999_999) / EARTH_RADIUS_M;
                let (p1, l1) = (lat.to_radians(), lon.to_radians());
                let p2 = (p1.sin() * delta.cos() + p1.cos() * delta.sin() * bearing.cos()).asin();
                let l2 = l1
                    + (bearing.sin() * delta.sin() * p1.cos())
                        .atan2(delta.cos() - p1.sin() * p2.sin());
                let (p2, l2) = (p2.to_degrees(), l2.to_degrees());
                assert!(a <= p2 && p2 <= b, "lat {p2} outside {a}..{b}");
                if let Some((lo, hi)) = lons {
                    assert!(lo <= l2 && l2 <= hi, "lon {l2} outside {lo}..{hi}");
                }
            }
        }
        // Wallis-et-Futuna, 50 km: the box would cross the antimeridian, so no longitude bound.
        let w = Coordinates::new(-13.3, -179.9).unwrap();
        assert_eq!(degree_box(w, 50_000.0).1, None);
    }

    #[test]
    fn coordinates_are_range_checked() {
        assert!(Coordinates::new(48.69, 6.18).is_ok());
        assert_eq!(Coordinates::new(91.0, 0.0), Err(CoordinatesError::Latitude));
        assert_eq!(
            Coordinates::new(0.0, -180.5),
            Err(CoordinatesError::Longitude)
        );
        assert_eq!(
            Coordinates::new(f64::NAN, 0.0),
            Err(CoordinatesError::Latitude)
        );
        assert!(Coordinates::new(-90.0, 180.0).is_ok());
    }

    #[test]
    fn haversine_matches_known_distances() {
        // One degree of latitude on this sphere: 2πR/360 = 111,195.08 m.
        let a = Coordinates::new(48.0, 6.0).unwrap();
        let b = Coordinates::new(49.0, 6.0).unwrap();
        assert!((haversine_m(a, b) - 111_195.08).abs() < 0.01);
        assert_eq!(haversine_m(a, a), 0.0);
    }

    #[test]
    fn the_chord_cost_equals_the_haversine_cost() {
        // Random pairs at every scale, and pairs placed on rounding ties and on the limit.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for i in 0..200_000 {
            let a = Coordinates::new(next() * 178.0 - 89.0, next() * 358.0 - 179.0).unwrap();
            let scale = [1e-5, 1e-3, 0.1, 2.0, 60.0][i % 5];
            let b = Coordinates::new(
                (a.lat() + (next() - 0.5) * scale).clamp(-90.0, 90.0),
                (a.lon() + (next() - 0.5) * scale).clamp(-180.0, 180.0),
            )
            .unwrap();
            let h = haversine_m(a, b);
            let c2 = chord2(&a.unit_vector(), &b.unit_vector());
            for limit in [h, h + 0.4, h - 0.4, h.floor() + 0.5, 1e9] {
                let want = (h <= limit).then(|| cost_m(h));
                assert_eq!(cost_within(a, b, c2, limit), want, "{a} {b} limit {limit}");
            }
        }
    }

    #[test]
    fn cost_rounds_ties_to_even() {
        assert_eq!(cost_m(10.5), 10);
        assert_eq!(cost_m(11.5), 12);
        assert_eq!(cost_m(11.49), 11);
    }

    #[test]
    fn chord_bound_never_prunes_a_pair_within_the_distance() {
        let a = Coordinates::new(48.69, 6.18).unwrap();
        for i in 0..2000 {
            let b =
                Coordinates::new(48.69 + f64::from(i) * 1e-4, 6.18 - f64::from(i) * 7e-5).unwrap();
            let d = haversine_m(a, b);
            assert!(chord2(&a.unit_vector(), &b.unit_vector()) <= chord2_bound(d));
        }
    }
}
