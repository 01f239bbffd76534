//! The archive transports: `oci-archive:FILE[:TAG]` (an OCI layout in a tar) and
//! `docker-archive:FILE[:NAME:TAG]`.
//!
//! What distill writes as a docker-archive is an OCI layout that also carries Docker's
//! `manifest.json` pointing at `blobs/sha256/…`: `docker load` rejects a pure OCI archive,
//! and podman reads either, so the dual form satisfies both. Archives are written as
//! deterministic tars (fixed order, owner, mode and mtime) to a temporary file beside the
//! destination, renamed into place when complete.
//!
//! Reading takes either form, and also the legacy layout that `docker save` (before 25) and
//! `podman save` write: `manifest.json` naming a config file and uncompressed `layer.tar`
//! files, with no OCI index. Such an image becomes an OCI manifest over the same layer bytes
//! (media type `tar`), after each layer's digest is checked against the config's `diff_ids`.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::blob::BlobStore;
use crate::digest::Digest;
use crate::image::{Built, BuiltImage, OciPlatform};
use crate::layer::Layer;
use crate::layout::{blob_path, layout_files, prepare, temp_prefix};
use crate::media;
use crate::transport::{Address, Loaded, PushReport, Sink, SinkError, Source, SourceError};

/// Reads an archive of either form, unpacked into the staging directory.
pub struct ArchiveSource {
    path: PathBuf,
    tag: Option<String>,
}

impl ArchiveSource {
    pub fn new(path: &Path, tag: Option<&str>) -> Self {
        Self {
            path: path.to_path_buf(),
            tag: tag.map(str::to_owned),
        }
    }
}

impl Source for ArchiveSource {
    fn load(&self, staging: &Path) -> Result<Loaded, SourceError> {
        let label = self.path.display().to_string();
        let bad = |why: String| SourceError::Invalid {
            src: label.clone(),
            why,
        };
        let f = fs::File::open(&self.path).map_err(|e| bad(e.to_string()))?;
        // tar's unpack refuses entries that would land outside `staging`; the guard, headers
        // that would fill memory.
        let (f, _) = crate::tarlimits::Guarded::new(f, crate::tarlimits::Limits::unbounded());
        tar::Archive::new(f)
            .unpack(staging)
            .map_err(|e| bad(format!("not a readable tar: {e}")))?;
        if staging.join("index.json").is_file() {
            return crate::layout::load_dir(staging, self.tag.as_deref(), &label);
        }
        if staging.join("manifest.json").is_file() {
            return legacy(staging, self.tag.as_deref(), &label);
        }
        Err(bad(
            "it has neither an OCI index.json nor Docker's manifest.json".into(),
        ))
    }
}

/// A `docker save` archive of the legacy form, unpacked in `dir`.
struct Legacy<'a> {
    dir: &'a Path,
    label: &'a str,
}

impl Legacy<'_> {
    fn bad(&self, why: String) -> SourceError {
        SourceError::Invalid {
            src: self.label.to_owned(),
            why,
        }
    }

    /// A file `manifest.json` names, which must be inside the archive.
    fn inside(&self, name: &str) -> Result<PathBuf, SourceError> {
        let p = Path::new(name);
        if name.is_empty()
            || p.is_absolute()
            || p.components().any(|c| c == std::path::Component::ParentDir)
        {
            return Err(self.bad(format!("manifest.json names `{name}` outside the archive")));
        }
        Ok(self.dir.join(p))
    }

    /// The entry of `manifest.json` tagged `tag`, or the only one.
    fn entry(&self, tag: Option<&str>) -> Result<serde_json::Value, SourceError> {
        let text = fs::read(self.dir.join("manifest.json")).map_err(|e| self.bad(e.to_string()))?;
        let entries: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| self.bad(format!("manifest.json: {e}")))?;
        let entries = entries.as_array().cloned().unwrap_or_default();
        let tags = |e: &serde_json::Value| -> Vec<String> {
            e["RepoTags"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let tagged = |e: &&serde_json::Value| {
            tag.is_none_or(|t| {
                tags(e)
                    .iter()
                    .any(|r| r.rsplit_once(':').is_some_and(|(_, x)| x == t))
            })
        };
        let chosen: Vec<&serde_json::Value> = entries.iter().filter(tagged).collect();
        match chosen.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(self.bad("manifest.json holds no matching image".into())),
            _ => Err(SourceError::Ambiguous {
                src: self.label.to_owned(),
                tags: entries.iter().flat_map(tags).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Each layer file, checked against its `diff_id` and put in `store` under its digest.
    fn layers(
        &self,
        store: &BlobStore,
        names: &[&str],
        diff_ids: &[&str],
    ) -> Result<Vec<Layer>, SourceError> {
        if names.len() != diff_ids.len() {
            return Err(self.bad(format!(
                "{} layers but {} diff_ids",
                names.len(),
                diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (name, diff_id) in names.iter().zip(diff_ids) {
            let path = self.inside(name)?;
            let f = fs::File::open(&path).map_err(|e| self.bad(format!("{name}: {e}")))?;
            let (digest, size) = crate::digest::hash_reader(io::BufReader::new(f))
                .map_err(|e| self.bad(e.to_string()))?;
            if digest.to_string() != *diff_id {
                return Err(self.bad(format!(
                    "{name} hashes to {digest}, its config says {diff_id}"
                )));
            }
            let to = store.path(&digest);
            if !to.exists() && fs::hard_link(&path, &to).is_err() {
                fs::copy(&path, &to).map_err(|e| self.bad(e.to_string()))?;
            }
            layers.push(Layer {
                digest: digest.clone(),
                size,
                diff_id: digest,
                media_type: media::OCI_LAYER_TAR,
            });
        }
        Ok(layers)
    }
}

/// A `docker save` archive of the legacy form, turned into an OCI image in `dir`.
fn legacy(dir: &Path, tag: Option<&str>, label: &str) -> Result<Loaded, SourceError> {
    let l = Legacy { dir, label };
    let entry = l.entry(tag)?;
    let store = BlobStore::create(dir).map_err(|e| l.bad(e.to_string()))?;
    let config_path = l.inside(entry["Config"].as_str().unwrap_or_default())?;
    let config_bytes = fs::read(&config_path).map_err(|e| l.bad(format!("config: {e}")))?;
    let config = store.put(&config_bytes).map_err(|e| l.bad(e.to_string()))?;
    let cfg: serde_json::Value =
        serde_json::from_slice(&config_bytes).map_err(|e| l.bad(format!("config: {e}")))?;
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (names, diff_ids) = (
        strings(&entry["Layers"]),
        strings(&cfg["rootfs"]["diff_ids"]),
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let diff_ids: Vec<&str> = diff_ids.iter().map(String::as_str).collect();
    let layers = l.layers(&store, &names, &diff_ids)?;
    let descriptor = |mt: &str, d: &Digest, size: u64| serde_json::json!({"mediaType": mt, "digest": d.to_string(), "size": size});
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": descriptor(media::OCI_CONFIG, &config, config_bytes.len() as u64),
        "layers": layers.iter().map(|l| descriptor(l.media_type, &l.digest, l.size)).collect::<Vec<_>>(),
    });
    let bytes = crate::canonical::to_vec(&manifest).map_err(|e| l.bad(e.to_string()))?;
    let digest = store.put(&bytes).map_err(|e| l.bad(e.to_string()))?;
    let platform = OciPlatform {
        os: cfg["os"].as_str().unwrap_or("linux").to_owned(),
        architecture: cfg["architecture"].as_str().unwrap_or("amd64").to_owned(),
        variant: cfg["variant"].as_str().map(str::to_owned),
    };
    let built = Built {
        images: vec![BuiltImage {
            platform,
            media_type: media::OCI_MANIFEST,
            manifest: digest,
            manifest_size: bytes.len() as u64,
            config,
            config_size: config_bytes.len() as u64,
            layers,
        }],
        index: None,
    };
    Ok(Loaded { store, built })
}

/// Writes an `oci-archive` or a dual-format `docker-archive`.
pub struct ArchiveSink {
    address: Address,
    target: PathBuf,
    tmp: NamedTempFile,
    _cleanup: crate::cleanup::Registered,
}

impl ArchiveSink {
    pub fn open(address: &Address) -> Result<Self, SinkError> {
        let label = address.to_string();
        let path = address.path().unwrap_or(Path::new("."));
        let (target, parent) = prepare(path, &label)?;
        if target.is_dir() {
            return Err(SinkError::Io {
                dest: label,
                path: target,
                source: io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
            });
        }
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix(&target))
            .tempfile_in(&parent)
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

impl Sink for ArchiveSink {
    fn address(&self) -> &Address {
        &self.address
    }

    fn write(&mut self, store: &BlobStore, built: &Built, epoch: u64) -> Result<(), SinkError> {
        let label = self.address.to_string();
        let files = match &self.address {
            Address::DockerArchive { reference, .. } => {
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
                layout_files(built, tag, Some(reference.as_deref()))?
            }
            Address::OciArchive { tag, .. } => layout_files(built, tag.as_deref(), None)?,
            _ => layout_files(built, None, None)?,
        };
        write_tar(&mut self.tmp, store, built, files, epoch).map_err(|source| SinkError::Io {
            dest: label,
            path: self.tmp.path().to_path_buf(),
            source,
        })
    }

    fn commit(self: Box<Self>) -> Result<Option<PushReport>, SinkError> {
        let io_err = |source| SinkError::Io {
            dest: self.address.to_string(),
            path: self.target.clone(),
            source,
        };
        let file = self.tmp.as_file();
        file.set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        distill_core::crash::point("archive-synced");
        let target = self.target.clone();
        self.tmp.persist(&target).map_err(|e| io_err(e.error))?;
        crate::durable::sync_parent(&target).map_err(io_err)?;
        Ok(None)
    }
}

/// Writes a layout as a deterministic tar: fixed order, owner, mode and mtime.
fn write_tar(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Entry, EntryKind, FileSource, write_layer};
    use crate::transport::Sink;

    /// A one-layer image in a store, for the round trips.
    fn image(dir: &Path) -> (BlobStore, Built) {
        let store = BlobStore::create(dir).unwrap();
        let entry = Entry::new(
            "hello",
            EntryKind::File(FileSource::Bytes(b"hi\n".to_vec())),
            0o644,
            0,
            0,
        )
        .unwrap();
        let layer = write_layer(&store, Default::default(), 0, vec![entry]).unwrap();
        let img = crate::image::write_image(
            &store,
            &crate::ImageSpec::default(),
            &[crate::ImageLayer {
                layer,
                created_by: "t".into(),
            }],
        )
        .unwrap();
        let built = crate::image::finish(&store, vec![img]).unwrap();
        (store, built)
    }

    fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, bytes.as_slice()).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_docker_archive_reads_back_as_the_image_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let (store, built) = image(&dir.path().join("store"));
        let path = dir.path().join("img.tar");
        let address: Address = format!("docker-archive:{}:app:1", path.display())
            .parse()
            .unwrap();
        let mut sink = Box::new(ArchiveSink::open(&address).unwrap());
        sink.write(&store, &built, 0).unwrap();
        sink.commit().unwrap();
        let loaded = ArchiveSource::new(&path, Some("1"))
            .load(&dir.path().join("staging"))
            .unwrap();
        assert_eq!(loaded.built.digest(), built.digest());
        crate::validate::validate(&loaded.store, &loaded.built).unwrap();
    }

    /// What `docker save` (before 25) and `podman save` write: no OCI index, a config file
    /// and an uncompressed `layer.tar` per layer.
    #[test]
    fn the_legacy_docker_save_form_is_read_and_checked() {
        let layer = tar_of(&[("etc/motd", b"hello\n".to_vec())]);
        let diff_id = crate::digest::Digest::of(&layer).to_string();
        let config = |id: &str| {
            serde_json::to_vec(&serde_json::json!({
                "architecture": "amd64", "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [id]},
                "history": [{"created_by": "COPY motd"}],
            }))
            .unwrap()
        };
        let manifest = |layer_name: &str| {
            serde_json::to_vec(&serde_json::json!([
                {"Config": "cfg.json", "RepoTags": ["app:1"], "Layers": [layer_name]}
            ]))
            .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let load = |files: &[(&str, Vec<u8>)], name: &str| {
            let path = dir.path().join(format!("{name}.tar"));
            std::fs::write(&path, tar_of(files)).unwrap();
            ArchiveSource::new(&path, None).load(&dir.path().join(name))
        };
        let loaded = load(
            &[
                ("manifest.json", manifest("abc/layer.tar")),
                ("cfg.json", config(&diff_id)),
                ("abc/layer.tar", layer.clone()),
            ],
            "good",
        )
        .unwrap();
        crate::validate::validate(&loaded.store, &loaded.built).unwrap();
        let img = &loaded.built.images[0];
        assert_eq!(img.layers[0].diff_id.to_string(), diff_id);
        assert_eq!(img.platform.to_string(), "linux/amd64");

        let wrong = format!("sha256:{}", "0".repeat(64));
        let err = load(
            &[
                ("manifest.json", manifest("abc/layer.tar")),
                ("cfg.json", config(&wrong)),
                ("abc/layer.tar", layer.clone()),
            ],
            "wrong",
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("its config says"), "{err}");
        let err = load(
            &[
                ("manifest.json", manifest("../../etc/passwd")),
                ("cfg.json", config(&diff_id)),
            ],
            "escape",
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("outside the archive"), "{err}");
    }
}
