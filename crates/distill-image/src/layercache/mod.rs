//! The layer cache: every layer distill writes is a pure function of its inputs, so a
//! finished layer is kept and found again by a key, the digest of those inputs.
//!
//! - The blob is an entry of the download cache (`sha256/HEX`), written atomically from
//!   bytes checked against the layer's digest, and verified again on every read: a damaged
//!   entry is removed and the layer made anew, never used.
//! - The record (`layers/KEY.json`) holds the layer's digest, diff_id, size and media type,
//!   its history line, what it adds (its inventory and the files an SBOM reads) and what
//!   the stage that made it tells the later stages (`side`).
//! - A key covers [`FORMAT`], distill's version, the stage and its inputs; the caller adds
//!   the compression, the epoch and the platform. Bumping [`FORMAT`] whenever what is kept
//!   may change for the same inputs (the tar writer, a treatment, the family's files, the
//!   resolver) changes every key, so nothing written before is used.
//! - One process makes a given layer at a time ([`distill_apt::fetch::Cache::lock`]); a
//!   second build waiting on it finds the record in place.
//! - With a cache repository ([`Remote`]), what the local cache lacks is looked for there,
//!   and what is made or found here is offered to it.
//!
//! Resolutions and app installs are kept the same way, as records with no blob
//! (`resolved/KEY.json`, `app-installs/KEY.json`).

mod remote;

pub use remote::Remote;

use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use base64::Engine as _;
use distill_apt::fetch::{Cache, Expected};
use distill_core::Component;
use distill_oci::registry::cache::EntryBlob;
use distill_oci::{BlobStore, Layer};
use distill_sbom::metadata::Metadata;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The version of what distill makes of given inputs: layer bytes, resolutions, installs.
pub const FORMAT: u32 = 1;

/// A record larger than this is not one distill wrote.
const MAX_RECORD: u64 = 64 << 20;

/// Whether, and under which format, layers are kept between builds, and the cache
/// repository they are shared through.
#[derive(Debug, Clone)]
pub struct LayerCache {
    format: Option<u32>,
    remote: Option<Arc<Remote>>,
}

impl Default for LayerCache {
    fn default() -> Self {
        Self::new()
    }
}

/// The digest of a layer's inputs, in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A layer as the cache keeps it.
#[derive(Debug, Clone)]
pub struct Cached<T> {
    pub layer: Layer,
    pub created_by: String,
    pub components: Vec<Component>,
    pub notable: Metadata,
    pub side: T,
}

#[derive(Serialize, Deserialize)]
struct Record<T> {
    digest: String,
    size: u64,
    diff_id: String,
    media_type: String,
    created_by: String,
    components: Vec<Component>,
    notable: Vec<(String, Bytes)>,
    doc_links: Vec<(String, String)>,
    side: T,
}

/// Bytes as base64 in a record, a quarter of the size of a JSON array of numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

/// `(name, bytes)` pairs with the bytes as base64, for `#[serde(with)]`.
pub mod named_bytes {
    use super::Bytes;
    use serde::{Deserialize, Serialize};

    pub fn serialize<S: serde::Serializer>(
        v: &[(String, Vec<u8>)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let v: Vec<(&str, Bytes)> = v
            .iter()
            .map(|(n, b)| (n.as_str(), Bytes(b.clone())))
            .collect();
        v.serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, Vec<u8>)>, D::Error> {
        let v: Vec<(String, Bytes)> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|(n, b)| (n, b.0)).collect())
    }
}

impl LayerCache {
    /// Layers kept under the current [`FORMAT`].
    pub fn new() -> Self {
        Self::with_format(FORMAT)
    }

    /// Layers kept under `format` (tests bump it to see every key change).
    pub fn with_format(format: u32) -> Self {
        Self {
            format: Some(format),
            remote: None,
        }
    }

    /// Every layer made anew, and none kept (`--no-cache`).
    pub fn disabled() -> Self {
        Self {
            format: None,
            remote: None,
        }
    }

    /// The cache, shared through the cache repository `remote` too.
    pub fn with_remote(mut self, remote: Remote) -> Self {
        self.remote = Some(Arc::new(remote));
        self
    }

    /// The cache repository, when there is one.
    pub fn remote(&self) -> Option<&Remote> {
        self.remote.as_deref()
    }

    /// The key of the layer `stage` makes from `inputs`; `None` when the cache is off.
    pub fn key(&self, stage: &str, inputs: &impl Serialize) -> Option<Key> {
        let format = self.format?;
        let doc = serde_json::json!({
            "format": format,
            "distill": env!("CARGO_PKG_VERSION"),
            "stage": stage,
            "inputs": inputs,
        });
        let bytes = serde_json::to_vec(&doc).ok()?;
        Some(Key(hex::encode(Sha256::digest(&bytes))))
    }

    /// The lock of `key`'s entry, held while the layer is made; `None` (no lock) when the
    /// cache cannot be locked, which only costs a second build the same work.
    pub fn lock(&self, cache: &Cache, key: &Key) -> Option<File> {
        cache
            .lock(&format!("layer-{}", key.0))
            .inspect_err(|e| tracing::warn!("layer cache: {e}"))
            .ok()
    }

    fn record_path(cache: &Cache, kind: &str, key: &Key) -> std::path::PathBuf {
        cache.root().join(kind).join(format!("{}.json", key.0))
    }

    /// The bytes of record `kind`/`key` in the local cache.
    fn local(cache: &Cache, kind: &str, key: &Key) -> Option<Vec<u8>> {
        let mut text = Vec::new();
        File::open(Self::record_path(cache, kind, key))
            .ok()?
            .take(MAX_RECORD)
            .read_to_end(&mut text)
            .ok()?;
        Some(text)
    }

    /// The bytes of record `kind`/`key`: the local cache's, else the cache repository's
    /// (with its blob), then kept locally. `true` with them when they were pulled.
    fn load(&self, cache: &Cache, kind: &str, key: &Key) -> Option<(Vec<u8>, bool)> {
        if let Some(text) = Self::local(cache, kind, key) {
            return Some((text, false));
        }
        let text = self.remote.as_ref()?.pull(cache, kind, &key.0)?;
        if let Err(e) = Self::write_bytes(cache, kind, key, &text) {
            tracing::warn!("cache: cannot keep a {kind} record: {e}");
        }
        Some((text, true))
    }

    /// The record of kind `kind` (a directory of the cache) that `key` names; one that
    /// does not parse is removed.
    pub fn record<T: DeserializeOwned>(&self, cache: &Cache, kind: &str, key: &Key) -> Option<T> {
        let (text, pulled) = self.load(cache, kind, key)?;
        match serde_json::from_slice(&text) {
            Ok(r) => {
                if let Some(remote) = self.remote.as_ref().filter(|_| !pulled && kind != "layers") {
                    remote.offer(kind, &key.0, &text, None);
                }
                Some(r)
            }
            Err(e) => {
                let path = Self::record_path(cache, kind, key);
                tracing::warn!("discarding cache record {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Writes `record` under `key`, atomically, and offers it to the cache repository; a
    /// failure is a warning (see [`Self::put`]).
    pub fn keep<T: Serialize>(&self, cache: &Cache, kind: &str, key: &Key, record: &T) {
        let text = match serde_json::to_vec(record) {
            Ok(t) => t,
            Err(e) => return tracing::warn!("cache: cannot keep a {kind} record: {e}"),
        };
        if let Err(e) = Self::write_bytes(cache, kind, key, &text) {
            tracing::warn!("cache: cannot keep a {kind} record: {e}");
        }
        if let Some(remote) = &self.remote {
            remote.offer(kind, &key.0, &text, None);
        }
    }

    fn write_bytes(
        cache: &Cache,
        kind: &str,
        key: &Key,
        text: &[u8],
    ) -> Result<(), Box<dyn std::error::Error>> {
        let path = Self::record_path(cache, kind, key);
        let dir = path.parent().unwrap_or(cache.root());
        std::fs::create_dir_all(dir)?;
        let mut tmp = cache.temp_file()?;
        std::io::Write::write_all(&mut tmp, text)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path)?;
        distill_oci::durable::sync_parent(&path)?;
        Ok(())
    }

    /// The layer `key` names, its blob verified and put into `store`; `None` when the cache
    /// has no such layer, or a damaged one (which is then removed).
    pub fn get<T: DeserializeOwned>(
        &self,
        cache: &Cache,
        key: &Key,
        store: &BlobStore,
    ) -> Option<Cached<T>> {
        let (text, pulled) = self.load(cache, "layers", key)?;
        let path = Self::record_path(cache, "layers", key);
        let discard = |why: &str| {
            tracing::warn!("discarding layer cache entry {}: {why}", path.display());
            let _ = std::fs::remove_file(&path);
            None
        };
        let Ok(r) = serde_json::from_slice::<Record<T>>(&text) else {
            return discard("it does not parse");
        };
        let (Ok(digest), Ok(diff_id), Some(media_type)) = (
            r.digest.parse::<distill_oci::Digest>(),
            r.diff_id.parse::<distill_oci::Digest>(),
            distill_oci::media::known(&r.media_type),
        ) else {
            return discard("it names no valid layer");
        };
        let expected = Expected {
            size: r.size,
            sha256: digest.hex().to_owned(),
        };
        let Some(blob) = cache.get(&expected) else {
            return discard("its blob is missing or does not match its digest");
        };
        let to = store.path(&digest);
        if !to.exists() && std::fs::hard_link(&blob, &to).is_err() {
            std::fs::copy(&blob, &to).ok()?;
        }
        if let Some(remote) = self.remote.as_ref().filter(|_| !pulled) {
            let b = EntryBlob {
                digest: digest.clone(),
                size: r.size,
                media_type: media_type.to_owned(),
            };
            remote.offer("layers", &key.0, &text, Some((&b, &blob)));
        }
        let mut notable = Metadata::default();
        for (p, b) in r.notable {
            notable.insert(0, &p, b.0);
        }
        for (p, t) in &r.doc_links {
            notable.insert_link(p, t);
        }
        Some(Cached {
            layer: Layer {
                digest,
                size: r.size,
                diff_id,
                media_type,
            },
            created_by: r.created_by,
            components: r.components,
            notable,
            side: r.side,
        })
    }

    /// Keeps `layer` (whose blob is in `store`) under `key`. A cache that cannot be written
    /// costs the next build the work, not this one its result: failures are warnings.
    pub fn put<T: Serialize>(&self, cache: &Cache, key: &Key, store: &BlobStore, c: &Cached<T>) {
        if let Err(e) = self.try_put(cache, key, store, c) {
            tracing::warn!("layer cache: cannot keep layer {}: {e}", c.layer.digest);
        }
    }

    fn try_put<T: Serialize>(
        &self,
        cache: &Cache,
        key: &Key,
        store: &BlobStore,
        c: &Cached<T>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let expected = Expected {
            size: c.layer.size,
            sha256: c.layer.digest.hex().to_owned(),
        };
        let blob = match cache.get(&expected) {
            Some(p) => p,
            None => cache.put_reader(&expected, &mut store.open(&c.layer.digest)?)?,
        };
        let record = Record {
            digest: c.layer.digest.to_string(),
            size: c.layer.size,
            diff_id: c.layer.diff_id.to_string(),
            media_type: c.layer.media_type.to_owned(),
            created_by: c.created_by.clone(),
            components: c.components.clone(),
            notable: c
                .notable
                .files()
                .map(|(p, b)| (p.to_owned(), Bytes(b.to_vec())))
                .collect(),
            doc_links: c
                .notable
                .doc_links()
                .map(|(p, t)| (p.to_owned(), t.to_owned()))
                .collect(),
            side: &c.side,
        };
        let text = serde_json::to_vec(&record)?;
        distill_core::crash::point("layer-blob-kept");
        Self::write_bytes(cache, "layers", key, &text)?;
        if let Some(remote) = &self.remote {
            let b = EntryBlob {
                digest: c.layer.digest.clone(),
                size: c.layer.size,
                media_type: c.layer.media_type.to_owned(),
            };
            remote.offer("layers", &key.0, &text, Some((&b, &blob)));
        }
        Ok(())
    }
}
