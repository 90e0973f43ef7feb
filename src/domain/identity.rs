//! Who signed in (issue 16): a health professional known by his RPPS, as Pro Santé Connect
//! identifies him, or a staff identity of another OpenID provider, known by its subject. Grants
//! of roles are made to an [`Identity`]; its text form (`rpps:10000000009`, `sub:alice`) is
//! what the `tokens.oidc_subject` column and the grants API carry.

use super::Rpps;
use std::fmt;
use std::str::FromStr;

/// The longest provider subject accepted (OpenID Connect caps `sub` at 255 ASCII characters).
const MAX_SUBJECT: usize = 255;

/// A signed-in person's identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// A professional, by RPPS.
    Rpps(Rpps),
    /// A staff identity: the provider's `sub`, printable ASCII without spaces.
    Subject(String),
}

/// Why a text is not an identity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("expected rpps:<RPPS> or sub:<subject>")]
    Shape,
    #[error("not an RPPS number: 11 digits with a valid check digit")]
    Rpps,
    #[error("a subject is 1 to 255 printable ASCII characters, without spaces")]
    Subject,
}

impl Identity {
    /// A staff identity from the provider's `sub`.
    ///
    /// # Errors
    /// [`IdentityError::Subject`] for an empty, long or non-printable subject.
    pub fn subject(sub: &str) -> Result<Self, IdentityError> {
        let ok = !sub.is_empty()
            && sub.len() <= MAX_SUBJECT
            && sub.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Identity::Subject(sub.to_owned()))
        } else {
            Err(IdentityError::Subject)
        }
    }

    /// The professional's identity from Pro Santé Connect's `SubjectNameID` claim: the national
    /// identifier of a professional, which for an RPPS holder is `8` followed by the RPPS (11
    /// digits); the bare RPPS is accepted too. `None` for anything else (an ADELI number, whose
    /// national identifier starts with `0`, names no RPPS).
    pub fn from_national_id(national: &str) -> Option<Self> {
        let rpps = match national.len() {
            12 => national.strip_prefix('8')?,
            11 => national,
            _ => return None,
        };
        rpps.parse().ok().map(Identity::Rpps)
    }

    /// The RPPS, for a professional.
    pub fn rpps(&self) -> Option<&Rpps> {
        match self {
            Identity::Rpps(r) => Some(r),
            Identity::Subject(_) => None,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Rpps(r) => write!(f, "rpps:{r}"),
            Identity::Subject(s) => write!(f, "sub:{s}"),
        }
    }
}

impl FromStr for Identity {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, IdentityError> {
        match s.split_once(':') {
            Some(("rpps", r)) => r
                .parse()
                .map(Identity::Rpps)
                .map_err(|_| IdentityError::Rpps),
            Some(("sub", sub)) => Identity::subject(sub),
            _ => Err(IdentityError::Shape),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_read_back_from_their_text() {
        for text in ["rpps:10000000009", "sub:alice@cpam-54", "sub:a:b"] {
            assert_eq!(text.parse::<Identity>().expect(text).to_string(), text);
        }
        assert_eq!(
            "rpps:10000000008".parse::<Identity>(),
            Err(IdentityError::Rpps)
        );
        assert_eq!("alice".parse::<Identity>(), Err(IdentityError::Shape));
        assert_eq!("sub:".parse::<Identity>(), Err(IdentityError::Subject));
        assert_eq!("sub:a b".parse::<Identity>(), Err(IdentityError::Subject));
    }

    #[test]
    fn the_national_identifier_of_pro_sante_connect_gives_the_rpps() {
        let rpps: Rpps = "10000000009".parse().expect("an RPPS");
        assert_eq!(
            Identity::from_national_id("810000000009"),
            Some(Identity::Rpps(rpps.clone()))
        );
        assert_eq!(
            Identity::from_national_id("10000000009"),
            Some(Identity::Rpps(rpps))
        );
        // An ADELI professional (national id 0 + ADELI), a bad key, a wrong length: no RPPS.
        assert_eq!(Identity::from_national_id("0123456789"), None);
        assert_eq!(Identity::from_national_id("810000000008"), None);
        assert_eq!(Identity::from_national_id("910000000009"), None);
    }
}
