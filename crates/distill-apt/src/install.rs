//! From a resolved (or locked) package list to layer entries: parallel verified downloads,
//! extraction, and the merged-/usr top-level symlinks.
//!
//! A fresh resolution and a lockfile meet here in one form, [`Pin`], so `build` and
//! `build --locked` install through the same code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use distill_oci::layer::{Entry, EntryKind};

use crate::deb::{self, DebError};
use crate::fetch::{Cache, Expected, FetchError, Fetcher};
use crate::pin::Pin;

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

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum InstallError {
    #[error("Cannot download {package} {version}: {source}")]
    Fetch {
        package: String,
        version: String,
        #[diagnostic_source]
        source: FetchError,
    },
    #[error("{package} {version} is gone from {url}")]
    #[diagnostic(help(
        "the mirror no longer has the version distill.lock pins; run `distill lock` to move to the current versions"
    ))]
    Gone {
        package: String,
        version: String,
        url: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Deb(#[from] DebError),
}

/// `work(i)` for every `i < n`, `jobs` at a time, in order of `i`; the first failure stops
/// the handing out of work (what is running finishes), and the results before it are kept.
fn in_parallel<T: Send, E: Send>(
    n: usize,
    jobs: usize,
    work: impl Fn(usize) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<T, E>>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut next = next.lock().unwrap_or_else(|p| p.into_inner());
                        let i = *next;
                        *next += 1;
                        i
                    };
                    if i >= n {
                        break;
                    }
                    let r = work(i);
                    let failed = r.is_err();
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                    if failed {
                        *next.lock().unwrap_or_else(|p| p.into_inner()) = n;
                    }
                }
            });
        }
    });
    // Work is handed out in order, so every result before a failure is present.
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn fetch_one(
    p: &Pin,
    cache: &Cache,
    fetcher: &dyn Fetcher,
    progress: &dyn Progress,
) -> Result<PathBuf, InstallError> {
    let url = p.url();
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
    progress.advance(p.size);
    r
}

/// Downloads every package (verified, through the cache), `jobs` at a time.
pub fn download(
    pkgs: &[Pin],
    cache: &Cache,
    fetcher: &dyn Fetcher,
    progress: &dyn Progress,
    jobs: usize,
) -> Result<Vec<PathBuf>, InstallError> {
    progress.start("downloading packages", pkgs.iter().map(|p| p.size).sum());
    let out = in_parallel(pkgs.len(), jobs, |i| {
        fetch_one(&pkgs[i], cache, fetcher, progress)
    });
    progress.finish();
    out
}

/// Downloads (verified, through the cache) and extracts every package, `jobs` at a time,
/// each package extracted as soon as it is in: a cold install overlaps the network and the
/// decompression. The result is [`extract`]'s, merged in the order of `pkgs`.
pub fn install(
    pkgs: &[Pin],
    cache: &Cache,
    fetcher: &dyn Fetcher,
    progress: &dyn Progress,
    stage: &Path,
    arch: distill_core::Arch,
    jobs: usize,
) -> Result<(Vec<Entry>, Vec<Installed>), InstallError> {
    progress.start(
        "downloading and extracting packages",
        pkgs.iter().map(|p| p.size).sum(),
    );
    let extracted = in_parallel(pkgs.len(), jobs, |i| {
        let deb = fetch_one(&pkgs[i], cache, fetcher, progress)?;
        extract_one(&pkgs[i], &deb, stage, i)
    });
    progress.finish();
    Ok(merge(pkgs, extracted?, arch))
}

/// One installed package: what the image records about it.
#[derive(Debug, Clone)]
pub struct Installed {
    pub package: Pin,
    /// The `control` file of the package, verbatim.
    pub control: String,
    pub md5sums: Option<String>,
    /// The package's conffiles, absolute paths.
    pub conffiles: Vec<String>,
}

impl Installed {
    /// The source package, from the control file's `Source:` (the binary's own name when it
    /// has none), without the version dpkg may append in parentheses.
    pub fn source(&self) -> String {
        self.control
            .lines()
            .find_map(|l| l.strip_prefix("Source:"))
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or(&self.package.name)
            .to_owned()
    }
}

/// Extracts `debs` (parallel to `pkgs`) into one merged entry list, with file contents
/// staged under `stage`. Adds the merged-/usr symlinks (`bin`, `sbin`, `lib`, and `lib64`
/// on amd64).
pub fn extract(
    pkgs: &[Pin],
    debs: &[PathBuf],
    stage: &Path,
    arch: distill_core::Arch,
) -> Result<(Vec<Entry>, Vec<Installed>), InstallError> {
    let extracted = pkgs
        .iter()
        .zip(debs)
        .enumerate()
        .map(|(i, (p, deb))| extract_one(p, deb, stage, i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(merge(pkgs, extracted, arch))
}

/// Package `i`'s `.deb`, extracted under `stage/i`.
fn extract_one(
    p: &Pin,
    deb: &Path,
    stage: &Path,
    i: usize,
) -> Result<deb::Extracted, InstallError> {
    let x = deb::extract(deb, &p.name, &stage.join(format!("{i}"))).inspect_err(|e| {
        // The bytes match the index, but a package we refuse should not linger in the
        // cache as if it were usable.
        if matches!(e, DebError::Unsafe { .. } | DebError::Limit { .. }) {
            let _ = std::fs::remove_file(deb);
        }
    })?;
    distill_core::crash::point("extract");
    Ok(x)
}

/// The packages' entries as one list, a later package's file replacing an earlier one's.
fn merge(
    pkgs: &[Pin],
    extracted: Vec<deb::Extracted>,
    arch: distill_core::Arch,
) -> (Vec<Entry>, Vec<Installed>) {
    let mut merged: BTreeMap<String, Entry> = BTreeMap::new();
    let mut installed = Vec::new();
    for (p, x) in pkgs.iter().zip(extracted) {
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
            conffiles: x.conffiles,
        });
    }
    let mut links = vec![("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib")];
    if arch.has_lib64() {
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
    (merged.into_values().collect(), installed)
}
