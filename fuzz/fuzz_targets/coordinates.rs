//! `Coordinates` from text cells as the CSV readers parse them (`lat,lon;lat,lon`): accepted
//! exactly when finite and in range, JSON round-trips, and the distance helpers keep their
//! contracts (haversine symmetric and bounded, the chord bound and the degree box never prune
//! a point within the distance).
#![no_main]

use cpts::geo::{
    Coordinates, EARTH_RADIUS_M, chord2, chord2_bound, cost_m, degree_box, haversine_m,
};
use libfuzzer_sys::fuzz_target;

fn point(text: &str) -> Option<Coordinates> {
    let (lat, lon) = text.split_once(',')?;
    let (lat, lon) = (lat.parse::<f64>().ok()?, lon.parse::<f64>().ok()?);
    let in_range = lat.is_finite() && lat.abs() <= 90.0 && lon.is_finite() && lon.abs() <= 180.0;
    match Coordinates::new(lat, lon) {
        Ok(c) => {
            assert!(in_range, "accepted ({lat}, {lon})");
            assert_eq!((c.lat(), c.lon()), (lat, lon));
            assert!(c.to_string().starts_with('('));
            // serde_json's default float parser may be one ulp off (no `float_roundtrip`), which
            // for a subnormal is an absolute error (found by this target: 2.12e-309).
            let json = serde_json::to_string(&c).expect("finite numbers serialize");
            let back: Coordinates = serde_json::from_str(&json).expect("re-reads");
            for (a, b) in [(lat, back.lat()), (lon, back.lon())] {
                let tolerance = (a.abs() * 4.0 * f64::EPSILON).max(f64::MIN_POSITIVE);
                assert!((a - b).abs() <= tolerance, "{a} -> {b}");
            }
            let v = c.unit_vector();
            assert!(((v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) - 1.0).abs() < 1e-12);
            Some(c)
        }
        Err(e) => {
            assert!(!in_range, "refused ({lat}, {lon}): {e}");
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (first, second) = s.split_once(';').unwrap_or((s, "48.6921,6.1844"));
    let (Some(a), Some(b)) = (point(first), point(second)) else {
        return;
    };
    let d = haversine_m(a, b);
    assert!(d.is_finite() && d >= 0.0, "{d}");
    assert!(d <= std::f64::consts::PI * EARTH_RADIUS_M + 1e-6, "{d}");
    assert_eq!(haversine_m(b, a), d);
    assert_eq!(haversine_m(a, a), 0.0);
    let cost = cost_m(d);
    assert!((f64::from(cost) - d).abs() <= 0.5);
    // The index's pruning guarantees (geo/mod.rs): b is within d of a, so neither the chord
    // bound nor the degree box may exclude it.
    assert!(
        chord2(&a.unit_vector(), &b.unit_vector()) <= chord2_bound(d),
        "chord bound prunes {a:?} {b:?}"
    );
    let ((lat_min, lat_max), lons) = degree_box(a, d);
    assert!(
        lat_min <= b.lat() && b.lat() <= lat_max,
        "lat box {a:?} {b:?} {d}"
    );
    if let Some((lon_min, lon_max)) = lons {
        assert!(
            lon_min <= b.lon() && b.lon() <= lon_max,
            "lon box {a:?} {b:?} {d}"
        );
    }
});
