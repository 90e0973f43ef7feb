//! The authorisation matrix (issue 16): for every route and method of the OpenAPI document,
//! what each principal gets when it acts on the objects of territory A (Meurthe-et-Moselle,
//! `dep:54`, and the Grand Nancy CPTS). `tests/api/authz.rs` sends every request of the
//! matrix to the running service and compares; a route without a row fails that test.
//!
//! The rules themselves live in the handlers ([`super::auth`] and the store's filters); this
//! table is their specification, kept beside them.
//!
//! Principals, in the order of each row's `expect` string:
//!
//! | # | principal | scope |
//! |---|---|---|
//! | 0 | CPAM A | `dep:54` |
//! | 1 | CPAM B | `dep:57` |
//! | 2 | régulateur A (SAS 54) | `dep:54` |
//! | 3 | régulateur B (SAS 57) | `dep:57` |
//! | 4 | coordinateur A | `cpts:grand_nancy` |
//! | 5 | coordinateur B | `cpts:territoire_messin` |
//! | 6 | médecin A (a GP of Nancy, the object's doctor) | its RPPS |
//! | 7 | médecin B (a GP of Metz) | its RPPS |
//! | 8 | auditeur A | `dep:54` |
//! | 9 | auditeur B | `dep:57` |
//! | 10 | admin | national |
//!
//! Each character: `o` allowed (the answer is neither 401, 403 nor 404: a 2xx, or a 409/422
//! about the request itself), `h` hidden (404: out of the principal's territory, answered
//! exactly as a missing object), `f` forbidden (403: the role may not do this at all). A
//! request without a token gets 401 everywhere but the `public` rows.

/// The principals of the matrix, in column order.
pub const PRINCIPALS: [&str; 11] = [
    "cpam_a",
    "cpam_b",
    "regulateur_a",
    "regulateur_b",
    "coordinateur_a",
    "coordinateur_b",
    "medecin_a",
    "medecin_b",
    "auditeur_a",
    "auditeur_b",
    "admin",
];

/// One route and method, and what each principal gets.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub method: &'static str,
    /// The OpenAPI path template.
    pub path: &'static str,
    /// One character per principal of [`PRINCIPALS`]: `o`, `h` or `f`.
    pub expect: &'static str,
    /// Answers without a token too (health probes).
    pub public: bool,
}

const fn rule(method: &'static str, path: &'static str, expect: &'static str) -> Rule {
    Rule {
        method,
        path,
        expect,
        public: false,
    }
}

/// Every route of the API.
pub const MATRIX: &[Rule] = &[
    Rule {
        method: "GET",
        path: "/healthz",
        expect: "ooooooooooo",
        public: true,
    },
    Rule {
        method: "GET",
        path: "/readyz",
        expect: "ooooooooooo",
        public: true,
    },
    // Territories: public knowledge for every principal; managed by the admin.
    rule("GET", "/territories", "ooooooooooo"),
    rule("GET", "/territories/{id}", "ooooooooooo"),
    rule("PUT", "/territories/{id}", "ffffffffffo"),
    rule("DELETE", "/territories/{id}", "ffffffffffo"),
    // The commune list the binary carries: public reference data, for every principal.
    rule("GET", "/communes", "ooooooooooo"),
    // Grants of roles to people who sign in (OpenID Connect): the admin's.
    rule("POST", "/grants", "ffffffffffo"),
    rule("GET", "/grants", "ffffffffffo"),
    rule("DELETE", "/grants/{id}", "ffffffffffo"),
    // The audit trail: auditeurs, each of its own territory (filtered, not refused).
    rule("GET", "/audit", "ffffffffoof"),
    // CPAM: imports of their own départements (B's import of a 54 commune is a 422).
    rule("POST", "/imports/patients", "ooffffffff f"),
    rule("POST", "/imports/doctors", "ooffffffff f"),
    rule("DELETE", "/patients/{patient_id}", "ohffffffff f"),
    // Coordinators: bulk garde doctors and availability of their CPTS's départements (B's
    // import of A's doctor is a 422).
    rule("POST", "/imports/garde-doctors", "ffffooffff f"),
    rule("POST", "/imports/availability", "ffffooffff f"),
    // Batches: A's batch is hidden from B; B may not launch one on A's communes.
    rule("GET", "/batches", "ooffffffff f"),
    rule("POST", "/batches", "offfffffff f"),
    rule("GET", "/batches/{id}/assignments", "ohffffffff f"),
    rule("GET", "/batches/{id}/unmatched", "ohffffffff f"),
    rule("GET", "/batches/{id}/map", "ohffffffff f"),
    rule("GET", "/batches/{id}/instance", "ohffffffff f"),
    rule("POST", "/batches/{id}/commit", "ohffffffff f"),
    // Proposals: the GP they are addressed to, and CPAM staff of the patient's département.
    rule("GET", "/proposals", "ooffffooff f"),
    rule("GET", "/proposals/{id}", "ohffffohff f"),
    // Each listener hears only of its own proposals (filtered, not refused).
    rule("GET", "/proposals/events", "ooffffooff f"),
    rule("POST", "/proposals/{id}/accept", "ffffffohff f"),
    rule("POST", "/proposals/{id}/refuse", "ohffffohff f"),
    rule("POST", "/proposals/{id}/withdraw", "ohffffffff f"),
    rule("POST", "/proposals/{id}/attach", "ohffffffff f"),
    rule("GET", "/patients", "ooffffffff f"),
    rule("GET", "/reports/attachment", "ooffffffff f"),
    rule("GET", "/jobs", "ooffooffff f"),
    rule("GET", "/jobs/{id}", "ohffhhffff f"),
    // Doctors: the médecin itself; CPAM staff and coordinators of its territory.
    rule("GET", "/doctors/{rpps}", "ohffohofff f"),
    rule("PUT", "/doctors/{rpps}/capacity", "ffffffofff f"),
    rule("POST", "/doctors/{rpps}/availability", "ffffffofff f"),
    rule("GET", "/doctors/{rpps}/availability", "ffffohofff f"),
    rule("GET", "/doctors/{rpps}/availability/{id}", "ffffohofff f"),
    rule(
        "DELETE",
        "/doctors/{rpps}/availability/{id}",
        "ffffffofff f",
    ),
    rule("GET", "/doctors/{rpps}/garde", "ffffohofff f"),
    // The calendar feed: its secret URL is the credential (read before the rows that renew
    // and revoke it).
    Rule {
        method: "GET",
        path: "/calendar/{feed}",
        expect: "ooooooooooo",
        public: true,
    },
    rule("POST", "/doctors/{rpps}/calendar", "ffffffofff f"),
    rule("DELETE", "/doctors/{rpps}/calendar", "ffffffofff f"),
    rule("PUT", "/doctors/{rpps}/garde", "ffffffofff f"),
    // Garde wishes: the médecin's own; its coordinator reads them.
    rule("GET", "/doctors/{rpps}/garde/preferences", "ffffohofff f"),
    rule(
        "PUT",
        "/doctors/{rpps}/garde/preferences/{date}",
        "ffffffofff f",
    ),
    rule(
        "DELETE",
        "/doctors/{rpps}/garde/preferences/{date}",
        "ffffffofff f",
    ),
    // Cabinets and plans: the coordinator of their CPTS.
    rule("POST", "/cabinets", "ffffooffff f"),
    rule("GET", "/cabinets", "ffffooffff f"),
    rule("GET", "/cabinets/{cabinet_id}", "ffffohffff f"),
    rule("PUT", "/cabinets/{cabinet_id}", "ffffohffff f"),
    rule("DELETE", "/cabinets/{cabinet_id}", "ffffohffff f"),
    rule("GET", "/garde/plans", "ffffooffff f"),
    rule("POST", "/garde/plans", "ffffooffff f"),
    rule("GET", "/garde/plans/{id}/roster", "ffffohffff f"),
    rule("GET", "/garde/plans/{id}/diff", "ffffohffff f"),
    // The tableau de garde: each coordinator gets his own CPTS's cabinets (filtered).
    rule("GET", "/garde/tableau", "ffffooffff f"),
    rule("GET", "/garde/carence", "ffffooffff f"),
    rule("GET", "/garde/plans/{id}/unfilled", "ffffohffff f"),
    rule("POST", "/garde/plans/{id}/publish", "ffffohffff f"),
    // Repairs (after the publication above): a coordinator takes a doctor off a shift of its
    // CPTS's cabinets (B: 404); a régulateur lists its SAS's flagged bookings (filtered).
    rule("POST", "/garde/withdrawals", "ffffohffff f"),
    rule("GET", "/garde/withdrawals", "ffffooffff f"),
    rule("GET", "/bookings/flagged", "ffooffffff f"),
    // The bourse aux gardes: médecins offer and take; a coordinator lists and approves its
    // CPTS's offers. The offer ids of the matrix name no offer: the authorised get 404
    // (tests/api/garde_swaps.rs takes, approves and cancels real ones).
    rule("POST", "/garde/offers", "ffffffohff f"),
    rule("GET", "/garde/offers", "ffffooooff f"),
    rule("POST", "/garde/offers/{id}/take", "ffffffhhff f"),
    rule("POST", "/garde/offers/{id}/approve", "ffffhhffff f"),
    rule("DELETE", "/garde/offers/{id}", "ffffffhhff f"),
    // Slots: régulateurs search, hold and book anywhere (a patient near a border may be sent
    // across it); bookings are read and cancelled by the SAS that made them.
    rule("GET", "/slots", "ffooffffff f"),
    rule("GET", "/slots/events", "ffoooofff ff"),
    rule("POST", "/slots/{slot_id}/hold", "ffooffffff f"),
    rule("DELETE", "/slots/{slot_id}/hold", "ffooffffff f"),
    rule("POST", "/slots/{slot_id}/bookings", "ffooffffff f"),
    rule("GET", "/bookings", "ffooffffff f"),
    rule("GET", "/bookings/{booking_id}", "ffohffffff f"),
    rule("DELETE", "/bookings/{booking_id}", "ffohffffff f"),
    // FHIR for the SAS (issue 19): régulateurs (and the SAS aggregator's certificate, mapped to
    // a régulateur token) read the slots of any territory, as on /slots; the capabilities are
    // public. The matrix's Schedule id names none: the authorised get 404.
    Rule {
        method: "GET",
        path: "/fhir/metadata",
        expect: "ooooooooooo",
        public: true,
    },
    rule("GET", "/fhir/Slot", "ffooffffff f"),
    rule("GET", "/fhir/Slot/{id}", "ffooffffff f"),
    rule("GET", "/fhir/Schedule/{id}", "ffhhffffff f"),
    rule("GET", "/fhir/Practitioner", "ffooffffff f"),
    // SMART Scheduling Links: the public slots, for any aggregator, without a token.
    Rule {
        method: "GET",
        path: "/fhir/$bulk-publish",
        expect: "ooooooooooo",
        public: true,
    },
    Rule {
        method: "GET",
        path: "/fhir/$bulk-publish/{file}",
        expect: "ooooooooooo",
        public: true,
    },
];

/// The expectation of principal `i` on `rule`, spaces ignored (they group the columns).
pub fn expectation(rule: &Rule, i: usize) -> Option<char> {
    rule.expect.chars().filter(|c| !c.is_whitespace()).nth(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_each_principal_once_and_each_route_once() {
        let mut seen = std::collections::HashSet::new();
        for r in MATRIX {
            let cells: Vec<char> = r.expect.chars().filter(|c| !c.is_whitespace()).collect();
            assert_eq!(cells.len(), PRINCIPALS.len(), "{} {}", r.method, r.path);
            assert!(
                cells.iter().all(|c| matches!(c, 'o' | 'h' | 'f')),
                "{} {}",
                r.method,
                r.path
            );
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
        }
    }

    #[test]
    fn every_route_of_the_openapi_document_has_a_row_and_no_row_is_stale() {
        let doc = super::super::openapi();
        let mut documented = Vec::new();
        for (path, item) in &doc.paths.paths {
            for (method, op) in [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ] {
                if op.is_some() {
                    documented.push((method, path.as_str()));
                }
            }
        }
        for (method, path) in &documented {
            assert!(
                MATRIX
                    .iter()
                    .any(|r| r.method == *method && r.path == *path),
                "{method} {path} has no row in api::authz::MATRIX"
            );
        }
        for r in MATRIX {
            assert!(
                documented.contains(&(r.method, r.path)),
                "{} {} is in the matrix but not in the OpenAPI document",
                r.method,
                r.path
            );
        }
    }
}
