//! Reading an image back from a blob store: a manifest or index already in the store
//! becomes a [`Built`], each descriptor checked (known media type, valid digest, a size).

use crate::blob::BlobStore;
use crate::digest::Digest;
use crate::image::{Built, BuiltImage, OciPlatform};
use crate::layer::Layer;
use crate::media;
use crate::registry::error::TransferError;

pub(crate) fn invalid(
    what: &'static str,
    digest: &Digest,
    why: impl Into<String>,
) -> TransferError {
    TransferError::Invalid {
        what,
        digest: digest.to_string(),
        why: why.into(),
    }
}

pub(crate) fn json_of(
    store: &BlobStore,
    what: &'static str,
    digest: &Digest,
) -> Result<serde_json::Value, TransferError> {
    serde_json::from_slice(&store.read(digest)?).map_err(|e| invalid(what, digest, e.to_string()))
}

pub(crate) fn descriptor(
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
pub(crate) fn image_from_store(
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
        platform: OciPlatform {
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
pub(crate) fn built_from_store(
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
