//! A strict OCI image layout validator for tests.
//!
//! Walks `index.json` down through indexes and manifests and, for every blob reached,
//! re-hashes it and checks its size against its descriptor. For each image it checks the
//! config's `rootfs.diff_ids` against the digests of the decompressed layers, and the media
//! types against what the bytes are. Archives are unpacked first; a `docker-archive`'s
//! `manifest.json` is checked against the OCI manifest it must agree with.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

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

fn sha256_hex(mut r: impl Read) -> (String, u64) {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf).expect("read blob");
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    (hex::encode(h.finalize()), n)
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
        let (hex, n) = sha256_hex(f);
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
        let v: Value = serde_json::from_slice(&fs::read(path).unwrap())
            .map_err(|e| format!("blob {} is not JSON: {e}", desc["digest"]))?;
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
            let (hex, _) = sha256_hex(reader);
            if diff_id.as_str() != Some(&format!("sha256:{hex}")) {
                return Err(format!(
                    "layer {} decompresses to sha256:{hex}, config says {diff_id}",
                    layer["digest"]
                ));
            }
            // The tar must also parse to its end.
            let reader = layer_reader(&path, media_type)?;
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
        self.summary
            .images
            .push((desc["digest"].as_str().unwrap().to_owned(), platform));
        Ok(())
    }
}

/// The uncompressed tar stream of a layer blob, by its media type.
fn layer_reader(path: &Path, media_type: &str) -> Result<Box<dyn Read>, String> {
    let f = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(match media_type {
        "application/vnd.oci.image.layer.v1.tar+gzip" => {
            Box::new(flate2::read::MultiGzDecoder::new(f))
        }
        "application/vnd.oci.image.layer.v1.tar+zstd" => {
            Box::new(zstd::Decoder::new(f).map_err(|e| e.to_string())?)
        }
        "application/vnd.oci.image.layer.v1.tar" => Box::new(f),
        other => return Err(format!("unknown layer media type {other}")),
    })
}

fn check_schema(v: &Value, what: &str) -> Result<(), String> {
    if v["schemaVersion"] != 2 {
        return Err(format!("{what} schemaVersion is {}", v["schemaVersion"]));
    }
    Ok(())
}

/// Validates the OCI image layout in directory `root`.
pub fn validate_layout(root: &Path) -> Result<Summary, String> {
    let layout: Value = serde_json::from_slice(
        &fs::read(root.join("oci-layout")).map_err(|e| format!("oci-layout: {e}"))?,
    )
    .map_err(|e| format!("oci-layout: {e}"))?;
    if layout["imageLayoutVersion"] != "1.0.0" {
        return Err(format!(
            "imageLayoutVersion {}",
            layout["imageLayoutVersion"]
        ));
    }
    let index: Value = serde_json::from_slice(
        &fs::read(root.join("index.json")).map_err(|e| format!("index.json: {e}"))?,
    )
    .map_err(|e| format!("index.json: {e}"))?;
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
    let index: Value = serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
    let mdesc = &index["manifests"][0];
    let hex = mdesc["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let manifest: Value =
        serde_json::from_slice(&fs::read(root.join("blobs/sha256").join(hex)).unwrap()).unwrap();
    let path_of = |d: &Value| {
        format!(
            "blobs/sha256/{}",
            d["digest"].as_str().unwrap().trim_start_matches("sha256:")
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
        .unwrap()
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
pub fn validate_archive(archive: &Path) -> Result<(Summary, tempfile::TempDir), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let f = fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    tar::Archive::new(f)
        .unpack(dir.path())
        .map_err(|e| format!("unpack {}: {e}", archive.display()))?;
    let summary = validate_layout(dir.path())?;
    Ok((summary, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The validator must catch what it exists to catch, or every test built on it is void.
    #[test]
    fn validator_rejects_a_corrupted_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = distill_oci::BlobStore::create(dir.path()).unwrap();
        let entry = distill_oci::Entry::new(
            "a",
            distill_oci::EntryKind::File(distill_oci::FileSource::Bytes(b"x".to_vec())),
            0o644,
            0,
            0,
        )
        .unwrap();
        let layer =
            distill_oci::layer::write_layer(&store, Default::default(), 0, vec![entry]).unwrap();
        let img = distill_oci::image::write_image(
            &store,
            &distill_oci::ImageSpec::default(),
            &[distill_oci::ImageLayer {
                layer: layer.clone(),
                created_by: "t".into(),
            }],
        )
        .unwrap();
        let built = distill_oci::image::finish(&store, vec![img]).unwrap();
        let out = dir.path().join("out");
        distill_oci::write_output(
            &store,
            &built,
            0,
            &[format!("oci:{}", out.display()).parse().unwrap()],
        )
        .unwrap();
        validate_layout(&out).expect("fresh layout is valid");

        let blob = out.join("blobs/sha256").join(layer.digest.hex());
        let mut bytes = fs::read(&blob).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::remove_file(&blob).unwrap();
        fs::write(&blob, &bytes).unwrap();
        let err = validate_layout(&out).unwrap_err();
        assert!(err.contains("hashes to"), "{err}");
    }
}
