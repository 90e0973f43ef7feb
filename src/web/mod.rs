//! The web app (issue 20): the screens CPAM staff, CPTS coordinators, GPs, régulateurs,
//! auditors and admins work in, served by `cpts serve` at `/app/`, on the API's origin.
//!
//! The pages are rendered here (minijinja templates in `templates/`, in French, with the
//! DSFR's classes), and their data comes from the JSON API, called by the page's script with
//! the session cookie and its CSRF token. So a page shows exactly what the API lets its user
//! see: the authorisation, the territory filters and the problem+json messages are the API's,
//! in one place. No SQL here; `store` owns persistence, `api` the rules.
//!
//! - Sign-in: Pro Santé Connect (OpenID Connect, `/auth/login`) when `--oidc-issuer` is set,
//!   and, in development or when `--token-signin` allows it, a form that takes an API token and
//!   opens the same session (cookie `cpts_session`, HttpOnly, SameSite=Lax, Secure over https).
//! - Assets: embedded at build time ([`assets`]); nothing is loaded from another host. The map's
//!   base layer is drawn from the commune list the binary carries (`GET /communes`); a tile
//!   server is an option (`--map-tiles`).

pub mod assets;

use crate::api::signin::{
    check_csrf_value, local_path, see_other, session_of, session_set_cookie, start_session,
};
use crate::api::{ApiError, AppState};
use crate::domain::Role;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::OnceLock;

/// How the web app is served.
#[derive(Clone, Debug, Default)]
pub struct WebSettings {
    /// A tile URL template (`https://tile.openstreetmap.org/{z}/{x}/{y}.png`) for the maps'
    /// background; `None`: the communes alone.
    pub map_tiles: Option<String>,
    /// Whether the sign-in page takes an API token.
    pub token_signin: bool,
    /// Whether cookies are `Secure` (the service is reached over https).
    pub secure_cookie: bool,
}

/// A screen: its path under `/app/`, who may open it, its template and title.
struct Page {
    path: &'static str,
    role: Role,
    template: &'static str,
    title: &'static str,
    /// Whether the path ends with an object's id (`/app/cpam/lots/{id}`).
    with_id: bool,
}

const PAGES: &[Page] = &[
    Page {
        path: "cpam",
        role: Role::Cpam,
        template: "cpam.html",
        title: "Tableau de bord de l'appariement",
        with_id: false,
    },
    Page {
        path: "cpam/lots",
        role: Role::Cpam,
        template: "lot.html",
        title: "Lot d'appariement",
        with_id: true,
    },
    Page {
        path: "coordination",
        role: Role::Coordinateur,
        template: "coordination.html",
        title: "Coordination des gardes",
        with_id: false,
    },
    Page {
        path: "coordination/plannings",
        role: Role::Coordinateur,
        template: "planning.html",
        title: "Planning de garde",
        with_id: true,
    },
    Page {
        path: "medecin",
        role: Role::Medecin,
        template: "medecin.html",
        title: "Mon espace médecin",
        with_id: false,
    },
    Page {
        path: "regulation",
        role: Role::Regulateur,
        template: "regulation.html",
        title: "Régulation : créneaux de garde",
        with_id: false,
    },
    Page {
        path: "audit",
        role: Role::Auditeur,
        template: "audit.html",
        title: "Journal d'audit",
        with_id: false,
    },
    Page {
        path: "admin",
        role: Role::Admin,
        template: "admin.html",
        title: "Administration",
        with_id: false,
    },
];

/// The home screen of a role.
fn home_of(role: Role) -> &'static str {
    match role {
        Role::Cpam => "/app/cpam",
        Role::Coordinateur => "/app/coordination",
        Role::Medecin => "/app/medecin",
        Role::Regulateur => "/app/regulation",
        Role::Auditeur => "/app/audit",
        Role::Admin => "/app/admin",
    }
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Cpam => "Agent CPAM",
        Role::Coordinateur => "Coordination CPTS",
        Role::Medecin => "Médecin",
        Role::Regulateur => "Régulateur (SAS)",
        Role::Auditeur => "Auditeur",
        Role::Admin => "Administrateur",
    }
}

/// The navigation of a role: (path, label).
fn nav_of(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Cpam => &[("/app/cpam", "Tableau de bord")],
        Role::Coordinateur => &[("/app/coordination", "Cabinets et plannings")],
        Role::Medecin => &[("/app/medecin", "Mon espace")],
        Role::Regulateur => &[("/app/regulation", "Créneaux et réservations")],
        Role::Auditeur => &[("/app/audit", "Journal d'audit")],
        Role::Admin => &[("/app/admin", "Territoires et habilitations")],
    }
}

/// The routes of the web app (not in the OpenAPI document).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { see_other("/app/") }))
        .route("/app", get(home))
        .route("/app/", get(home))
        .route("/app/connexion", get(signin_page).post(signin_with_token))
        .route("/app/deconnexion", post(signout))
        .route("/app/static/{version}/{*path}", get(assets::serve))
        .route("/app/{section}", get(page))
        .route("/app/{section}/{sub}/{id}", get(page_with_id))
}

fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("connexion.html", include_str!("templates/connexion.html")),
            ("erreur.html", include_str!("templates/erreur.html")),
            ("cpam.html", include_str!("templates/cpam.html")),
            ("lot.html", include_str!("templates/lot.html")),
            (
                "coordination.html",
                include_str!("templates/coordination.html"),
            ),
            ("planning.html", include_str!("templates/planning.html")),
            ("medecin.html", include_str!("templates/medecin.html")),
            ("regulation.html", include_str!("templates/regulation.html")),
            ("audit.html", include_str!("templates/audit.html")),
            ("admin.html", include_str!("templates/admin.html")),
        ] {
            env.add_template(name, source)
                .expect("the templates compile (tested below)");
        }
        env
    })
}

/// Who is signed in, as the pages show it.
#[derive(Debug, Serialize)]
struct UserView {
    role: &'static str,
    role_label: &'static str,
    label: String,
    scope: String,
    /// The scope as the header shows it: two territories at most, then how many more.
    scope_label: String,
    rpps: Option<String>,
    nav: Vec<NavItem>,
}

fn scope_label(scope: &str) -> String {
    let parts: Vec<&str> = scope.split(',').collect();
    if parts.len() <= 2 {
        scope.to_owned()
    } else {
        format!("{}, {} et {} autres", parts[0], parts[1], parts.len() - 2)
    }
}

#[derive(Debug, Serialize)]
struct NavItem {
    href: &'static str,
    label: &'static str,
    current: bool,
}

/// What every template gets.
#[derive(Debug, Serialize)]
struct PageContext<'a> {
    title: &'a str,
    /// The page's script (`static/pages/{name}.js`), if any.
    script: Option<&'a str>,
    assets: String,
    user: Option<UserView>,
    csrf: Option<String>,
    object_id: Option<String>,
    map_tiles: Option<String>,
    /// Sign-in page: the messages and options.
    error: Option<String>,
    return_to: Option<String>,
    token_signin: bool,
    oidc: bool,
    /// Error page: the status and message.
    message: Option<String>,
}

impl<'a> PageContext<'a> {
    fn new(state: &AppState, title: &'a str) -> Self {
        Self {
            title,
            script: None,
            assets: assets::base(),
            user: None,
            csrf: None,
            object_id: None,
            map_tiles: state.web.map_tiles.clone(),
            error: None,
            return_to: None,
            token_signin: state.web.token_signin,
            oidc: state.signin.is_some(),
            message: None,
        }
    }
}

/// The Content-Security-Policy of the pages: our own origin only, but for a tile server.
fn csp(state: &AppState) -> String {
    let tiles = state
        .web
        .map_tiles
        .as_deref()
        .and_then(|t| t.parse::<axum::http::Uri>().ok())
        .and_then(|u| Some(format!(" {}://{}", u.scheme_str()?, u.authority()?)))
        .map(|origin| origin.replace("%7B", "{").replace("{s}", "*"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data:{tiles}; style-src 'self' 'unsafe-inline'; \
         script-src 'self'; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'"
    )
}

fn render(state: &AppState, status: StatusCode, template: &str, ctx: &PageContext<'_>) -> Response {
    let html = templates()
        .get_template(template)
        .and_then(|t| t.render(ctx));
    match html {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            if let Ok(csp) = HeaderValue::from_str(&csp(state)) {
                headers.insert(header::CONTENT_SECURITY_POLICY, csp);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => ApiError::Internal(Box::new(e)).into_response(),
    }
}

fn error_page(state: &AppState, status: StatusCode, message: &str) -> Response {
    let mut ctx = PageContext::new(state, "Erreur");
    ctx.message = Some(message.to_owned());
    render(state, status, "erreur.html", &ctx)
}

fn to_signin(parts: &Parts) -> Response {
    let back = parts.uri.path_and_query().map_or("/app/", |p| p.as_str());
    let target = format!(
        "/app/connexion?retour={}",
        percent_encoding::utf8_percent_encode(back, percent_encoding::NON_ALPHANUMERIC)
    );
    see_other(&target).unwrap_or_else(IntoResponse::into_response)
}

async fn home(State(state): State<AppState>, parts: Parts) -> Response {
    match session_of(&parts, &state).await {
        Ok(Some(session)) => {
            see_other(home_of(session.grant.role)).unwrap_or_else(IntoResponse::into_response)
        }
        Ok(None) => see_other("/app/connexion").unwrap_or_else(IntoResponse::into_response),
        Err(e) => e.into_response(),
    }
}

async fn signin_page(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut ctx = PageContext::new(&state, "Connexion");
    ctx.return_to = Some(local_path(query.get("retour").map(String::as_str)));
    ctx.script = Some("connexion");
    render(&state, StatusCode::OK, "connexion.html", &ctx)
}

/// The sign-in form with an API token: the token is checked like a bearer token, then a
/// session opens under it, as after an OpenID Connect sign-in.
async fn signin_with_token(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    if !state.web.token_signin {
        return error_page(
            &state,
            StatusCode::NOT_FOUND,
            "La connexion par jeton n'est pas ouverte sur ce serveur : connectez-vous avec Pro Santé Connect.",
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let return_to = local_path(form.get("retour").map(String::as_str));
    let token = form.get("jeton").map_or("", |t| t.trim());
    let refuse = |message: &str| {
        let mut ctx = PageContext::new(&state, "Connexion");
        ctx.return_to = Some(return_to.clone());
        ctx.error = Some(message.to_owned());
        ctx.script = Some("connexion");
        render(&state, StatusCode::UNAUTHORIZED, "connexion.html", &ctx)
    };
    if token.is_empty() {
        return refuse("Saisissez votre jeton d'accès.");
    }
    let record = match state
        .token_cache
        .authenticate(&state.store, &state.token_key, token)
        .await
    {
        Ok(Some(record)) => record,
        Ok(None) => return refuse("Jeton inconnu, révoqué ou expiré."),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let subject = record
        .oidc_subject
        .clone()
        .unwrap_or_else(|| format!("token:{}", record.id));
    tracing::info!(token = %record.id, "signed in with a token");
    let target = if return_to == "/" {
        home_of(record.role).to_owned()
    } else {
        return_to
    };
    start_session(
        &state,
        &record.id,
        &subject,
        &target,
        state.web.secure_cookie,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// The sign-out button: a form whose hidden field carries the session's CSRF token.
async fn signout(State(state): State<AppState>, parts: Parts, body: axum::body::Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let session = match session_of(&parts, &state).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/app/connexion").unwrap_or_else(IntoResponse::into_response),
        Err(e) => return e.into_response(),
    };
    if check_csrf_value(form.get("csrf").map_or("", String::as_str), &session.csrf).is_err() {
        return error_page(
            &state,
            StatusCode::FORBIDDEN,
            "Cette demande ne vient pas de l'application : rechargez la page et recommencez.",
        );
    }
    if let Some(id) = crate::api::signin::session_cookie(&parts.headers) {
        let now = chrono::Utc::now().timestamp();
        if let Err(e) = state
            .store
            .end_session(&state.token_key.hash(&id), now)
            .await
        {
            return ApiError::from(e).into_response();
        }
    }
    let mut response = see_other("/app/connexion").unwrap_or_else(IntoResponse::into_response);
    if let Ok(cookie) = session_set_cookie("", 0, state.web.secure_cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn page(
    State(state): State<AppState>,
    Path(section): Path<String>,
    parts: Parts,
) -> Response {
    show(&state, &parts, &section, None).await
}

async fn page_with_id(
    State(state): State<AppState>,
    Path((section, sub, id)): Path<(String, String, String)>,
    parts: Parts,
) -> Response {
    show(&state, &parts, &format!("{section}/{sub}"), Some(id)).await
}

/// An object id in a page's path: what the API's ids look like.
fn plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn show(state: &AppState, parts: &Parts, path: &str, id: Option<String>) -> Response {
    let Some(def) = PAGES
        .iter()
        .find(|p| p.path == path && p.with_id == id.is_some())
    else {
        return error_page(state, StatusCode::NOT_FOUND, "Cette page n'existe pas.");
    };
    if id.as_deref().is_some_and(|i| !plausible_id(i)) {
        return error_page(state, StatusCode::NOT_FOUND, "Cette page n'existe pas.");
    }
    let session = match session_of(parts, state).await {
        Ok(Some(s)) => s,
        Ok(None) => return to_signin(parts),
        Err(e) => return e.into_response(),
    };
    let role = session.grant.role;
    if role != def.role {
        return error_page(
            state,
            StatusCode::FORBIDDEN,
            &format!(
                "Cette page est réservée au rôle « {} » ; vous êtes connecté comme « {} ».",
                role_label(def.role),
                role_label(role)
            ),
        );
    }
    let current = format!("/app/{}", def.path.split('/').next().unwrap_or(def.path));
    let mut ctx = PageContext::new(state, def.title);
    ctx.script = Some(def.template.trim_end_matches(".html"));
    ctx.object_id = id;
    ctx.csrf = Some(session.csrf.clone());
    ctx.user = Some(UserView {
        role: role.as_str(),
        role_label: role_label(role),
        label: session.grant.label.clone(),
        scope: session.grant.scope.to_string(),
        scope_label: scope_label(&session.grant.scope.to_string()),
        rpps: session.grant.rpps.as_ref().map(|r| r.as_str().to_owned()),
        nav: nav_of(role)
            .iter()
            .map(|(href, label)| NavItem {
                href,
                label,
                current: *href == current,
            })
            .collect(),
    });
    render(state, StatusCode::OK, def.template, &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_every_page_has_its_template_and_script() {
        let env = templates();
        for page in PAGES {
            assert!(env.get_template(page.template).is_ok(), "{}", page.template);
            let script = format!("app/pages/{}.js", page.template.trim_end_matches(".html"));
            assert!(assets::get(&script).is_some(), "{script}");
        }
        assert!(env.get_template("connexion.html").is_ok());
        assert!(assets::get("app/pages/connexion.js").is_some());
    }

    #[test]
    fn every_role_has_a_home_among_the_pages() {
        for role in Role::ALL {
            let home = home_of(role).trim_start_matches("/app/");
            assert!(
                PAGES.iter().any(|p| p.path == home && p.role == role),
                "{role:?}"
            );
        }
    }

    #[test]
    fn long_scopes_are_shortened_in_the_header() {
        assert_eq!(scope_label("dep:54"), "dep:54");
        assert_eq!(
            scope_label("dep:08,dep:10,dep:51,dep:54"),
            "dep:08, dep:10 et 2 autres"
        );
    }

    #[test]
    fn page_ids_are_plain() {
        assert!(plausible_id("b0f3c2a1-77aa-4e1f-9d51-0a4d5c6e7f80"));
        assert!(!plausible_id(""));
        assert!(!plausible_id("../etc"));
        assert!(!plausible_id(&"a".repeat(65)));
    }
}
