//! Where Debian packages become a layer.
//!
//! `[packages] include` → the suites of the chosen Debian release (plus `[[repositories]]`)
//! → resolution per platform, or the pins of `distill.lock` with `--locked` → verified
//! downloads → extraction → one layer of every package's files.

use std::path::Path;
use std::sync::Arc;

use distill_apt::debian::{DebianError, Mirrors, load_universe, now};
use distill_apt::fetch::{Cache, Fetcher};
use distill_apt::install::{self, InstallError, Installed, Progress};
use distill_apt::lock::{LOCK_VERSION, LockError, LockedPackage, Lockfile, PlatformLock};
use distill_apt::repo::Suite;
use distill_apt::resolver::ResolveError;
use distill_apt::trust::{HOST_DEBIAN_KEYRING, Keyring, TrustError};
use distill_oci::Platform;
use distill_oci::layer::Entry;

use crate::plan::DebianPlan;

#[derive(Debug, thiserror::Error)]
pub enum PackagesError {
    #[error(transparent)]
    Debian(#[from] DebianError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("Resolving for {platform}: {source}")]
    Resolve {
        platform: String,
        source: ResolveError,
    },
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Node(#[from] crate::family::node::NodeError),
    #[error(transparent)]
    Repo(#[from] distill_apt::repo::RepoError),
    #[error("Cannot read the Contents index of {url}: {source}")]
    Contents { url: String, source: std::io::Error },
    #[error("{binary} needs {library}, which no Debian {release} package for {arch} ships")]
    NoPackageFor {
        binary: String,
        library: String,
        release: String,
        arch: String,
    },
}

impl PackagesError {
    pub fn hint(&self) -> Option<String> {
        match self {
            PackagesError::Debian(e) => e.hint(),
            PackagesError::Trust(e) => e.hint(),
            PackagesError::Resolve { source, .. } => source.hint(),
            PackagesError::Install(e) => e.hint(),
            PackagesError::Lock(e) => e.hint(),
            PackagesError::Node(e) => e.hint(),
            PackagesError::Repo(e) => e.hint(),
            PackagesError::Contents { .. } => {
                Some("the mirror served a damaged index; retry later or use another mirror".into())
            }
            PackagesError::NoPackageFor { library, .. } => Some(format!(
                "put {library} in a directory and pass it with --include-lib DIR"
            )),
        }
    }
}

/// Where packages come from: the cache and the network.
pub struct Sources<'a> {
    pub cache: &'a Cache,
    pub fetcher: &'a dyn Fetcher,
}

/// The host's apt configuration, where the default mirror comes from.
pub const APT_DIR: &str = "/etc/apt";

/// Every suite the plan draws packages from, each with the keys it is trusted with.
pub fn suites(plan: &DebianPlan) -> Result<Vec<Suite>, PackagesError> {
    let mirrors = Mirrors::find(plan.mirror.as_deref(), Path::new(APT_DIR))?;
    let keyrings = mirrors.keyrings(plan.keyring.as_deref(), Path::new(HOST_DEBIAN_KEYRING))?;
    let mut out = mirrors.suites(plan.release, &keyrings);
    for r in &plan.repositories {
        let keyring = Arc::new(match &r.keyring {
            Some(k) => Keyring::load(k)?,
            None => Keyring::default(),
        });
        for s in &r.suites {
            out.push(Suite {
                uri: r.uri.clone(),
                suite: s.clone(),
                components: r.components.clone(),
                keyring: keyring.clone(),
                signed: r.signed,
            });
        }
    }
    Ok(out)
}

/// Resolves the plan's packages for each platform from the verified indexes.
pub fn lock(
    plan: &DebianPlan,
    platforms: &[Platform],
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<Lockfile, PackagesError> {
    let mut out = Vec::new();
    if plan.include.is_empty() {
        // Nothing to resolve: no index is worth fetching.
        out.extend(platforms.iter().map(|p| PlatformLock {
            platform: p.to_string(),
            packages: Vec::new(),
            node: None,
            excluded: Vec::new(),
        }));
    }
    let suites = if plan.include.is_empty() {
        Vec::new()
    } else {
        suites(plan)?
    };
    for platform in platforms.iter().filter(|_| !plan.include.is_empty()) {
        progress.start(&format!("resolving for {platform}"), 0);
        let universe = load_universe(
            &suites,
            &platform.architecture,
            sources.cache,
            sources.fetcher,
            now(),
        )?;
        let resolve = |roots: &[String]| {
            universe
                .resolve_excluding(roots, &plan.exclude)
                .map_err(|source| PackagesError::Resolve {
                    platform: platform.to_string(),
                    source,
                })
        };
        let mut resolved = resolve(&plan.include)?;
        if let Some(native) = &plan.native {
            let more = native_roots(
                native,
                &universe,
                &resolved,
                &suites[0],
                plan.release,
                &platform.architecture,
                sources,
            )?;
            if !more.is_empty() {
                tracing::info!("{platform}: {} needs {}", native.binary, more.join(" "));
                resolved = resolve(&[plan.include.clone(), more].concat())?;
            }
        }
        tracing::info!(
            "{platform}: {} packages for {:?}",
            resolved.len(),
            plan.include
        );
        // What the exclusions kept out: the closure without them, less the one with them.
        let excluded = if plan.exclude.is_empty() {
            Vec::new()
        } else {
            let roots: Vec<String> = plan
                .include
                .iter()
                .filter(|r| !plan.exclude.contains(r))
                .cloned()
                .collect();
            universe
                .resolve(&roots)
                .map(|all| {
                    all.iter()
                        .filter(|p| !resolved.iter().any(|r| r.name == p.name))
                        .map(|p| p.name.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        // Family images layer by member: each package goes with the first member needing it.
        let mut tiers: Vec<std::collections::HashSet<&str>> = Vec::new();
        for roots in &plan.tiers {
            let closure = universe
                .resolve_excluding(roots, &plan.exclude)
                .map_err(|source| PackagesError::Resolve {
                    platform: platform.to_string(),
                    source,
                })?;
            tiers.push(closure.iter().map(|p| p.name.as_str()).collect());
        }
        let layer_of = |name: &str| {
            tiers
                .iter()
                .position(|t| t.contains(name))
                .unwrap_or(tiers.len()) as u32
        };
        let node = match plan.node {
            Some(major) => {
                let registry = crate::family::node::registry()?;
                let node = crate::family::node::resolve(
                    sources.fetcher,
                    &registry,
                    major,
                    &platform.architecture,
                )?;
                tracing::info!("{platform}: node {}", node.version);
                Some(node)
            }
            None => None,
        };
        out.push(PlatformLock {
            platform: platform.to_string(),
            node,
            excluded,
            packages: resolved
                .iter()
                .map(|p| distill_apt::lock::LockedPackage {
                    layer: layer_of(&p.name),
                    ..install::locked(p, &suites)
                })
                .collect(),
        });
        progress.finish();
    }
    let mut roots = plan.include.clone();
    roots.sort();
    Ok(Lockfile {
        base: None,
        version: LOCK_VERSION,
        debian: plan.release.number().to_owned(),
        roots,
        platforms: out,
    })
}

/// The packages that provide a native binary's libraries, beyond those `resolved` already
/// has: from the suite's Contents index, preferring a runtime library package (not -dev or
/// -dbg), then the shortest name.
fn native_roots(
    native: &crate::plan::NativeNeeds,
    universe: &distill_apt::resolver::Universe,
    resolved: &[&distill_apt::packages::Package],
    suite: &Suite,
    release: distill_apt::debian::Release,
    arch: &str,
    sources: &Sources,
) -> Result<Vec<String>, PackagesError> {
    // glibc's own libraries need no index when libc6 is in: most native code needs only these.
    const GLIBC: [&str; 8] = [
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
    ];
    let has_libc = resolved.iter().any(|p| p.name == "libc6");
    let wanted: std::collections::BTreeSet<String> = native
        .needed
        .iter()
        .filter(|n| !(has_libc && GLIBC.contains(&n.as_str())))
        .cloned()
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let index = suite.release(sources.fetcher, now())?;
    let gz = suite.contents(&index, arch, sources.cache, sources.fetcher)?;
    let found = distill_apt::contents::libraries(
        flate2::read::GzDecoder::new(gz.as_slice()),
        &wanted,
        arch,
    )
    .map_err(|source| PackagesError::Contents {
        url: format!("{}/dists/{}", suite.uri, suite.suite),
        source,
    })?;
    let mut roots: Vec<String> = Vec::new();
    for lib in &wanted {
        let mut candidates: Vec<&String> = found
            .get(lib)
            .map(|c| c.iter().filter(|n| universe.get(n).is_some()).collect())
            .unwrap_or_default();
        if candidates
            .iter()
            .any(|c| resolved.iter().any(|p| &p.name == *c) || roots.contains(c))
        {
            continue;
        }
        candidates.sort_by_key(|n| (n.ends_with("-dev") || n.ends_with("-dbg"), n.len(), *n));
        match candidates.first() {
            Some(best) => roots.push((*best).clone()),
            None => {
                return Err(PackagesError::NoPackageFor {
                    binary: native.binary.clone(),
                    library: lib.clone(),
                    release: release.number().into(),
                    arch: arch.into(),
                });
            }
        }
    }
    Ok(roots)
}

/// The packages a build installs: from distill.lock with `--locked`, else resolved now.
pub fn packages_for(
    plan: &DebianPlan,
    platforms: &[Platform],
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<Lockfile, PackagesError> {
    if !plan.locked {
        return lock(plan, platforms, sources, progress);
    }
    let path = plan.lockfile.display().to_string();
    let text = std::fs::read_to_string(&plan.lockfile).map_err(|source| LockError::Read {
        path: path.clone(),
        source,
    })?;
    let lock = Lockfile::parse(&text, &path)?;
    let names: Vec<String> = platforms.iter().map(ToString::to_string).collect();
    lock.check(plan.release.number(), &plan.include, &names, &path)?;
    for p in &lock.platforms {
        let major = p
            .node
            .as_ref()
            .map(|n| n.version.split('.').next().unwrap_or(""));
        if major != plan.node.map(|m| m.to_string()).as_deref() {
            return Err(LockError::Mismatch {
                path,
                why: format!(
                    "its Node for {} is {:?}, the config asks for {:?}",
                    p.platform,
                    p.node.as_ref().map(|n| &n.version),
                    plan.node
                ),
            }
            .into());
        }
    }
    Ok(lock)
}

/// Downloads and extracts `pkgs` for `arch`; contents are staged under `stage`.
pub fn entries(
    pkgs: &[LockedPackage],
    arch: &str,
    stage: &Path,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<(Vec<Entry>, Vec<Installed>), PackagesError> {
    let debs = install::download(pkgs, sources.cache, sources.fetcher, progress, 4)?;
    progress.start("extracting packages", 0);
    let out = install::extract(pkgs, &debs, stage, arch)?;
    progress.finish();
    Ok(out)
}
