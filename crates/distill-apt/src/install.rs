//! From a resolved (or locked) package list to layer entries: parallel verified downloads,
//! extraction, and the merged-/usr top-level symlinks.
//!
//! A fresh resolution and a lockfile meet here in one form, [`LockedPackage`], so
//! `build` and `build --locked` install through the same code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use distill_oci::layer::{Entry, EntryKind};

use crate::deb::{self, DebError};
use crate::fetch::{Cache, Expected, FetchError, Fetcher};
use crate::lock::LockedPackage;
use crate::packages::Package;
use crate::repo::Suite;

/// Progress reports for long work; the binary draws them.
pub trait Progress: Sync {
    /// A new phase with `total` units (bytes, packages); 0 when unknown.
    fn start(&self, _message: &str, _total: u64) {}
    fn advance(&self, _units: u64) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct Silent;
impl Progress for Silent {}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("Cannot download {package} {version}: {source}")]
    Fetch {
        package: String,
        version: String,
        source: FetchError,
    },
    #[error("{package} {version} is gone from {url}")]
    Gone {
        package: String,
        version: String,
        url: String,
    },
    #[error(transparent)]
    Deb(#[from] DebError),
}

impl InstallError {
    pub fn hint(&self) -> Option<String> {
        match self {
            InstallError::Gone { .. } => Some("the mirror no longer has the version distill.lock pins: run `distill lock` to move to the current versions".into()),
            InstallError::Fetch { source, .. } => source.hint(),
            InstallError::Deb(e) => e.hint(),
        }
    }
}

/// The lock entry of a resolved package.
pub fn locked(p: &Package, suites: &[Suite]) -> LockedPackage {
    let s = &suites[p.repo];
    LockedPackage {
        name: p.name.clone(),
        version: p.version.to_string(),
        architecture: p.architecture.clone(),
        repository: s.uri.clone(),
        suite: s.suite.clone(),
        filename: p.filename.clone(),
        size: p.size,
        sha256: p.sha256.clone(),
        layer: 0,
    }
}

/// Downloads every package (verified, through the cache), `jobs` at a time.
pub fn download(
    pkgs: &[LockedPackage],
    cache: &Cache,
    fetcher: &dyn Fetcher,
    progress: &dyn Progress,
    jobs: usize,
) -> Result<Vec<PathBuf>, InstallError> {
    progress.start("downloading packages", pkgs.iter().map(|p| p.size).sum());
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<PathBuf, InstallError>>>> =
        Mutex::new((0..pkgs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(p) = pkgs.get(i) else { break };
                    let url = format!("{}/{}", p.repository, p.filename);
                    let expected = Expected {
                        size: p.size,
                        sha256: p.sha256.clone(),
                    };
                    let r = cache
                        .fetch(fetcher, &url, &expected, true)
                        .map_err(|source| {
                            if source.is_not_found() {
                                InstallError::Gone {
                                    package: p.name.clone(),
                                    version: p.version.clone(),
                                    url: url.clone(),
                                }
                            } else {
                                InstallError::Fetch {
                                    package: p.name.clone(),
                                    version: p.version.clone(),
                                    source,
                                }
                            }
                        });
                    let failed = r.is_err();
                    progress.advance(p.size);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                    if failed {
                        // Stop handing out work; others finish what they hold.
                        *next.lock().unwrap_or_else(|p| p.into_inner()) = pkgs.len();
                    }
                }
            });
        }
    });
    progress.finish();
    let mut out = Vec::with_capacity(pkgs.len());
    // Work is handed out in order, so every result before a failure is present.
    for r in results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
    {
        out.push(r?);
    }
    Ok(out)
}

/// One installed package: what the image records about it.
#[derive(Debug, Clone)]
pub struct Installed {
    pub package: LockedPackage,
    pub control: String,
    pub md5sums: Option<String>,
}

/// Extracts `debs` (parallel to `pkgs`) into one merged entry list, with file contents
/// staged under `stage`. Adds the merged-/usr symlinks (`bin`, `sbin`, `lib`, and `lib64`
/// on amd64).
pub fn extract(
    pkgs: &[LockedPackage],
    debs: &[PathBuf],
    stage: &Path,
    arch: &str,
) -> Result<(Vec<Entry>, Vec<Installed>), InstallError> {
    let mut merged: BTreeMap<String, Entry> = BTreeMap::new();
    let mut installed = Vec::new();
    for (i, (p, deb)) in pkgs.iter().zip(debs).enumerate() {
        let x = deb::extract(deb, &p.name, &stage.join(format!("{i}"))).inspect_err(|e| {
            // The bytes match the index, but a package we refuse should not linger in the
            // cache as if it were usable.
            if matches!(e, DebError::Unsafe { .. }) {
                let _ = std::fs::remove_file(deb);
            }
        })?;
        for e in x.entries {
            match merged.get(&e.path) {
                Some(prev) if prev.kind == EntryKind::Dir && e.kind == EntryKind::Dir => {}
                Some(_) if e.kind == EntryKind::Dir => {}
                Some(_) => {
                    tracing::debug!("{} overwrites /{}", p.name, e.path);
                    merged.insert(e.path.clone(), e);
                }
                None => {
                    merged.insert(e.path.clone(), e);
                }
            }
        }
        installed.push(Installed {
            package: p.clone(),
            control: x.control,
            md5sums: x.md5sums,
        });
    }
    let mut links = vec![("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib")];
    if arch == "amd64" {
        links.push(("lib64", "usr/lib64"));
    }
    for (link, target) in links {
        merged.insert(
            link.to_owned(),
            Entry {
                path: link.to_owned(),
                kind: EntryKind::Symlink {
                    target: target.to_owned(),
                },
                mode: 0o777,
                uid: 0,
                gid: 0,
            },
        );
    }
    Ok((merged.into_values().collect(), installed))
}
