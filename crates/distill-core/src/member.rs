//! The members of the distroless family, by name.

use std::fmt;
use std::str::FromStr;

/// A member of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FamilyMember {
    Static,
    BaseNossl,
    Base,
    Cc,
    /// Debian's Python (3.11 on 12, 3.13 on 13), on top of `cc`.
    Python3,
    /// Debian's headless OpenJDK JRE (17 on 12, 21 on 13), on top of `cc`.
    Java,
    /// The official Node build of this major, from the npm registry, on top of `cc`.
    Nodejs(u8),
}

/// The Node majors the family offers, oldest first.
pub const NODE_MAJORS: [u8; 3] = [22, 24, 26];
/// The major an app gets when nothing asks for one: the active LTS.
pub const NODE_DEFAULT_MAJOR: u8 = 24;
/// Where the `nodejs` members put node, as distroless does.
pub const NODE_BINARY: &str = "/nodejs/bin/node";

/// A name that is not a member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("Unknown family member `{0}`")]
#[diagnostic(help(
    "use one of static, base-nossl, base, cc, python3, java, nodejs22, nodejs24, nodejs26"
))]
pub struct UnknownMember(pub String);

impl FamilyMember {
    /// Every member, in the order of the family's layers.
    pub const ALL: [FamilyMember; 9] = [
        FamilyMember::Static,
        FamilyMember::BaseNossl,
        FamilyMember::Base,
        FamilyMember::Cc,
        FamilyMember::Python3,
        FamilyMember::Java,
        FamilyMember::Nodejs(22),
        FamilyMember::Nodejs(24),
        FamilyMember::Nodejs(26),
    ];

    /// The name distroless gives the member, `nodejs24`.
    pub fn name(self) -> &'static str {
        match self {
            FamilyMember::Static => "static",
            FamilyMember::BaseNossl => "base-nossl",
            FamilyMember::Base => "base",
            FamilyMember::Cc => "cc",
            FamilyMember::Python3 => "python3",
            FamilyMember::Java => "java",
            FamilyMember::Nodejs(18) => "nodejs18",
            FamilyMember::Nodejs(20) => "nodejs20",
            FamilyMember::Nodejs(22) => "nodejs22",
            FamilyMember::Nodejs(24) => "nodejs24",
            FamilyMember::Nodejs(26) => "nodejs26",
            // Not constructible through `FromStr`; named for completeness.
            FamilyMember::Nodejs(_) => "nodejs",
        }
    }

    /// Every name, for messages.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl FromStr for FamilyMember {
    type Err = UnknownMember;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMember(s.to_owned()))
    }
}

impl fmt::Display for FamilyMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl clap::ValueEnum for FamilyMember {
    fn value_variants<'a>() -> &'a [Self] {
        &Self::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in FamilyMember::ALL {
            assert_eq!(m.name().parse(), Ok(m));
            assert_eq!(m.to_string(), m.name());
        }
        assert!("nodejs23".parse::<FamilyMember>().is_err());
        assert!("nodejs".parse::<FamilyMember>().is_err());
        assert!(FamilyMember::names().contains("base-nossl, base, cc"));
    }
}
