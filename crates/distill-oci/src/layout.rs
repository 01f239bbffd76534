//! The `oci:DIR[:TAG]` transport: an OCI image layout directory (image-spec
//! `image-layout.md`), read in place and written atomically.
//!
//! Writing goes to a hidden temporary directory beside the destination, which is renamed
//! into place only once complete. A previous layout is moved aside first and removed after,
//! and a directory that is not a layout (and not empty) is never touched: distill does not
//! delete what it did not write.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::blob::BlobStore;
use crate::canonical;
use crate::digest::Digest;
use crate::image::{Built, root_descriptor};
use crate::media;
use crate::transport::{Address, Loaded, PushReport, Sink, SinkError, Source, SourceError};

/// Reads a layout directory in place.
pub struct LayoutSource {
    dir: PathBuf,
    tag: Option<String>,
}

impl LayoutSource {
    pub fn new(dir: &Path, tag: Option<&str>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            tag: tag.map(str::to_owned),
        }
    }
}

impl Source for LayoutSource {
    fn load(&self, _staging: &Path) -> Result<Loaded, SourceError> {
        let label = Address::OciDir {
            path: self.dir.clone(),
            tag: self.tag.clone(),
        }
        .to_string();
        load_dir(&self.dir, self.tag.as_deref(), &label)
    }
}

/// Loads the layout rooted at `dir`, choosing the descriptor tagged `tag` (or the only one).
pub(crate) fn load_dir(dir: &Path, tag: Option<&str>, label: &str) -> Result<Loaded, SourceError> {
    let bad = |why: String| SourceError::Invalid {
        src: label.to_owned(),
        why,
    };
    let bytes = fs::read(dir.join("index.json")).map_err(|e| bad(format!("index.json: {e}")))?;
    let index: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("index.json: {e}")))?;
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let name = |m: &serde_json::Value| {
        m["annotations"][media::ANNOTATION_REF_NAME]
            .as_str()
            .map(str::to_owned)
    };
    let chosen: Vec<&serde_json::Value> = manifests
        .iter()
        .filter(|m| tag.is_none_or(|t| name(m).as_deref() == Some(t)))
        .collect();
    let desc = match chosen.as_slice() {
        [one] => *one,
        [] => return Err(bad(format!("no image tagged {}", tag.unwrap_or("(any)")))),
        _ => {
            return Err(SourceError::Ambiguous {
                src: label.to_owned(),
                tags: manifests
                    .iter()
                    .map(|m| name(m).unwrap_or_else(|| "(untagged)".into()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };
    let mt = desc["mediaType"]
        .as_str()
        .and_then(media::known)
        .ok_or_else(|| bad("unsupported media type".into()))?;
    let digest: Digest = desc["digest"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| bad("a descriptor without a valid digest".into()))?;
    let size = desc["size"]
        .as_u64()
        .ok_or_else(|| bad("a descriptor without a size".into()))?;
    let store = BlobStore::create(dir).map_err(|e| bad(e.to_string()))?;
    let built = crate::read::built_from_store(&store, mt, &digest, size).map_err(|source| {
        SourceError::Transfer {
            src: label.to_owned(),
            source,
        }
    })?;
    if let Some(d) = built.blobs().into_iter().find(|d| !store.contains(d)) {
        return Err(bad(format!("blob {d} is missing")));
    }
    Ok(Loaded { store, built })
}

/// Writes a layout directory.
pub struct LayoutSink {
    address: Address,
    target: PathBuf,
    tmp: TempDir,
    _cleanup: crate::cleanup::Registered,
}

impl LayoutSink {
    pub fn open(address: &Address) -> Result<Self, SinkError> {
        let label = address.to_string();
        let path = address.path().unwrap_or(Path::new("."));
        let (target, parent) = prepare(path, &label)?;
        if target.exists() && !is_replaceable_layout(&target) {
            return Err(SinkError::NotALayout {
                dest: label,
                path: target,
            });
        }
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix(&target))
            .tempdir_in(&parent)
            .map_err(|source| SinkError::Io {
                dest: label,
                path: parent.clone(),
                source,
            })?;
        Ok(Self {
            address: address.clone(),
            target,
            _cleanup: crate::cleanup::Registered::new(tmp.path()),
            tmp,
        })
    }
}

impl Sink for LayoutSink {
    fn address(&self) -> &Address {
        &self.address
    }

    fn write(&mut self, store: &BlobStore, built: &Built, _epoch: u64) -> Result<(), SinkError> {
        let dir = self.tmp.path();
        let io_err = |source| SinkError::Io {
            dest: self.address.to_string(),
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
        let tag = match &self.address {
            Address::OciDir { tag, .. } => tag.as_deref(),
            _ => None,
        };
        for (name, bytes) in layout_files(built, tag, None)? {
            fs::write(dir.join(name), bytes).map_err(io_err)?;
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(io_err)
    }

    fn commit(self: Box<Self>) -> Result<Option<PushReport>, SinkError> {
        let label = self.address.to_string();
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
        let staged = self.tmp.keep();
        crate::durable::sync_tree(&staged).map_err(io_err(&staged))?;
        distill_core::crash::point("oci-dir-synced");
        let occupied = target.exists()
            && fs::read_dir(&target)
                .map_err(io_err(&target))?
                .next()
                .is_some();
        // A previous layout trades places with the new one in one step, so the path always
        // holds a complete layout; it is removed only afterwards.
        if occupied && crate::durable::exchange(&staged, &target).map_err(io_err(&target))? {
            distill_core::crash::point("oci-dir-exchanged");
            crate::durable::sync_parent(&target).map_err(io_err(&target))?;
            fs::remove_dir_all(&staged).map_err(io_err(&staged))?;
            return Ok(None);
        }
        // rename(2) replaces an empty directory. A filesystem that cannot exchange gets
        // the old layout moved aside first (named like a temporary, so a killed run's is
        // swept), then removed once the new one is in place.
        let old = if occupied {
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
        crate::durable::sync_parent(&target).map_err(io_err(&target))?;
        if let Some(old) = old {
            fs::remove_dir_all(&old).map_err(io_err(&old))?;
        }
        Ok(None)
    }
}

/// The absolute target and its parent directory, which must exist.
pub(crate) fn prepare(path: &Path, label: &str) -> Result<(PathBuf, PathBuf), SinkError> {
    let target = std::path::absolute(path).map_err(|source| SinkError::Io {
        dest: label.to_owned(),
        path: path.to_path_buf(),
        source,
    })?;
    let parent = target.parent().unwrap_or(Path::new("/")).to_path_buf();
    if parent.exists() && !parent.is_dir() {
        return Err(SinkError::Io {
            dest: label.to_owned(),
            path: parent,
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    if !parent.is_dir() {
        return Err(SinkError::NoParent {
            dest: label.to_owned(),
            dir: parent,
        });
    }
    Ok((target, parent))
}

/// Temporaries are `.NAME.distill-PID-XXXX` beside the destination: the same filesystem, so
/// the final `rename(2)` is atomic. Those a killed run left are removed first.
pub(crate) fn temp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = format!(".{name}.distill-");
    if let Some(parent) = target.parent() {
        crate::cleanup::sweep(parent, &base);
    }
    crate::cleanup::owned_prefix(&base)
}

/// An existing destination directory is replaced only if it is empty or an image layout.
fn is_replaceable_layout(path: &Path) -> bool {
    path.join("oci-layout").is_file() || fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

/// `app:1` as Docker spells it in full: `docker.io/library/app:1`.
pub(crate) fn qualified_name(reference: &str) -> String {
    match reference.split_once('/') {
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => reference.to_owned(),
        Some(_) => format!("docker.io/{reference}"),
        None => format!("docker.io/library/{reference}"),
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

pub(crate) fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// `oci-layout`, `index.json` and, for a docker-archive (`docker = Some(reference)`),
/// Docker's `manifest.json`.
pub(crate) fn layout_files(
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
    if let (Some(reference), [img]) = (docker, built.images.as_slice()) {
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
