//! API bearer tokens: minting, the keyed hash that is stored, and verification.
//!
//! A token reads `cpts_<id>_<secret>`: `id` is 16 hex digits, public, the row's key; `secret` is
//! 32 random bytes in hex. The database keeps only `HMAC-SHA256(server key, whole token)`, so a
//! leaked table is useless without the key, and a presented token is found by its id and then
//! checked in constant time. The token is shown once, when created.
//!
//! No HTTP here (`api::auth` turns this into extractors) and no SQL (`store` keeps the rows).

use crate::domain::{Identity, Role, Rpps, Scope, Territory, TerritoryError};
use crate::store::{self, NewToken, Store, TokenRecord};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const PREFIX: &str = "cpts_";
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The server key of the keyed hash. `Debug` never shows it.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl TokenKey {
    /// A key from its bytes (see [`crate::config::Config::token_key_bytes`]).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    fn mac(&self, token: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(token.as_bytes());
        mac
    }

    /// The stored form of `token`: its HMAC in lowercase hex.
    pub fn hash(&self, token: &str) -> String {
        hex(&self.mac(token).finalize().into_bytes())
    }

    /// True when `token` hashes to `stored_hex`, compared in constant time.
    pub fn verify(&self, token: &str, stored_hex: &str) -> bool {
        match unhex(stored_hex) {
            Some(stored) => self.mac(token).verify_slice(&stored).is_ok(),
            None => false,
        }
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

/// A freshly minted token: print [`Minted::token`] once, then forget it.
pub struct Minted {
    /// Public id, for `cpts token revoke`.
    pub id: String,
    /// The bearer token itself.
    pub token: String,
}

impl fmt::Debug for Minted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minted")
            .field("id", &self.id)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// Why a token was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("a medecin token needs --rpps")]
    MissingRpps,
    #[error("only a medecin token is bound to an RPPS; drop --rpps")]
    UnexpectedRpps,
    #[error(transparent)]
    Scope(#[from] TerritoryError),
    #[error("no CPTS has the id {0} (see `cpts territory list`)")]
    UnknownCpts(String),
    #[error("an active principal has this certificate subject already; revoke it first")]
    CertificateTaken,
    #[error("a certificate subject needs a CN")]
    EmptySubject,
    #[error("this identity holds this role and scope already")]
    GrantTaken,
    #[error("a medecin is granted to its own RPPS: rpps:<RPPS> with the same RPPS")]
    GrantRpps,
    #[error("cannot store the token")]
    Store(#[from] store::Error),
}

/// The id part of a presented token, or `None` when it does not have the token's shape.
pub fn id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex_of_len =
        |s: &str, n: usize| s.len() == 2 * n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_of_len(id, ID_BYTES) && hex_of_len(secret, SECRET_BYTES)).then_some(id)
}

/// Mints a token for `role` (a médecin's bound to `rpps`), bound to `scope`, that never
/// expires, and stores its keyed hash; see [`create_expiring`].
///
/// # Errors
/// As [`create_expiring`].
pub async fn create(
    store: &Store,
    key: &TokenKey,
    role: Role,
    rpps: Option<Rpps>,
    scope: Scope,
    label: &str,
) -> Result<Minted, CreateError> {
    create_expiring(store, key, role, rpps, scope, label, None).await
}

/// Mints a token for `role` (a médecin's bound to `rpps`), bound to `scope`, valid until
/// `expires_at` (Unix seconds; `None`: until revoked), and stores its keyed hash, with a
/// `token.create` audit row written under `store`'s actor.
///
/// # Errors
/// [`CreateError::MissingRpps`] / [`CreateError::UnexpectedRpps`] when `rpps` does not fit the
/// role; [`CreateError::Scope`] when `scope` does not ([`Scope::for_role`]);
/// [`CreateError::UnknownCpts`] for a CPTS that is not stored; [`CreateError::Store`] when the
/// database refuses the row.
pub async fn create_expiring(
    store: &Store,
    key: &TokenKey,
    role: Role,
    rpps: Option<Rpps>,
    scope: Scope,
    label: &str,
    expires_at: Option<i64>,
) -> Result<Minted, CreateError> {
    mint(
        store,
        key,
        role,
        rpps,
        scope,
        label,
        expires_at,
        Reach::Bearer,
    )
    .await
}

/// How a principal is reached besides its bearer secret.
enum Reach {
    /// By the secret only.
    Bearer,
    /// Over mutual TLS, by this client certificate subject (CN, OU).
    Certificate(String, String),
    /// By people who sign in as this identity.
    Identity(Identity),
}

/// Grants `role` bound to `scope` to `identity`: a principal that people signing in as that
/// identity act under (OpenID Connect), stored as a token row whose bearer secret is never
/// shown. A médecin is granted to its own RPPS only. Returns the row's id: `cpts token revoke`
/// or `DELETE /grants/{id}` revokes the grant and ends its sessions.
///
/// # Errors
/// As [`create_expiring`]; [`CreateError::GrantTaken`] when the identity holds this role and
/// scope already; [`CreateError::GrantRpps`] for a médecin grant to another identity.
pub async fn grant(
    store: &Store,
    key: &TokenKey,
    identity: &Identity,
    role: Role,
    scope: Scope,
    label: &str,
) -> Result<String, CreateError> {
    let rpps = match (role, identity) {
        (Role::Medecin, Identity::Rpps(r)) => Some(r.clone()),
        (Role::Medecin, Identity::Subject(_)) => return Err(CreateError::GrantRpps),
        _ => None,
    };
    match mint(
        store,
        key,
        role,
        rpps,
        scope,
        label,
        None,
        Reach::Identity(identity.clone()),
    )
    .await
    {
        Ok(minted) => Ok(minted.id),
        Err(CreateError::Store(store::Error::Conflict(_))) => Err(CreateError::GrantTaken),
        Err(e) => Err(e),
    }
}

/// Maps the client certificate subject `cn`/`ou` to a new principal of `role` bound to
/// `scope` (machine clients over mutual TLS): a token row whose bearer secret is never shown,
/// so that only the certificate reaches it. Returns the row's id, for `cpts token revoke`.
///
/// # Errors
/// As [`create_expiring`]; [`CreateError::CertificateTaken`] when an active principal has
/// this subject already; [`CreateError::EmptySubject`] for an empty CN.
#[allow(clippy::too_many_arguments)]
pub async fn map_certificate(
    store: &Store,
    key: &TokenKey,
    role: Role,
    rpps: Option<Rpps>,
    scope: Scope,
    label: &str,
    cn: &str,
    ou: &str,
) -> Result<String, CreateError> {
    if cn.trim().is_empty() {
        return Err(CreateError::EmptySubject);
    }
    let subject = Reach::Certificate(cn.to_owned(), ou.to_owned());
    match mint(store, key, role, rpps, scope, label, None, subject).await {
        Ok(minted) => Ok(minted.id),
        Err(CreateError::Store(store::Error::Conflict(_))) => Err(CreateError::CertificateTaken),
        Err(e) => Err(e),
    }
}

#[allow(clippy::too_many_arguments)]
async fn mint(
    store: &Store,
    key: &TokenKey,
    role: Role,
    rpps: Option<Rpps>,
    scope: Scope,
    label: &str,
    expires_at: Option<i64>,
    reach: Reach,
) -> Result<Minted, CreateError> {
    match (role, &rpps) {
        (Role::Medecin, None) => return Err(CreateError::MissingRpps),
        (Role::Medecin, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(CreateError::UnexpectedRpps),
    }
    let scope = Scope::for_role(
        role,
        scope.territories().cloned().collect(),
        scope == Scope::National && role != Role::Medecin && role != Role::Admin,
    )?;
    for t in scope.territories() {
        if let Territory::Cpts(id) = t
            && store.cpts(id).await?.is_none()
        {
            return Err(CreateError::UnknownCpts(id.to_string()));
        }
    }
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    {
        // ThreadRng is a CSPRNG reseeded from the OS, as bearer secrets need. It is not Send:
        // it must be gone before the next await.
        let mut rng = rand::rng();
        rng.fill_bytes(&mut id);
        rng.fill_bytes(&mut secret);
    }
    let id = hex(&id);
    let token = format!("{PREFIX}{id}_{}", hex(&secret));
    store
        .insert_token(&NewToken {
            id: id.clone(),
            role,
            rpps,
            label: label.to_owned(),
            hash: key.hash(&token),
            expires_at,
            scope,
            certificate: match &reach {
                Reach::Certificate(cn, ou) => Some((cn.clone(), ou.clone())),
                _ => None,
            },
            oidc_subject: match &reach {
                Reach::Identity(identity) => Some(identity.to_string()),
                _ => None,
            },
        })
        .await?;
    Ok(Minted { id, token })
}

/// The active token record `presented` belongs to, or `None` when it is malformed, unknown,
/// revoked, expired or does not match its hash (the caller answers all five the same way).
///
/// An unknown id still costs one keyed hash and comparison, against a hash no token has, so
/// the time taken does not tell a known id from an unknown one either.
///
/// # Errors
/// When the database cannot be read.
pub async fn authenticate(
    store: &Store,
    key: &TokenKey,
    presented: &str,
) -> Result<Option<TokenRecord>, store::Error> {
    authenticate_at(store, key, presented, chrono::Utc::now().timestamp()).await
}

/// [`authenticate`] at instant `now` (Unix seconds): a token whose `expires_at ≤ now` is
/// refused.
///
/// # Errors
/// When the database cannot be read.
pub async fn authenticate_at(
    store: &Store,
    key: &TokenKey,
    presented: &str,
    now: i64,
) -> Result<Option<TokenRecord>, store::Error> {
    TokenCache::new(Duration::ZERO)
        .authenticate_at(store, key, presented, now)
        .await
}

/// The token rows a server read lately, so that a request does not read its token's row
/// again: each one is kept for `ttl`, then read afresh. The presented token is still hashed and
/// compared, and its expiry checked, on every request; only a revocation (`cpts token revoke`,
/// which writes the database) takes up to `ttl` to reach a running server. Unknown ids are
/// never kept, so a token works as soon as it is created. `ttl` zero: every request reads its
/// row.
#[derive(Debug)]
pub struct TokenCache {
    ttl: Duration,
    rows: Mutex<HashMap<String, (TokenRecord, Instant)>>,
}

/// Rows kept at most; past it the cache starts again empty.
const CACHE_ROWS: usize = 10_000;

impl TokenCache {
    /// A cache keeping each row for `ttl` (zero: none kept).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            rows: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (TokenRecord, Instant)>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`authenticate`], reading the token's row from the cache while it is fresh.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn authenticate(
        &self,
        store: &Store,
        key: &TokenKey,
        presented: &str,
    ) -> Result<Option<TokenRecord>, store::Error> {
        self.authenticate_at(store, key, presented, chrono::Utc::now().timestamp())
            .await
    }

    /// [`TokenCache::authenticate`] at instant `now` (see [`authenticate_at`]).
    async fn authenticate_at(
        &self,
        store: &Store,
        key: &TokenKey,
        presented: &str,
        now: i64,
    ) -> Result<Option<TokenRecord>, store::Error> {
        let Some(id) = id_of(presented) else {
            return Ok(None);
        };
        let cached = self
            .lock()
            .get(id)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(record, _)| record.clone());
        let record = match cached {
            Some(record) => record,
            None => {
                let Some(record) = store.token(id).await? else {
                    // Same work as a known id: a hash and a constant-time comparison that fails.
                    let _ = key.verify(presented, UNKNOWN_HASH);
                    return Ok(None);
                };
                if !self.ttl.is_zero() {
                    let mut rows = self.lock();
                    if rows.len() >= CACHE_ROWS {
                        rows.clear();
                    }
                    rows.insert(id.to_owned(), (record.clone(), Instant::now()));
                }
                record
            }
        };
        let matches = key.verify(presented, &record.hash);
        let active = record.revoked_at.is_none() && record.expires_at.is_none_or(|at| now < at);
        Ok((matches && active).then_some(record))
    }
}

/// A well-formed stored hash (64 hex digits) that no token has in practice.
const UNKNOWN_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Parses an expiry given on the command line: a duration from now (`30d`, `12h`, `90m`,
/// `3600s`), returned as Unix seconds from `now`.
///
/// # Errors
/// A message naming the expected shape.
pub fn parse_expires_in(s: &str, now: i64) -> Result<i64, String> {
    let err = || format!("`{s}`: expected a positive number followed by d, h, m or s (e.g. 30d)");
    let unit_at = s.len().checked_sub(1).ok_or_else(err)?;
    let (n, unit) = s.split_at(unit_at);
    let n: i64 = n.parse().ok().filter(|n| *n > 0).ok_or_else(err)?;
    let secs = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(err()),
    };
    n.checked_mul(secs)
        .and_then(|d| now.checked_add(d))
        .ok_or_else(err)
}

/// Lowercase hexadecimal of `bytes`.
/// 32 random bytes from the OS-seeded CSPRNG, in hex: calendar feed secrets, session ids,
/// CSRF tokens.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    #[test]
    fn a_token_verifies_against_its_own_hash_only() {
        let k = key();
        let t = format!("cpts_{}_{}", "ab".repeat(8), "cd".repeat(32));
        let h = k.hash(&t);
        assert_eq!(h.len(), 64);
        assert!(k.verify(&t, &h));
        let other = format!("cpts_{}_{}", "ab".repeat(8), "ce".repeat(32));
        assert!(!k.verify(&other, &h));
        // Another server key gives another hash: the table alone proves nothing.
        assert!(!TokenKey::new(b"another key".to_vec()).verify(&t, &h));
        assert!(!k.verify(&t, "zz"));
    }

    #[test]
    fn id_of_accepts_only_the_token_shape() {
        let t = format!("cpts_{}_{}", "0f".repeat(8), "a1".repeat(32));
        assert_eq!(id_of(&t), Some("0f0f0f0f0f0f0f0f"));
        assert_eq!(id_of("cpts_0f0f_a1a1"), None);
        assert_eq!(id_of(&t.replace("cpts_", "xpts_")), None);
        assert_eq!(id_of(&format!("{t}_")), None);
        assert_eq!(id_of(""), None);
    }

    #[test]
    fn expiries_parse_as_durations_from_now() {
        assert_eq!(parse_expires_in("30d", 1_000), Ok(1_000 + 30 * 86_400));
        assert_eq!(parse_expires_in("12h", 0), Ok(12 * 3_600));
        assert_eq!(parse_expires_in("90m", 0), Ok(5_400));
        assert_eq!(parse_expires_in("1s", 5), Ok(6));
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "30",
            "30w",
            "1.5d",
            "99999999999999999d",
        ] {
            assert!(parse_expires_in(bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn hex_round_trips() {
        let b = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(hex(&b), "00017f80ff");
        assert_eq!(unhex("00017f80ff").as_deref(), Some(&b[..]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("g0"), None);
    }

    #[test]
    fn debug_hides_the_key_and_the_token() {
        assert!(!format!("{:?}", key()).contains("0123"));
        let m = Minted {
            id: "x".into(),
            token: "cpts_secret".into(),
        };
        assert!(!format!("{m:?}").contains("secret"));
    }
}
