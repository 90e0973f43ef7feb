//! Sign-in of people with OpenID Connect (issue 16): the authorization code flow with PKCE
//! against a configured issuer, as Pro Santé Connect expects of a service, through the
//! `openidconnect` crate (discovery, the ID token's signature and nonce, the UserInfo call).
//!
//! Pro Santé Connect (the ANS's identity federation for health professionals; its technical
//! documentation: <https://industriels.esante.gouv.fr/produits-et-services/pro-sante-connect/documentation-technique>)
//! authenticates with a CPS card or e-CPS, and returns the professional's identity from its
//! UserInfo endpoint, under the scope `scope_all`: `SubjectNameID` is the professional's
//! national identifier, `8` followed by the RPPS for an RPPS holder; `acr_values=eidas1` asks
//! for its substantial level of assurance. A provider that returns no `SubjectNameID` (a
//! CPAM's or an ARS's own identity provider, for staff) identifies a person by its `sub`.
//!
//! Who signs in is not what he may do: roles and scopes come from our own grants
//! ([`crate::tokens::grant`], `POST /grants`), made by an admin to an [`Identity`]. The HTTP
//! side (the login redirect, the callback, the session cookie, CSRF) is `api::signin`.

use crate::domain::Identity;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::OnceCell;

/// The client, once the issuer's metadata is discovered.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long a call to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The sign-in settings (`cpts serve --oidc-*`, `--public-url`).
#[derive(Clone, Debug)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// This service as browsers reach it (`https://cpts.example.fr`); the callback is
    /// `{public_url}/auth/callback`, as registered with the provider.
    pub public_url: String,
    /// Scopes asked besides `openid` (Pro Santé Connect: `scope_all`).
    pub scopes: Vec<String>,
    /// `acr_values` asked (Pro Santé Connect: `eidas1`); `None`: none.
    pub acr_values: Option<String>,
}

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider cannot be reached, or answers what we cannot use.
    #[error("the identity provider: {0}")]
    Provider(String),
    /// The provider's answer about this person does not check out (signature, nonce, subject).
    #[error("the identity provider's answer does not check out: {0}")]
    Verification(String),
    /// A setting is wrong (an URL that does not parse).
    #[error("sign-in settings: {0}")]
    Settings(String),
}

/// A login to start: the URL to send the browser to, and what its callback needs.
#[derive(Debug)]
pub struct Start {
    pub url: String,
    /// The `state` parameter, to find the login again at the callback.
    pub state: String,
    pub verifier: String,
    pub nonce: String,
}

/// The claims of Pro Santé Connect's UserInfo answer that we read.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct PscClaims {
    /// The national identifier of the professional: `8` + RPPS.
    #[serde(
        rename = "SubjectNameID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    subject_name_id: Option<String>,
}

impl AdditionalClaims for PscClaims {}

/// The OpenID Connect client of this service.
#[derive(Debug)]
pub struct SignIn {
    settings: OidcSettings,
    redirect: RedirectUrl,
    http: openidconnect::reqwest::Client,
    /// Discovered at the first sign-in (the provider may start after us), then kept.
    client: OnceCell<Client>,
}

impl SignIn {
    /// A client for these settings; nothing is fetched yet.
    ///
    /// # Errors
    /// [`SignInError::Settings`] for an issuer or public URL that does not parse.
    pub fn new(settings: OidcSettings) -> Result<Self, SignInError> {
        IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| SignInError::Settings(format!("--oidc-issuer: {e}")))?;
        let redirect = RedirectUrl::new(format!(
            "{}/auth/callback",
            settings.public_url.trim_end_matches('/')
        ))
        .map_err(|e| SignInError::Settings(format!("--public-url: {e}")))?;
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would open the client to SSRF (the crate's advice).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| SignInError::Settings(format!("HTTP client: {e}")))?;
        Ok(Self {
            settings,
            redirect,
            http,
            client: OnceCell::new(),
        })
    }

    /// Whether the session cookie must be `Secure` (the service is reached over HTTPS).
    pub fn secure_cookie(&self) -> bool {
        self.settings.public_url.starts_with("https://")
    }

    async fn client(&self) -> Result<&Client, SignInError> {
        self.client
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.settings.issuer.clone())
                    .map_err(|e| SignInError::Settings(e.to_string()))?;
                let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
                    .await
                    .map_err(|e| SignInError::Provider(format!("discovery: {e}")))?;
                Ok(CoreClient::from_provider_metadata(
                    metadata,
                    ClientId::new(self.settings.client_id.clone()),
                    Some(ClientSecret::new(self.settings.client_secret.clone())),
                )
                .set_redirect_uri(self.redirect.clone()))
            })
            .await
    }

    /// Starts a login: a fresh PKCE verifier (S256), `state` and nonce, and the provider's
    /// authorization URL with them.
    ///
    /// # Errors
    /// [`SignInError::Provider`] when the issuer's metadata cannot be discovered.
    pub async fn start(&self) -> Result<Start, SignInError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(acr) = &self.settings.acr_values {
            request = request.add_extra_param("acr_values", acr.clone());
        }
        let (url, state, nonce) = request.url();
        Ok(Start {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        })
    }

    /// Ends a login at its callback: exchanges `code` with the PKCE `verifier`, checks the ID
    /// token (signature, issuer, audience, expiry, `nonce`), asks UserInfo for the same
    /// subject, and returns who signed in.
    ///
    /// # Errors
    /// [`SignInError::Provider`] when a call fails; [`SignInError::Verification`] when the
    /// answer does not check out.
    pub async fn finish(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Identity, SignInError> {
        let client = self.client().await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SignInError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::Provider(format!("token: {e}")))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SignInError::Verification("no ID token".to_owned()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
            .map_err(|e| SignInError::Verification(e.to_string()))?;
        let subject = claims.subject().clone();
        let info: UserInfoClaims<PscClaims, CoreGenderClaim> = client
            .user_info(tokens.access_token().clone(), Some(subject.clone()))
            .map_err(|e| SignInError::Provider(e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::Provider(format!("userinfo: {e}")))?;
        match info.additional_claims().subject_name_id.as_deref() {
            Some(national) => Identity::from_national_id(national).ok_or_else(|| {
                SignInError::Verification(
                    "SubjectNameID is not the national identifier of an RPPS holder".to_owned(),
                )
            }),
            None => Identity::subject(subject.as_str())
                .map_err(|e| SignInError::Verification(format!("sub: {e}"))),
        }
    }
}
