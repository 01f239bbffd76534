//! Debian versions and version constraints.
//!
//! Parsing and ordering are dpkg's own (Debian Policy §5.6.12, dpkg's `lib/dpkg/parsehelp.c`
//! `parseversion` and `lib/dpkg/version.c` `verrevcmp`): an integer epoch, then the upstream
//! version and the revision compared as alternating non-digit and digit runs, where `~`
//! sorts before everything (even the end of the string), letters before other characters,
//! and an absent digit run counts as `0`.
//!
//! Written here rather than taken from the `debversion` crate, which treats an absent digit
//! run as less than `0` and so puts `1.1.1+dfsg-4+b1` below `1.1.1+dfsg0-1` where dpkg puts
//! it above (docs/architecture.md). The resolver's choice of candidate rests on this order,
//! so it is checked against `dpkg --compare-versions` on a fixed table and on real index data.
//!
//! Equality is dpkg's too: `1.0`, `1.0-0`, `0:1.0` and `1.00` are one version. `Display`
//! gives back the string as it was written.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Why a string is not a Debian version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("Version is empty")]
    Empty,
    #[error("Version `{0}` contains whitespace")]
    Whitespace(String),
    #[error("Version `{0}` has an epoch that is not a number below 2^31")]
    Epoch(String),
    #[error("Version `{0}` has nothing after the epoch")]
    EmptyUpstream(String),
    #[error("Version `{0}` has an empty revision")]
    EmptyRevision(String),
    #[error("Version `{0}` contains `{1}`, which Debian versions may not contain")]
    Character(String, char),
}

/// A Debian package version: `[epoch:]upstream[-revision]`.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    epoch: u32,
    /// Byte offsets of the upstream version within `text`.
    upstream: (usize, usize),
    /// Byte offsets of the revision within `text`; empty when there is none.
    revision: (usize, usize),
}

impl Version {
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn upstream(&self) -> &str {
        &self.text[self.upstream.0..self.upstream.1]
    }

    /// The Debian revision, `""` when the version has none.
    pub(crate) fn revision(&self) -> &str {
        &self.text[self.revision.0..self.revision.1]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if text.contains(char::is_whitespace) {
            return Err(VersionError::Whitespace(text.to_owned()));
        }
        let (epoch, start) = match text.split_once(':') {
            Some((e, _)) => {
                let epoch = (!e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| e.parse::<u32>().ok())
                    .flatten()
                    .filter(|n| i32::try_from(*n).is_ok())
                    .ok_or_else(|| VersionError::Epoch(text.to_owned()))?;
                (epoch, e.len() + 1)
            }
            None => (0, 0),
        };
        let rest = &text[start..];
        if rest.is_empty() {
            return Err(VersionError::EmptyUpstream(text.to_owned()));
        }
        let (upstream, revision) = match rest.rfind('-') {
            Some(h) if h + 1 == rest.len() => {
                return Err(VersionError::EmptyRevision(text.to_owned()));
            }
            Some(h) => ((start, start + h), (start + h + 1, text.len())),
            None => ((start, text.len()), (text.len(), text.len())),
        };
        if upstream.0 == upstream.1 {
            return Err(VersionError::EmptyUpstream(text.to_owned()));
        }
        // dpkg's character sets: upstream may hold `-` (the last one starts the revision)
        // and `:` (after an epoch), the revision neither.
        let allowed = |c: char, extra: &str| {
            c.is_ascii_alphanumeric() || ".+~".contains(c) || extra.contains(c)
        };
        let bad = text[upstream.0..upstream.1]
            .chars()
            .find(|&c| !allowed(c, "-:"))
            .or_else(|| {
                text[revision.0..revision.1]
                    .chars()
                    .find(|&c| !allowed(c, ""))
            });
        if let Some(c) = bad {
            return Err(VersionError::Character(text.to_owned(), c));
        }
        Ok(Version {
            text: text.to_owned(),
            epoch,
            upstream,
            revision,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream(), other.upstream()))
            .then_with(|| verrevcmp(self.revision(), other.revision()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

/// dpkg's weight of a character in a non-digit run; the end of the string weighs 0.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`, on byte slices, with the same treatment of the end of a string.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        // The non-digit run: compared character by character, by weight.
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (x, y) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if x != y {
                return x.cmp(&y);
            }
            i += 1;
            j += 1;
        }
        // The digit run: compared as a number, however long, without converting it.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff.is_eq() {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff.is_ne() {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// A relation operator of Debian Policy §7.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "<<" => Op::Lt,
            // `<` and `>` are obsolete spellings of `<=` and `>=` (Policy §7.1).
            "<=" | "<" => Op::Le,
            "=" => Op::Eq,
            ">=" | ">" => Op::Ge,
            ">>" => Op::Gt,
            _ => return None,
        })
    }

    /// Whether `have OP want` holds.
    pub fn holds(self, have: &Version, want: &Version) -> bool {
        let o = have.cmp(want);
        match self {
            Op::Lt => o.is_lt(),
            Op::Le => o.is_le(),
            Op::Eq => o.is_eq(),
            Op::Ge => o.is_ge(),
            Op::Gt => o.is_gt(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        })
    }
}

/// Pairs whose order is easy to get wrong, with dpkg's verdict. The integration tests ask
/// `dpkg --compare-versions` about every one of them too, so the table cannot drift from
/// dpkg unnoticed.
pub const TRICKY_PAIRS: &[(&str, &str, Ordering)] = &[
    // An absent digit run is 0, not less than 0 (issue #11: `debversion` got this wrong).
    ("1.1.1+dfsg-4+b1", "1.1.1+dfsg0-1", Ordering::Greater),
    ("1.0a", "1.0a0", Ordering::Equal),
    ("1.", "1.0", Ordering::Equal),
    ("1.0", "1.00", Ordering::Equal),
    ("1.001", "1.1", Ordering::Equal),
    // `~` sorts before everything, the end of the string included.
    ("1.0~rc1", "1.0", Ordering::Less),
    ("1.0~", "1.0", Ordering::Less),
    ("1.0~~", "1.0~", Ordering::Less),
    ("1.0~~a", "1.0~~", Ordering::Greater),
    ("1.0~rc1", "1.0~rc1~1", Ordering::Greater),
    ("1.0-1~bpo12+1", "1.0-1", Ordering::Less),
    // Epochs beat everything after them; an absent epoch is 0.
    ("1:0.1", "9.9", Ordering::Greater),
    ("0:1.0", "1.0", Ordering::Equal),
    ("2:1.0", "10:1.0", Ordering::Less),
    // binNMUs and stable updates sort above the version they rebuild.
    ("1.0-1", "1.0-1+b1", Ordering::Less),
    ("1.0-1+b1", "1.0-1+b10", Ordering::Less),
    ("1.0-1+b2", "1.0-1+b10", Ordering::Less),
    ("2.36-9+deb12u4", "2.36-9+deb12u10", Ordering::Less),
    ("1.0-1+deb12u1", "1.0-1+b1", Ordering::Greater),
    // An absent revision compares as an empty one, and so equals `-0`.
    ("1.0", "1.0-0", Ordering::Equal),
    ("1.0", "1.0-1", Ordering::Less),
    // Letters sort before `+`, `.` and `-`; `+` before `.`.
    ("1.0a", "1.0+", Ordering::Less),
    ("1.0a", "1.0.", Ordering::Less),
    ("1.0+", "1.0.", Ordering::Less),
    ("1.0+dfsg", "1.0.1", Ordering::Less),
    ("1.0Z", "1.0a", Ordering::Less),
    ("1.0-1a", "1.0-1.", Ordering::Less),
    ("1.2.3", "1.2-3", Ordering::Greater),
    // Digit runs compare as numbers, however long.
    ("1.9", "1.10", Ordering::Less),
    (
        "1.99999999999999999999999",
        "1.100000000000000000000000",
        Ordering::Less,
    ),
    ("3.11.2-6", "3.11.2", Ordering::Greater),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn tricky_pairs_order_as_dpkg_does() {
        for (a, b, want) in TRICKY_PAIRS {
            let (x, y) = (v(a), v(b));
            assert_eq!(x.cmp(&y), *want, "{a} vs {b}");
            assert_eq!(y.cmp(&x), want.reverse(), "{b} vs {a}");
            assert_eq!(x == y, want.is_eq(), "{a} == {b}");
        }
    }

    #[test]
    fn parts_and_display() {
        let x = v(" 1:2.36-9+deb12u4 ");
        assert_eq!(
            (x.epoch(), x.upstream(), x.revision()),
            (1, "2.36", "9+deb12u4")
        );
        assert_eq!(x.to_string(), "1:2.36-9+deb12u4");
        let y = v("1.0-rc-2");
        assert_eq!((y.upstream(), y.revision()), ("1.0-rc", "2"));
        let z = v("1:2:3");
        assert_eq!((z.epoch(), z.upstream(), z.revision()), (1, "2:3", ""));
    }

    #[test]
    fn malformed_versions_are_errors_not_panics() {
        for (s, want) in [
            ("", VersionError::Empty),
            ("   ", VersionError::Empty),
            ("1 .0", VersionError::Whitespace("1 .0".into())),
            ("a:1.0", VersionError::Epoch("a:1.0".into())),
            (":1.0", VersionError::Epoch(":1.0".into())),
            ("99999999999:1", VersionError::Epoch("99999999999:1".into())),
            ("2147483648:1", VersionError::Epoch("2147483648:1".into())),
            ("1:", VersionError::EmptyUpstream("1:".into())),
            ("-1", VersionError::EmptyUpstream("-1".into())),
            ("1.0-", VersionError::EmptyRevision("1.0-".into())),
            (
                "1:1.0-a:b",
                VersionError::Character("1:1.0-a:b".into(), ':'),
            ),
            ("1.0_1", VersionError::Character("1.0_1".into(), '_')),
            (
                "1.0\u{e9}",
                VersionError::Character("1.0\u{e9}".into(), '\u{e9}'),
            ),
        ] {
            assert_eq!(s.parse::<Version>().unwrap_err(), want, "{s:?}");
        }
    }

    #[test]
    fn operators() {
        assert!(Op::Ge.holds(&v("3.11.2-6"), &v("3.11.2")));
        assert!(!Op::Lt.holds(&v("1.0"), &v("1.0")));
        assert!(Op::Eq.holds(&v("1.0"), &v("0:1.0-0")));
        assert!(Op::Gt.holds(&v("1.1.1+dfsg-4+b1"), &v("1.1.1+dfsg0-1")));
    }

    proptest::proptest! {
        /// Any string is either refused or ordered, consistently, without a panic.
        #[test]
        fn ordering_is_total_and_antisymmetric(a in "[0-9a-z.+~:-]{0,12}", b in "[0-9a-z.+~:-]{0,12}") {
            if let (Ok(x), Ok(y)) = (a.parse::<Version>(), b.parse::<Version>()) {
                proptest::prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
                proptest::prop_assert_eq!(x.cmp(&x), Ordering::Equal);
            }
        }
    }
}
