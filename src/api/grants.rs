//! Grants (issue 16): what people who sign in with OpenID Connect may do. An admin grants a
//! role and its territory to an identity (`rpps:<RPPS>` for a professional of Pro Santé
//! Connect, `sub:<subject>` for a staff identity of another issuer), lists the grants, and
//! revokes one: its sessions end at once. Each change is audited. `cpts grant` does the same
//! from the command line.

use super::{Admin, ApiError, AppState, FieldError, Json, Path, Problem};
use crate::domain::{Identity, Role, Scope};
use crate::store::TokenRecord;
use crate::tokens::CreateError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_grant, list_grants))
        .routes(routes!(revoke_grant))
}

/// A role to grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// `rpps:<RPPS>` (a professional signing in with Pro Santé Connect) or `sub:<subject>` (a
    /// staff identity of another issuer).
    #[schema(example = "rpps:10000000009")]
    pub identity: String,
    /// `cpam`, `regulateur`, `coordinateur`, `medecin` (to its own RPPS), `auditeur` or
    /// `admin`.
    #[schema(example = "coordinateur")]
    pub role: String,
    /// As tokens: `dep:54`, `dep:54,dep:55`, `cpts:grand_nancy`, or `national`; a médecin's
    /// is `national` (it acts on its own RPPS).
    #[schema(example = "cpts:grand_nancy")]
    pub scope: String,
}

/// A grant.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    pub id: String,
    pub identity: String,
    pub role: String,
    pub scope: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<TokenRecord> for GrantView {
    fn from(t: TokenRecord) -> Self {
        Self {
            id: t.id,
            identity: t.oidc_subject.unwrap_or_default(),
            role: t.role.as_str().to_owned(),
            scope: t.scope.to_string(),
            created_at: super::wire::utc(t.created_at),
            revoked_at: t.revoked_at.map(super::wire::utc),
        }
    }
}

/// Grants a role and its territory to an identity.
#[utoipa::path(post, path = "/grants", tag = "territories",
    security(("bearer" = [])),
    request_body = GrantRequest,
    responses(
        (status = 201, description = "Granted", body = GrantView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The identity holds this role and scope already", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid field (`pointer`): identity, role, a scope that does not fit the role, an unknown CPTS", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_grant(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Json(body): Json<GrantRequest>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let identity = body
        .identity
        .parse::<Identity>()
        .map_err(|e| errors.push(FieldError::at_pointer("#/identity", e.to_string())))
        .ok();
    let role = body
        .role
        .parse::<Role>()
        .map_err(|e| errors.push(FieldError::at_pointer("#/role", e.to_string())))
        .ok();
    let scope = body
        .scope
        .parse::<Scope>()
        .map_err(|e| errors.push(FieldError::at_pointer("#/scope", e.to_string())))
        .ok();
    let (Some(identity), Some(role), Some(scope)) = (identity, role, scope) else {
        return Err(ApiError::Invalid(errors));
    };
    // The scope is checked against the role where every principal is made
    // (`Scope::for_role`): a mismatch is a 422 naming `#/scope`.
    let store = caller.store(&state);
    match crate::tokens::grant(&store, &state.token_key, &identity, role, scope, "").await {
        Ok(id) => {
            let record = store
                .token(&id)
                .await?
                .ok_or_else(|| ApiError::Internal("a grant vanished".into()))?;
            Ok((StatusCode::CREATED, Json(GrantView::from(record))).into_response())
        }
        Err(CreateError::GrantTaken) => Err(ApiError::Conflict(
            "this identity holds this role and scope already".to_owned(),
        )),
        Err(
            e @ (CreateError::GrantRpps | CreateError::MissingRpps | CreateError::UnexpectedRpps),
        ) => Err(ApiError::invalid_field("#/identity", e)),
        Err(e @ (CreateError::Scope(_) | CreateError::UnknownCpts(_))) => {
            Err(ApiError::invalid_field("#/scope", e))
        }
        Err(CreateError::Store(e)) => Err(e.into()),
        Err(e @ (CreateError::CertificateTaken | CreateError::EmptySubject)) => {
            Err(ApiError::Internal(e.to_string().into()))
        }
    }
}

/// Every grant, live or revoked, newest first.
#[utoipa::path(get, path = "/grants", tag = "territories",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The grants", body = [GrantView]),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_grants(
    Admin(_caller): Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    let grants = state.store.grants().await?;
    Ok(Json(grants.into_iter().map(GrantView::from).collect()))
}

/// Revokes a grant: the sessions under it end at once.
#[utoipa::path(delete, path = "/grants/{id}", tag = "territories",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The grant's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live grant has this id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_grant(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = caller.store(&state);
    let is_grant = store
        .token(&id)
        .await?
        .is_some_and(|t| t.oidc_subject.is_some() && t.revoked_at.is_none());
    if is_grant && store.revoke_token(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no live grant has this id".to_owned()))
    }
}
