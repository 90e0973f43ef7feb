//! Identifiers that cannot be wrong: [`Rpps`] (Luhn key), [`PatientId`] (pseudonymous, never a
//! NIR) and [`CabinetId`]. FORMATS.md §1.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An RPPS number: 11 digits, the last one a Luhn check digit (FORMATS.md §1).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rpps(String);

/// Why a string is not an RPPS number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RppsError {
    #[error("expected exactly 11 digits")]
    Shape,
    #[error("check digit does not match (Luhn)")]
    CheckDigit,
}

/// Luhn sum of a string of ASCII digits: from the right, every second digit is doubled, minus 9
/// when above 9.
fn luhn_sum(digits: &[u8]) -> u32 {
    digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                if d > 4 { 2 * d - 9 } else { 2 * d }
            } else {
                d
            }
        })
        .sum()
}

impl Rpps {
    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Builds a valid RPPS from its first 10 digits by appending the Luhn check digit.
    ///
    /// # Errors
    /// [`RppsError::Shape`] unless `body` is exactly 10 ASCII digits.
    pub fn with_check_digit(body: &str) -> Result<Self, RppsError> {
        if body.len() != 10 || !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RppsError::Shape);
        }
        let mut digits = body.as_bytes().to_vec();
        digits.push(b'0');
        let check = (10 - luhn_sum(&digits) % 10) % 10;
        let last = digits.len() - 1;
        digits[last] = b'0' + u8::try_from(check).expect("a digit");
        Ok(Self(String::from_utf8(digits).expect("ASCII digits")))
    }
}

impl FromStr for Rpps {
    type Err = RppsError;
    fn from_str(s: &str) -> Result<Self, RppsError> {
        if s.len() != 11 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RppsError::Shape);
        }
        if !luhn_sum(s.as_bytes()).is_multiple_of(10) {
            return Err(RppsError::CheckDigit);
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for Rpps {
    type Error = RppsError;
    fn try_from(s: String) -> Result<Self, RppsError> {
        s.parse()
    }
}

impl From<Rpps> for String {
    fn from(r: Rpps) -> String {
        r.0
    }
}

impl fmt::Display for Rpps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not a pseudonymous identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("longer than 64 characters")]
    TooLong,
    #[error("only letters, digits, '_', '.' and '-' are allowed")]
    Charset,
    #[error("looks like a NIR (13 or 15 digits); only pseudonymous identifiers are accepted")]
    NirShaped,
    #[error("'.' and '..' are not identifiers")]
    DotSegment,
}

fn check_identifier(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > 64 {
        return Err(IdError::TooLong);
    }
    if s == "." || s == ".." {
        return Err(IdError::DotSegment);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(IdError::Charset);
    }
    Ok(())
}

/// True for a value shaped like a NIR (numéro de sécurité sociale): 13 or 15 characters of
/// digits, where the département may be written 2A/2B (FORMATS.md §1).
pub fn is_nir_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 13 && b.len() != 15 {
        return false;
    }
    b.iter()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || (i == 6 && matches!(c, b'A' | b'B' | b'a' | b'b')))
}

/// A pseudonymous patient identifier: 1–64 characters of `[A-Za-z0-9_.-]`, never NIR-shaped.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PatientId(String);

impl PatientId {
    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PatientId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        check_identifier(s)?;
        if is_nir_shaped(s) {
            return Err(IdError::NirShaped);
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for PatientId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<PatientId> for String {
    fn from(p: PatientId) -> String {
        p.0
    }
}

impl fmt::Display for PatientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A cabinet de garde identifier: 1–64 characters of `[A-Za-z0-9_.-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CabinetId(String);

impl CabinetId {
    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CabinetId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        check_identifier(s)?;
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for CabinetId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<CabinetId> for String {
    fn from(c: CabinetId) -> String {
        c.0
    }
}

impl fmt::Display for CabinetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_not_identifiers() {
        assert_eq!(".".parse::<CabinetId>(), Err(IdError::DotSegment));
        assert_eq!("..".parse::<PatientId>(), Err(IdError::DotSegment));
        assert!("...".parse::<CabinetId>().is_ok());
        assert!("a.b".parse::<CabinetId>().is_ok());
    }

    #[test]
    fn rpps_accepts_the_examples_of_formats_md() {
        // FORMATS.md §1 gives these two as valid.
        assert!("10000000009".parse::<Rpps>().is_ok());
        assert!("10123456781".parse::<Rpps>().is_ok());
    }

    #[test]
    fn rpps_refuses_a_wrong_key_or_shape() {
        assert_eq!("10000000008".parse::<Rpps>(), Err(RppsError::CheckDigit));
        assert_eq!("1000000000".parse::<Rpps>(), Err(RppsError::Shape));
        assert_eq!("1000000000a".parse::<Rpps>(), Err(RppsError::Shape));
        assert_eq!(" 10000000009".parse::<Rpps>(), Err(RppsError::Shape));
    }

    #[test]
    fn rpps_check_digit_is_appended() {
        let r = Rpps::with_check_digit("1012345678").unwrap();
        assert_eq!(r.as_str(), "10123456781");
    }

    #[test]
    fn patient_id_refuses_nir_shapes_and_bad_characters() {
        assert!("P000123".parse::<PatientId>().is_ok());
        assert!("abc-1.2_3".parse::<PatientId>().is_ok());
        assert_eq!(
            "1850775123456".parse::<PatientId>(),
            Err(IdError::NirShaped)
        );
        assert_eq!(
            "185072A12345678".parse::<PatientId>(),
            Err(IdError::NirShaped)
        );
        assert_eq!(
            "185077512345678".parse::<PatientId>(),
            Err(IdError::NirShaped)
        );
        // 14 digits is not a NIR shape.
        assert!("18507751234567".parse::<PatientId>().is_ok());
        assert_eq!("".parse::<PatientId>(), Err(IdError::Empty));
        assert_eq!("a b".parse::<PatientId>(), Err(IdError::Charset));
        assert_eq!("x".repeat(65).parse::<PatientId>(), Err(IdError::TooLong));
    }
}
