//! [`Address`]: where a cabinet de garde receives, as a patient and the SAS's FHIR Location
//! read it (a street line, a city, a [`Postcode`]).

use super::text::{Name, NameError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A French postcode: five digits, from 01000 to 98999 (Corsica's are 20xxx; overseas 97xxx
/// and 98xxx).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Postcode(String);

/// Why a string is not a [`Postcode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a French postcode: 5 digits, 01000 to 98999")]
pub struct PostcodeError;

impl Postcode {
    /// The five digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Postcode {
    type Err = PostcodeError;
    fn from_str(s: &str) -> Result<Self, PostcodeError> {
        let ok = s.len() == 5
            && s.bytes().all(|b| b.is_ascii_digit())
            && !s.starts_with("00")
            && !s.starts_with("99");
        ok.then(|| Self(s.to_owned())).ok_or(PostcodeError)
    }
}

impl TryFrom<String> for Postcode {
    type Error = PostcodeError;
    fn try_from(s: String) -> Result<Self, PostcodeError> {
        s.parse()
    }
}

impl From<Postcode> for String {
    fn from(p: Postcode) -> Self {
        p.0
    }
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A postal address: all three parts or none (the FHIR Location of the SAS requires each).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Number and street, one line (`25 rue de la Paix`).
    pub line: Name,
    /// The city as the post writes it (`Nancy`).
    pub city: Name,
    pub postcode: Postcode,
}

/// Why three stored strings are not an [`Address`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("line: {0}")]
    Line(NameError),
    #[error("city: {0}")]
    City(NameError),
    #[error(transparent)]
    Postcode(#[from] PostcodeError),
}

impl Address {
    /// An address from its three parts, each checked.
    ///
    /// # Errors
    /// The first part that is not acceptable.
    pub fn new(line: &str, city: &str, postcode: &str) -> Result<Self, AddressError> {
        Ok(Self {
            line: line.parse().map_err(AddressError::Line)?,
            city: city.parse().map_err(AddressError::City)?,
            postcode: postcode.parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_are_five_digits_of_a_french_range() {
        for ok in ["54000", "20000", "97400", "01000", "98800"] {
            assert!(ok.parse::<Postcode>().is_ok(), "{ok}");
        }
        for bad in ["5400", "540000", "00100", "99000", "2A000", " 5400", ""] {
            assert_eq!(bad.parse::<Postcode>(), Err(PostcodeError), "{bad}");
        }
    }

    #[test]
    fn an_address_checks_each_part() {
        let a = Address::new(" 1 rue Saint-Dizier ", "Nancy", "54000").unwrap();
        assert_eq!(a.line.as_str(), "1 rue Saint-Dizier");
        assert!(matches!(
            Address::new("", "Nancy", "54000"),
            Err(AddressError::Line(NameError::Empty))
        ));
        assert!(matches!(
            Address::new("1 rue", "Nan\u{202E}cy", "54000"),
            Err(AddressError::City(_))
        ));
        assert!(matches!(
            Address::new("1 rue", "Nancy", "5400"),
            Err(AddressError::Postcode(_))
        ));
        let json: Result<Address, _> =
            serde_json::from_str(r#"{"line":"1 rue","city":"Nancy","postcode":"54000","x":1}"#);
        assert!(json.is_err());
    }
}
