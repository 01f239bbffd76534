//! `Release` files (apt's repository format, "Release files"): what a suite is, until when
//! it may be trusted, and the SHA-256 of every index it lists.
//!
//! Parsed only from text [`crate::trust`] has verified. The checks apt makes are made here
//! too: `Valid-Until` must be in the future, and `Codename` or `Suite` must be the suite that
//! was asked for, so a validly signed but replayed or substituted suite is refused.

use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct ReleaseFile {
    pub suite: String,
    pub codename: String,
    /// `Date`: when the archive published it, the clock replay protection compares.
    pub date: Option<u64>,
    pub valid_until: Option<u64>,
    pub acquire_by_hash: bool,
    /// Path relative to `dists/SUITE/` → (size, sha256).
    pub sha256: HashMap<String, (u64, String)>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReleaseError {
    #[error("Malformed Release file {url}: {why}")]
    Malformed { url: String, why: String },
    #[error("Release file {url} expired on {valid_until} (Valid-Until)")]
    #[diagnostic(help(
        "the mirror is stale or replaying an old Release; pass --mirror URL for an up-to-date mirror, or check the clock with `date -u`"
    ))]
    Expired { url: String, valid_until: String },
    #[error("Release file {url} is for suite {got}, not {want}")]
    #[diagnostic(help(
        "the mirror serves another suite under this name; check the mirror and the Debian release"
    ))]
    WrongSuite {
        url: String,
        got: String,
        want: String,
    },
    #[error("Release file {url} does not list {path}")]
    #[diagnostic(help("check the repository's components and architectures"))]
    Unlisted { url: String, path: String },
}

/// Seconds since the epoch for an RFC 2822 date as Release files write it
/// (`Sat, 09 Nov 2024 10:02:47 UTC`).
fn parse_date(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s
        .strip_suffix(" UTC")
        .or_else(|| s.strip_suffix(" +0000"))
        .or_else(|| s.strip_suffix(" GMT"))?;
    let t = httpdate::parse_http_date(&format!("{s} GMT")).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

impl ReleaseFile {
    pub fn parse(text: &str, url: &str) -> Result<Self, ReleaseError> {
        let bad = |why: &str| ReleaseError::Malformed {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let d: deb822_fast::Deb822 = text.parse().map_err(|_| bad("not a deb822 paragraph"))?;
        let p = d.iter().next().ok_or_else(|| bad("empty"))?;
        let mut sha256 = HashMap::new();
        for line in p
            .get("SHA256")
            .ok_or_else(|| bad("no SHA256 field"))?
            .lines()
        {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                [] => {}
                [hash, size, path]
                    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    let size = size.parse().map_err(|_| bad("bad size in SHA256"))?;
                    sha256.insert((*path).to_owned(), (size, hash.to_ascii_lowercase()));
                }
                _ => return Err(bad("bad SHA256 line")),
            }
        }
        let valid_until = match p.get("Valid-Until") {
            Some(v) => Some(parse_date(v).ok_or_else(|| bad("bad Valid-Until date"))?),
            None => None,
        };
        let date = match p.get("Date") {
            Some(v) => Some(parse_date(v).ok_or_else(|| bad("bad Date"))?),
            None => None,
        };
        Ok(ReleaseFile {
            suite: p.get("Suite").unwrap_or("").to_owned(),
            codename: p.get("Codename").unwrap_or("").to_owned(),
            date,
            valid_until,
            acquire_by_hash: p.get("Acquire-By-Hash") == Some("yes"),
            sha256,
        })
    }

    /// apt's checks: the suite asked for, and not past `Valid-Until` at `now`.
    pub fn check(&self, want: &str, url: &str, now: u64) -> Result<(), ReleaseError> {
        if self.suite != want && self.codename != want {
            return Err(ReleaseError::WrongSuite {
                url: url.to_owned(),
                got: format!("{} ({})", self.codename, self.suite),
                want: want.to_owned(),
            });
        }
        if let Some(v) = self.valid_until
            && v < now
        {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(v);
            return Err(ReleaseError::Expired {
                url: url.to_owned(),
                valid_until: httpdate::fmt_http_date(t),
            });
        }
        Ok(())
    }

    pub fn entry(&self, path: &str, url: &str) -> Result<(u64, &str), ReleaseError> {
        self.sha256
            .get(path)
            .map(|(s, h)| (*s, h.as_str()))
            .ok_or_else(|| ReleaseError::Unlisted {
                url: url.to_owned(),
                path: path.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 09 Nov 2024 10:02:47 UTC\n\
Valid-Until: Sat, 16 Nov 2024 10:02:47 UTC\nAcquire-By-Hash: yes\nSHA256:\n \
0000000000000000000000000000000000000000000000000000000000000000 12 main/binary-amd64/Packages.xz\n";

    #[test]
    fn parses_and_checks_suite_and_expiry() {
        let r = ReleaseFile::parse(R, "u").unwrap();
        assert!(r.acquire_by_hash);
        assert_eq!(r.entry("main/binary-amd64/Packages.xz", "u").unwrap().0, 12);
        assert_eq!(r.valid_until, Some(1_731_751_367));
        assert_eq!(r.date, Some(1_731_146_567));
        r.check("bookworm", "u", 1_731_000_000).unwrap();
        r.check("stable", "u", 1_731_000_000).unwrap();
        assert!(matches!(
            r.check("trixie", "u", 0),
            Err(ReleaseError::WrongSuite { .. })
        ));
        assert!(matches!(
            r.check("bookworm", "u", 1_800_000_000),
            Err(ReleaseError::Expired { .. })
        ));
        assert!(matches!(
            r.entry("contrib/x", "u"),
            Err(ReleaseError::Unlisted { .. })
        ));
    }
}
