//! What is in any OCI image, read offline from its blobs: `distill inspect` and
//! `distill diff`.
//!
//! - [`walk`]: the layers stacked as a runtime stacks them (image-spec `layer.md`), with
//!   every path's content digest and every appearance of a path.
//! - [`owners`]: which Debian package, Python distribution or npm package each path
//!   comes from, by the image's own records.
//! - [`findings`]: shell, package manager, root, setuid, world-writable, secrets,
//!   end of life; and the `--fail-on` gates.
//! - [`report`]: bytes by layer and package, the largest files, dive's efficiency score;
//!   text and the stable JSON of `docs/inspect.md`.
//! - [`html`] (with [`treemap`]): one self-contained page.
//! - [`diff`]: two images compared by files, packages and config.

pub mod diff;
pub mod findings;
pub mod html;
pub mod owners;
pub mod report;
pub mod treemap;
pub mod walk;

pub use findings::{Check, Finding, Gate};
pub use report::Inspection;
pub use walk::WalkError;

use distill_oci::{BlobStore, BuiltImage};

/// Inspects uncompressed layer tars given as bytes, under `config` (the entry point for
/// fuzzing what an image's layers may hold).
pub fn inspect_tars(
    tars: &[&[u8]],
    config: serde_json::Value,
    now: u64,
) -> Result<Inspection, WalkError> {
    let mut walk = walk::Walk::default();
    for (i, tar) in tars.iter().enumerate() {
        let digest = format!("layer {}", i + 1);
        let facts = walk::LayerFacts {
            digest: digest.clone(),
            compressed: tar.len() as u64,
            ..Default::default()
        };
        walk.add_layer(*tar, facts)
            .map_err(|e| walk::classify(&digest, e))?;
    }
    Ok(Inspection::new(
        "(tars)".to_owned(),
        (format!("({} tars)", tars.len()), "linux/amd64".to_owned()),
        config,
        &serde_json::Value::Null,
        walk,
        now,
    ))
}

/// Inspects `image`, whose blobs are in `store`; `source` names it in the report, `now`
/// (Unix seconds) dates the end-of-life findings.
pub fn inspect(
    store: &BlobStore,
    image: &BuiltImage,
    source: &str,
    now: u64,
) -> Result<Inspection, WalkError> {
    let mut walk = walk::Walk::default();
    for layer in &image.layers {
        let digest = layer.digest.to_string();
        let file = store.open(&layer.digest)?;
        let tar = distill_oci::layer::reader(file, layer.media_type)
            .map_err(|e| walk::classify(&digest, e))?
            .ok_or_else(|| WalkError::MediaType {
                digest: digest.clone(),
                media_type: layer.media_type.to_owned(),
            })?;
        let facts = walk::LayerFacts {
            digest: digest.clone(),
            compressed: layer.size,
            ..Default::default()
        };
        walk.add_layer(tar, facts)
            .map_err(|e| walk::classify(&digest, e))?;
    }
    let config: serde_json::Value =
        serde_json::from_slice(&store.read(&image.config)?).unwrap_or_default();
    let manifest: serde_json::Value =
        serde_json::from_slice(&store.read(&image.manifest)?).unwrap_or_default();
    Ok(Inspection::new(
        source.to_owned(),
        (image.manifest.to_string(), image.platform.to_string()),
        config,
        &manifest["annotations"],
        walk,
        now,
    ))
}
