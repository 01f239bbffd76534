//! A strict OCI image validator, as go-containerregistry's `validate` is: the assertion every
//! test makes about an image it built.
//!
//! Walks `index.json` (or a [`Built`] in a [`BlobStore`]) down through indexes and
//! manifests and, for every blob reached, re-hashes it and checks its size against its
//! descriptor. For each image it checks the config's `rootfs.diff_ids` against the digests
//! of the decompressed layers, that each layer is a tar that parses to its end, and the
//! media types against what the bytes are. Archives are unpacked first; a
//! `docker-archive`'s `manifest.json` is checked against the OCI manifest it must agree with.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::blob::BlobStore;
use crate::image::Built;

/// What is wrong with an image.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("Invalid image at {}: {why}", root.display())]
#[diagnostic(help("the image is damaged or was written by a broken tool; write it again"))]
pub struct Invalid {
    pub root: PathBuf,
    pub why: String,
}

/// What a valid layout holds.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The descriptors of `index.json`, as (media type, digest, ref name).
    pub roots: Vec<(String, String, Option<String>)>,
    /// Every image manifest reached, with its platform `os/arch`.
    pub images: Vec<(String, String)>,
    /// Every blob checked.
    pub blobs: usize,
    /// Docker's `manifest.json`, when the layout has one.
    pub docker_manifest: Option<Value>,
}

fn sha256_hex(mut r: impl Read) -> Result<(String, u64), String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = r
            .read(&mut buf)
            .map_err(|e| format!("cannot read a blob: {e}"))?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((hex::encode(h.finalize()), n))
}

fn read_json(path: &Path, what: &str) -> Result<Value, String> {
    let bytes = fs::read(path).map_err(|e| format!("{what}: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{what} is not JSON: {e}"))
}

struct Walker {
    root: PathBuf,
    summary: Summary,
}

impl Walker {
    fn blob_path(&self, digest: &str) -> Result<PathBuf, String> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("bad digest {digest}"))?;
        Ok(self.root.join("blobs/sha256").join(hex))
    }

    /// Checks a descriptor's blob: present, of the stated size and digest.
    fn check_blob(&mut self, desc: &Value) -> Result<PathBuf, String> {
        let digest = desc["digest"].as_str().ok_or("descriptor without digest")?;
        let size = desc["size"].as_u64().ok_or("descriptor without size")?;
        desc["mediaType"]
            .as_str()
            .ok_or("descriptor without mediaType")?;
        let path = self.blob_path(digest)?;
        let f = fs::File::open(&path).map_err(|e| format!("blob {digest} missing: {e}"))?;
        let (hex, n) = sha256_hex(f)?;
        if format!("sha256:{hex}") != digest {
            return Err(format!("blob {digest} hashes to sha256:{hex}"));
        }
        if n != size {
            return Err(format!(
                "blob {digest} has {n} bytes, descriptor says {size}"
            ));
        }
        self.summary.blobs += 1;
        Ok(path)
    }

    fn json_blob(&mut self, desc: &Value) -> Result<Value, String> {
        let path = self.check_blob(desc)?;
        let v = read_json(&path, &format!("blob {}", desc["digest"]))?;
        if let Some(mt) = v.get("mediaType")
            && mt != &desc["mediaType"]
        {
            return Err(format!(
                "blob {} says mediaType {mt}, its descriptor {}",
                desc["digest"], desc["mediaType"]
            ));
        }
        Ok(v)
    }

    fn walk(&mut self, desc: &Value) -> Result<(), String> {
        match desc["mediaType"].as_str().unwrap_or_default() {
            "application/vnd.oci.image.index.v1+json" => {
                let index = self.json_blob(desc)?;
                check_schema(&index, "index")?;
                for m in index["manifests"]
                    .as_array()
                    .ok_or("index without manifests")?
                {
                    if m["platform"].is_null() {
                        return Err(format!("index entry {} has no platform", m["digest"]));
                    }
                    self.walk(m)?;
                }
                Ok(())
            }
            "application/vnd.oci.image.manifest.v1+json" => self.image(desc),
            other => Err(format!("unexpected root media type {other}")),
        }
    }

    fn image(&mut self, desc: &Value) -> Result<(), String> {
        let manifest = self.json_blob(desc)?;
        check_schema(&manifest, "manifest")?;
        let cdesc = &manifest["config"];
        if cdesc["mediaType"] != "application/vnd.oci.image.config.v1+json" {
            return Err(format!("config media type {}", cdesc["mediaType"]));
        }
        let config = self.json_blob(cdesc)?;
        let diff_ids = config["rootfs"]["diff_ids"]
            .as_array()
            .ok_or("config without rootfs.diff_ids")?;
        if config["rootfs"]["type"] != "layers" {
            return Err("rootfs.type is not layers".into());
        }
        let layers = manifest["layers"]
            .as_array()
            .ok_or("manifest without layers")?;
        if layers.len() != diff_ids.len() {
            return Err(format!(
                "{} layers but {} diff_ids",
                layers.len(),
                diff_ids.len()
            ));
        }
        if let Some(h) = config["history"].as_array() {
            let non_empty = h.iter().filter(|e| e["empty_layer"] != true).count();
            if non_empty != layers.len() {
                return Err(format!(
                    "{non_empty} history entries for {} layers",
                    layers.len()
                ));
            }
        }
        for (layer, diff_id) in layers.iter().zip(diff_ids) {
            let path = self.check_blob(layer)?;
            let media_type = layer["mediaType"].as_str().unwrap_or_default();
            let reader = layer_reader(&path, media_type)?;
            let (hex, _) = sha256_hex(reader)?;
            if diff_id.as_str() != Some(&format!("sha256:{hex}")) {
                return Err(format!(
                    "layer {} decompresses to sha256:{hex}, config says {diff_id}",
                    layer["digest"]
                ));
            }
            // The tar must also parse to its end.
            let reader = layer_reader(&path, media_type)?;
            let (reader, _) =
                crate::tarlimits::Guarded::new(reader, crate::tarlimits::Limits::unbounded());
            let mut ar = tar::Archive::new(reader);
            for e in ar.entries().map_err(|e| e.to_string())? {
                e.map_err(|e| format!("layer {} is not a valid tar: {e}", layer["digest"]))?;
            }
        }
        let platform = format!(
            "{}/{}",
            config["os"].as_str().unwrap_or("?"),
            config["architecture"].as_str().unwrap_or("?")
        );
        self.summary.images.push((
            desc["digest"].as_str().unwrap_or_default().to_owned(),
            platform,
        ));
        Ok(())
    }
}

/// The uncompressed tar stream of a layer blob, by its media type.
fn layer_reader(path: &Path, media_type: &str) -> Result<Box<dyn Read>, String> {
    let f = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::layer::reader(f, media_type)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("unknown layer media type {media_type}"))
}

fn check_schema(v: &Value, what: &str) -> Result<(), String> {
    if v["schemaVersion"] != 2 {
        return Err(format!("{what} schemaVersion is {}", v["schemaVersion"]));
    }
    Ok(())
}

/// Validates the OCI image layout in directory `root`.
pub fn validate_layout(root: &Path) -> Result<Summary, Invalid> {
    walk_layout(root).map_err(|why| Invalid {
        root: root.to_path_buf(),
        why,
    })
}

/// Validates `built`, whose blobs are in `store`: the check for images still in the build's
/// staging store, before any output is written.
pub fn validate(store: &BlobStore, built: &Built) -> Result<Summary, Invalid> {
    let (media_type, digest, size) = built.root();
    let desc = serde_json::json!({
        "mediaType": media_type,
        "digest": digest.to_string(),
        "size": size,
    });
    let mut w = Walker {
        root: store.root().to_path_buf(),
        summary: Summary::default(),
    };
    w.walk(&desc).map_err(|why| Invalid {
        root: store.root().to_path_buf(),
        why,
    })?;
    Ok(w.summary)
}

fn walk_layout(root: &Path) -> Result<Summary, String> {
    let layout = read_json(&root.join("oci-layout"), "oci-layout")?;
    if layout["imageLayoutVersion"] != "1.0.0" {
        return Err(format!(
            "imageLayoutVersion {}",
            layout["imageLayoutVersion"]
        ));
    }
    let index = read_json(&root.join("index.json"), "index.json")?;
    check_schema(&index, "index.json")?;
    let mut w = Walker {
        root: root.to_path_buf(),
        summary: Summary::default(),
    };
    for desc in index["manifests"]
        .as_array()
        .ok_or("index.json without manifests")?
    {
        w.walk(desc)?;
        w.summary.roots.push((
            desc["mediaType"].as_str().unwrap_or_default().to_owned(),
            desc["digest"].as_str().unwrap_or_default().to_owned(),
            desc["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .map(str::to_owned),
        ));
    }
    if let Ok(bytes) = fs::read(root.join("manifest.json")) {
        let dm: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("manifest.json: {e}"))?;
        check_docker_manifest(root, &dm)?;
        w.summary.docker_manifest = Some(dm);
    }
    Ok(w.summary)
}

/// Docker's `manifest.json` must name the same config and layers as the OCI manifest.
fn check_docker_manifest(root: &Path, dm: &Value) -> Result<(), String> {
    let entries = dm.as_array().ok_or("manifest.json is not an array")?;
    if entries.len() != 1 {
        return Err(format!("manifest.json has {} entries", entries.len()));
    }
    let entry = &entries[0];
    let index = read_json(&root.join("index.json"), "index.json")?;
    let hex = index["manifests"][0]["digest"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("sha256:")
        .to_owned();
    let manifest = read_json(&root.join("blobs/sha256").join(hex), "the manifest")?;
    let path_of = |d: &Value| {
        format!(
            "blobs/sha256/{}",
            d["digest"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("sha256:")
        )
    };
    if entry["Config"] != path_of(&manifest["config"]).as_str() {
        return Err(format!(
            "manifest.json Config {} disagrees with the OCI manifest",
            entry["Config"]
        ));
    }
    let layers: Vec<String> = manifest["layers"]
        .as_array()
        .ok_or("the manifest has no layers")?
        .iter()
        .map(path_of)
        .collect();
    let dlayers: Vec<String> = entry["Layers"]
        .as_array()
        .ok_or("manifest.json without Layers")?
        .iter()
        .map(|l| l.as_str().unwrap_or_default().to_owned())
        .collect();
    if layers != dlayers {
        return Err(format!(
            "manifest.json Layers {dlayers:?} disagree with {layers:?}"
        ));
    }
    Ok(())
}

/// Unpacks a tar archive of a layout and validates it. Returns the summary and the
/// unpacked directory, which lives as long as the returned guard.
pub fn validate_archive(archive: &Path) -> Result<(Summary, tempfile::TempDir), Invalid> {
    let invalid = |why: String| Invalid {
        root: archive.to_path_buf(),
        why,
    };
    let dir = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
    let f = fs::File::open(archive).map_err(|e| invalid(e.to_string()))?;
    let (f, _) = crate::tarlimits::Guarded::new(f, crate::tarlimits::Limits::unbounded());
    tar::Archive::new(f)
        .unpack(dir.path())
        .map_err(|e| invalid(format!("cannot unpack: {e}")))?;
    let summary = walk_layout(dir.path()).map_err(invalid)?;
    Ok((summary, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The validator must catch what it exists to catch, or every test built on it is void.
    #[test]
    fn validator_rejects_a_corrupted_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::BlobStore::create(dir.path()).unwrap();
        let entry = crate::Entry::new(
            "a",
            crate::EntryKind::File(crate::FileSource::Bytes(b"x".to_vec())),
            0o644,
            0,
            0,
        )
        .unwrap();
        let layer = crate::layer::write_layer(&store, Default::default(), 0, vec![entry]).unwrap();
        let img = crate::image::write_image(
            &store,
            &crate::ImageSpec::default(),
            &[crate::ImageLayer {
                layer: layer.clone(),
                created_by: "t".into(),
            }],
        )
        .unwrap();
        let built = crate::image::finish(&store, vec![img]).unwrap();
        let out = dir.path().join("out");
        crate::Outputs::open(
            &[format!("oci:{}", out.display()).parse().unwrap()],
            &Default::default(),
        )
        .unwrap()
        .finish(&store, &built, 0)
        .unwrap();
        validate_layout(&out).expect("fresh layout is valid");

        let blob = out.join("blobs/sha256").join(layer.digest.hex());
        let mut bytes = fs::read(&blob).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::remove_file(&blob).unwrap();
        fs::write(&blob, &bytes).unwrap();
        let err = validate_layout(&out).unwrap_err();
        assert!(err.why.contains("hashes to"), "{err}");
        // The same check on the store itself.
        validate(&store, &built).expect("the store is intact");
        let blob = store.path(&layer.digest);
        fs::remove_file(&blob).unwrap();
        fs::write(&blob, &bytes).unwrap();
        assert!(
            validate(&store, &built)
                .unwrap_err()
                .why
                .contains("hashes to")
        );
    }
}
