//! Who is calling: bearer-token extractors.
//!
//! * [`Caller`]: any valid token. Use it when several roles share a route, then call
//!   [`Caller::require`] / [`Caller::require_own_rpps`].
//! * [`CpamStaff`], [`Regulateur`], [`Medecin`], [`Coordinateur`]: exactly that role, else 403.
//!   A [`Medecin`] carries its RPPS; [`Medecin::require_own`] refuses any other (403).
//! * [`OwnRpps`]: a médecin on a route with an `{rpps}` segment, which must be its own; it
//!   checks before the body is read, so a 403 never hides behind a 422 of the body.
//!
//! * [`Auditeur`]: an auditor token (reads the audit trail). [`Admin`]: manages territories.
//!
//! Every caller carries its [`Scope`] (issue 16). Handlers filter by it, in SQL where they
//! list: an object out of the caller's scope answers 404, exactly like an object that does
//! not exist, so existence does not leak. [`Caller::cpts`] is a coordinator's CPTS,
//! [`Caller::sas`] a régulateur's SAS (its scope, canonical).
//!
//! No token, or a malformed, unknown, revoked, expired or wrong one: the same 401, same body
//! (`tests/api/tokens.rs` compares them byte for byte). Put the
//! auth extractor first among a handler's arguments, so 401/403 come before 404/422.
//!
//! A token's row is read through [`crate::tokens::TokenCache`]: a revocation reaches a running
//! server within `--token-cache-seconds` (5 s by default); expiry is checked on every request.

use super::AppState;
use super::error::ApiError;
use crate::domain::{CptsId, Role, Rpps, Scope};
use crate::store::{Actor, Store};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

/// The holder of a valid token.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token's public id (safe to log).
    pub token_id: String,
    pub role: Role,
    /// Set for a médecin, and only for one.
    pub rpps: Option<Rpps>,
    /// The territories the token is bound to.
    pub scope: Scope,
}

impl Caller {
    /// Who the audit trail records for this caller's writes.
    pub fn actor(&self) -> Actor {
        Actor {
            token_id: self.token_id.clone(),
            role: self.role,
            scope: self.scope.clone(),
        }
    }

    /// A coordinator's CPTS; `None` for a national caller (a token from before scopes), who
    /// sees every CPTS.
    pub fn cpts(&self) -> Option<&CptsId> {
        self.scope.cpts()
    }

    /// The SAS a régulateur works for: its scope, canonical (`dep:54`). Colleagues of one SAS
    /// hold tokens of the same scope and see each other's bookings.
    pub fn sas(&self) -> String {
        self.scope.to_string()
    }

    /// The SAS whose bookings this caller reads and cancels; `None` for a national token
    /// (from before scopes), which reads them all.
    pub fn sas_filter(&self) -> Option<String> {
        (self.scope != Scope::National).then(|| self.sas())
    }

    /// The state's store, recording this caller as the author of its writes.
    pub fn store(&self, state: &AppState) -> Store {
        state.store.acting_as(self.actor())
    }

    /// 403 unless the caller has one of `roles`.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "this requires the role {}",
                names.join(" or ")
            )))
        }
    }

    /// 403 unless the caller is the médecin with this RPPS.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub fn require_own_rpps(&self, rpps: &Rpps) -> Result<(), ApiError> {
        self.require(&[Role::Medecin])?;
        if self.rpps.as_ref() == Some(rpps) {
            Ok(())
        } else {
            Err(forbidden_other_rpps())
        }
    }
}

fn forbidden_other_rpps() -> ApiError {
    ApiError::Forbidden("a médecin acts only on its own RPPS".to_owned())
}

/// The subject of a client certificate verified during the TLS handshake (`startup::tls`):
/// its first CN and first OU. `cpts cert map` binds a subject to a principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    pub cn: String,
    pub ou: String,
}

/// The token of an `Authorization: Bearer …` header (scheme case-insensitive, RFC 9110 §11.1).
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // A bearer token wins; without one, a client certificate mapped to a principal; then a
        // signed-in person's session cookie, whose state-changing requests carry its CSRF token.
        let record = match (bearer(parts), parts.extensions.get::<ClientIdentity>()) {
            (Some(presented), _) => state
                .token_cache
                .authenticate(&state.store, &state.token_key, presented)
                .await?
                .ok_or(ApiError::Unauthenticated)?,
            (None, Some(identity)) => state
                .store
                .token_for_certificate(&identity.cn, &identity.ou, chrono::Utc::now().timestamp())
                .await?
                .ok_or(ApiError::Unauthenticated)?,
            (None, None) => {
                let session = super::signin::session_of(parts, state)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?;
                if !parts.method.is_safe() {
                    super::signin::check_csrf(parts, &session.csrf)?;
                }
                session.grant
            }
        };
        tracing::Span::current().record("token", record.id.as_str());
        Ok(Caller {
            token_id: record.id,
            role: record.role,
            rpps: record.rpps,
            scope: record.scope,
        })
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, ApiError> {
                let caller = Caller::from_request_parts(parts, state).await?;
                caller.require(&[$role])?;
                Ok(Self(caller))
            }
        }
    };
}

role_extractor!(
    /// A CPAM staff token.
    CpamStaff,
    Role::Cpam
);
role_extractor!(
    /// A Centre 15 régulateur token.
    Regulateur,
    Role::Regulateur
);
role_extractor!(
    /// A CPTS coordinator token.
    Coordinateur,
    Role::Coordinateur
);
role_extractor!(
    /// An auditor token.
    Auditeur,
    Role::Auditeur
);
role_extractor!(
    /// An administrator token: territories.
    Admin,
    Role::Admin
);

/// A médecin token, with the RPPS it is bound to.
#[derive(Clone, Debug)]
pub struct Medecin {
    pub caller: Caller,
    pub rpps: Rpps,
}

impl Medecin {
    /// 403 unless `rpps` is this médecin's own.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub fn require_own(&self, rpps: &Rpps) -> Result<(), ApiError> {
        if &self.rpps == rpps {
            Ok(())
        } else {
            Err(forbidden_other_rpps())
        }
    }
}

impl FromRequestParts<AppState> for Medecin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(&[Role::Medecin])?;
        let rpps = caller.rpps.clone().ok_or_else(|| {
            // The tokens table's CHECK binds every médecin token to an RPPS.
            ApiError::Internal("a medecin token without an RPPS".into())
        })?;
        Ok(Medecin { caller, rpps })
    }
}

/// A médecin acting on the `{rpps}` segment of the route, which is its own: 422 (naming the
/// parameter) when the segment is not an RPPS, 403 when it is another one. The second field
/// is the caller, for the audit trail ([`Caller::store`]).
#[derive(Clone, Debug)]
pub struct OwnRpps(pub Rpps, pub Caller);

impl FromRequestParts<AppState> for OwnRpps {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let medecin = Medecin::from_request_parts(parts, state).await?;
        let rpps = rpps_segment(parts, state).await?;
        medecin.require_own(&rpps)?;
        Ok(OwnRpps(rpps, medecin.caller))
    }
}

/// The route's `{rpps}` segment: 422 naming the parameter when it is not an RPPS.
async fn rpps_segment(parts: &mut Parts, state: &AppState) -> Result<Rpps, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let raw = params
        .iter()
        .find_map(|(k, v)| (k == "rpps").then_some(v))
        .ok_or_else(|| {
            ApiError::Internal("an {rpps} extractor on a route without {rpps}".into())
        })?;
    super::parse_param("rpps", raw)
}

/// A reader of the doctor on the route's `{rpps}` segment: the médecin itself, or a
/// coordinator whose CPTS the doctor serves ([`may_see_doctor`]); 403 for another médecin or
/// role, 404 for a doctor out of the coordinator's territory (or unknown).
#[derive(Clone, Debug)]
pub struct ReadableRpps(pub Rpps, pub Caller);

impl FromRequestParts<AppState> for ReadableRpps {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(&[Role::Medecin, Role::Coordinateur])?;
        let rpps = rpps_segment(parts, state).await?;
        if caller.role == Role::Medecin {
            caller.require_own_rpps(&rpps)?;
        } else {
            let doctor = state.store.doctor(&rpps).await?;
            let visible = match &doctor {
                Some(d) => may_see_doctor(state, &caller, &d.doctor.insee).await?,
                None => false,
            };
            if !visible {
                return Err(ApiError::NotFound(
                    "no doctor with this RPPS in this territory".to_owned(),
                ));
            }
        }
        Ok(ReadableRpps(rpps, caller))
    }
}

/// The départements a coordinator's doctors practise in.
pub enum Coordinated {
    /// A national token (from before scopes): every doctor.
    All,
    /// Those of the communes of its CPTS (none when the CPTS is gone).
    Within(std::collections::BTreeSet<crate::domain::Departement>),
}

/// The départements of `caller`'s CPTS (see [`Coordinated`]), read from the database.
///
/// # Errors
/// 503 when the database does not answer.
pub async fn coordinator_departements(
    state: &AppState,
    caller: &Caller,
) -> Result<Coordinated, ApiError> {
    Ok(match caller.cpts() {
        None if caller.scope == Scope::National => Coordinated::All,
        None => Coordinated::Within(Default::default()),
        Some(id) => Coordinated::Within(
            state
                .store
                .cpts(id)
                .await?
                .map(|c| c.departements())
                .unwrap_or_default(),
        ),
    })
}

/// Whether `caller` (CPAM staff or a coordinator) may see a doctor practising in commune
/// `insee`: CPAM staff those of their départements; a coordinator those of the départements
/// its CPTS's communes lie in (the doctors who serve its cabinets); a national token all.
///
/// # Errors
/// 503 when the database does not answer.
pub async fn may_see_doctor(
    state: &AppState,
    caller: &Caller,
    insee: &crate::domain::InseeCode,
) -> Result<bool, ApiError> {
    Ok(match caller.role {
        Role::Cpam => caller.scope.covers_commune(insee),
        Role::Coordinateur => match coordinator_departements(state, caller).await? {
            Coordinated::All => true,
            Coordinated::Within(deps) => deps.contains(&insee.departement()),
        },
        Role::Medecin => caller.rpps.is_some(),
        Role::Regulateur | Role::Auditeur | Role::Admin => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(auth: Option<&str>) -> Parts {
        let mut b = axum::http::Request::builder();
        if let Some(a) = auth {
            b = b.header(AUTHORIZATION, a);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_reads_the_scheme_case_insensitively() {
        assert_eq!(bearer(&parts(Some("Bearer abc"))), Some("abc"));
        assert_eq!(bearer(&parts(Some("bearer  abc "))), Some("abc"));
        assert_eq!(bearer(&parts(Some("Basic abc"))), None);
        assert_eq!(bearer(&parts(Some("Bearer"))), None);
        assert_eq!(bearer(&parts(None)), None);
    }

    #[test]
    fn roles_and_rpps_are_checked() {
        let rpps: Rpps = "10000000009".parse().unwrap();
        let other: Rpps = "10123456781".parse().unwrap();
        let medecin = Caller {
            token_id: "t".into(),
            role: Role::Medecin,
            rpps: Some(rpps.clone()),
            scope: Scope::National,
        };
        assert!(medecin.require(&[Role::Medecin, Role::Cpam]).is_ok());
        assert!(matches!(
            medecin.require(&[Role::Cpam]),
            Err(ApiError::Forbidden(_))
        ));
        assert!(medecin.require_own_rpps(&rpps).is_ok());
        assert!(matches!(
            medecin.require_own_rpps(&other),
            Err(ApiError::Forbidden(_))
        ));
        let cpam = Caller {
            token_id: "t".into(),
            role: Role::Cpam,
            rpps: None,
            scope: "dep:54".parse().unwrap(),
        };
        assert!(matches!(
            cpam.require_own_rpps(&rpps),
            Err(ApiError::Forbidden(_))
        ));
    }
}
