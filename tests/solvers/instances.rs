//! Builders for hand-made instances, and the proptest strategy for random small ones.

use cpts::domain::{MatchingDoctor, MaxKm, Patient, PatientId, Rpps};
use cpts::geo::{Coordinates, EARTH_RADIUS_M, haversine_m};
use cpts::matching::Instance;
use proptest::collection::vec;
use proptest::prelude::*;

/// Metres per degree of latitude on the sphere of FORMATS.md §1 (2πR / 360). Along a meridian
/// haversine reduces to `R · Δφ`, so a point `m` metres north is `m` metres away, up to
/// floating-point error far below the rounding to whole metres.
pub const METRES_PER_DEGREE: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// Central Nancy.
pub fn nancy() -> Coordinates {
    Coordinates::new(48.6921, 6.1844).unwrap()
}

/// The point `metres` north of `from` (south when negative), on the same meridian.
pub fn north_of(from: Coordinates, metres: f64) -> Coordinates {
    Coordinates::new(from.lat() + metres / METRES_PER_DEGREE, from.lon()).unwrap()
}

/// A limit in kilometres.
pub fn km(v: f64) -> Option<MaxKm> {
    Some(MaxKm::new(v).unwrap())
}

/// Patient `p{i}` of tier 1, 2 or 3 (ALD; age 75; age 40), with the batch default limit.
pub fn patient(i: usize, at: Coordinates, tier: u8) -> Patient {
    let (age, ald) = match tier {
        1 => (40, true),
        2 => (75, false),
        3 => (40, false),
        _ => panic!("tiers are 1, 2 or 3"),
    };
    Patient {
        id: format!("p{i}").parse::<PatientId>().unwrap(),
        coords: at,
        insee: "54395".parse().unwrap(),
        age,
        ald,
        css: false,
        max_km: None,
    }
}

/// MatchingDoctor number `i` (RPPS `1` + `i` on 9 digits + Luhn key) with no limit of its own.
pub fn doctor(i: usize, at: Coordinates, capacity: u32) -> MatchingDoctor {
    MatchingDoctor {
        rpps: Rpps::with_check_digit(&format!("1{i:09}")).unwrap(),
        name: format!("Dr {i}"),
        coords: at,
        insee: "54395".parse().unwrap(),
        capacity,
        max_km: None,
    }
}

/// An instance with the given batch default, in kilometres.
pub fn instance(patients: Vec<Patient>, doctors: Vec<MatchingDoctor>, default_km: f64) -> Instance {
    Instance {
        patients,
        doctors,
        default_max_km: MaxKm::new(default_km).unwrap(),
        excluded: Default::default(),
    }
}

/// Where a random person is: anywhere in the box, on a shared site, on a doctor's practice,
/// or a few kilometres from it (offsets in degrees).
#[derive(Clone, Debug)]
enum Place {
    Random(f64, f64),
    Site(usize),
    AtDoctor(usize),
    NearDoctor(usize, f64, f64),
}

/// A patient's limit: the batch default, their own, or exactly their distance to a doctor.
#[derive(Clone, Debug)]
enum Limit {
    Default,
    Own(f64),
    ExactlyTo(usize),
}

#[derive(Clone, Debug)]
struct RawPatient {
    place: Place,
    age: u8,
    ald: bool,
    css: bool,
    limit: Limit,
}

#[derive(Clone, Debug)]
struct RawDoctor {
    place: Place,
    capacity: u32,
    max_km: Option<f64>,
}

/// A point in a ~22 km × 22 km box around Nancy.
fn random_point() -> impl Strategy<Value = (f64, f64)> {
    (48.6f64..48.8, 6.05f64..6.35)
}

fn raw_patient() -> impl Strategy<Value = RawPatient> {
    let place = prop_oneof![
        3 => random_point().prop_map(|(a, o)| Place::Random(a, o)),
        3 => (0usize..4).prop_map(Place::Site),
        1 => (0usize..8).prop_map(Place::AtDoctor),
        // ±0.04° is about ±4.4 km north–south and ±2.9 km east–west here.
        4 => (0usize..8, -0.04f64..0.04, -0.04f64..0.04)
            .prop_map(|(i, a, o)| Place::NearDoctor(i, a, o)),
    ];
    let limit = prop_oneof![
        6 => Just(Limit::Default),
        3 => (0.5f64..15.0).prop_map(Limit::Own),
        1 => (0usize..8).prop_map(Limit::ExactlyTo),
    ];
    (
        place,
        0u8..=100,
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.2),
        limit,
    )
        .prop_map(|(place, age, ald, css, limit)| RawPatient {
            place,
            age,
            ald,
            css,
            limit,
        })
}

fn raw_doctor(capacity: std::ops::RangeInclusive<u32>) -> impl Strategy<Value = RawDoctor> {
    let place = prop_oneof![
        3 => random_point().prop_map(|(a, o)| Place::Random(a, o)),
        2 => (0usize..4).prop_map(Place::Site),
    ];
    (place, capacity, prop::option::weighted(0.25, 0.5f64..15.0)).prop_map(
        |(place, capacity, max_km)| RawDoctor {
            place,
            capacity,
            max_km,
        },
    )
}

fn point(place: &Place, sites: &[(f64, f64)], doctors: &[MatchingDoctor]) -> Coordinates {
    let (lat, lon) = match *place {
        Place::Random(a, o) => (a, o),
        Place::Site(i) => sites[i % sites.len()],
        Place::AtDoctor(i) if !doctors.is_empty() => {
            let c = doctors[i % doctors.len()].coords;
            (c.lat(), c.lon())
        }
        Place::NearDoctor(i, a, o) if !doctors.is_empty() => {
            let c = doctors[i % doctors.len()].coords;
            (c.lat() + a, c.lon() + o)
        }
        Place::AtDoctor(_) | Place::NearDoctor(..) => sites[0],
    };
    Coordinates::new(lat, lon).unwrap()
}

fn build(
    default_km: f64,
    sites: &[(f64, f64)],
    raw_patients: &[RawPatient],
    raw_doctors: &[RawDoctor],
) -> Instance {
    let mut doctors = Vec::with_capacity(raw_doctors.len());
    for (i, r) in raw_doctors.iter().enumerate() {
        let mut d = doctor(i, point(&r.place, sites, &[]), r.capacity);
        d.max_km = r.max_km.and_then(km);
        doctors.push(d);
    }
    let mut patients = Vec::with_capacity(raw_patients.len());
    for (i, r) in raw_patients.iter().enumerate() {
        let coords = point(&r.place, sites, &doctors);
        let max_km = match r.limit {
            Limit::Default => None,
            Limit::Own(v) => km(v),
            // The limit in km whose `× 1000` is (about) the distance: stresses `≤`.
            Limit::ExactlyTo(d) if !doctors.is_empty() => {
                let metres = haversine_m(coords, doctors[d % doctors.len()].coords);
                MaxKm::new(metres / 1000.0).ok()
            }
            Limit::ExactlyTo(_) => None,
        };
        patients.push(Patient {
            id: format!("p{i}").parse().unwrap(),
            coords,
            insee: "54395".parse().unwrap(),
            age: r.age,
            ald: r.ald,
            css: r.css,
            max_km,
        });
    }
    instance(patients, doctors, default_km)
}

/// Random instances of 1 to `max_patients` patients and 1 to `max_doctors` doctors near Nancy
/// (empty sides are hand-solved tests).
///
/// They stress what the lexicographic objective gets wrong most easily: up to four shared
/// sites make patients (and doctors) share coordinates, so costs tie; some patients live at a
/// practice (distance 0); some limits equal a distance; and in four cases out of ten the
/// capacities are 0–2, far below the demand.
pub fn small_matching_instance(
    max_patients: usize,
    max_doctors: usize,
) -> impl Strategy<Value = Instance> {
    (
        2.0f64..12.0,
        vec(random_point(), 1..=4),
        prop::bool::weighted(0.4),
    )
        .prop_flat_map(move |(default_km, sites, scarce)| {
            let capacity = if scarce { 0..=2 } else { 0..=6 };
            (
                Just(default_km),
                Just(sites),
                vec(raw_patient(), 1..=max_patients.max(1)),
                vec(raw_doctor(capacity), 1..=max_doctors.max(1)),
            )
        })
        .prop_map(|(default_km, sites, ps, ds)| build(default_km, &sites, &ps, &ds))
}

/// [`small_matching_instance`] with exclusions (FORMATS.md §2, `exclusions.csv`): each
/// eligible pair is excluded with probability 0.3, so some patients lose their only doctor and
/// others their nearest.
pub fn small_matching_instance_with_exclusions(
    max_patients: usize,
    max_doctors: usize,
) -> impl Strategy<Value = Instance> {
    small_matching_instance(max_patients, max_doctors)
        .prop_flat_map(|inst| {
            let n = inst.patients.len() * inst.doctors.len();
            (Just(inst), vec(prop::bool::weighted(0.3), n))
        })
        .prop_map(|(mut inst, mask)| {
            let doctors = inst.doctors.len();
            for p in 0..inst.patients.len() {
                for d in 0..doctors {
                    if mask[p * doctors + d] && inst.eligible_cost(p, d).is_some() {
                        inst.excluded.insert((p as u32, d as u32));
                    }
                }
            }
            inst
        })
}
