//! A cache repository: build-cache entries kept in an ordinary repository of any
//! distribution-spec registry, so that runners with empty local caches share one (the
//! fleet's cache on an engine that already exists; no server of distill's own).
//!
//! An entry is an OCI image manifest tagged `KIND-KEY` (a tag is at most 128 characters;
//! a key is 64 hex digits), with `artifactType` [`ARTIFACT`]:
//! - its config is the entry's record, a JSON blob of media type [`RECORD`];
//! - its one layer is the entry's blob (a finished image layer), or the empty descriptor
//!   when the entry has none.
//!
//! Everything read back is verified: the manifest's size is bounded, the record and the
//! blob are checked against their digests and sizes as they stream in.

use std::io::Write;

use serde_json::json;

use super::client::{Client, RegistryError};
use crate::digest::Digest;

/// The `artifactType` of a cache entry's manifest.
pub const ARTIFACT: &str = "application/vnd.distill.cache.v1";
/// The media type of an entry's record.
pub const RECORD: &str = "application/vnd.distill.cache.record.v1+json";
const EMPTY: &str = "application/vnd.oci.empty.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// A record larger than this is not one distill wrote.
const MAX_RECORD: u64 = 64 << 20;

/// A blob an entry carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryBlob {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

/// One entry as read back: its record, and the descriptor of its blob.
#[derive(Debug, Clone)]
pub struct Entry {
    pub record: Vec<u8>,
    pub blob: Option<EntryBlob>,
}

fn tag(kind: &str, key: &str) -> String {
    format!("{kind}-{key}")
}

/// The entry `kind`/`key` of the client's repository; `None` when there is none.
pub fn get(client: &Client, kind: &str, key: &str) -> Result<Option<Entry>, RegistryError> {
    let (bytes, _, digest) = match client.get_manifest(&tag(kind, key)) {
        Ok(m) => m,
        Err(RegistryError::Status { status: 404, .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = |why: &str| RegistryError::Protocol {
        url: format!("{}/{}", client.reference().repository, tag(kind, key)),
        why: format!("cache entry {digest}: {why}"),
    };
    let m: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| bad("the manifest is not JSON"))?;
    if m["artifactType"] != ARTIFACT {
        return Err(bad("the manifest is not a distill cache entry"));
    }
    let descriptor = |d: &serde_json::Value| -> Result<EntryBlob, RegistryError> {
        Ok(EntryBlob {
            digest: d["digest"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("a descriptor has no valid digest"))?,
            size: d["size"]
                .as_u64()
                .ok_or_else(|| bad("a descriptor has no size"))?,
            media_type: d["mediaType"].as_str().unwrap_or_default().to_owned(),
        })
    };
    let config = descriptor(&m["config"])?;
    if config.media_type != RECORD || config.size > MAX_RECORD {
        return Err(bad("its config is no record"));
    }
    let mut record = Vec::new();
    client.get_blob(&config.digest, config.size, &mut record)?;
    let blob = match m["layers"].as_array().map(Vec::as_slice) {
        Some([layer]) => Some(descriptor(layer)?).filter(|b| b.media_type != EMPTY),
        _ => return Err(bad("it must have exactly one layer")),
    };
    Ok(Some(Entry { record, blob }))
}

/// Streams an entry's blob into `out`, verified against its descriptor.
pub fn get_blob(
    client: &Client,
    blob: &EntryBlob,
    out: &mut dyn Write,
) -> Result<u64, RegistryError> {
    client.get_blob(&blob.digest, blob.size, out)
}

/// Whether the repository holds the entry `kind`/`key`.
pub fn has(client: &Client, kind: &str, key: &str) -> Result<bool, RegistryError> {
    match client.get_manifest(&tag(kind, key)) {
        Ok(_) => Ok(true),
        Err(RegistryError::Status { status: 404, .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Stores the entry `kind`/`key`: `record`, and the blob read from `open` when there is
/// one. Blobs the repository holds are not sent again; the tag goes last, so a failure
/// leaves no entry pointing at missing content.
pub fn put(
    client: &Client,
    kind: &str,
    key: &str,
    record: &[u8],
    blob: Option<(&EntryBlob, &std::path::Path)>,
) -> Result<(), RegistryError> {
    let record_digest = Digest::of(record);
    if !client.has_blob(&record_digest)? {
        let bytes = record.to_vec();
        client.upload_blob(
            &record_digest,
            record.len() as u64,
            super::CHUNK,
            &move |offset| {
                Ok(Box::new(std::io::Cursor::new(
                    bytes[offset as usize..].to_vec(),
                )))
            },
        )?;
    }
    let layer = match blob {
        Some((b, path)) => {
            if !client.has_blob(&b.digest)? {
                let path = path.to_path_buf();
                let chunk = match client.chunk_size() {
                    0 => super::CHUNK,
                    n => n,
                };
                client.upload_blob(&b.digest, b.size, chunk, &move |offset| {
                    let mut f = std::fs::File::open(&path)?;
                    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset))?;
                    Ok(Box::new(f))
                })?;
            }
            json!({"mediaType": b.media_type, "digest": b.digest.to_string(), "size": b.size})
        }
        None => {
            let empty = b"{}";
            let d = Digest::of(empty);
            if !client.has_blob(&d)? {
                client.upload_blob(&d, 2, super::CHUNK, &|_| {
                    Ok(Box::new(std::io::Cursor::new(empty.to_vec())))
                })?;
            }
            json!({"mediaType": EMPTY, "digest": d.to_string(), "size": 2})
        }
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": ARTIFACT,
        "config": {"mediaType": RECORD, "digest": record_digest.to_string(), "size": record.len()},
        "layers": [layer],
    });
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    client.put_manifest(&tag(kind, key), MANIFEST, &bytes)?;
    Ok(())
}
