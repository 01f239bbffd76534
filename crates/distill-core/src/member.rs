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
/// The names of the Node majors with official builds (4 to 26), from [`NODE_NAMES_FROM`].
const NODE_NAMES: [&str; 23] = [
    "nodejs4", "nodejs5", "nodejs6", "nodejs7", "nodejs8", "nodejs9", "nodejs10", "nodejs11",
    "nodejs12", "nodejs13", "nodejs14", "nodejs15", "nodejs16", "nodejs17", "nodejs18", "nodejs19",
    "nodejs20", "nodejs21", "nodejs22", "nodejs23", "nodejs24", "nodejs25", "nodejs26",
];
const NODE_NAMES_FROM: usize = 4;
/// Where the `nodejs` members put node, as distroless does.
pub const NODE_BINARY: &str = "/nodejs/bin/node";

/// A name that is not a member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("Unknown family member `{0}`")]
#[diagnostic(help("use one of {}", FamilyMember::names()))]
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
            FamilyMember::Nodejs(m) => usize::from(m)
                .checked_sub(NODE_NAMES_FROM)
                .and_then(|i| NODE_NAMES.get(i))
                // Not constructible through `FromStr`; named for completeness.
                .unwrap_or(&"nodejs"),
        }
    }

    /// Every name, for messages: the family's own, and the other Node majors as a range.
    pub fn names() -> String {
        let majors: Vec<u8> = crate::runtime::node_majors().collect();
        let (first, last) = (majors[0], majors[majors.len() - 1]);
        format!(
            "{}, or any other Node major from nodejs{first} to nodejs{last}",
            Self::ALL.map(Self::name).join(", ")
        )
    }
}

impl FromStr for FamilyMember {
    type Err = UnknownMember;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let node = || {
            let major: u8 = s.strip_prefix("nodejs")?.parse().ok()?;
            let member = FamilyMember::Nodejs(major);
            // `nodejs024` is no name: only the spelling `name` gives round-trips.
            (crate::runtime::node_majors().any(|m| m == major) && member.name() == s)
                .then_some(member)
        };
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .or_else(node)
            .ok_or_else(|| UnknownMember(s.to_owned()))
    }
}

impl fmt::Display for FamilyMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
        for m in crate::runtime::node_majors() {
            let name = format!("nodejs{m}");
            assert_eq!(name.parse(), Ok(FamilyMember::Nodejs(m)));
            assert_eq!(FamilyMember::Nodejs(m).name(), name);
        }
        assert_eq!("nodejs16".parse(), Ok(FamilyMember::Nodejs(16)));
        assert!("nodejs3".parse::<FamilyMember>().is_err());
        assert!("nodejs27".parse::<FamilyMember>().is_err());
        assert!("nodejs".parse::<FamilyMember>().is_err());
        assert!("nodejs024".parse::<FamilyMember>().is_err());
        assert!(FamilyMember::names().contains("base-nossl, base, cc"));
    }
}
