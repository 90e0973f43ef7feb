//! Text typed by people: [`Name`] (a cabinet's, a CPTS's), and the rule every string the API
//! reads obeys ([`text_problem`]): no control character (a NUL reached PostgreSQL as an error)
//! and no bidirectional override (it makes a name read backwards on a régulateur's screen).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why `s` is not acceptable text, if it is not.
pub fn text_problem(s: &str) -> Option<&'static str> {
    s.chars().find_map(|c| {
        if c.is_control() {
            Some("must not contain control characters")
        } else if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
            Some("must not contain bidirectional overrides")
        } else {
            None
        }
    })
}

/// Longest [`Name`], in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A name shown to people: printable text, 1 to [`MAX_NAME_CHARS`] characters, not blank,
/// without surrounding spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Why a string is not a [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("longer than {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("{0}")]
    Unprintable(&'static str),
}

impl Name {
    /// The name as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong);
        }
        if let Some(problem) = text_problem(s) {
            return Err(NameError::Unprintable(problem));
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        s.parse()
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_printable_bounded_and_trimmed() {
        assert_eq!(
            " Maison de santé « Les Tilleuls » "
                .parse::<Name>()
                .unwrap()
                .as_str(),
            "Maison de santé « Les Tilleuls »"
        );
        assert_eq!("   ".parse::<Name>(), Err(NameError::Empty));
        assert_eq!("é".repeat(201).parse::<Name>(), Err(NameError::TooLong));
        assert!("é".repeat(200).parse::<Name>().is_ok());
        assert!("a\0b".parse::<Name>().is_err());
        assert!("a\u{202E}b".parse::<Name>().is_err());
        assert!("a\tb".parse::<Name>().is_err());
    }
}
