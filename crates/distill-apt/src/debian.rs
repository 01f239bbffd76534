//! Debian releases and where their suites are: the bridge from `debian = "12"` to a list of
//! verified [`Suite`]s and a [`Universe`] to resolve in.
//!
//! Each release is its base suite plus `-updates` from the Debian archive and `-security`
//! from the security archive; the resolver keeps the highest version across them, as apt
//! does with equal pins.

use std::sync::Arc;

use crate::fetch::{Cache, Fetcher};
use crate::repo::{RepoError, Suite};
use crate::resolver::Universe;
use crate::sources::{self, HostMirrors};
use crate::trust::Keyring;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Release {
    Bookworm,
    Trixie,
}

impl Release {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "12" | "bookworm" => Some(Release::Bookworm),
            "13" | "trixie" => Some(Release::Trixie),
            _ => None,
        }
    }

    pub fn codename(self) -> &'static str {
        match self {
            Release::Bookworm => "bookworm",
            Release::Trixie => "trixie",
        }
    }

    pub fn number(self) -> &'static str {
        match self {
            Release::Bookworm => "12",
            Release::Trixie => "13",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    #[error("No Debian mirror found in the host's apt sources ({dir})")]
    NoMirror { dir: String },
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl DebianError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DebianError::NoMirror { .. } => {
                Some("pass --mirror URL, or set [debian] mirror in distill.toml".into())
            }
            DebianError::Repo(e) => e.hint(),
        }
    }
}

/// Where the Debian and security archives are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirrors {
    pub debian: String,
    pub security: String,
    /// Keyrings the host's apt sources name (`Signed-By`) for the mirrors in use.
    pub keyrings: Vec<std::path::PathBuf>,
}

impl Mirrors {
    /// `mirror` when given, else the host's apt sources (`apt_dir`, normally `/etc/apt`).
    /// The security archive is the host's, or `<mirror>-security` beside a given mirror.
    pub fn find(mirror: Option<&str>, apt_dir: &std::path::Path) -> Result<Self, DebianError> {
        let host: HostMirrors = sources::host_mirrors(&sources::read_host(apt_dir));
        let debian = match mirror {
            Some(m) => m.trim_end_matches('/').to_owned(),
            None => host.debian.as_ref().map(|e| e.uri.clone()).ok_or_else(|| {
                DebianError::NoMirror {
                    dir: apt_dir.display().to_string(),
                }
            })?,
        };
        let security = match (&host.security, mirror) {
            (Some(s), None) => s.uri.clone(),
            _ => format!("{debian}-security"),
        };
        let keyrings = match mirror {
            Some(_) => Vec::new(),
            None => [&host.debian, &host.security]
                .into_iter()
                .flatten()
                .filter_map(|e| e.signed_by.clone())
                .collect(),
        };
        Ok(Self {
            debian,
            security,
            keyrings,
        })
    }

    /// The suites of `release`: base, `-updates`, `-security`, component `main`.
    pub fn suites(&self, release: Release, keyring: &Arc<Keyring>) -> Vec<Suite> {
        let c = release.codename();
        let suite = |uri: &str, suite: String| Suite {
            uri: uri.to_owned(),
            suite,
            components: vec!["main".into()],
            keyring: keyring.clone(),
            signed: true,
        };
        vec![
            suite(&self.debian, c.to_owned()),
            suite(&self.debian, format!("{c}-updates")),
            suite(&self.security, format!("{c}-security")),
        ]
    }
}

/// Loads `suites` for `arch` and builds the universe to resolve in.
pub fn load_universe(
    suites: &[Suite],
    arch: &str,
    cache: &Cache,
    fetcher: &dyn Fetcher,
    now: u64,
) -> Result<Universe, DebianError> {
    let mut all = Vec::new();
    for (i, s) in suites.iter().enumerate() {
        let release = s.release(fetcher, now)?;
        all.extend(s.packages(&release, arch, i, cache, fetcher)?);
    }
    Ok(Universe::new(arch, all))
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
