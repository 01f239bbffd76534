//! Language runtimes and their upstream support windows (late 2026): the one table the build
//! (and a report on any image) consults, so that an image shipping an end-of-life runtime
//! says so.

use std::fmt;

/// A calendar month, `(year, month)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct YearMonth(pub i32, pub u32);

impl YearMonth {
    /// The month of a Unix time, in UTC, whatever its size.
    pub(crate) fn of_unix(secs: u64) -> Self {
        // Howard Hinnant's civil_from_days, on days since 1970-01-01.
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self(
            i32::try_from(year).unwrap_or(i32::MAX),
            u32::try_from(month).unwrap_or(1),
        )
    }

    /// Whether the month has ended by `secs`.
    pub fn is_past(self, secs: u64) -> bool {
        Self::of_unix(secs) > self
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.0, self.1)
    }
}

/// A runtime an image ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    /// `python`, `node`.
    pub name: &'static str,
    /// `3.13`, `24`.
    pub version: &'static str,
    /// The last month of upstream support.
    pub eol: YearMonth,
}

/// The image annotation that names the runtime, `python 3.13`.
pub const ANNOTATION_RUNTIME: &str = "dev.distill.runtime";
/// The image annotation that gives its end of life, `2029-10`.
pub const ANNOTATION_EOL: &str = "dev.distill.runtime.end-of-life";

/// Python releases: version and end of life.
pub(crate) const PYTHONS: &[Runtime] = &[
    Runtime {
        name: "python",
        version: "3.10",
        eol: YearMonth(2026, 10),
    },
    Runtime {
        name: "python",
        version: "3.11",
        eol: YearMonth(2027, 10),
    },
    Runtime {
        name: "python",
        version: "3.13",
        eol: YearMonth(2029, 10),
    },
];

/// Node majors: version and end of life, from Node's release schedule. Every major from 4,
/// the first whose official Linux builds the npm registry carries, to the newest; odd majors
/// are short-lived by design (about eight months). 0.x lines are left out: nothing current
/// runs on them.
pub(crate) const NODES: &[Runtime] = &[
    node("4", 2018, 4),
    node("5", 2016, 6),
    node("6", 2019, 4),
    node("7", 2017, 6),
    node("8", 2019, 12),
    node("9", 2018, 6),
    node("10", 2021, 4),
    node("11", 2019, 6),
    node("12", 2022, 4),
    node("13", 2020, 6),
    node("14", 2023, 4),
    node("15", 2021, 6),
    node("16", 2023, 9),
    node("17", 2022, 6),
    node("18", 2025, 4),
    node("19", 2023, 6),
    node("20", 2026, 4),
    node("21", 2024, 6),
    node("22", 2027, 4),
    node("23", 2025, 6),
    node("24", 2028, 4),
    node("25", 2026, 6),
    node("26", 2029, 4),
];

const fn node(version: &'static str, year: i32, month: u32) -> Runtime {
    Runtime {
        name: "node",
        version,
        eol: YearMonth(year, month),
    }
}

/// The Node majors distill can ship, oldest first.
pub fn node_majors() -> impl DoubleEndedIterator<Item = u8> {
    NODES.iter().filter_map(|r| r.version.parse().ok())
}

/// Java feature releases as Debian packages them (OpenJDK), with the longest free upstream
/// builds' support (Eclipse Temurin's published dates).
pub(crate) const JAVAS: &[Runtime] = &[
    Runtime {
        name: "java",
        version: "17",
        eol: YearMonth(2027, 10),
    },
    Runtime {
        name: "java",
        version: "21",
        eol: YearMonth(2029, 12),
    },
    Runtime {
        name: "java",
        version: "25",
        eol: YearMonth(2031, 9),
    },
];

/// The runtime `name` at `version`, from the tables.
pub fn find(name: &str, version: &str) -> Option<Runtime> {
    PYTHONS
        .iter()
        .chain(NODES)
        .chain(JAVAS)
        .find(|r| r.name == name && r.version == version)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_unix_times() {
        assert_eq!(YearMonth::of_unix(0), YearMonth(1970, 1));
        assert_eq!(YearMonth::of_unix(951_782_400), YearMonth(2000, 2)); // 2000-02-29
        assert_eq!(YearMonth::of_unix(1_795_000_000), YearMonth(2026, 11));
        assert_eq!(YearMonth::of_unix(253_402_300_799), YearMonth(9999, 12));
        // No panic, whatever the clock says.
        let _ = YearMonth::of_unix(u64::MAX);
    }

    #[test]
    fn end_of_life_is_past_only_after_the_last_supported_month() {
        let py = find("python", "3.11").unwrap();
        assert_eq!(py.eol.to_string(), "2027-10");
        assert!(!py.eol.is_past(1_795_000_000)); // 2026-11
        assert!(!py.eol.is_past(1_822_000_000)); // 2027-09
        assert!(py.eol.is_past(1_828_000_000)); // 2027-12
        assert!(py.eol.is_past(u64::MAX));
        assert_eq!(find("node", "24").unwrap().eol, YearMonth(2028, 4));
        assert_eq!(find("java", "17").unwrap().eol, YearMonth(2027, 10));
    }
}
