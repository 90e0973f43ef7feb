//! The garde instance reader (FORMATS.md §3) from any bytes, split on 0xFF into
//! `cabinets.csv`, `doctors.csv`, `availability.csv` and `period.csv`: no panic; a refused
//! instance lists at most `MAX_ERRORS` errors per file in (line, column) order; an accepted
//! one keeps the written invariants (unique ids, need and slot length in range, windows sorted,
//! non-empty and disjoint, period in 2000–2099), and on short periods its shift candidates are
//! exactly the doctors a brute force finds (available for the whole shift, within max_km).
#![no_main]

use cpts::import::garde::{FILES, parse_instance};
use cpts::import::{Error, MAX_ERRORS};
use cpts::garde::instance::{Eligibility, MAX_NEED};
use cpts::geo::{cost_m, haversine_m};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xFF);
    let mut next = || parts.next().unwrap_or(&[]);
    let (cabinets, doctors, availability, period) = (next(), next(), next(), next());
    match parse_instance(cabinets, doctors, availability, period) {
        Ok(inst) => {
            let ids: HashSet<_> = inst.cabinets.iter().map(|c| c.id.clone()).collect();
            assert_eq!(ids.len(), inst.cabinets.len());
            for c in &inst.cabinets {
                assert!((1..=MAX_NEED).contains(&c.need));
                assert!(c.slot_minutes >= 1 && 120 % c.slot_minutes == 0);
            }
            let rpps: HashSet<_> = inst.doctors.iter().map(|d| d.rpps.clone()).collect();
            assert_eq!(rpps.len(), inst.doctors.len());
            assert_eq!(inst.windows.len(), inst.doctors.len());
            for ws in &inst.windows {
                for w in ws {
                    assert!(w.start < w.end);
                }
                for pair in ws.windows(2) {
                    assert!(pair[0].end <= pair[1].start, "overlap accepted: {pair:?}");
                }
            }
            let (start, end) = (inst.period.start(), inst.period.end());
            assert!(start <= end);
            assert!((2000..=2099).contains(&chrono::Datelike::year(&start)));
            assert!((2000..=2099).contains(&chrono::Datelike::year(&end)));
            if (end - start).num_days() > 62 || inst.cabinets.len() * inst.doctors.len() > 400 {
                return;
            }
            let el = Eligibility::new(&inst);
            assert_eq!(el.candidates.len(), el.shifts.len());
            for (shift, candidates) in el.shifts.iter().zip(&el.candidates) {
                assert!(shift.start < shift.end && start <= shift.date && shift.date <= end);
                let cab = &inst.cabinets[shift.cabinet];
                let expected: Vec<(u32, u32)> = inst
                    .doctors
                    .iter()
                    .enumerate()
                    .filter_map(|(d, doc)| {
                        let m = haversine_m(doc.coords, cab.coords);
                        let covered = inst.windows[d]
                            .iter()
                            .any(|w| w.covers(shift.start, shift.end));
                        (doc.max_shifts > 0 && covered && m <= doc.max_km.metres())
                            .then(|| (d as u32, cost_m(m)))
                    })
                    .collect();
                let got: Vec<(u32, u32)> =
                    candidates.iter().map(|c| (c.doctor, c.metres)).collect();
                assert_eq!(got, expected, "candidates of {shift:?}");
            }
        }
        Err(Error::Io { .. }) => panic!("I/O error from memory"),
        Err(Error::Invalid(report)) => {
            assert!(report.files().next().is_some());
            for (file, found) in report.files() {
                assert!(FILES.contains(&file));
                let listed: Vec<_> = report.iter().filter(|e| e.file == file).collect();
                assert!(!listed.is_empty() && listed.len() <= MAX_ERRORS);
                assert!(found >= listed.len() as u64);
                for pair in listed.windows(2) {
                    let (a, b) = (pair[0], pair[1]);
                    assert!((a.line, a.column) <= (b.line, b.column), "{a:?} then {b:?}");
                }
            }
        }
    }
});
