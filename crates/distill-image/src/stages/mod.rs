//! The stages of a build, one module each, in the order [`crate::assemble`] calls them:
//!
//! 1. [`base`] — a registry base's layers and config;
//! 2. [`packages`] — the Debian packages, one layer per family tier (where a `.deb` becomes
//!    a layer);
//! 3. [`family`] — the family's files after the first tier (accounts, os-release, the CA
//!    bundle), and its top layer (`ld.so.cache`, links, Java's trust store);
//! 4. [`runtime`] — the official Node build;
//! 5. [`init`] — distill-init;
//! 6. [`app`] — an app's dependencies, per platform;
//! 7. [`files`] — the user's files (or the app's, with what the image's programs added).
//!
//! Each stage is a function of the [`Context`] (and the platform) that returns the layers it
//! adds, each with the [`Component`]s it adds, for the build's inventory. No stage calls
//! another, nor back into the orchestrator.

pub mod app;
pub mod base;
pub mod family;
pub mod files;
pub mod init;
pub mod packages;
pub mod runtime;
pub mod setuid;

use std::path::{Path, PathBuf};

use distill_apt::install::Progress;
use distill_core::Component;
use distill_oci::image::ImageLayer;
use distill_oci::layer::write_layer;
use distill_oci::{BlobStore, Entry, EntryKind, FileSource};
use distill_sbom::metadata::Metadata;
use sha2::{Digest as _, Sha256};

use crate::layercache::{Cached, Key};
use crate::plan::Plan;
use crate::sources::Sources;

/// What every stage works with.
pub struct Context<'a> {
    pub plan: &'a Plan,
    pub sources: &'a Sources<'a>,
    pub progress: &'a dyn Progress,
    /// The build's staging blob store, where layers are written.
    pub store: &'a BlobStore,
    /// Scratch space, removed when the build ends.
    pub staging: &'a Path,
}

/// One layer a stage adds, and what it adds.
#[derive(Debug, Clone)]
pub struct StageLayer {
    pub layer: ImageLayer,
    pub components: Vec<Component>,
    /// The layer's files an SBOM reads, for the licences of its components.
    pub notable: Metadata,
}

/// Why a stage failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StageError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Layer(#[from] distill_oci::LayerError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Files(#[from] distill_app::FilesError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Install(#[from] distill_apt::install::InstallError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Node(#[from] crate::family::node::NodeError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    App(#[from] distill_app::AppError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Resolve(#[from] Box<crate::resolve::ResolveError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Elf(#[from] distill_app::elf::ElfError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    LdCache(#[from] crate::family::ldcache::TooLarge),
    #[error(
        "distill-init is built into this distill for {} only, not for {platform}",
        host_arch()
    )]
    #[diagnostic(help("build for the platform distill runs on, or drop [entrypoint]"))]
    InitArch { platform: String },
    #[error("{binary} needs {needed}, but Debian {release} has glibc {have}")]
    #[diagnostic(help("{}", glibc_hint()))]
    GlibcTooNew {
        binary: String,
        needed: String,
        release: String,
        have: String,
    },
    #[error("{binary} needs {library}, which no package of the image provides")]
    #[diagnostic(help("add the Debian package that ships it to [packages] include"))]
    MissingLibrary { binary: String, library: String },
    #[error("Base layer {digest}: {why}")]
    #[diagnostic(help(
        "the base image's layer is damaged or unusual; pull it again, or choose another base"
    ))]
    BaseLayer { digest: String, why: String },
    #[error("Cannot read CA certificate {}: {source}", path.display())]
    #[diagnostic(help("list PEM certificate files in [certificates] extra"))]
    CaCert {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Cannot read the certificates of the ca-certificates package in {}: {source}", dir.display())]
    #[diagnostic(help("the staging directory changed under the build; build again"))]
    PackagedCerts {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Scan(#[from] distill_sbom::scan::ScanError),
    #[error("Cannot read {}: {source}", path.display())]
    #[diagnostic(help("check that {} is readable", path.display()))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn glibc_hint() -> String {
    let by_release: Vec<String> = distill_core::Release::ALL
        .iter()
        .map(|r| {
            let (major, minor) = r.glibc();
            format!("Debian {} has {major}.{minor}", r.number())
        })
        .collect();
    format!(
        "glibc by Debian release: {}. Build on a newer release (debian = \"13\"), or compile the binary against an older glibc (on the release you ship, or in its container)",
        by_release.join(", ")
    )
}

fn host_arch() -> String {
    crate::init::arch().map_or("this machine".into(), |a| a.to_string())
}

impl Context<'_> {
    /// Writes `entries` as a layer, with its history line and components. The compressed
    /// blob is kept in the layer cache under the digest of the entries themselves (their
    /// paths, kinds, modes, owners and contents), so an unchanged layer is compressed once.
    pub fn layer(
        &self,
        entries: Vec<Entry>,
        created_by: String,
        components: Vec<Component>,
    ) -> Result<StageLayer, StageError> {
        let key = self.key("entries", &entries_digest(&entries)?);
        let notable = notable_files(&entries)?;
        let (layer, ()) = self.cached(key, || {
            Ok((self.write(entries, String::new(), Vec::new())?, ()))
        })?;
        Ok(StageLayer {
            layer: ImageLayer {
                layer: layer.layer.layer,
                created_by,
            },
            components,
            notable,
        })
    }

    /// Writes `entries` as a layer, past the cache: for stages that key their layers by
    /// their inputs ([`Context::cached`]).
    pub fn write(
        &self,
        entries: Vec<Entry>,
        created_by: String,
        components: Vec<Component>,
    ) -> Result<StageLayer, StageError> {
        let notable = notable_files(&entries)?;
        let layer = write_layer(self.store, self.plan.compression, self.plan.epoch, entries)?;
        distill_core::crash::point("layer");
        Ok(StageLayer {
            layer: ImageLayer { layer, created_by },
            components,
            notable,
        })
    }

    /// The layer cache's key of what `stage` makes from `inputs`, with what every layer
    /// depends on: the compression and the epoch. `None` when the cache is off.
    pub fn key(&self, stage: &str, inputs: &impl serde::Serialize) -> Option<Key> {
        self.sources.layers.key(
            stage,
            &serde_json::json!({
                "compression": self.plan.compression.media_type(),
                "epoch": self.plan.epoch,
                "inputs": inputs,
            }),
        )
    }

    /// The layer `key` names, from the layer cache; else made by `make` and kept there with
    /// `make`'s `side` (what the stage tells later stages), so a hit skips all of `make`.
    pub fn cached<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        key: Option<Key>,
        make: impl FnOnce() -> Result<(StageLayer, T), StageError>,
    ) -> Result<(StageLayer, T), StageError> {
        let Some(key) = key else {
            return make();
        };
        let (layers, cache) = (&self.sources.layers, self.sources.cache);
        let _lock = layers.lock(cache, &key);
        if let Some(c) = layers.get::<T>(cache, &key, self.store) {
            let layer = StageLayer {
                layer: ImageLayer {
                    layer: c.layer,
                    created_by: c.created_by,
                },
                components: c.components,
                notable: c.notable,
            };
            return Ok((layer, c.side));
        }
        let (layer, side) = make()?;
        let kept = Cached {
            layer: layer.layer.layer.clone(),
            created_by: layer.layer.created_by.clone(),
            components: layer.components.clone(),
            notable: layer.notable.clone(),
            side,
        };
        layers.put(cache, &key, self.store, &kept);
        Ok((layer, kept.side))
    }
}

/// The digest of what a layer of `entries` holds: every entry's path, kind, mode, owner and
/// link target, and its content's sha256, in order.
fn entries_digest(entries: &[Entry]) -> Result<String, StageError> {
    let mut h = Sha256::new();
    for e in entries {
        let (tag, what) = match &e.kind {
            EntryKind::Dir => ("d", String::new()),
            EntryKind::File(src) => (
                "f",
                sha256_of(src).map_err(|source| read_err(e, src, source))?,
            ),
            EntryKind::Symlink { target } => ("l", target.clone()),
            EntryKind::Hardlink { target } => ("h", target.clone()),
        };
        let line = format!(
            "{tag} {:o} {} {} {}\0{what}\0",
            e.mode, e.uid, e.gid, e.path
        );
        h.update(line.as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

fn read_err(e: &Entry, src: &FileSource, source: std::io::Error) -> StageError {
    StageError::Read {
        path: match src {
            FileSource::Path { path, .. } | FileSource::Slice { path, .. } => path.clone(),
            FileSource::Bytes(_) => PathBuf::from(&e.path),
        },
        source,
    }
}

/// A symlink entry owned by root.
pub fn symlink(path: &str, target: &str) -> Entry {
    Entry {
        path: path.to_owned(),
        kind: EntryKind::Symlink {
            target: target.to_owned(),
        },
        mode: 0o777,
        uid: 0,
        gid: 0,
    }
}

/// The hex SHA-256 of a file entry's content.
pub(crate) fn sha256_of(src: &FileSource) -> std::io::Result<String> {
    let mut h = Sha256::new();
    std::io::copy(&mut src.reader()?, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// The files among `entries` that an SBOM reads (package databases, copyright files,
/// manifests), with their bytes.
fn notable_files(entries: &[Entry]) -> Result<Metadata, StageError> {
    use distill_sbom::metadata::{MAX_FILE, is_doc_link, is_notable};
    use std::io::Read;
    let mut out = Metadata::default();
    for e in entries {
        let Ok(path) = distill_oci::layer::normalize_path(&e.path) else {
            continue;
        };
        let src = match &e.kind {
            EntryKind::File(src) => src,
            EntryKind::Symlink { target } if is_doc_link(&path) => {
                out.insert_link(&path, target);
                continue;
            }
            _ => continue,
        };
        if !is_notable(&path) || src.size() > MAX_FILE {
            continue;
        }
        let mut bytes = Vec::new();
        src.reader()
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .map_err(|source| StageError::Read {
                path: PathBuf::from(&e.path),
                source,
            })?;
        out.insert(0, &path, bytes);
    }
    Ok(out)
}

/// One component per regular file among `entries`: `File` for the user's, `Generated` for
/// distill's own.
pub(crate) fn file_components(
    entries: &[Entry],
    generated: bool,
) -> Result<Vec<Component>, StageError> {
    let mut out = Vec::new();
    for e in entries {
        let EntryKind::File(src) = &e.kind else {
            continue;
        };
        let sha256 = sha256_of(src).map_err(|source| read_err(e, src, source))?;
        let path = format!("/{}", e.path);
        out.push(if generated {
            Component::Generated { path, sha256 }
        } else {
            Component::File { path, sha256 }
        });
    }
    Ok(out)
}
