//! Debian releases and where their suites are: the bridge from `debian = "12"` to a list of
//! verified [`Suite`]s and a [`Universe`] to resolve in.
//!
//! Each release is its base suite plus `-updates` from the Debian archive and `-security`
//! from the security archive; the resolver keeps the highest version across them, as apt
//! does with equal pins.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fetch::{Cache, Fetcher};
use crate::release::ReleaseFile;
use crate::repo::{RepoError, Suite};
use crate::resolver::Universe;
use crate::sources::{self, HostMirrors};
use crate::trust::{Keyring, TrustError};
pub use distill_core::Release;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DebianError {
    #[error("No Debian mirror found in the host's apt sources ({dir})")]
    #[diagnostic(help(
        "pass --mirror URL, or set mirror = \"URL\" in the [debian] table of distill.toml"
    ))]
    NoMirror { dir: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Repo(#[from] RepoError),
}

/// Where the Debian and security archives are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirrors {
    pub debian: String,
    pub security: String,
    /// The keyring the host's apt sources name (`Signed-By`) for the Debian archive, when
    /// that archive is the host's.
    pub debian_signed_by: Option<PathBuf>,
    /// The same for the security archive.
    pub security_signed_by: Option<PathBuf>,
}

impl Mirrors {
    /// `mirror` when given, else the host's apt sources (`apt_dir`, normally `/etc/apt`).
    /// The security archive is the host's, or `<mirror>-security` beside a given mirror.
    pub fn find(mirror: Option<&str>, apt_dir: &Path) -> Result<Self, DebianError> {
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
        // A Signed-By belongs to the archive its entry names, so it applies only when that
        // archive is the one in use.
        let signed_by = |e: &Option<sources::SourceEntry>, uri: &str| {
            e.as_ref()
                .filter(|e| mirror.is_none() && e.uri == uri)
                .and_then(|e| e.signed_by.clone())
        };
        Ok(Self {
            debian_signed_by: signed_by(&host.debian, &debian),
            security_signed_by: signed_by(&host.security, &security),
            debian,
            security,
        })
    }

    /// The keyrings for the Debian and the security archive, chosen as apt would: `explicit`
    /// (`[debian] keyring`) when given, else each archive's `Signed-By` keyring alone, else
    /// the host's `debian-archive-keyring` (`host_default`), else the embedded keys.
    pub fn keyrings(
        &self,
        explicit: Option<&Path>,
        host_default: &Path,
    ) -> Result<(Arc<Keyring>, Arc<Keyring>), TrustError> {
        let choose = |signed_by: &Option<PathBuf>| -> Result<Arc<Keyring>, TrustError> {
            let ring = Keyring::for_debian(explicit.or(signed_by.as_deref()), host_default)?;
            tracing::debug!("trusting {} for the Debian archives", ring.label);
            Ok(Arc::new(ring))
        };
        let debian = choose(&self.debian_signed_by)?;
        let security = if explicit.is_some() || self.security_signed_by == self.debian_signed_by {
            debian.clone()
        } else {
            choose(&self.security_signed_by)?
        };
        Ok((debian, security))
    }

    /// The suites of `release`: base, `-updates`, `-security`, component `main`, each
    /// trusted with its archive's keyring.
    pub fn suites(
        &self,
        release: Release,
        (debian_ring, security_ring): &(Arc<Keyring>, Arc<Keyring>),
    ) -> Vec<Suite> {
        let c = release.codename();
        let suite = |uri: &str, suite: String, keyring: &Arc<Keyring>| Suite {
            uri: uri.to_owned(),
            suite,
            components: vec!["main".into()],
            keyring: keyring.clone(),
            signed: true,
        };
        vec![
            suite(&self.debian, c.to_owned(), debian_ring),
            suite(&self.debian, format!("{c}-updates"), debian_ring),
            suite(&self.security, format!("{c}-security"), security_ring),
        ]
    }
}

/// Loads `suites` for `arch` and builds the universe to resolve in.
pub fn load_universe(
    suites: &[Suite],
    arch: distill_core::Arch,
    cache: &Cache,
    fetcher: &dyn Fetcher,
    now: u64,
) -> Result<Universe, DebianError> {
    universe_of(
        suites,
        &releases(suites, cache, fetcher, now)?,
        arch,
        cache,
        fetcher,
    )
}

/// The verified Release of each of `suites`, in order. They are fetched at once: a warm
/// build does little else than wait for them, one round trip each.
pub fn releases(
    suites: &[Suite],
    cache: &Cache,
    fetcher: &dyn Fetcher,
    now: u64,
) -> Result<Vec<ReleaseFile>, DebianError> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = suites
            .iter()
            .map(|s| scope.spawn(move || s.release(fetcher, cache, now)))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => Ok(r?),
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// The universe of `suites` for `arch`, from their verified `releases`.
pub fn universe_of(
    suites: &[Suite],
    releases: &[ReleaseFile],
    arch: distill_core::Arch,
    cache: &Cache,
    fetcher: &dyn Fetcher,
) -> Result<Universe, DebianError> {
    let mut all = Vec::new();
    for (i, (s, release)) in suites.iter().zip(releases).enumerate() {
        all.extend(s.packages(release, arch, i, cache, fetcher)?);
    }
    Ok(Universe::new(arch, all))
}

/// One suite's part of a [`fingerprint`]: its address, its components, and each index of
/// the architecture with its sha256.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SuiteIndexes {
    pub dists: String,
    pub components: Vec<String>,
    pub indexes: Vec<(String, String)>,
}

/// What a resolution for `arch` reads from `suites`, as the signed `releases` pin it: each
/// suite's address and components, and the sha256 of each of its indexes for the
/// architecture (Packages and Contents, `all` included). Equal fingerprints mean equal
/// indexes, so a resolution made from one holds for the other.
pub fn fingerprint(
    suites: &[Suite],
    releases: &[ReleaseFile],
    arch: distill_core::Arch,
) -> Vec<SuiteIndexes> {
    let a = arch.debian();
    let wanted = |path: &str| {
        [
            format!("binary-{a}/"),
            "binary-all/".to_owned(),
            format!("Contents-{a}"),
            "Contents-all".to_owned(),
        ]
        .iter()
        .any(|w| path.contains(w.as_str()))
    };
    suites
        .iter()
        .zip(releases)
        .map(|(s, r)| {
            let mut indexes: Vec<(String, String)> = r
                .sha256
                .iter()
                .filter(|(p, _)| wanted(p))
                .map(|(p, (_, sha))| (p.clone(), sha.clone()))
                .collect();
            indexes.sort();
            SuiteIndexes {
                dists: format!("{}/dists/{}", s.uri, s.suite),
                components: s.components.clone(),
                indexes,
            }
        })
        .collect()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #11: each archive is trusted with the keyring its own host entry names, and only
    /// when that entry is the archive in use; the host's archive keyring comes next, the
    /// embedded keys last.
    #[test]
    fn keyrings_are_chosen_as_apt_chooses_them() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("main.gpg");
        std::fs::write(
            &key,
            include_bytes!("../keys/debian-archive-trixie-automatic.gpg"),
        )
        .unwrap();
        let sec = dir.path().join("sec.gpg");
        std::fs::write(
            &sec,
            include_bytes!("../keys/debian-archive-trixie-security-automatic.gpg"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("sources.list.d")).unwrap();
        std::fs::write(
            dir.path().join("sources.list.d/debian.sources"),
            format!(
                "Types: deb\nURIs: http://m.invalid/debian\nSuites: trixie\nComponents: main\nSigned-By: {}\n\n\
                 Types: deb\nURIs: http://m.invalid/debian-security\nSuites: trixie-security\nComponents: main\nSigned-By: {}\n",
                key.display(),
                sec.display()
            ),
        )
        .unwrap();
        let absent = dir.path().join("no-such-keyring.gpg");

        let host = Mirrors::find(None, dir.path()).unwrap();
        assert_eq!(host.debian_signed_by.as_deref(), Some(key.as_path()));
        assert_eq!(host.security_signed_by.as_deref(), Some(sec.as_path()));
        let (d, s) = host.keyrings(None, &absent).unwrap();
        assert_eq!(
            (d.label.as_str(), s.label.as_str()),
            (key.to_str().unwrap(), sec.to_str().unwrap())
        );
        let suites = host.suites(Release::Trixie, &(d, s));
        assert_eq!(suites[1].keyring.label, key.display().to_string());
        assert_eq!(suites[2].keyring.label, sec.display().to_string());

        // `[debian] keyring` replaces both.
        let (d, s) = host.keyrings(Some(&sec), &absent).unwrap();
        assert_eq!(
            (d.label.clone(), s.label.clone()),
            (sec.display().to_string(), sec.display().to_string())
        );

        // Another mirror: the host's Signed-By is not for it; the host's archive keyring is.
        let other = Mirrors::find(Some("http://other.invalid/debian/"), dir.path()).unwrap();
        assert_eq!(
            (
                other.debian_signed_by.clone(),
                other.security_signed_by.clone()
            ),
            (None, None)
        );
        assert_eq!(other.security, "http://other.invalid/debian-security");
        let (d, _) = other.keyrings(None, &key).unwrap();
        assert_eq!(d.label, key.display().to_string());
        // No host keyring at all: the embedded keys.
        let (d, _) = other.keyrings(None, &absent).unwrap();
        assert!(d.label.contains("built into distill"), "{}", d.label);
        assert!(!d.is_empty());

        // A Signed-By that names a missing file is an error, as in apt.
        std::fs::remove_file(&key).unwrap();
        let err = host.keyrings(None, &absent).unwrap_err();
        assert!(err.to_string().contains("main.gpg"), "{err}");
    }
}
