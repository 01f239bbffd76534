//! The host's apt sources: where the Debian mirror is (sources.list(5)).
//!
//! Users behind a corporate mirror already have it in `/etc/apt`; distill reads the same
//! place, in both formats: one-line `sources.list` entries and deb822 `.sources` files, with
//! their `Signed-By`. The main archive is the entry whose suites include a plain codename;
//! the security archive, the one whose suites end in `-security`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// A keyring file named by `Signed-By` (inline keys are not used).
    pub signed_by: Option<PathBuf>,
}

/// Mirrors found on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostMirrors {
    pub debian: Option<SourceEntry>,
    pub security: Option<SourceEntry>,
}

const CODENAMES: &[&str] = &["buster", "bullseye", "bookworm", "trixie", "forky", "sid"];

/// Reads `DIR/sources.list`, `DIR/sources.list.d/*.list` and `*.sources`, in that order.
pub(crate) fn read_host(apt_dir: &Path) -> Vec<SourceEntry> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(apt_dir.join("sources.list")) {
        out.extend(parse_one_line(&text));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(apt_dir.join("sources.list.d"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        match f.extension().and_then(|e| e.to_str()) {
            Some("list") => out.extend(parse_one_line(&text)),
            Some("sources") => out.extend(parse_deb822(&text)),
            _ => {}
        }
    }
    out
}

/// Picks the Debian and security archives from `entries`.
pub(crate) fn host_mirrors(entries: &[SourceEntry]) -> HostMirrors {
    let is_main = |e: &&SourceEntry| e.suites.iter().any(|s| CODENAMES.contains(&s.as_str()));
    let is_security = |e: &&SourceEntry| {
        e.suites
            .iter()
            .any(|s| s.ends_with("-security") || s.ends_with("/updates"))
    };
    HostMirrors {
        debian: entries.iter().find(is_main).cloned(),
        security: entries.iter().find(is_security).cloned(),
    }
}

fn parse_one_line(text: &str) -> Vec<SourceEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        else {
            continue;
        };
        let mut rest = rest.trim_start();
        let mut signed_by = None;
        if let Some(after) = rest.strip_prefix('[') {
            let Some(close) = after.find(']') else {
                continue;
            };
            for opt in after[..close].split_whitespace() {
                if let Some(v) = opt.strip_prefix("signed-by=") {
                    signed_by = Some(PathBuf::from(v));
                }
            }
            rest = after[close + 1..].trim_start();
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(SourceEntry {
            uri: uri.trim_end_matches('/').to_owned(),
            suites: vec![suite.to_owned()],
            components: words.map(str::to_owned).collect(),
            signed_by,
        });
    }
    out
}

fn parse_deb822(text: &str) -> Vec<SourceEntry> {
    let Ok(d) = text.parse::<deb822_fast::Deb822>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in d.iter() {
        let words = |f: &str| -> Vec<String> {
            p.get(f)
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        if !words("Types").iter().any(|t| t == "deb") || p.get("Enabled") == Some("no") {
            continue;
        }
        // Signed-By is a path unless it holds an inline key block.
        let signed_by = p
            .get("Signed-By")
            .filter(|v| !v.contains("BEGIN PGP"))
            .and_then(|v| v.split_whitespace().next())
            .map(PathBuf::from);
        for uri in words("URIs") {
            out.push(SourceEntry {
                uri: uri.trim_end_matches('/').to_owned(),
                suites: words("Suites"),
                components: words("Components"),
                signed_by: signed_by.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_formats_and_finds_main_and_security() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sources.list"),
            "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian/ bookworm main contrib\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("sources.list.d")).unwrap();
        std::fs::write(
            dir.path().join("sources.list.d/debian.sources"),
            "Types: deb\nURIs: http://sec.invalid/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /s.gpg\n\n\
             Types: deb\nURIs: http://off.invalid/x\nSuites: bookworm\nEnabled: no\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sources.list.d/ignored.txt"),
            "deb http://no.invalid x main\n",
        )
        .unwrap();
        let entries = read_host(dir.path());
        assert_eq!(entries.len(), 2);
        let m = host_mirrors(&entries);
        let d = m.debian.unwrap();
        assert_eq!(d.uri, "http://mirror.invalid/debian");
        assert_eq!(d.components, ["main", "contrib"]);
        assert_eq!(d.signed_by, Some(PathBuf::from("/k.gpg")));
        assert_eq!(
            m.security.unwrap().uri,
            "http://sec.invalid/debian-security"
        );
    }
}
