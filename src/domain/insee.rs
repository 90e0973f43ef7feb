//! [`InseeCode`]: a commune code of the COG, with its [`Departement`]. FORMATS.md §1.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A 5-character INSEE commune code: département `01`–`19`, `2A`, `2B`, `21`–`95` then three
/// digits, or overseas `971`–`978`/`984`–`989` then two digits. Always a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InseeCode([u8; 5]);

/// Why a string is not an INSEE commune code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InseeError {
    #[error("expected 5 characters")]
    Length,
    #[error("unknown département prefix")]
    Departement,
    #[error("expected digits after the département")]
    Digits,
}

impl FromStr for InseeCode {
    type Err = InseeError;
    fn from_str(s: &str) -> Result<Self, InseeError> {
        let b: [u8; 5] = s.as_bytes().try_into().map_err(|_| InseeError::Length)?;
        let all_digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
        if b[0] == b'2' && (b[1] == b'A' || b[1] == b'B') {
            if !all_digits(&b[2..]) {
                return Err(InseeError::Digits);
            }
            return Ok(Self(b));
        }
        if !all_digits(&b[..2]) {
            return Err(InseeError::Departement);
        }
        let dep = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
        match dep {
            1..=19 | 21..=95 => {
                if !all_digits(&b[2..]) {
                    return Err(InseeError::Digits);
                }
                Ok(Self(b))
            }
            97 | 98 => {
                if !b[2].is_ascii_digit() {
                    return Err(InseeError::Departement);
                }
                let d3 = dep * 10 + u32::from(b[2] - b'0');
                if !matches!(d3, 971..=978 | 984..=989) {
                    return Err(InseeError::Departement);
                }
                if !all_digits(&b[3..]) {
                    return Err(InseeError::Digits);
                }
                Ok(Self(b))
            }
            _ => Err(InseeError::Departement),
        }
    }
}

impl InseeCode {
    /// The code as written.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("checked ASCII at construction")
    }

    /// The département: the first two characters, or three overseas.
    pub fn departement(&self) -> Departement {
        if self.0[0] == b'9' && (self.0[1] == b'7' || self.0[1] == b'8') {
            Departement([self.0[0], self.0[1], self.0[2]], 3)
        } else {
            Departement([self.0[0], self.0[1], b' '], 2)
        }
    }
}

impl TryFrom<String> for InseeCode {
    type Error = InseeError;
    fn try_from(s: String) -> Result<Self, InseeError> {
        s.parse()
    }
}

impl From<InseeCode> for String {
    fn from(c: InseeCode) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for InseeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A département code (`54`, `2A`, `974`), taken from an [`InseeCode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Departement([u8; 3], u8);

impl Departement {
    /// The code as written.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0[..usize::from(self.1)]).expect("checked ASCII")
    }

    /// Alsace-Moselle (57, 67, 68) keeps Good Friday and 26 December as public holidays.
    pub fn is_alsace_moselle(&self) -> bool {
        matches!(self.as_str(), "57" | "67" | "68")
    }
}

impl FromStr for Departement {
    type Err = InseeError;
    /// `54`, `2A`, `974`: the département of the communes whose codes start with it.
    fn from_str(s: &str) -> Result<Self, InseeError> {
        let padded = match s.len() {
            2 => format!("{s}000"),
            3 if s.starts_with("97") || s.starts_with("98") => format!("{s}00"),
            _ => return Err(InseeError::Departement),
        };
        let code: InseeCode = padded.parse().map_err(|_| InseeError::Departement)?;
        Ok(code.departement())
    }
}

impl fmt::Display for Departement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insee_accepts_corsica_and_overseas() {
        for ok in [
            "54395", "01001", "2A004", "2B033", "97411", "98735", "95690",
        ] {
            assert!(ok.parse::<InseeCode>().is_ok(), "{ok}");
        }
        assert_eq!(
            "2A004".parse::<InseeCode>().unwrap().departement().as_str(),
            "2A"
        );
        assert_eq!(
            "97411".parse::<InseeCode>().unwrap().departement().as_str(),
            "974"
        );
        assert!(
            "57463"
                .parse::<InseeCode>()
                .unwrap()
                .departement()
                .is_alsace_moselle()
        );
        assert!(
            !"54395"
                .parse::<InseeCode>()
                .unwrap()
                .departement()
                .is_alsace_moselle()
        );
    }

    #[test]
    fn departements_parse_from_their_prefix() {
        for ok in ["54", "2A", "2B", "974", "01", "95"] {
            assert_eq!(ok.parse::<Departement>().unwrap().as_str(), ok);
        }
        for bad in ["", "5", "20", "00", "96", "979", "541", "97", "2C", "5a"] {
            assert!(bad.parse::<Departement>().is_err(), "{bad}");
        }
    }

    #[test]
    fn insee_refuses_bad_codes() {
        assert_eq!("5439".parse::<InseeCode>(), Err(InseeError::Length));
        assert_eq!("20001".parse::<InseeCode>(), Err(InseeError::Departement));
        assert_eq!("00001".parse::<InseeCode>(), Err(InseeError::Departement));
        assert_eq!("96001".parse::<InseeCode>(), Err(InseeError::Departement));
        assert_eq!("97911".parse::<InseeCode>(), Err(InseeError::Departement));
        assert_eq!("2C001".parse::<InseeCode>(), Err(InseeError::Departement));
        assert_eq!("5439x".parse::<InseeCode>(), Err(InseeError::Digits));
    }
}
