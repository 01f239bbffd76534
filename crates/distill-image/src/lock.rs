//! `distill.lock`: exactly what a build uses, per platform: each Debian package's file (and
//! the layer it goes into), the official Node build, and a registry base image by digest.
//!
//! Written by `distill lock` from verified indexes; read by `distill build --locked`, which
//! then downloads exactly those files by name and checks each against the SHA-256 recorded
//! here, without consulting the indexes again. The file is TOML, sorted, with no
//! timestamps, so two runs on the same indexes write the same bytes.

use distill_apt::pin::Pin;
use serde::{Deserialize, Serialize};

pub(crate) const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    pub version: u32,
    /// The Debian release, `12` or `13`.
    pub debian: String,
    /// The packages asked for, sorted: a lock made for other roots does not match.
    pub roots: Vec<String>,
    /// The base image, pinned by digest, when it comes from a registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(rename = "platform", default)]
    pub platforms: Vec<PlatformLock>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformLock {
    pub platform: String,
    #[serde(rename = "package", default)]
    pub packages: Vec<LockedPackage>,
    /// The official Node build, for images that carry one (the `nodejs` family members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<LockedNode>,
    /// The app's dependencies, when its own files pin nothing ([`distill_app::App::pin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<LockedApp>,
    /// What the exclusions kept out when this was resolved (for the build report; not
    /// recorded, since it follows from the roots and the indexes).
    #[serde(skip)]
    pub excluded: Vec<String>,
}

/// An app's dependencies as `distill lock` resolved them for one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedApp {
    /// The digest of the files (and settings) they were resolved from: another digest
    /// means the lock is for other requirements.
    pub inputs: String,
    /// The requirement set, every distribution pinned with its hashes.
    pub requirements: String,
}

/// A Node release from the npm registry, pinned by its integrity hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedNode {
    pub version: String,
    /// Subresource Integrity, `sha512-` and the base64 hash, as the registry lists it.
    pub integrity: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The repository base URI.
    pub repository: String,
    pub suite: String,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// Which image layer the package goes into (family images layer by member).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub layer: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl LockedPackage {
    /// The package pinned in `layer`.
    pub fn new(pin: Pin, layer: u32) -> Self {
        Self {
            name: pin.name,
            version: pin.version,
            architecture: pin.architecture,
            repository: pin.repository,
            suite: pin.suite,
            filename: pin.filename,
            size: pin.size,
            sha256: pin.sha256,
            layer,
        }
    }

    /// What distill-apt downloads.
    pub fn pin(&self) -> Pin {
        Pin {
            name: self.name.clone(),
            version: self.version.clone(),
            architecture: self.architecture.clone(),
            repository: self.repository.clone(),
            suite: self.suite.clone(),
            filename: self.filename.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("Cannot read lockfile {path}: {source}")]
    #[diagnostic(help("run `distill lock` to create it"))]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("Invalid lockfile {path}: {why}")]
    #[diagnostic(help("run `distill lock` to write a lockfile for the current config"))]
    Invalid { path: String, why: String },
    #[error("Lockfile {path} does not match the config: {why}")]
    #[diagnostic(help("run `distill lock` to write a lockfile for the current config"))]
    Mismatch { path: String, why: String },
    #[error("Cannot write lockfile {path}: {source}")]
    #[diagnostic(help("check that the directory of {path} is writable"))]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl Lockfile {
    pub fn to_toml(&self) -> String {
        let mut lock = self.clone();
        lock.roots.sort();
        lock.platforms.sort_by(|a, b| a.platform.cmp(&b.platform));
        for p in &mut lock.platforms {
            p.packages.sort_by(|a, b| {
                a.name
                    .cmp(&b.name)
                    .then(a.architecture.cmp(&b.architecture))
            });
        }
        // Strings, integers and tables only: serialization cannot fail.
        let body = toml::to_string(&lock).unwrap_or_default();
        format!("# Written by `distill lock`. Do not edit: run `distill lock` again.\n{body}")
    }

    pub fn parse(text: &str, path: &str) -> Result<Self, LockError> {
        let lock: Lockfile = toml::from_str(text).map_err(|e| LockError::Invalid {
            path: path.to_owned(),
            why: e.message().to_owned(),
        })?;
        if lock.version != LOCK_VERSION {
            return Err(LockError::Invalid {
                path: path.to_owned(),
                why: format!(
                    "version {} (this distill reads {LOCK_VERSION})",
                    lock.version
                ),
            });
        }
        for app in lock.platforms.iter().filter_map(|p| p.app.as_ref()) {
            if let Err(line) = distill_app::python::pin::check(&app.requirements) {
                return Err(LockError::Invalid {
                    path: path.to_owned(),
                    why: format!(
                        "the app's requirements hold `{line}`, which is not a pinned, hashed distribution"
                    ),
                });
            }
        }
        for p in lock.platforms.iter().flat_map(|p| &p.packages) {
            let ok = p.sha256.len() == 64 && p.sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok || !p.pin().is_safe() {
                return Err(LockError::Invalid {
                    path: path.to_owned(),
                    why: format!("bad entry for {}", p.name),
                });
            }
        }
        Ok(lock)
    }

    /// Checks that the lock was made for this Debian release, these roots and platforms.
    pub fn check(
        &self,
        debian: &str,
        roots: &[String],
        platforms: &[String],
        path: &str,
    ) -> Result<(), LockError> {
        let mismatch = |why: String| LockError::Mismatch {
            path: path.to_owned(),
            why,
        };
        if self.debian != debian {
            return Err(mismatch(format!(
                "it is for Debian {}, the config asks for {debian}",
                self.debian
            )));
        }
        let mut want = roots.to_vec();
        want.sort();
        want.dedup();
        if self.roots != want {
            return Err(mismatch(format!(
                "it locks {:?}, the config asks for {:?}",
                self.roots, want
            )));
        }
        for p in platforms {
            if !self.platforms.iter().any(|l| &l.platform == p) {
                return Err(mismatch(format!("it has no packages for {p}")));
            }
        }
        Ok(())
    }

    pub fn platform(&self, platform: &str) -> Option<&PlatformLock> {
        self.platforms.iter().find(|p| p.platform == platform)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "1".into(),
            architecture: "amd64".into(),
            repository: "http://mirror.invalid/debian".into(),
            suite: "bookworm".into(),
            filename: format!("pool/main/{name}.deb"),
            size: 1,
            sha256: "0".repeat(64),
            layer: 0,
        }
    }

    #[test]
    fn round_trips_sorted_and_checks_the_config() {
        let lock = Lockfile {
            version: LOCK_VERSION,
            debian: "12".into(),
            roots: vec!["b".into(), "a".into()],
            base: None,
            platforms: vec![PlatformLock {
                node: None,
                excluded: Vec::new(),
                platform: "linux/amd64".into(),
                packages: vec![pkg("z"), pkg("a")],
                app: None,
            }],
        };
        let text = lock.to_toml();
        let back = Lockfile::parse(&text, "l").unwrap();
        assert_eq!(back.roots, ["a", "b"]);
        assert_eq!(back.platforms[0].packages[0].name, "a");
        assert_eq!(back.to_toml(), text);
        back.check(
            "12",
            &["a".into(), "b".into()],
            &["linux/amd64".into()],
            "l",
        )
        .unwrap();
        assert!(
            back.check("13", &["a".into(), "b".into()], &[], "l")
                .is_err()
        );
        assert!(back.check("12", &["a".into()], &[], "l").is_err());
        assert!(
            back.check(
                "12",
                &["a".into(), "b".into()],
                &["linux/arm64".into()],
                "l"
            )
            .is_err()
        );
    }

    #[test]
    fn traversal_in_a_filename_is_invalid() {
        let mut lock = Lockfile {
            version: LOCK_VERSION,
            debian: "12".into(),
            roots: vec![],
            base: None,
            platforms: vec![PlatformLock {
                node: None,
                excluded: Vec::new(),
                platform: "linux/amd64".into(),
                packages: vec![pkg("a")],
                app: None,
            }],
        };
        lock.platforms[0].packages[0].filename = "../../etc/passwd".into();
        assert!(Lockfile::parse(&lock.to_toml(), "l").is_err());
    }
}
