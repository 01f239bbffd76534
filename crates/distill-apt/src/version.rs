//! Debian versions and version constraints.
//!
//! Ordering is dpkg's (Debian Policy §5.6.12: epochs, `~` sorting before everything, digit
//! and non-digit runs, revisions), implemented by the `debversion` crate and checked against
//! `dpkg --compare-versions` on real index data in the tests.

use std::fmt;

pub use debversion::Version;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn policy_examples_order_as_dpkg_does() {
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1:0.1") > v("9.9"));
        assert!(v("1.0-1") < v("1.0-1+deb12u1"));
        assert!(v("2.36-9+deb12u4") < v("2.36-9+deb12u10"));
        assert!(Op::Ge.holds(&v("3.11.2-6"), &v("3.11.2")));
        assert!(!Op::Lt.holds(&v("1.0"), &v("1.0")));
    }
}
