//! Proposals (issue 17): a committed batch's assignment, offered to the GP, and what becomes
//! of it. The state machine lives here, as data: [`Action::from_states`] says from which
//! states each action may be taken, and the store applies it in the `WHERE` clause of one
//! `UPDATE` (so two racing answers cannot both win).
//!
//! ```text
//!   proposed ──accept──▶ accepted ──attach──▶ attached
//!      │ │                  │ │
//!      │ └──refuse──▶ refused ◀──refuse (patient)
//!      ├──(deadline)──▶ expired
//!      └──withdraw──▶ withdrawn ◀──withdraw
//! ```
//!
//! `proposed` and `accepted` hold their patient and one place of their doctor; `attached`
//! holds the patient for good (it is no longer an orphan) and uses the place. A refused pair
//! is never proposed again (FORMATS.md §2, `exclusions.csv`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a proposal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    /// Sent to the GP, awaiting his answer until the deadline.
    Proposed,
    /// The GP accepts the patient; awaiting the déclaration de médecin traitant.
    Accepted,
    /// The déclaration is recorded: the patient has a médecin traitant.
    Attached,
    /// The GP, or the patient, refused this pairing.
    Refused,
    /// The GP did not answer before the deadline.
    Expired,
    /// The patient found a doctor elsewhere, or left.
    Withdrawn,
}

impl ProposalState {
    pub const ALL: [ProposalState; 6] = [
        ProposalState::Proposed,
        ProposalState::Accepted,
        ProposalState::Attached,
        ProposalState::Refused,
        ProposalState::Expired,
        ProposalState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalState::Proposed => "proposed",
            ProposalState::Accepted => "accepted",
            ProposalState::Attached => "attached",
            ProposalState::Refused => "refused",
            ProposalState::Expired => "expired",
            ProposalState::Withdrawn => "withdrawn",
        }
    }

    /// Whether the proposal still holds a place of its doctor (and its patient).
    pub fn holds_place(self) -> bool {
        matches!(self, ProposalState::Proposed | ProposalState::Accepted)
    }

    /// Whether nothing can happen to the proposal any more.
    pub fn is_final(self) -> bool {
        !self.holds_place()
    }
}

impl fmt::Display for ProposalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not a proposal state, or not a refusal reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected one of {expected}")]
pub struct UnknownCode {
    pub expected: &'static str,
}

impl FromStr for ProposalState {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, UnknownCode> {
        ProposalState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(UnknownCode {
                expected: "proposed, accepted, attached, refused, expired, withdrawn",
            })
    }
}

/// Why a pairing was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// No place left after all.
    Capacity,
    /// Too far.
    Distance,
    /// The patient's needs do not fit the practice.
    Profile,
    Other,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 4] = [
        RefusalReason::Capacity,
        RefusalReason::Distance,
        RefusalReason::Profile,
        RefusalReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Capacity => "capacity",
            RefusalReason::Distance => "distance",
            RefusalReason::Profile => "profile",
            RefusalReason::Other => "other",
        }
    }
}

impl FromStr for RefusalReason {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, UnknownCode> {
        RefusalReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownCode {
                expected: "capacity, distance, profile, other",
            })
    }
}

/// Who refused a pairing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusedBy {
    /// The GP, answering the proposal.
    Doctor,
    /// The patient, as recorded by CPAM staff.
    Patient,
}

impl RefusedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusedBy::Doctor => "doctor",
            RefusedBy::Patient => "patient",
        }
    }
}

impl FromStr for RefusedBy {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, UnknownCode> {
        match s {
            "doctor" => Ok(RefusedBy::Doctor),
            "patient" => Ok(RefusedBy::Patient),
            _ => Err(UnknownCode {
                expected: "doctor, patient",
            }),
        }
    }
}

/// Something done to a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The GP accepts (before the deadline).
    Accept,
    /// The GP refuses (before the deadline), or CPAM records the patient's refusal.
    Refuse(RefusedBy, RefusalReason),
    /// The deadline passed without an answer.
    Expire,
    /// CPAM records the déclaration de médecin traitant.
    Attach,
    /// CPAM withdraws the proposal: the patient found a doctor elsewhere, or left.
    Withdraw,
}

impl Action {
    /// The states this action may be taken from.
    pub fn from_states(self) -> &'static [ProposalState] {
        use ProposalState::{Accepted, Proposed};
        match self {
            Action::Accept | Action::Expire | Action::Refuse(RefusedBy::Doctor, _) => &[Proposed],
            Action::Refuse(RefusedBy::Patient, _) | Action::Withdraw => &[Proposed, Accepted],
            Action::Attach => &[Accepted],
        }
    }

    /// The state it leads to.
    pub fn to_state(self) -> ProposalState {
        match self {
            Action::Accept => ProposalState::Accepted,
            Action::Refuse(..) => ProposalState::Refused,
            Action::Expire => ProposalState::Expired,
            Action::Attach => ProposalState::Attached,
            Action::Withdraw => ProposalState::Withdrawn,
        }
    }

    /// The audit action's name (`proposal.accept`, …).
    pub fn audit_name(self) -> &'static str {
        match self {
            Action::Accept => "proposal.accept",
            Action::Refuse(..) => "proposal.refuse",
            Action::Expire => "proposal.expire",
            Action::Attach => "proposal.attach",
            Action::Withdraw => "proposal.withdraw",
        }
    }

    /// Whether the action must come before the deadline (the GP's answers).
    pub fn before_deadline(self) -> bool {
        matches!(self, Action::Accept | Action::Refuse(RefusedBy::Doctor, _))
    }

    /// Whether `self` may be taken from `state`.
    pub fn allowed_from(self, state: ProposalState) -> bool {
        self.from_states().contains(&state)
    }
}

/// Days a GP has to answer, when the batch's commit does not say (issue 17).
pub const DEFAULT_DEADLINE_DAYS: u32 = 15;
/// The longest deadline a commit may set.
pub const MAX_DEADLINE_DAYS: u32 = 90;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_allows_exactly_the_drawn_transitions() {
        use ProposalState::*;
        let reason = RefusalReason::Other;
        let actions = [
            Action::Accept,
            Action::Refuse(RefusedBy::Doctor, reason),
            Action::Refuse(RefusedBy::Patient, reason),
            Action::Expire,
            Action::Attach,
            Action::Withdraw,
        ];
        let mut allowed = Vec::new();
        for a in actions {
            for s in ProposalState::ALL {
                if a.allowed_from(s) {
                    allowed.push((s, a.to_state()));
                }
            }
        }
        allowed.sort();
        allowed.dedup();
        assert_eq!(
            allowed,
            vec![
                (Proposed, Accepted),
                (Proposed, Refused),
                (Proposed, Expired),
                (Proposed, Withdrawn),
                (Accepted, Attached),
                (Accepted, Refused),
                (Accepted, Withdrawn),
            ]
        );
        // Nothing leaves a final state.
        for s in ProposalState::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(actions.iter().all(|a| !a.allowed_from(s)), "{s}");
        }
    }

    #[test]
    fn codes_round_trip_and_unknown_ones_name_the_expected_values() {
        for s in ProposalState::ALL {
            assert_eq!(s.as_str().parse::<ProposalState>(), Ok(s));
        }
        for r in RefusalReason::ALL {
            assert_eq!(r.as_str().parse::<RefusalReason>(), Ok(r));
        }
        let e = "busy".parse::<RefusalReason>().unwrap_err();
        assert!(e.to_string().contains("capacity, distance"));
        assert!("Proposed".parse::<ProposalState>().is_err());
    }

    #[test]
    fn only_the_doctors_answers_are_bound_by_the_deadline() {
        assert!(Action::Accept.before_deadline());
        assert!(Action::Refuse(RefusedBy::Doctor, RefusalReason::Capacity).before_deadline());
        assert!(!Action::Refuse(RefusedBy::Patient, RefusalReason::Other).before_deadline());
        assert!(!Action::Attach.before_deadline());
        assert!(!Action::Withdraw.before_deadline());
    }
}
