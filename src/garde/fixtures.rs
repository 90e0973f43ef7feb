//! Deterministic garde instances from the reference data (STYLE.md §7, "Fixtures"):
//!
//! | name | territory | cabinets (need) | GPs | period |
//! |---|---|---|---:|---|
//! | `metz-q` | Eurométropole de Metz (57) | Metz 3, Montigny-lès-M. 2, Woippy 2 | 150 | Q1 2026 |
//! | `metz-y` | the same territory and GPs | the same | 150 | 2026 |
//! | `dept-y` | Meurthe-et-Moselle (54) | 15 (see below): 3, 2 × 4, 1 × 10 | 800 | 2026 |
//!
//! The Metz territory is the Eurométropole (EPCI 200039865, 46 communes). The 15 cabinets of
//! `dept-y` are the largest communes of the département taken in order of population, each at
//! least 12 km from those already taken (Metz: 2.5 km).
//!
//! Cabinets sit at the `lat,lon` of their commune; GPs at a commune drawn with probability
//! proportional to its population (INSEE 2023), jittered within 1.5 km. Each GP has a monthly
//! rate (0–3 shifts; `max_shifts` = rate × months), a `max_km`, and an availability profile:
//! weekly evenings on 0–3 weekdays (17:30–20:30, exactly 18:00–20:00, or 17:00–23:00), weeks
//! off, Saturday mornings, whole-week or weekend blocks (multi-day windows), windows on public
//! holidays, windows that miss part of a shift (18:30–20:30, 17:30–19:45, 09:30–13:00), and
//! touching pairs (16:00–19:00 + 19:00–22:00, which cover no shift since windows are not
//! merged). Times are Europe/Paris wall time (70 %), with the Paris offset (20 %) or in UTC
//! (10 %). Year instances add windows across the spring DST change and one ending at the
//! ambiguous 02:30 of 25 October. Windows of one doctor never overlap.
//!
//! Everything comes from a ChaCha8 generator with a fixed seed per territory: the same data give
//! the same bytes.

use super::calendar::{self, HolidayScope};
use crate::domain::Rpps;
use anyhow::Context;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::path::Path;

/// A commune of `communes_grand_est.csv`.
#[derive(Clone, Debug)]
struct Commune {
    insee: String,
    name: String,
    departement: String,
    epci: String,
    population: u64,
    lat: f64,
    lon: f64,
}

fn read_communes(path: &Path) -> anyhow::Result<Vec<Commune>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        let f = |i: usize| rec.get(i).unwrap_or("").to_owned();
        let (Ok(lat), Ok(lon)) = (f(6).parse::<f64>(), f(7).parse::<f64>()) else {
            continue;
        };
        out.push(Commune {
            insee: f(0),
            name: f(1),
            departement: f(2),
            epci: f(4),
            population: f(5).parse().unwrap_or(0),
            lat,
            lon,
        });
    }
    Ok(out)
}

/// What differs between territories.
struct Territory<'a> {
    communes: Vec<&'a Commune>,
    needs: &'a [u32],
    spacing_km: f64,
    doctors: usize,
    /// (max_km, weight)
    max_km: &'a [(f64, u32)],
    /// Weights of 0, 1, 2, 3 weekly evenings.
    evenings: [u32; 4],
    seed: u64,
    /// Départment part of the RPPS bodies, so that territories do not share numbers.
    rpps_prefix: u32,
    /// Cabinet index with `slot_minutes = 20` (the others: default or explicit 15).
    slot_20: Option<usize>,
}

/// Writes `metz-q`, `metz-y` and `dept-y` into `out_dir` from `data_dir/communes_grand_est.csv`.
///
/// # Errors
/// When the reference data cannot be read or a file cannot be written.
///
/// # Complexity
/// Linear in the windows written (about 60,000 for `dept-y`).
pub fn generate_fixtures(data_dir: &Path, out_dir: &Path) -> anyhow::Result<()> {
    let communes = read_communes(&data_dir.join("communes_grand_est.csv"))?;
    let metz = Territory {
        communes: communes.iter().filter(|c| c.epci == "200039865").collect(),
        needs: &[3, 2, 2],
        spacing_km: 2.5,
        doctors: 150,
        max_km: &[(4.0, 2), (6.0, 3), (8.0, 4), (10.0, 4), (15.0, 2)],
        evenings: [10, 35, 40, 15],
        seed: 57,
        rpps_prefix: 157,
        slot_20: None,
    };
    let dept = Territory {
        communes: communes.iter().filter(|c| c.departement == "54").collect(),
        needs: &[3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        spacing_km: 12.0,
        doctors: 800,
        max_km: &[
            (5.0, 2),
            (8.0, 3),
            (10.0, 4),
            (15.0, 4),
            (20.0, 2),
            (30.0, 1),
        ],
        evenings: [20, 45, 30, 5],
        seed: 54,
        rpps_prefix: 154,
        slot_20: Some(4),
    };
    anyhow::ensure!(
        metz.communes.len() > 10 && dept.communes.len() > 100,
        "communes_grand_est.csv lacks the Metz or Meurthe-et-Moselle communes"
    );
    let d = |s: &str| s.parse::<NaiveDate>().expect("a valid literal date");
    let q1 = (d("2026-01-01"), d("2026-03-31"));
    let y = (d("2026-01-01"), d("2026-12-31"));
    for (name, t, period) in [
        ("metz-q", &metz, q1),
        ("metz-y", &metz, y),
        ("dept-y", &dept, y),
    ] {
        let dir = out_dir.join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (file, text) in build(t, period) {
            let path = dir.join(file);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let p = |(lat, lon): (f64, f64)| crate::geo::Coordinates::new(lat, lon);
    match (p(a), p(b)) {
        (Ok(a), Ok(b)) => crate::geo::haversine_m(a, b) / 1000.0,
        _ => f64::INFINITY,
    }
}

fn pick_weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|x| x.1).sum();
    let mut r = rng.random_range(0..total);
    for &(v, w) in items {
        if r < w {
            return v;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

const SURNAMES: [&str; 40] = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefebvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefevre",
    "Faure",
    "Andre",
    "Mercier",
    "Blanc",
    "Guerin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "Francois",
    "Legrand",
    "Gauthier",
    "Schmitt",
];

/// A GP as generated, before the period is known.
struct Gp {
    rpps: Rpps,
    name: String,
    lat: f64,
    lon: f64,
    insee: String,
    /// Shifts per month, in halves (0–6).
    rate_halves: u32,
    max_km: f64,
    evening_days: Vec<Weekday>,
    evening_style: u8,
    week_off: f64,
    saturday: f64,
    blocks: u32,
    holidays: bool,
    dst_special: bool,
}

fn build(t: &Territory<'_>, period: (NaiveDate, NaiveDate)) -> Vec<(&'static str, String)> {
    let mut rng = ChaCha8Rng::seed_from_u64(t.seed);
    // Cabinets: largest communes first, each at least `spacing_km` from those already chosen.
    let mut by_pop: Vec<&Commune> = t.communes.clone();
    by_pop.sort_by(|a, b| b.population.cmp(&a.population).then(a.insee.cmp(&b.insee)));
    let mut cabinets: Vec<&Commune> = Vec::new();
    for c in by_pop {
        if cabinets.len() == t.needs.len() {
            break;
        }
        if cabinets
            .iter()
            .all(|k| km((k.lat, k.lon), (c.lat, c.lon)) >= t.spacing_km)
        {
            cabinets.push(c);
        }
    }
    let mut cab_csv = String::from("cabinet_id,name,lat,lon,insee,need,slot_minutes\n");
    for (i, c) in cabinets.iter().enumerate() {
        let slot = match (t.slot_20 == Some(i), i % 2) {
            (true, _) => "20",
            (false, 0) => "",
            (false, _) => "15",
        };
        let _ = writeln!(
            cab_csv,
            "mmg-{},Maison médicale de garde de {},{:.4},{:.4},{},{},{slot}",
            c.insee, c.name, c.lat, c.lon, c.insee, t.needs[i]
        );
    }

    // GPs, by population.
    let mut cumulative = Vec::with_capacity(t.communes.len());
    let mut total = 0u64;
    for c in &t.communes {
        total += c.population;
        cumulative.push(total);
    }
    let mut gps = Vec::with_capacity(t.doctors);
    for i in 0..t.doctors {
        let r = rng.random_range(0..total);
        let c = t.communes[cumulative.partition_point(|&x| x <= r)];
        let radius = 1500.0 * rng.random::<f64>().sqrt();
        let angle = rng.random::<f64>() * std::f64::consts::TAU;
        let lat = c.lat + radius * angle.cos() / 111_195.0;
        let lon = c.lon + radius * angle.sin() / (111_195.0 * c.lat.to_radians().cos());
        let body = format!("{}{:07}", t.rpps_prefix, i + 1);
        let rpps = Rpps::with_check_digit(&body).expect("10 digits");
        let name = format!(
            "Dr {}. {}",
            char::from(b'A' + rng.random_range(0..26u8)),
            SURNAMES[rng.random_range(0..SURNAMES.len())]
        );
        let rate_halves =
            pick_weighted(&mut rng, &[(0, 1), (1, 4), (2, 6), (3, 5), (4, 4), (6, 2)]);
        let max_km = pick_weighted(&mut rng, t.max_km);
        let n_evenings = pick_weighted(
            &mut rng,
            &[
                (0usize, t.evenings[0]),
                (1, t.evenings[1]),
                (2, t.evenings[2]),
                (3, t.evenings[3]),
            ],
        );
        let mut days = vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        let mut evening_days = Vec::new();
        for _ in 0..n_evenings {
            evening_days.push(days.remove(rng.random_range(0..days.len())));
        }
        evening_days.sort_by_key(|d| d.num_days_from_monday());
        let evening_style = pick_weighted(&mut rng, &[(0u8, 6), (1, 2), (2, 2)]);
        let week_off = 0.1 + 0.3 * rng.random::<f64>();
        let saturday = if rng.random::<f64>() < 0.4 {
            0.3 + 0.5 * rng.random::<f64>()
        } else {
            0.0
        };
        let blocks = if rng.random::<f64>() < 0.15 {
            rng.random_range(1..=3)
        } else {
            0
        };
        let holidays = rng.random::<f64>() < 0.08;
        let dst_special = rng.random::<f64>() < 0.03;
        gps.push(Gp {
            rpps,
            name,
            lat,
            lon,
            insee: c.insee.clone(),
            rate_halves,
            max_km,
            evening_days,
            evening_style,
            week_off,
            saturday,
            blocks,
            holidays,
            dst_special,
        });
    }

    let months = (period.1.year() - period.0.year()) * 12 + period.1.month() as i32
        - period.0.month() as i32
        + 1;
    let mut doc_csv = String::from("rpps,name,lat,lon,insee,max_shifts,max_km\n");
    for g in &gps {
        let _ = writeln!(
            doc_csv,
            "{},{},{:.4},{:.4},{},{},{}",
            g.rpps,
            g.name,
            g.lat,
            g.lon,
            g.insee,
            g.rate_halves * months as u32 / 2,
            g.max_km
        );
    }

    // Availability depends on the period: its own stream, so metz-q and metz-y share GPs.
    let mut rng = ChaCha8Rng::seed_from_u64(t.seed * 1000 + u64::from(period.1.ordinal()));
    let mut av_csv = String::from("rpps,start,end\n");
    for g in &gps {
        for (s, e) in windows(g, period, &mut rng) {
            let _ = writeln!(
                av_csv,
                "{},{},{}",
                g.rpps,
                fmt(s, &mut rng),
                fmt(e, &mut rng)
            );
        }
    }
    let per_csv = format!("start,end\n{},{}\n", period.0, period.1);
    vec![
        ("cabinets.csv", cab_csv),
        ("doctors.csv", doc_csv),
        ("availability.csv", av_csv),
        ("period.csv", per_csv),
    ]
}

/// A wall-clock time, written as wall time, with its Paris offset, or in UTC.
fn fmt(t: NaiveDateTime, rng: &mut ChaCha8Rng) -> String {
    let instant = calendar::paris_instant(t).expect("generated times avoid the spring gap");
    let r = rng.random::<f64>();
    if r < 0.7 {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else if r < 0.9 {
        instant.to_rfc3339_opts(SecondsFormat::Secs, false)
    } else {
        instant.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

fn at(d: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    d.and_time(NaiveTime::from_hms_opt(h, m, 0).expect("a valid time"))
}

/// The windows of one GP over `period`, sorted, without overlaps.
fn windows(
    g: &Gp,
    (first, last): (NaiveDate, NaiveDate),
    rng: &mut ChaCha8Rng,
) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let mut w = Vec::new();
    let mut week_off = false;
    for d in first.iter_days().take_while(|d| *d <= last) {
        if d.weekday() == Weekday::Mon || d == first {
            week_off = rng.random::<f64>() < g.week_off;
        }
        if week_off {
            continue;
        }
        if g.evening_days.contains(&d.weekday()) {
            let r = rng.random::<f64>();
            if r < 0.05 {
                // Misses part of the shift.
                if rng.random::<bool>() {
                    w.push((at(d, 18, 30), at(d, 20, 30)));
                } else {
                    w.push((at(d, 17, 30), at(d, 19, 45)));
                }
            } else if r < 0.09 {
                // Touching windows, not merged: no shift covered.
                w.push((at(d, 16, 0), at(d, 19, 0)));
                w.push((at(d, 19, 0), at(d, 22, 0)));
            } else {
                w.push(match g.evening_style {
                    0 => (at(d, 17, 30), at(d, 20, 30)),
                    1 => (at(d, 18, 0), at(d, 20, 0)),
                    _ => (at(d, 17, 0), at(d, 23, 0)),
                });
            }
        }
        if d.weekday() == Weekday::Sat && rng.random::<f64>() < g.saturday {
            if rng.random::<f64>() < 0.06 {
                w.push((at(d, 9, 30), at(d, 13, 0)));
            } else {
                w.push((at(d, 8, 30), at(d, 13, 30)));
            }
        }
    }
    let days = (last - first).num_days() + 1;
    for _ in 0..g.blocks {
        let d = first + chrono::Duration::days(rng.random_range(0..days));
        let monday = d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()));
        if rng.random::<bool>() {
            // A whole week: every evening and the Saturday morning.
            w.push((
                at(monday, 8, 0),
                at(monday + chrono::Duration::days(5), 14, 0),
            ));
        } else {
            // A weekend: Friday evening to Sunday noon.
            let friday = monday + chrono::Duration::days(4);
            w.push((
                at(friday, 17, 0),
                at(friday + chrono::Duration::days(2), 12, 0),
            ));
        }
    }
    if g.holidays {
        for year in first.year()..=last.year() {
            for h in calendar::holidays(year) {
                if h.scope == HolidayScope::National && (first..=last).contains(&h.date) {
                    w.push((at(h.date, 9, 0), at(h.date, 13, 0)));
                    w.push((at(h.date, 17, 0), at(h.date, 21, 0)));
                }
            }
        }
    }
    if g.dst_special {
        let d = |s: &str| s.parse::<NaiveDate>().expect("a valid literal date");
        // Across the spring change (29 March 2026), and ending at the ambiguous 02:30 of
        // 25 October 2026 (its first occurrence, +02:00).
        for (s, e) in [
            (at(d("2026-03-27"), 17, 0), at(d("2026-03-30"), 21, 0)),
            (at(d("2026-10-24"), 20, 0), at(d("2026-10-25"), 2, 30)),
        ] {
            if first <= s.date() && e.date() <= last {
                w.push((s, e));
            }
        }
    }
    // Keep windows in start order, dropping any that overlaps one kept before it.
    let instant = |t: NaiveDateTime| calendar::paris_instant(t).expect("no spring-gap time");
    w.sort_by_key(|&(s, e)| (instant(s), instant(e)));
    let mut kept: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::with_capacity(w.len());
    for (s, e) in w {
        if kept.last().is_none_or(|&(_, pe)| instant(s) >= instant(pe)) {
            kept.push((s, e));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regenerating_gives_the_committed_bytes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let tmp = tempfile::tempdir().unwrap();
        generate_fixtures(&root.join("data"), tmp.path()).unwrap();
        for name in ["metz-q", "metz-y", "dept-y"] {
            for file in crate::import::garde::FILES {
                let a = std::fs::read(tmp.path().join(name).join(file)).unwrap();
                let b = std::fs::read(root.join(name).join(file)).unwrap();
                assert!(a == b, "{name}/{file} differs from a fresh generation");
            }
        }
    }

    #[test]
    fn generated_instances_read_back_without_error() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for name in ["metz-q", "metz-y", "dept-y"] {
            let inst = crate::import::garde::read_instance(&root.join(name)).unwrap();
            assert!(inst.doctors.len() >= 150, "{name}");
        }
    }
}
