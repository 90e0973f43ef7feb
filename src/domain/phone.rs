//! [`Phone`]: a French telephone number, the one a cabinet de garde is reached at (the
//! tableau de garde sent to the Ordre and the ARS names it).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A French number of 10 digits (`03 83 12 34 56`), kept as its 10 digits; read with or
/// without spaces, dots or dashes, or as `+33 3 83 12 34 56`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// Why a string is not a [`Phone`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected a French telephone number of 10 digits, such as 03 83 12 34 56 or +33 3 83 12 34 56"
)]
pub struct PhoneError;

impl Phone {
    /// The 10 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// In international (E.164) form: `0X XX XX XX XX` → `+33XXXXXXXXX`.
    pub fn e164(&self) -> String {
        format!("+33{}", &self.0[1..])
    }

    /// Grouped by two, as the French write it: `03 83 12 34 56`.
    pub fn grouped(&self) -> String {
        self.0
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromStr for Phone {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, PhoneError> {
        if s.len() > 30 {
            return Err(PhoneError);
        }
        let compact: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-'))
            .collect();
        let national = match compact.strip_prefix("+33") {
            Some(rest) => format!("0{rest}"),
            None => compact,
        };
        let b = national.as_bytes();
        let ok = b.len() == 10 && b.iter().all(u8::is_ascii_digit) && b[0] == b'0' && b[1] != b'0';
        if ok {
            Ok(Phone(national))
        } else {
            Err(PhoneError)
        }
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, PhoneError> {
        s.parse()
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_numbers_are_read_in_their_usual_spellings() {
        for s in [
            "0383123456",
            "03 83 12 34 56",
            "03.83.12.34.56",
            "+33 3 83 12 34 56",
            "+33383123456",
        ] {
            let p: Phone = s.parse().unwrap();
            assert_eq!(p.as_str(), "0383123456", "{s}");
            assert_eq!(p.grouped(), "03 83 12 34 56");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for s in [
            "",
            "15",
            "038312345",
            "03831234567",
            "0083123456",
            "+44 20 7946 0958",
            "03 83 12 34 5x",
            "\u{0}383123456",
        ] {
            assert!(s.parse::<Phone>().is_err(), "{s:?}");
        }
    }
}
