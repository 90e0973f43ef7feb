//! API bearer tokens: minting, the keyed hash that is stored, and verification.
//!
//! A token reads `cpts_<id>_<secret>`: `id` is 16 hex digits, public, the row's key; `secret` is
//! 32 random bytes in hex. The database keeps only `HMAC-SHA256(server key, whole token)`, so a
//! leaked table is useless without the key, and a presented token is found by its id and then
//! checked in constant time. The token is shown once, when created.
//!
//! No HTTP here (`api::auth` turns this into extractors) and no SQL (`store` keeps the rows).

use crate::domain::{Role, Rpps};
use crate::store::{self, NewToken, Store, TokenRecord};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;

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

/// Mints a token for `role` (a médecin's bound to `rpps`) and stores its keyed hash.
///
/// # Errors
/// [`CreateError::MissingRpps`] / [`CreateError::UnexpectedRpps`] when `rpps` does not fit the
/// role; [`CreateError::Store`] when the database refuses the row.
pub async fn create(
    store: &Store,
    key: &TokenKey,
    role: Role,
    rpps: Option<Rpps>,
    label: &str,
) -> Result<Minted, CreateError> {
    match (role, &rpps) {
        (Role::Medecin, None) => return Err(CreateError::MissingRpps),
        (Role::Cpam | Role::Regulateur | Role::Coordinateur, Some(_)) => {
            return Err(CreateError::UnexpectedRpps);
        }
        _ => {}
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
        })
        .await?;
    Ok(Minted { id, token })
}

/// The active token record `presented` belongs to, or `None` when it is malformed, unknown,
/// revoked or does not match its hash (the caller answers all four the same way).
///
/// # Errors
/// When the database cannot be read.
pub async fn authenticate(
    store: &Store,
    key: &TokenKey,
    presented: &str,
) -> Result<Option<TokenRecord>, store::Error> {
    let Some(id) = id_of(presented) else {
        return Ok(None);
    };
    let Some(record) = store.token(id).await? else {
        return Ok(None);
    };
    let valid = record.revoked_at.is_none() && key.verify(presented, &record.hash);
    Ok(valid.then_some(record))
}

fn hex(bytes: &[u8]) -> String {
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
