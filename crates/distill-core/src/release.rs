//! The Debian releases distill builds from, and the facts that follow from each: its Python,
//! its glibc, and its support window. This is the one place these facts live.

use std::fmt;
use std::str::FromStr;

use crate::runtime::YearMonth;

/// A Debian release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Release {
    /// Debian 12.
    Bookworm,
    /// Debian 13, the default.
    #[default]
    Trixie,
}

/// A name that is not a release distill builds from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("Unknown Debian release `{0}`")]
#[diagnostic(help("use \"12\" (bookworm) or \"13\" (trixie)"))]
pub struct UnknownRelease(pub String);

impl Release {
    pub const ALL: [Release; 2] = [Release::Bookworm, Release::Trixie];

    /// `12`, `13`.
    pub fn number(self) -> &'static str {
        match self {
            Release::Bookworm => "12",
            Release::Trixie => "13",
        }
    }

    pub fn codename(self) -> &'static str {
        match self {
            Release::Bookworm => "bookworm",
            Release::Trixie => "trixie",
        }
    }

    /// Debian's Python 3: `(3, 11)` on 12, `(3, 13)` on 13.
    pub fn python(self) -> (u32, u32) {
        match self {
            Release::Bookworm => (3, 11),
            Release::Trixie => (3, 13),
        }
    }

    /// The interpreter's path, `/usr/bin/python3.11`.
    pub fn python_binary(self) -> String {
        let (major, minor) = self.python();
        format!("/usr/bin/python{major}.{minor}")
    }

    /// The glibc the release ships, `(2, 36)` on 12 and `(2, 41)` on 13.
    pub fn glibc(self) -> (u32, u32) {
        match self {
            Release::Bookworm => (2, 36),
            Release::Trixie => (2, 41),
        }
    }

    /// The end of Debian's own security support (the LTS team's follows).
    pub fn security_until(self) -> YearMonth {
        match self {
            Release::Bookworm => YearMonth(2026, 6),
            Release::Trixie => YearMonth(2028, 8),
        }
    }

    /// The end of long-term support.
    pub fn lts_until(self) -> YearMonth {
        match self {
            Release::Bookworm => YearMonth(2028, 6),
            Release::Trixie => YearMonth(2030, 6),
        }
    }
}

impl FromStr for Release {
    type Err = UnknownRelease;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Release::ALL
            .into_iter()
            .find(|r| s == r.number() || s == r.codename())
            .ok_or_else(|| UnknownRelease(s.to_owned()))
    }
}

impl fmt::Display for Release {
    /// `Debian 12 (bookworm)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Debian {} ({})", self.number(), self.codename())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_codenames_parse() {
        assert_eq!("12".parse(), Ok(Release::Bookworm));
        assert_eq!("trixie".parse(), Ok(Release::Trixie));
        assert!("11".parse::<Release>().is_err());
        assert_eq!(Release::Bookworm.python_binary(), "/usr/bin/python3.11");
        assert_eq!(Release::Trixie.to_string(), "Debian 13 (trixie)");
        assert_eq!(Release::default(), Release::Trixie);
    }
}
