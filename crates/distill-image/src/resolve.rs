//! From a plan's Debian packages to a [`Lockfile`]: resolved now from the verified indexes
//! of its suites, one universe per platform, or read from `distill.lock` with `--locked`.
//!
//! Native code's libraries become packages here too, through the Contents index, and family
//! images get each package's layer: the first member of the family whose closure needs it.
//! The official Node build of the `nodejs` members is pinned beside the packages.

use std::collections::{BTreeSet, HashSet};

use distill_app::elf::NativeNeeds;
use distill_apt::debian::{DebianError, fingerprint, now, releases, universe_of};
use distill_apt::install::Progress;
use distill_apt::packages::Package;
use distill_apt::pin::Pin;
use distill_apt::release::ReleaseFile;
use distill_apt::repo::{RepoError, Suite};
use distill_apt::resolver::Universe;
use distill_core::{Arch, Platform, Release};

use crate::family::node::{self, NodeError};
use crate::lock::{LOCK_VERSION, LockError, LockedNode, LockedPackage, Lockfile, PlatformLock};
use crate::plan::DebianPlan;
use crate::sources::{Sources, suites};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ResolveError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Debian(#[from] DebianError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sources(#[from] crate::sources::SourcesError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Repo(#[from] RepoError),
    #[error("Resolving for {platform}: {source}")]
    Resolve {
        platform: Platform,
        #[diagnostic_source]
        source: distill_apt::resolver::ResolveError,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Node(#[from] NodeError),
    #[error("Cannot read the Contents index of {url}: {source}")]
    #[diagnostic(help("the mirror served a damaged index; retry later, or pass --mirror URL"))]
    Contents { url: String, source: std::io::Error },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Deb(#[from] distill_apt::deb::DebError),
    #[error("Cannot stage a package in {}: {source}", dir.display())]
    #[diagnostic(help("set TMPDIR to a writable directory"))]
    Stage {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{binary} needs {library}, which no Debian {release} package for {arch} ships")]
    #[diagnostic(help("put {library} in a directory and pass it with --include-lib DIR"))]
    NoPackageFor {
        binary: String,
        library: String,
        release: String,
        arch: Arch,
    },
}

/// The packages a build installs: from distill.lock with `--locked`, else resolved now.
pub(crate) fn packages_for(
    plan: &DebianPlan,
    platforms: &[Platform],
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<Lockfile, ResolveError> {
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

/// Resolves the plan's packages for each platform from the verified indexes.
pub fn lock(
    plan: &DebianPlan,
    platforms: &[Platform],
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<Lockfile, ResolveError> {
    // Node's builds are looked up while the indexes are fetched: each is a round trip.
    std::thread::scope(|scope| {
        let nodes: Vec<_> = platforms
            .iter()
            .map(|p| scope.spawn(move || node_of(plan, *p, sources)))
            .collect();
        let mut locks = lock_packages(plan, platforms, sources, progress)?;
        for (lock, node) in locks.platforms.iter_mut().zip(nodes) {
            lock.node = match node.join() {
                Ok(n) => n?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
        }
        Ok(locks)
    })
}

/// The Node build `plan` asks for on `platform`, if any.
fn node_of(
    plan: &DebianPlan,
    platform: Platform,
    sources: &Sources,
) -> Result<Option<LockedNode>, ResolveError> {
    let Some(major) = plan.node else {
        return Ok(None);
    };
    let registry = node::registry(sources.cache.root())?;
    let node = node::resolve(
        sources.fetcher,
        &registry,
        major,
        plan.node_version.as_deref(),
        platform.arch,
    )?;
    tracing::info!("{platform}: node {}", node.version);
    Ok(Some(node))
}

/// Each platform's packages, without Node.
fn lock_packages(
    plan: &DebianPlan,
    platforms: &[Platform],
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<Lockfile, ResolveError> {
    let mut out = Vec::new();
    // Nothing to resolve: no index is worth fetching.
    let (suites, releases) = if plan.include.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let suites = suites(plan, sources)?;
        let releases = releases(&suites, sources.cache, sources.fetcher, now())?;
        (suites, releases)
    };
    for platform in platforms {
        if plan.include.is_empty() {
            out.push(PlatformLock {
                platform: platform.to_string(),
                packages: Vec::new(),
                node: None,
                excluded: Vec::new(),
                app: None,
            });
            continue;
        }
        progress.start(&format!("resolving for {platform}"), 0);
        out.push(platform_lock(plan, *platform, &suites, &releases, sources)?);
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

/// One platform's packages, resolved from the verified indexes, or taken from the cache's
/// record of a resolution of the same request from the same indexes (by their sha256 in
/// the signed Release files, fetched and checked now).
fn platform_lock(
    plan: &DebianPlan,
    platform: Platform,
    suites: &[Suite],
    releases: &[ReleaseFile],
    sources: &Sources,
) -> Result<PlatformLock, ResolveError> {
    let key = sources.layers.key(
        "resolve",
        &serde_json::json!({
            "platform": platform.to_string(),
            "release": plan.release.codename(),
            "include": plan.include,
            "exclude": plan.exclude,
            "tiers": plan.tiers,
            "native": plan.native.as_ref().map(|n| (&n.needed, n.glibc)),
            "suites": fingerprint(suites, releases, platform.arch),
        }),
    );
    let cached = key.as_ref().and_then(|k| {
        sources
            .layers
            .record::<Resolved>(sources.cache, "resolved", k)
    });
    let resolved = match cached {
        Some(r) => r,
        None => {
            let r = resolve_platform(plan, platform, suites, releases, sources)?;
            if let Some(k) = &key {
                sources.layers.keep(sources.cache, "resolved", k, &r);
            }
            r
        }
    };
    Ok(PlatformLock {
        platform: platform.to_string(),
        node: None,
        excluded: resolved.excluded,
        packages: resolved.packages,
        app: None,
    })
}

/// What a resolution gives, as the cache keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Resolved {
    packages: Vec<LockedPackage>,
    excluded: Vec<String>,
}

fn resolve_platform(
    plan: &DebianPlan,
    platform: Platform,
    suites: &[Suite],
    releases: &[ReleaseFile],
    sources: &Sources,
) -> Result<Resolved, ResolveError> {
    let arch = platform.arch;
    let universe = universe_of(suites, releases, arch, sources.cache, sources.fetcher)?;
    let resolve = |roots: &[String]| {
        universe
            .resolve_excluding(roots, &plan.exclude)
            .map_err(|source| ResolveError::Resolve { platform, source })
    };
    let mut resolved = resolve(&plan.include)?;
    if let Some(native) = &plan.native {
        let more = native_roots(
            native,
            &universe,
            &resolved,
            (suites, releases),
            plan.release,
            arch,
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
    // Family images layer by member: each package goes with the first member needing it.
    let mut tiers: Vec<HashSet<&str>> = Vec::new();
    for roots in &plan.tiers {
        let closure = resolve_excluding(&universe, roots, &plan.exclude, platform)?;
        tiers.push(closure.iter().map(|p| p.name.as_str()).collect());
    }
    let layer_of = |name: &str| {
        let tier = tiers
            .iter()
            .position(|t| t.contains(name))
            .unwrap_or(tiers.len());
        u32::try_from(tier).unwrap_or(u32::MAX)
    };
    Ok(Resolved {
        excluded: excluded(plan, &universe, &resolved),
        packages: resolved
            .iter()
            .map(|p| LockedPackage::new(Pin::of(p, suites), layer_of(&p.name)))
            .collect(),
    })
}

fn resolve_excluding<'u>(
    universe: &'u Universe,
    roots: &[String],
    exclude: &[String],
    platform: Platform,
) -> Result<Vec<&'u Package>, ResolveError> {
    universe
        .resolve_excluding(roots, exclude)
        .map_err(|source| ResolveError::Resolve { platform, source })
}

/// What the exclusions kept out: the closure without them, less the one with them.
fn excluded(plan: &DebianPlan, universe: &Universe, resolved: &[&Package]) -> Vec<String> {
    if plan.exclude.is_empty() {
        return Vec::new();
    }
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
}

/// Whether `pkg`'s `.deb`, downloaded and verified against the signed index, ships `lib` in
/// a library directory: what lets an unverified Contents index suggest but never decide.
fn ships(
    pkg: &Package,
    lib: &str,
    suites: &[Suite],
    arch: Arch,
    sources: &Sources,
) -> Result<bool, ResolveError> {
    let pin = Pin::of(pkg, suites);
    let expected = distill_apt::fetch::Expected {
        size: pin.size,
        sha256: pin.sha256.clone(),
    };
    let deb = sources
        .cache
        .fetch(sources.fetcher, &pin.url(), &expected, true)
        .map_err(RepoError::from)?;
    let stage = tempfile::Builder::new()
        .prefix(&distill_oci::cleanup::owned_prefix("distill-build-"))
        .tempdir()
        .map_err(|source| ResolveError::Stage {
            dir: std::env::temp_dir(),
            source,
        })?;
    let x = distill_apt::deb::extract(&deb, &pkg.name, stage.path())?;
    let t = arch.triplet();
    let dirs = [
        format!("usr/lib/{t}"),
        "usr/lib".to_owned(),
        "usr/lib64".to_owned(),
    ];
    Ok(x.entries.iter().any(|e| {
        e.path
            .rsplit_once('/')
            .is_some_and(|(dir, name)| name == lib && dirs.iter().any(|d| d == dir))
    }))
}

/// glibc's own libraries (with the loader), which need no index when libc6 is in: most
/// native code needs only these.
const GLIBC: [&str; 6] = [
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
];

/// The packages that provide native code's libraries, beyond those `resolved` already has:
/// from the Contents index of the first of `suites`, preferring a runtime library package
/// (not -dev or -dbg), then the shortest name. When the index could not be verified, a
/// candidate counts only once its verified `.deb` is seen to ship the library.
fn native_roots(
    native: &NativeNeeds,
    universe: &Universe,
    resolved: &[&Package],
    (suites, releases): (&[Suite], &[ReleaseFile]),
    release: Release,
    arch: Arch,
    sources: &Sources,
) -> Result<Vec<String>, ResolveError> {
    let suite = &suites[0];
    let has_libc = resolved.iter().any(|p| p.name == "libc6");
    let wanted: BTreeSet<String> = native
        .needed
        .iter()
        .filter(|n| !(has_libc && (GLIBC.contains(&n.as_str()) || *n == arch.loader())))
        .cloned()
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let (gz, verified) = suite.contents(&releases[0], arch, sources.cache, sources.fetcher)?;
    let found = distill_apt::contents::libraries(
        flate2::read::GzDecoder::new(gz.as_slice()),
        &wanted,
        arch,
    )
    .map_err(|source| ResolveError::Contents {
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
        if !verified {
            let mut confirmed = Vec::new();
            for c in candidates {
                if let Some(p) = universe.get(c)
                    && ships(p, lib, suites, arch, sources)?
                {
                    confirmed.push(c);
                    break;
                }
            }
            candidates = confirmed;
        }
        match candidates.first() {
            Some(best) => roots.push((*best).clone()),
            None => {
                return Err(ResolveError::NoPackageFor {
                    binary: native.binary.clone(),
                    library: lib.clone(),
                    release: release.number().into(),
                    arch,
                });
            }
        }
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use distill_test::aptrepo::DebSpec;
    use distill_test::memfetch::MemFetcher;

    /// An unverified Contents index may name any package; only one whose verified `.deb`
    /// ships the library in a library directory is taken.
    #[test]
    fn a_suggested_package_counts_only_if_its_deb_ships_the_library() {
        let debs = [
            DebSpec::new("libgreet2", "1").file("usr/lib/x86_64-linux-gnu/libgreet.so.2", "ELF"),
            DebSpec::new("greet-doc", "1").file("usr/share/doc/greet/libgreet.so.2", "text"),
            DebSpec::new("merged", "1").file("lib/x86_64-linux-gnu/libgreet.so.2", "ELF"),
        ];
        let empty = tempfile::tempdir().unwrap();
        let fetcher = MemFetcher::of_dir(empty.path(), "http://m.invalid/debian");
        let mut index = String::new();
        for d in &debs {
            let bytes = d.build();
            let file = format!("pool/{}.deb", d.name);
            index += &format!(
                "Package: {}\nVersion: 1\nArchitecture: amd64\nFilename: {file}\nSize: {}\nSHA256: {}\n\n",
                d.name,
                bytes.len(),
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
            );
            fetcher.put(&file, bytes);
        }
        let packages = distill_apt::packages::parse(&index, 0, "test").unwrap();
        let suites = [Suite {
            uri: "http://m.invalid/debian".into(),
            suite: "trixie".into(),
            components: vec!["main".into()],
            keyring: Default::default(),
            signed: true,
        }];
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = distill_apt::fetch::Cache::new(cache_dir.path());
        let sources = Sources::host(&cache, &fetcher);
        let check = |name: &str| {
            let p = packages.iter().find(|p| p.name == name).unwrap();
            ships(p, "libgreet.so.2", &suites, Arch::Amd64, &sources).unwrap()
        };
        assert!(check("libgreet2"));
        assert!(
            !check("greet-doc"),
            "a file of that name outside the library directories"
        );
        // Merged /usr applies before the check: /lib/TRIPLET is /usr/lib/TRIPLET.
        assert!(check("merged"));
        // A package whose bytes are not what the signed index says is an error, not a yes.
        fetcher.put("pool/libgreet2.deb", b"tampered".to_vec());
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = distill_apt::fetch::Cache::new(cache_dir.path());
        let sources = Sources::host(&cache, &fetcher);
        let p = packages.iter().find(|p| p.name == "libgreet2").unwrap();
        assert!(ships(p, "libgreet.so.2", &suites, Arch::Amd64, &sources).is_err());
    }
}
