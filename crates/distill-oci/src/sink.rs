//! Writing a built image to its destinations, atomically.
//!
//! Every output is first written next to its destination under a hidden temporary name and
//! moved into place by `rename(2)` only once complete, so a failed or interrupted build
//! leaves nothing at the destination. [`Staged`] outputs are opened before the build starts,
//! so an unwritable destination fails the build before any work is done.
//!
//! Formats: the OCI image layout (image-spec `image-layout.md`), the same layout in a tar
//! (`oci-archive`), and the dual `docker-archive`: an OCI layout that also carries Docker's
//! `manifest.json` pointing at `blobs/sha256/…`, which both `docker load` and `podman load`
//! accept.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tempfile::{NamedTempFile, TempDir};

use crate::blob::{BlobStore, BlobStoreError};
use crate::canonical;
use crate::dest::Destination;
use crate::image::{Built, ImageError, root_descriptor};
use crate::media;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("Cannot write {dest}: directory {dir} does not exist")]
    NoParent { dest: String, dir: PathBuf },
    #[error("Cannot write {dest}: {path}: {source}")]
    Io {
        dest: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("Cannot write {dest}: {path} exists and is not an OCI image layout")]
    NotALayout { dest: String, path: PathBuf },
    #[error("Cannot write {dest}: a docker-archive holds one platform, this build has {count}")]
    MultiPlatformDockerArchive { dest: String, count: usize },
    #[error("Invalid registry reference in {dest}: {source}")]
    Reference {
        dest: String,
        source: crate::registry::ReferenceError,
    },
    #[error("Cannot push {dest}: {source}")]
    Push {
        dest: String,
        source: crate::registry::TransferError,
    },
    #[error("Cannot reach the registry of {dest}: {source}")]
    Connect {
        dest: String,
        source: crate::registry::RegistryError,
    },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Blob(#[from] BlobStoreError),
    #[error("Cannot serialize {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

impl SinkError {
    /// How the user can fix it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            SinkError::NoParent { dir, .. } => {
                format!("create it first: mkdir -p {}", dir.display())
            }
            SinkError::NotALayout { path, .. } => format!(
                "choose another path, or remove {} if it is yours to replace",
                path.display()
            ),
            SinkError::MultiPlatformDockerArchive { .. } => {
                "pass one --platform, or use an oci-archive: destination for a multi-platform image"
                    .into()
            }
            SinkError::Push { source, .. } => return source.hint(),
            SinkError::Connect { source, .. } => return source.hint(),
            SinkError::Reference { .. } => "write docker://HOST[:PORT]/REPOSITORY[:TAG]".into(),
            SinkError::Io { path, .. } => format!("check that {} is writable", path.display()),
            _ => return None,
        })
    }
}

/// An output being written, invisible until [`Staged::commit`].
pub struct Staged {
    dest: Destination,
    target: PathBuf,
    tmp: Tmp,
    _cleanup: Option<crate::cleanup::Registered>,
    /// What a registry push did.
    pushed: Option<crate::registry::PushReport>,
    /// A repository of the same registry that holds the blobs, to mount them from.
    mount_from: Option<String>,
}

enum Tmp {
    Dir(TempDir),
    File(NamedTempFile),
    /// A registry: nothing is visible there until the manifests are PUT.
    Registry(Box<crate::registry::Client>),
}

impl Staged {
    /// Reserves a temporary place next to `dest`, proving it is writable before any work; for
    /// a registry, connects and settles the scheme and credentials.
    pub fn open(
        dest: &Destination,
        opts: &crate::registry::RegistryOptions,
    ) -> Result<Self, SinkError> {
        let label = dest.to_string();
        let target = match dest {
            Destination::OciDir { path, .. }
            | Destination::OciArchive { path, .. }
            | Destination::DockerArchive { path, .. } => absolute(path, &label)?,
            Destination::Registry { reference } => {
                let r: crate::registry::Reference =
                    reference.parse().map_err(|source| SinkError::Reference {
                        dest: label.clone(),
                        source,
                    })?;
                let client = crate::registry::Client::connect(&r, opts).map_err(|source| {
                    SinkError::Connect {
                        dest: label.clone(),
                        source,
                    }
                })?;
                return Ok(Self {
                    dest: dest.clone(),
                    target: PathBuf::new(),
                    _cleanup: None,
                    tmp: Tmp::Registry(Box::new(client)),
                    pushed: None,
                    mount_from: None,
                });
            }
        };
        let parent = target.parent().unwrap_or(Path::new("/")).to_path_buf();
        if parent.exists() && !parent.is_dir() {
            return Err(SinkError::Io {
                dest: label,
                path: parent,
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        if !parent.is_dir() {
            return Err(SinkError::NoParent {
                dest: label,
                dir: parent,
            });
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.distill-");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        let io_err = |source| SinkError::Io {
            dest: label.clone(),
            path: parent.clone(),
            source,
        };
        let tmp = match dest {
            Destination::OciDir { .. } => {
                if target.exists() && !is_replaceable_layout(&target) {
                    return Err(SinkError::NotALayout {
                        dest: label,
                        path: target,
                    });
                }
                Tmp::Dir(builder.tempdir_in(&parent).map_err(io_err)?)
            }
            _ => {
                if target.is_dir() {
                    return Err(SinkError::Io {
                        dest: label,
                        path: target,
                        source: io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
                    });
                }
                Tmp::File(builder.tempfile_in(&parent).map_err(io_err)?)
            }
        };
        let path = match &tmp {
            Tmp::Dir(d) => d.path(),
            Tmp::File(f) => f.path(),
            Tmp::Registry(_) => unreachable!("registries return early"),
        };
        Ok(Self {
            dest: dest.clone(),
            target,
            _cleanup: Some(crate::cleanup::Registered::new(path)),
            tmp,
            pushed: None,
            mount_from: None,
        })
    }

    /// Writes `built`, whose blobs are in `store`, into the temporary place.
    pub fn write(&mut self, store: &BlobStore, built: &Built, epoch: u64) -> Result<(), SinkError> {
        let label = self.dest.to_string();
        match (&self.dest, &mut self.tmp) {
            (Destination::OciDir { tag, .. }, Tmp::Dir(dir)) => {
                let dir = dir.path();
                let io_err = |source| SinkError::Io {
                    dest: label.clone(),
                    path: dir.to_path_buf(),
                    source,
                };
                let out = BlobStore::create(dir)?;
                for digest in built.blobs() {
                    let (from, to) = (store.path(&digest), out.path(&digest));
                    if fs::hard_link(&from, &to).is_err() {
                        fs::copy(&from, &to).map_err(io_err)?;
                    }
                }
                for (name, bytes) in layout_files(built, tag.as_deref(), None)? {
                    fs::write(dir.join(name), bytes).map_err(io_err)?;
                }
                fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(io_err)?;
                Ok(())
            }
            (Destination::OciArchive { tag, .. }, Tmp::File(file)) => {
                let files = layout_files(built, tag.as_deref(), None)?;
                write_archive(file, store, built, files, epoch).map_err(|source| SinkError::Io {
                    dest: label.clone(),
                    path: file.path().to_path_buf(),
                    source,
                })
            }
            (Destination::DockerArchive { reference, .. }, Tmp::File(file)) => {
                if built.images.len() != 1 {
                    return Err(SinkError::MultiPlatformDockerArchive {
                        dest: label,
                        count: built.images.len(),
                    });
                }
                let tag = reference
                    .as_deref()
                    .and_then(|r| r.rsplit_once(':'))
                    .map(|(_, t)| t);
                let files = layout_files(built, tag, Some(reference.as_deref()))?;
                write_archive(file, store, built, files, epoch).map_err(|source| SinkError::Io {
                    dest: label.clone(),
                    path: file.path().to_path_buf(),
                    source,
                })
            }
            (Destination::Registry { .. }, Tmp::Registry(client)) => {
                let report =
                    crate::registry::push(store, built, client, self.mount_from.as_deref())
                        .map_err(|source| SinkError::Push {
                            dest: label.clone(),
                            source,
                        })?;
                self.pushed = Some(report);
                Ok(())
            }
            _ => unreachable!("the temporary's kind follows the destination"),
        }
    }

    /// Whether this output is a registry (pushed last, once every local output is written).
    pub fn is_registry(&self) -> bool {
        matches!(self.tmp, Tmp::Registry(_))
    }

    /// Moves the finished output to its destination.
    pub fn commit(self) -> Result<(), SinkError> {
        let label = self.dest.to_string();
        let target = self.target;
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            let label = label.clone();
            move |source| SinkError::Io {
                dest: label,
                path,
                source,
            }
        };
        match self.tmp {
            Tmp::Registry(_) => {}
            Tmp::File(file) => {
                file.as_file()
                    .set_permissions(fs::Permissions::from_mode(0o644))
                    .map_err(io_err(&target))?;
                file.as_file().sync_all().map_err(io_err(&target))?;
                file.persist(&target)
                    .map_err(|e| io_err(&target)(e.error))?;
            }
            Tmp::Dir(dir) => {
                let staged = dir.keep();
                // rename(2) replaces an empty directory; a previous layout is moved aside
                // first and removed only after the new one is in place.
                let old = if target.exists()
                    && fs::read_dir(&target)
                        .map_err(io_err(&target))?
                        .next()
                        .is_some()
                {
                    let aside = PathBuf::from(format!("{}.old", staged.display()));
                    fs::rename(&target, &aside).map_err(io_err(&target))?;
                    Some(aside)
                } else {
                    None
                };
                if let Err(e) = fs::rename(&staged, &target) {
                    if let Some(old) = &old {
                        let _ = fs::rename(old, &target);
                    }
                    let _ = fs::remove_dir_all(&staged);
                    return Err(io_err(&target)(e));
                }
                if let Some(old) = old {
                    fs::remove_dir_all(&old).map_err(io_err(&old))?;
                }
            }
        }
        Ok(())
    }
}

fn absolute(path: &Path, label: &str) -> Result<PathBuf, SinkError> {
    std::path::absolute(path).map_err(|source| SinkError::Io {
        dest: label.to_owned(),
        path: path.to_path_buf(),
        source,
    })
}

/// An existing destination directory is replaced only if it is empty or an image layout:
/// distill never deletes a directory of the user's that it did not write.
fn is_replaceable_layout(path: &Path) -> bool {
    path.join("oci-layout").is_file() || fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

/// `app:1` as Docker spells it in full: `docker.io/library/app:1`.
fn qualified_name(reference: &str) -> String {
    match reference.split_once('/') {
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => reference.to_owned(),
        Some(_) => format!("docker.io/{reference}"),
        None => format!("docker.io/library/{reference}"),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

fn blob_path(d: &crate::Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// `oci-layout`, `index.json` and, for a docker-archive (`docker = Some(reference)`),
/// Docker's `manifest.json`.
fn layout_files(
    built: &Built,
    tag: Option<&str>,
    docker: Option<Option<&str>>,
) -> Result<Vec<(&'static str, Vec<u8>)>, SinkError> {
    let json = |what, v: &serde_json::Value| {
        canonical::to_vec(v).map_err(|source| SinkError::Json { what, source })
    };
    let mut root = root_descriptor(built, tag)?;
    if let Some(Some(reference)) = docker {
        // What `docker save` writes, so `docker load` of the OCI side names the image too.
        let mut ann = root.annotations().clone().unwrap_or_default();
        ann.insert("io.containerd.image.name".into(), qualified_name(reference));
        root.set_annotations(Some(ann));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": [root],
    });
    let mut files = vec![
        (
            "oci-layout",
            json(
                "oci-layout",
                &serde_json::json!({"imageLayoutVersion": "1.0.0"}),
            )?,
        ),
        ("index.json", json("index.json", &index)?),
    ];
    if let Some(reference) = docker {
        let img = &built.images[0];
        let entry = DockerManifestEntry {
            config: blob_path(&img.config),
            repo_tags: reference.map(str::to_owned).into_iter().collect(),
            layers: img.layers.iter().map(|l| blob_path(&l.digest)).collect(),
        };
        let v = serde_json::to_value([entry]).map_err(|source| SinkError::Json {
            what: "manifest.json",
            source,
        })?;
        files.push(("manifest.json", json("manifest.json", &v)?));
    }
    Ok(files)
}

/// Writes a layout as a deterministic tar: fixed order, owner, mode and mtime.
fn write_archive(
    file: &mut NamedTempFile,
    store: &BlobStore,
    built: &Built,
    files: Vec<(&'static str, Vec<u8>)>,
    epoch: u64,
) -> io::Result<()> {
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 17, file.as_file_mut()));
    let header = |ty: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(epoch);
        h.set_size(size);
        h
    };
    for (name, bytes) in &files {
        let mut h = header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
        tar.append_data(&mut h, name, bytes.as_slice())?;
    }
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        tar.append_data(&mut h, dir, io::empty())?;
    }
    let mut blobs = built.blobs();
    blobs.sort();
    for digest in blobs {
        let f = store.open(&digest).map_err(io::Error::other)?;
        let size = f.metadata()?.len();
        let mut h = header(tar::EntryType::Regular, 0o644, size);
        tar.append_data(&mut h, blob_path(&digest), f)?;
    }
    tar.into_inner()?.flush()
}

/// Several outputs written as one: all are opened first (proving them writable before any
/// work) and committed only when all were written, so one bad destination leaves none of
/// them behind.
pub struct Outputs(Vec<Staged>);

impl Outputs {
    pub fn open(
        dests: &[Destination],
        opts: &crate::registry::RegistryOptions,
    ) -> Result<Self, SinkError> {
        let mut staged = dests
            .iter()
            .map(|d| Staged::open(d, opts))
            .collect::<Result<Vec<_>, _>>()?;
        // Local outputs are written first: a push is the one step that cannot be undone.
        staged.sort_by_key(Staged::is_registry);
        Ok(Self(staged))
    }

    /// Lets pushes to `source`'s registry mount blobs from its repository instead of
    /// uploading them.
    pub fn mount_from(&mut self, source: &crate::registry::Reference) {
        for s in &mut self.0 {
            if let Tmp::Registry(c) = &s.tmp
                && c.reference().host == source.host
                && c.reference().repository != source.repository
            {
                s.mount_from = Some(source.repository.clone());
            }
        }
    }

    /// Writes `built`, whose blobs are in `store`, to every output and commits them.
    /// Returns what each registry push did.
    pub fn finish(
        mut self,
        store: &BlobStore,
        built: &Built,
        epoch: u64,
    ) -> Result<Vec<crate::registry::PushReport>, SinkError> {
        for s in &mut self.0 {
            s.write(store, built, epoch)?;
        }
        let pushed = self.0.iter().filter_map(|s| s.pushed.clone()).collect();
        self.0.into_iter().try_for_each(Staged::commit)?;
        Ok(pushed)
    }
}

/// Writes `built` to every destination at once; see [`Outputs`].
pub fn write_output(
    store: &BlobStore,
    built: &Built,
    epoch: u64,
    dests: &[Destination],
) -> Result<(), SinkError> {
    Outputs::open(dests, &Default::default())?
        .finish(store, built, epoch)
        .map(drop)
}
#[cfg(test)]
mod tests {
    use super::qualified_name;

    #[test]
    fn qualified_name_adds_docker_defaults_only_when_missing() {
        assert_eq!(qualified_name("app:1"), "docker.io/library/app:1");
        assert_eq!(qualified_name("team/app:1"), "docker.io/team/app:1");
        assert_eq!(
            qualified_name("localhost:5000/app:1"),
            "localhost:5000/app:1"
        );
        assert_eq!(qualified_name("reg.example/app:1"), "reg.example/app:1");
    }
}
