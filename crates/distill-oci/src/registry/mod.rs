//! Registries: pushing a built image, pulling one, and reading images back from a blob
//! store (OCI distribution-spec v1.1).
//!
//! A push uploads what the registry lacks (HEAD first; a cross-repository mount when the
//! blob is known to live in another repository of the same registry), then PUTs manifests,
//! then the index, each as the exact canonical bytes that were hashed. Each blob and each
//! manifest is one unit of retry with backoff on connection errors and 5xx answers.

pub mod auth;
pub mod client;
pub mod reference;

use backon::BlockingRetryable;

pub use client::{Client, RegistryError, RegistryOptions};
pub use reference::{Reference, ReferenceError};

use crate::blob::{BlobStore, BlobStoreError};
use crate::digest::Digest;
use crate::image::{Built, BuiltImage, Platform};
use crate::layer::Layer;
use crate::media;

/// Blobs larger than this go up in chunks of this size, unless `--chunk-size` says otherwise.
pub const CHUNK: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Blob(#[from] BlobStoreError),
    #[error("Image {what} {digest} is not valid: {why}")]
    Invalid {
        what: &'static str,
        digest: String,
        why: String,
    },
}

impl TransferError {
    pub fn hint(&self) -> Option<String> {
        match self {
            TransferError::Registry(e) => e.hint(),
            _ => None,
        }
    }
}

fn retry<T>(what: &str, f: impl FnMut() -> Result<T, RegistryError>) -> Result<T, RegistryError> {
    f.retry(crate::net::backoff())
        .when(RegistryError::transient)
        .notify(|e, d| tracing::warn!("{what}: retrying in {d:?}: {e}"))
        .call()
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub digest: String,
    pub blobs_uploaded: usize,
    pub blobs_present: usize,
    pub blobs_mounted: usize,
    pub bytes_sent: u64,
}

/// Pushes `built`, whose blobs are in `store`, to the client's repository, tagged with the
/// reference's tag (or by digest only). `mount_from` names a repository of the same registry
/// that may already hold the blobs.
pub fn push(
    store: &BlobStore,
    built: &Built,
    client: &Client,
    mount_from: Option<&str>,
) -> Result<PushReport, TransferError> {
    let mut report = PushReport {
        digest: built.digest().to_string(),
        ..Default::default()
    };
    let mut blobs: Vec<(Digest, u64)> = Vec::new();
    for img in &built.images {
        for (d, s) in std::iter::once((&img.config, img.config_size))
            .chain(img.layers.iter().map(|l| (&l.digest, l.size)))
        {
            if !blobs.iter().any(|(b, _)| b == d) {
                blobs.push((d.clone(), s));
            }
        }
    }
    for (digest, size) in &blobs {
        let outcome = retry(&format!("blob {digest}"), || {
            if client.has_blob(digest)? {
                return Ok(0);
            }
            if let Some(from) = mount_from
                && client.mount_blob(digest, from)?
            {
                return Ok(1);
            }
            let path = store.path(digest);
            let chunk = if client.chunk_size() == 0 {
                CHUNK
            } else {
                client.chunk_size()
            };
            client.upload_blob(digest, *size, chunk, &|offset| {
                let mut f = std::fs::File::open(&path)?;
                std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset))?;
                Ok(Box::new(f))
            })?;
            Ok(2)
        })?;
        match outcome {
            0 => report.blobs_present += 1,
            1 => report.blobs_mounted += 1,
            _ => report.blobs_uploaded += 1,
        }
    }
    let tag = client.reference().tag.clone();
    let put = |media_type: &str, digest: &Digest, target: &str| -> Result<(), TransferError> {
        let bytes = store.read(digest)?;
        retry(&format!("manifest {digest}"), || {
            client.put_manifest(target, media_type, &bytes)
        })?;
        Ok(())
    };
    match &built.index {
        Some((mt, digest, _)) => {
            for img in &built.images {
                put(img.media_type, &img.manifest, &img.manifest.to_string())?;
            }
            put(mt, digest, &tag.unwrap_or_else(|| digest.to_string()))?;
        }
        None => {
            let img = &built.images[0];
            put(
                img.media_type,
                &img.manifest,
                &tag.unwrap_or_else(|| img.manifest.to_string()),
            )?;
        }
    }
    report.bytes_sent = client.bytes_sent();
    Ok(report)
}

fn invalid(what: &'static str, digest: &Digest, why: impl Into<String>) -> TransferError {
    TransferError::Invalid {
        what,
        digest: digest.to_string(),
        why: why.into(),
    }
}

fn json_of(
    store: &BlobStore,
    what: &'static str,
    digest: &Digest,
) -> Result<serde_json::Value, TransferError> {
    serde_json::from_slice(&store.read(digest)?).map_err(|e| invalid(what, digest, e.to_string()))
}

fn descriptor(
    v: &serde_json::Value,
    what: &'static str,
    parent: &Digest,
) -> Result<(&'static str, Digest, u64), TransferError> {
    let mt = v["mediaType"].as_str().unwrap_or_default();
    let mt = media::known(mt)
        .ok_or_else(|| invalid(what, parent, format!("unsupported media type `{mt}`")))?;
    let d = v["digest"]
        .as_str()
        .and_then(|d| d.parse::<Digest>().ok())
        .ok_or_else(|| invalid(what, parent, "a descriptor without a valid digest"))?;
    let size = v["size"]
        .as_u64()
        .ok_or_else(|| invalid(what, parent, "a descriptor without a size"))?;
    Ok((mt, d, size))
}

/// Reads one image (manifest and config already in `store`) into a [`BuiltImage`].
pub fn image_from_store(
    store: &BlobStore,
    media_type: &'static str,
    digest: &Digest,
    size: u64,
) -> Result<BuiltImage, TransferError> {
    let manifest = json_of(store, "manifest", digest)?;
    let (_, config, config_size) = descriptor(&manifest["config"], "manifest", digest)?;
    let cfg = json_of(store, "config", &config)?;
    let diff_ids = cfg["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    if layers.len() != diff_ids.len() {
        return Err(invalid(
            "manifest",
            digest,
            format!("{} layers but {} diff_ids", layers.len(), diff_ids.len()),
        ));
    }
    let layers = layers
        .iter()
        .zip(&diff_ids)
        .map(|(l, id)| {
            let (mt, d, s) = descriptor(l, "manifest", digest)?;
            let diff_id = id
                .as_str()
                .and_then(|i| i.parse::<Digest>().ok())
                .ok_or_else(|| invalid("config", &config, "an invalid diff_id"))?;
            Ok(Layer {
                digest: d,
                size: s,
                diff_id,
                media_type: mt,
            })
        })
        .collect::<Result<Vec<_>, TransferError>>()?;
    Ok(BuiltImage {
        platform: Platform {
            os: cfg["os"].as_str().unwrap_or("linux").to_owned(),
            architecture: cfg["architecture"].as_str().unwrap_or("amd64").to_owned(),
            variant: cfg["variant"].as_str().map(str::to_owned),
        },
        media_type,
        manifest: digest.clone(),
        manifest_size: size,
        config,
        config_size,
        layers,
    })
}

/// Reads the image or index `digest` (blobs all in `store`) into a [`Built`].
pub fn built_from_store(
    store: &BlobStore,
    media_type: &'static str,
    digest: &Digest,
    size: u64,
) -> Result<Built, TransferError> {
    if !media::is_index(media_type) {
        return Ok(Built {
            images: vec![image_from_store(store, media_type, digest, size)?],
            index: None,
        });
    }
    let index = json_of(store, "index", digest)?;
    let mut images = Vec::new();
    for m in index["manifests"].as_array().cloned().unwrap_or_default() {
        let (mt, d, s) = descriptor(&m, "index", digest)?;
        images.push(image_from_store(store, mt, &d, s)?);
    }
    Ok(Built {
        images,
        index: Some((media_type, digest.clone(), size)),
    })
}

fn fetch_blob(client: &Client, store: &BlobStore, digest: &Digest) -> Result<(), TransferError> {
    if store.contains(digest) {
        return Ok(());
    }
    retry(&format!("blob {digest}"), || {
        let mut w = store.writer().map_err(|e| RegistryError::Local {
            digest: digest.to_string(),
            why: e.to_string(),
        })?;
        client.get_blob(digest, &mut w)?;
        w.commit().map_err(|e| RegistryError::Local {
            digest: digest.to_string(),
            why: e.to_string(),
        })?;
        Ok(())
    })?;
    Ok(())
}

fn fetch_manifest(
    client: &Client,
    store: &BlobStore,
    target: &str,
) -> Result<(&'static str, Digest, u64), TransferError> {
    let (bytes, mt, digest) = retry(&format!("manifest {target}"), || {
        client.get_manifest(target)
    })?;
    let mt = media::known(&mt).ok_or_else(|| {
        invalid(
            "manifest",
            &digest,
            format!("unsupported media type `{mt}`"),
        )
    })?;
    store.put(&bytes)?;
    Ok((mt, digest, bytes.len() as u64))
}

/// Pulls the client's reference, every platform of it, into `store`.
pub fn pull(client: &Client, store: &BlobStore) -> Result<Built, TransferError> {
    let (mt, digest, size) = fetch_manifest(client, store, &client.reference().target())?;
    let children: Vec<Digest> = if media::is_index(mt) {
        let index = json_of(store, "index", &digest)?;
        index["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| descriptor(m, "index", &digest).map(|(_, d, _)| d))
            .collect::<Result<_, _>>()?
    } else {
        vec![digest.clone()]
    };
    for child in &children {
        if child != &digest {
            fetch_manifest(client, store, &child.to_string())?;
        }
        let manifest = json_of(store, "manifest", child)?;
        let (_, config, _) = descriptor(&manifest["config"], "manifest", child)?;
        fetch_blob(client, store, &config)?;
        for l in manifest["layers"].as_array().cloned().unwrap_or_default() {
            let (_, d, _) = descriptor(&l, "manifest", child)?;
            fetch_blob(client, store, &d)?;
        }
    }
    built_from_store(store, mt, &digest, size)
}
