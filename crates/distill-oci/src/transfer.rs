//! Copying an image from any source to any destinations: `distill push` and `distill pull`.
//!
//! A source is a registry (`docker://`), pulled blob by blob into a staging store, or a local
//! layout (`oci:`, `oci-archive:`, `docker-archive:`), read in place or unpacked first.

use std::path::Path;

use crate::blob::BlobStore;
use crate::dest::Destination;
use crate::digest::Digest;
use crate::image::Built;
use crate::media;
use crate::registry::{self, Client, PushReport, RegistryOptions, TransferError};
use crate::sink::{Outputs, SinkError};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("Cannot read {src}: {why}")]
    Source { src: String, why: String },
    #[error(transparent)]
    Transfer(#[from] TransferError),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl CopyError {
    pub fn hint(&self) -> Option<String> {
        match self {
            CopyError::Source { .. } => Some("give oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE or docker://HOST/REPO:TAG".into()),
            CopyError::Transfer(e) => e.hint(),
            CopyError::Sink(e) => e.hint(),
        }
    }
}

/// Loads the layout rooted at `dir`, choosing the descriptor tagged `tag` (or the only one).
fn load_layout(
    dir: &Path,
    tag: Option<&str>,
    label: &str,
) -> Result<(BlobStore, Built), CopyError> {
    let bad = |why: String| CopyError::Source {
        src: label.to_owned(),
        why,
    };
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("index.json")).map_err(|e| bad(format!("index.json: {e}")))?,
    )
    .map_err(|e| bad(format!("index.json: {e}")))?;
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let chosen: Vec<&serde_json::Value> = manifests
        .iter()
        .filter(|m| tag.is_none_or(|t| m["annotations"][media::ANNOTATION_REF_NAME] == t))
        .collect();
    let desc = match chosen.as_slice() {
        [one] => *one,
        [] => return Err(bad(format!("no image tagged {}", tag.unwrap_or("(any)")))),
        _ => return Err(bad("several images; name one with :TAG".into())),
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
    let built = registry::built_from_store(&store, mt, &digest, size)?;
    for d in built.blobs() {
        if !store.contains(&d) {
            return Err(bad(format!("blob {d} is missing")));
        }
    }
    Ok((store, built))
}

/// Loads `src` into (or, for a directory, from) `staging`.
pub fn load(
    src: &Destination,
    staging: &Path,
    opts: &RegistryOptions,
) -> Result<(BlobStore, Built), CopyError> {
    let label = src.to_string();
    let bad = |why: String| CopyError::Source {
        src: label.clone(),
        why,
    };
    match src {
        Destination::Registry { reference } => {
            let r: registry::Reference = reference
                .parse()
                .map_err(|e: registry::ReferenceError| bad(e.to_string()))?;
            let client = Client::connect(&r, opts).map_err(TransferError::from)?;
            let store = BlobStore::create(staging).map_err(|e| bad(e.to_string()))?;
            let built = registry::pull(&client, &store)?;
            Ok((store, built))
        }
        Destination::OciDir { path, tag } => load_layout(path, tag.as_deref(), &label),
        Destination::OciArchive { path, tag } => {
            unpack(path, staging).map_err(bad)?;
            load_layout(staging, tag.as_deref(), &label)
        }
        Destination::DockerArchive { path, .. } => {
            unpack(path, staging).map_err(bad)?;
            load_layout(staging, None, &label)
        }
    }
}

fn unpack(archive: &Path, into: &Path) -> Result<(), String> {
    let f = std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    // tar's unpack refuses entries that would land outside `into`.
    tar::Archive::new(f)
        .unpack(into)
        .map_err(|e| format!("{}: {e}", archive.display()))
}

/// Copies `src` to every destination; returns the image digest and what each push did.
pub fn copy(
    src: &Destination,
    dests: &[Destination],
    opts: &RegistryOptions,
    epoch: u64,
) -> Result<(Digest, Vec<PushReport>), CopyError> {
    let mut outputs = Outputs::open(dests, opts)?;
    if let Destination::Registry { reference } = src
        && let Ok(r) = reference.parse::<registry::Reference>()
    {
        outputs.mount_from(&r);
    }
    let staging = tempfile::Builder::new()
        .prefix("distill-copy-")
        .tempdir()
        .map_err(|e| CopyError::Source {
            src: src.to_string(),
            why: e.to_string(),
        })?;
    let _cleanup = crate::cleanup::Registered::new(staging.path());
    let (store, built) = load(src, staging.path(), opts)?;
    let pushed = outputs.finish(&store, &built, epoch)?;
    Ok((built.digest().clone(), pushed))
}
