//! What-if batches (`cpts match --without`): some doctors retire, and the batch is compared with
//! the base one.
//!
//! Both batches are ordinary exact batches ([`super::flow::solve`]); the what-if one runs on the
//! same instance with the retired doctors' capacity set to 0. The comparison, per patient:
//!
//! * a patient **loses out** when matched in the base batch and unmatched in the what-if one;
//! * a patient **gains** in the opposite case (possible: with fewer places the lexicographic
//!   optimum may give a place to another patient of the same tier, or of a higher one);
//! * per commune of residence (INSEE), the **capacity shortfall** is the number of its
//!   residents unmatched in the what-if batch minus the number unmatched in the base batch
//!   (= those who lose out − those who gain; negative when the commune gains), shown beside
//!   the **retired capacity**: the places the retired doctors practising in that commune had
//!   declared.

use super::instance::{Instance, Matching};
use std::collections::BTreeMap;

/// One retired doctor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retired {
    /// Index in the instance.
    pub doctor: u32,
    /// Places declared before retiring.
    pub capacity: u32,
    /// Patients this doctor held in the base batch.
    pub held_in_base: u64,
}

/// One commune of [`Comparison::communes`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommuneChange {
    /// Residents who lose out, per tier.
    pub lose_out: [u64; 3],
    /// Residents who gain a doctor.
    pub gain: u64,
    pub unmatched_base: u64,
    pub unmatched_whatif: u64,
    /// Places of the retired doctors practising in the commune.
    pub retired_capacity: u64,
}

impl CommuneChange {
    /// Residents unmatched in the what-if batch minus those unmatched in the base batch.
    pub fn shortfall(&self) -> i64 {
        self.unmatched_whatif as i64 - self.unmatched_base as i64
    }
}

/// The what-if batch against the base batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub retired: Vec<Retired>,
    /// Patients who lose out, per tier.
    pub lose_out: [u64; 3],
    /// Patients who gain a doctor, per tier.
    pub gain: [u64; 3],
    /// Patients matched in both batches, to different doctors.
    pub reassigned: u64,
    /// Per INSEE code, in code order: communes with a change or with retired capacity.
    pub communes: BTreeMap<String, CommuneChange>,
}

/// Sets the capacity of the `retired` doctors (indices) to 0 and returns their former
/// capacities, in the same order.
pub fn retire(inst: &mut Instance, retired: &[u32]) -> Vec<u32> {
    retired
        .iter()
        .map(|&d| std::mem::take(&mut inst.doctors[d as usize].capacity))
        .collect()
}

/// Compares the `base` and `whatif` assignments of `inst` (either capacity: only positions and
/// INSEE codes are read). `retired` pairs each retired doctor with its former capacity.
///
/// # Complexity
/// O(P log C) for P patients and C communes changed.
pub fn compare(
    inst: &Instance,
    base: &Matching,
    whatif: &Matching,
    retired: &[(u32, u32)],
) -> Comparison {
    let mut c = Comparison::default();
    let mut held = vec![0u64; inst.doctors.len()];
    for d in base.doctor_of.iter().flatten() {
        held[*d as usize] += 1;
    }
    for &(d, capacity) in retired {
        c.retired.push(Retired {
            doctor: d,
            capacity,
            held_in_base: held[d as usize],
        });
        let insee = inst.doctors[d as usize].insee.as_str().to_owned();
        c.communes.entry(insee).or_default().retired_capacity += u64::from(capacity);
    }
    // Unmatched counts of communes that change are filled in a second pass, so that communes
    // without any change stay out of the table.
    for (q, (b, w)) in base.doctor_of.iter().zip(&whatif.doctor_of).enumerate() {
        let p = &inst.patients[q];
        let k = p.tier().index();
        match (b, w) {
            (Some(_), None) => {
                c.lose_out[k] += 1;
                let e = c.communes.entry(p.insee.as_str().to_owned()).or_default();
                e.lose_out[k] += 1;
            }
            (None, Some(_)) => {
                c.gain[k] += 1;
                c.communes
                    .entry(p.insee.as_str().to_owned())
                    .or_default()
                    .gain += 1;
            }
            (Some(x), Some(y)) if x != y => c.reassigned += 1,
            _ => {}
        }
    }
    for (q, (b, w)) in base.doctor_of.iter().zip(&whatif.doctor_of).enumerate() {
        if let Some(e) = c.communes.get_mut(inst.patients[q].insee.as_str()) {
            e.unmatched_base += u64::from(b.is_none());
            e.unmatched_whatif += u64::from(w.is_none());
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MatchingDoctor, MaxKm, Patient, Rpps};
    use crate::geo::Coordinates;

    fn patient(i: usize, lat: f64, insee: &str, ald: bool) -> Patient {
        Patient {
            id: format!("p{i}").parse().unwrap(),
            coords: Coordinates::new(lat, 6.18).unwrap(),
            insee: insee.parse().unwrap(),
            age: 40,
            ald,
            css: false,
            max_km: None,
        }
    }

    fn doctor(body: &str, lat: f64, insee: &str, capacity: u32) -> MatchingDoctor {
        MatchingDoctor {
            rpps: Rpps::with_check_digit(body).unwrap(),
            name: String::new(),
            coords: Coordinates::new(lat, 6.18).unwrap(),
            insee: insee.parse().unwrap(),
            capacity,
            max_km: None,
        }
    }

    #[test]
    fn a_retired_doctor_s_patients_lose_out_by_tier_and_commune() {
        // Doctor 0 (Nancy, 2 places) holds p0 (ALD) and p1; doctor 1 (Vandœuvre, 1 place)
        // holds p2. Without doctor 0, the ALD patient p0 takes doctor 1's place: p1 (Nancy)
        // and p2 (Vandœuvre) lose out, both tier 3.
        let mut inst = Instance {
            patients: vec![
                patient(0, 48.70, "54395", true),
                patient(1, 48.70, "54395", false),
                patient(2, 48.66, "54547", false),
            ],
            doctors: vec![
                doctor("1000000001", 48.70, "54395", 2),
                doctor("1000000002", 48.66, "54547", 1),
            ],
            default_max_km: MaxKm::new(10.0).unwrap(),
            excluded: Default::default(),
        };
        let base = crate::matching::solve(&inst).unwrap().matching;
        let old = retire(&mut inst, &[0]);
        assert_eq!(old, vec![2]);
        let whatif = crate::matching::solve(&inst).unwrap().matching;
        let c = compare(&inst, &base, &whatif, &[(0, 2)]);
        assert_eq!(c.lose_out, [0, 0, 2]);
        assert_eq!(c.gain, [0, 0, 0]);
        assert_eq!(c.reassigned, 1);
        assert_eq!(c.retired[0].held_in_base, 2);
        let nancy = &c.communes["54395"];
        assert_eq!(nancy.lose_out, [0, 0, 1]);
        assert_eq!((nancy.unmatched_base, nancy.unmatched_whatif), (0, 1));
        assert_eq!((nancy.shortfall(), nancy.retired_capacity), (1, 2));
        let vandoeuvre = &c.communes["54547"];
        assert_eq!(
            (vandoeuvre.shortfall(), vandoeuvre.retired_capacity),
            (1, 0)
        );
    }
}
