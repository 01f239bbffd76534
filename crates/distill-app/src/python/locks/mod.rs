//! Python lockfiles other than `uv.lock`, read without their tools: `poetry.lock`
//! ([`poetry`]), `Pipfile.lock` ([`pipfile`]), `pdm.lock` ([`pdm`]) and PEP 751's
//! `pylock.toml` ([`pylock`]).
//!
//! Each is turned into a hashed requirement set ([`Locked::requirements`]): every locked
//! distribution of the main group pinned `==` its version, with its environment marker and
//! every sha256 the lock records. uv installs that with `--require-hashes`, so it installs
//! exactly the locked versions and checks each file's hash; a dependency the lock lacks is
//! an error from uv, not a silent resolution. Poetry, Pipenv and PDM are never needed.
//!
//! uv reads `pylock.toml` itself, but only for an interpreter it can run, never for the
//! image's Python given by version; so distill reads it too.
//!
//! A git, path, URL or editable dependency is refused, naming it: the lock records no hash
//! for it, and a path may lie outside the build context.

pub mod pdm;
pub mod pipfile;
pub mod poetry;
pub mod project;
pub mod pylock;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why a lockfile cannot be installed as it is.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("Cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a lockfile distill can read: {why}", path.display())]
    #[diagnostic(help(
        "regenerate it with its tool (poetry lock, pipenv lock, pdm lock, uv export)"
    ))]
    Syntax { path: PathBuf, why: String },
    #[error("{} takes {package} from {what}, which has no hash to check", path.display())]
    #[diagnostic(help(
        "publish {package} to an index and lock it from there, or build a wheel of it and copy it into the app"
    ))]
    Unhashed {
        path: PathBuf,
        package: String,
        what: String,
    },
    #[error("{} records no sha256 for {package} {version}", path.display())]
    #[diagnostic(help("regenerate the lock with hashes (Poetry and PDM record them by default)"))]
    NoHashes {
        path: PathBuf,
        package: String,
        version: String,
    },
    #[error("{} does not say which group each package belongs to", path.display())]
    #[diagnostic(help("lock again with `pdm lock --strategy inherit_metadata` (PDM's default)"))]
    NoGroups { path: PathBuf },
    #[error("{} has no dependency group `{group}`", path.display())]
    #[diagnostic(help("name in [python] groups a group this project has: {known}"))]
    UnknownGroup {
        path: PathBuf,
        group: String,
        known: String,
    },
}

/// Refuses a group in `asked` that is not in `known`, so a typo never installs nothing.
pub(crate) fn check_groups(
    path: &Path,
    asked: &[String],
    known: &[String],
) -> Result<(), LockError> {
    match asked.iter().find(|g| !known.contains(g)) {
        None => Ok(()),
        Some(group) => Err(LockError::UnknownGroup {
            path: path.to_path_buf(),
            group: group.clone(),
            known: if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            },
        }),
    }
}

/// The string items of `value`, an array.
pub(crate) fn strings(value: Option<&toml::Value>) -> Vec<String> {
    value
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str())
        .map(str::to_owned)
        .collect()
}

/// One locked distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The normalized name (PEP 503).
    pub name: String,
    pub version: String,
    /// The environment marker, when it is not installed everywhere.
    pub marker: Option<String>,
    /// `sha256:HEX`, every file the lock records for it.
    pub hashes: Vec<String>,
}

/// A lockfile's main group, ready for uv.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locked {
    pub pins: Vec<Pin>,
    /// Indexes beyond the configured one that the lock names (Poetry's sources).
    pub indexes: Vec<String>,
}

impl Locked {
    /// Adds `name` at `version`; one the lock records no sha256 for is refused.
    pub(crate) fn pin(
        &mut self,
        path: &Path,
        (name, version): (&str, &str),
        marker: Option<String>,
        hashes: Vec<String>,
    ) -> Result<(), LockError> {
        if hashes.is_empty() {
            return Err(LockError::NoHashes {
                path: path.to_path_buf(),
                package: name.to_owned(),
                version: version.to_owned(),
            });
        }
        self.pins.push(Pin {
            name: normalize(name),
            version: version.to_owned(),
            marker,
            hashes,
        });
        Ok(())
    }

    /// A requirements file: `--extra-index-url` lines, then one pinned, hashed line per
    /// distribution, sorted by name.
    pub fn requirements(&self) -> String {
        let mut out = String::new();
        for url in &self.indexes {
            let _ = writeln!(out, "--extra-index-url {url}");
        }
        let mut pins = self.pins.clone();
        pins.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        for p in &pins {
            let _ = write!(out, "{}=={}", p.name, p.version);
            if let Some(m) = &p.marker {
                let _ = write!(out, " ; {m}");
            }
            for h in &p.hashes {
                let _ = write!(out, " \\\n    --hash={h}");
            }
            out.push('\n');
        }
        out
    }
}

/// PEP 503's normalized name: lowercase, runs of `-`, `_` and `.` as one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// A PEP 508 requirement's name, extras and marker: `requests[socks]>=2 ; python_version <
/// "3.10"` gives `("requests", ["socks"], Some("python_version < \"3.10\""))`. Also reads
/// Poetry's `name (>=1.0)` form. The version is not needed: the lock pins it.
pub fn requirement(text: &str) -> (String, Vec<String>, Option<String>) {
    let (spec, marker) = match text.split_once(';') {
        Some((s, m)) => (s, Some(m.trim().to_owned()).filter(|m| !m.is_empty())),
        None => (text, None),
    };
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let rest = spec[end..].trim_start();
    let extras = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(e, _)| {
            e.split(',')
                .map(normalize)
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    (normalize(&spec[..end]), extras, marker)
}

/// Markers joined by `or`; none when any is absent (installed everywhere).
pub(crate) fn any_of(markers: &[Option<String>]) -> Option<String> {
    if markers.iter().any(Option::is_none) || markers.is_empty() {
        return None;
    }
    let mut ms: Vec<&str> = markers.iter().flatten().map(String::as_str).collect();
    ms.sort_unstable();
    ms.dedup();
    Some(if ms.len() == 1 {
        ms[0].to_owned()
    } else {
        ms.iter()
            .map(|m| format!("({m})"))
            .collect::<Vec<_>>()
            .join(" or ")
    })
}

pub(crate) fn read(path: &Path) -> Result<String, LockError> {
    std::fs::read_to_string(path).map_err(|source| LockError::Read {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn toml(path: &Path) -> Result<toml::Table, LockError> {
    toml::from_str(&read(path)?).map_err(|e| LockError::Syntax {
        path: path.to_path_buf(),
        why: e.message().to_owned(),
    })
}

/// The tables of the array `key` (`[[package]]`).
pub(crate) fn tables<'a>(doc: &'a toml::Table, key: &str) -> Vec<&'a toml::Table> {
    doc.get(key)
        .and_then(|p| p.as_array())
        .map(|a| a.iter().filter_map(|p| p.as_table()).collect())
        .unwrap_or_default()
}

/// The sha256s of a lock's `files = [{file, hash}]` array (Poetry's and PDM's form).
pub(crate) fn file_hashes(files: Option<&toml::Value>) -> Vec<String> {
    sha256s(
        files
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("hash").and_then(|h| h.as_str())),
    )
}

/// `sha256:HEX` strings from a lock's file entries, with only sha256 kept (uv checks one
/// algorithm per line, and every lock here records sha256).
pub(crate) fn sha256s<'a>(hashes: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = hashes
        .filter_map(|h| h.strip_prefix("sha256:"))
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| format!("sha256:{}", h.to_ascii_lowercase()))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_requirements() {
        assert_eq!(normalize("Flask_SQLAlchemy"), "flask-sqlalchemy");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(
            requirement("Requests[Socks, security] >=2 ; python_version < \"3.10\""),
            (
                "requests".into(),
                vec!["socks".into(), "security".into()],
                Some("python_version < \"3.10\"".into())
            )
        );
        assert_eq!(
            requirement("pysocks (>=1.5.6,!=1.5.7)"),
            ("pysocks".into(), vec![], None)
        );
        assert_eq!(any_of(&[Some("a".into()), None]), None);
        assert_eq!(
            any_of(&[Some("b".into()), Some("a".into()), Some("b".into())]),
            Some("(a) or (b)".into())
        );
    }

    #[test]
    fn a_requirement_set_pins_and_hashes_every_line() {
        let locked = Locked {
            pins: vec![
                Pin {
                    name: "flask".into(),
                    version: "3.0.3".into(),
                    marker: None,
                    hashes: vec!["sha256:aa".into(), "sha256:bb".into()],
                },
                Pin {
                    name: "colorama".into(),
                    version: "0.4.6".into(),
                    marker: Some("sys_platform == \"win32\"".into()),
                    hashes: vec!["sha256:cc".into()],
                },
            ],
            indexes: vec!["http://127.0.0.1:1/simple".into()],
        };
        assert_eq!(
            locked.requirements(),
            "--extra-index-url http://127.0.0.1:1/simple\n\
             colorama==0.4.6 ; sys_platform == \"win32\" \\\n    --hash=sha256:cc\n\
             flask==3.0.3 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        );
    }
}
