//! Runtime end-of-life dates (upstream support windows, late 2026), so an image that ships
//! an end-of-life runtime says so.
//!
//! The image carries the runtime and its end-of-life month as annotations, which depend on
//! the recipe only, never on the clock, so digests stay reproducible. The build warns on
//! stderr when the build date is past that month.

use distill_apt::debian::Release;

use super::Name;

/// A runtime a family member ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    pub name: &'static str,
    pub version: &'static str,
    /// The last month of upstream support.
    pub eol: (i32, u32),
}

pub const ANNOTATION_RUNTIME: &str = "dev.distill.runtime";
pub const ANNOTATION_EOL: &str = "dev.distill.runtime.end-of-life";

/// The runtime of `name` on `release`, if it ships one.
pub fn runtime(name: Name, release: Release) -> Option<Runtime> {
    match (name, release) {
        (Name::Python3, Release::Bookworm) => Some(Runtime {
            name: "python",
            version: "3.11",
            eol: (2027, 10),
        }),
        (Name::Python3, Release::Trixie) => Some(Runtime {
            name: "python",
            version: "3.13",
            eol: (2029, 10),
        }),
        (Name::Nodejs(22), _) => Some(Runtime {
            name: "node",
            version: "22",
            eol: (2027, 4),
        }),
        (Name::Nodejs(24), _) => Some(Runtime {
            name: "node",
            version: "24",
            eol: (2028, 4),
        }),
        (Name::Nodejs(26), _) => Some(Runtime {
            name: "node",
            version: "26",
            eol: (2029, 4),
        }),
        _ => None,
    }
}

impl Runtime {
    pub fn eol_text(&self) -> String {
        format!("{:04}-{:02}", self.eol.0, self.eol.1)
    }

    /// Whether the support window has closed by `unix_secs` (UTC).
    pub fn is_past(&self, unix_secs: u64) -> bool {
        // A clock past the year 9999 is past every end of life.
        let Some(date) = distill_oci::image::rfc3339(unix_secs) else {
            return true;
        };
        let year: i32 = date.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
        let month: u32 = date.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(0);
        (year, month) > self.eol
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_life_is_past_only_after_the_last_supported_month() {
        let py = runtime(Name::Python3, Release::Bookworm).unwrap();
        assert_eq!(py.eol_text(), "2027-10");
        assert!(!py.is_past(1_795_000_000)); // 2026-11
        assert!(!py.is_past(1_822_000_000)); // 2027-09
        assert!(py.is_past(1_828_000_000)); // 2027-12
        assert!(
            py.is_past(u64::MAX),
            "a clock past 9999 is past, not a panic"
        );
        assert_eq!(runtime(Name::Cc, Release::Trixie), None);
    }
}
