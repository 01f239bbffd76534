//! Registries: pushing a built image, pulling one, and reading images back from a blob
//! store (OCI distribution-spec v1.1).
//!
//! A push uploads what the registry lacks (HEAD first; a cross-repository mount when the
//! blob is known to live in another repository of the same registry), then PUTs manifests,
//! then the index, each as the exact canonical bytes that were hashed. Each blob and each
//! manifest is one unit of retry with backoff on connection errors and 5xx answers.
//!
//! A push cannot be rolled back, so it is ordered: blobs, then every manifest by digest,
//! then the [`attach`]ments (signatures, attestations), and the tag last. A failure leaves
//! no tag or referrer pointing at incomplete content.

pub mod attach;
pub mod auth;
mod blobs;
pub mod cache;
pub mod challenge;
pub mod client;
pub mod error;

use backon::BlockingRetryable;

pub use client::{Client, RegistryError, RegistryOptions};
pub use distill_core::{Reference, ReferenceError};
pub use error::TransferError;

use crate::blob::BlobStore;
use crate::digest::Digest;
use crate::image::Built;
use crate::media;
use crate::read::{built_from_store, descriptor, invalid, json_of};
use crate::transport::{Address, Loaded, PushReport, Sink, SinkError, Source, SourceError};

/// Blobs larger than this go up in chunks of this size, unless `--chunk-size` says otherwise.
pub(crate) const CHUNK: u64 = 64 << 20;

fn retry<T>(what: &str, f: impl FnMut() -> Result<T, RegistryError>) -> Result<T, RegistryError> {
    f.retry(crate::net::backoff())
        .when(RegistryError::transient)
        .notify(|e, d| {
            tracing::warn!("{what}: retrying in {d:?}: {e}");
            crate::net::wait_retry_after(e.retry_after(), d);
        })
        .call()
}

/// Pushes `built`, whose blobs are in `store`, to the client's repository, tagged with the
/// reference's tag (or by digest only). `mount_from` names a repository of the same registry
/// that may already hold the blobs.
pub fn push(
    store: &BlobStore,
    built: &Built,
    client: &Client,
    mount_from: Option<&str>,
    attachments: &[attach::Attachment],
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
    distill_core::crash::point("registry-blobs");
    let put = |media_type: &str, digest: &Digest, target: &str| -> Result<(), TransferError> {
        let bytes = store.read(digest)?;
        retry(&format!("manifest {digest}"), || {
            client.put_manifest(target, media_type, &bytes)
        })?;
        Ok(())
    };
    for img in &built.images {
        put(img.media_type, &img.manifest, &img.manifest.to_string())?;
    }
    let (root_type, root, _) = built.root();
    if let Some((mt, digest, _)) = &built.index {
        put(mt, digest, &digest.to_string())?;
    }
    for a in attachments {
        retry(&format!("{} of {root}", a.what), || {
            attach::push_attachment(client, root, a)
        })
        .map_err(|source| TransferError::Attachment {
            what: a.what.clone(),
            image: root.to_string(),
            source: Box::new(source),
        })?;
    }
    if let Some(tag) = &client.reference().tag {
        put(root_type, root, tag)?;
    }
    report.bytes_sent = client.bytes_sent();
    Ok(report)
}

fn fetch_blob(
    client: &Client,
    store: &BlobStore,
    digest: &Digest,
    size: u64,
) -> Result<(), TransferError> {
    if store.contains(digest) {
        return Ok(());
    }
    retry(&format!("blob {digest}"), || {
        let mut w = store.writer().map_err(|e| RegistryError::Local {
            digest: digest.to_string(),
            why: e.to_string(),
        })?;
        client.get_blob(digest, size, &mut w)?;
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
        let (_, config, size) = descriptor(&manifest["config"], "manifest", child)?;
        fetch_blob(client, store, &config, size)?;
        for l in manifest["layers"].as_array().cloned().unwrap_or_default() {
            let (_, d, size) = descriptor(&l, "manifest", child)?;
            fetch_blob(client, store, &d, size)?;
        }
    }
    built_from_store(store, mt, &digest, size)
}

/// Reads an image from a registry, blob by blob, into the staging store.
pub struct RegistrySource {
    reference: Reference,
    client: Client,
}

impl RegistrySource {
    pub fn new(reference: &str, opts: &RegistryOptions) -> Result<Self, SourceError> {
        let reference: Reference = reference.parse()?;
        let client = Client::connect(&reference, opts).map_err(|e| SourceError::Transfer {
            src: format!("docker://{reference}"),
            source: e.into(),
        })?;
        Ok(Self { reference, client })
    }

    pub fn reference(&self) -> &Reference {
        &self.reference
    }
}

impl Source for RegistrySource {
    fn load(&self, staging: &std::path::Path) -> Result<Loaded, SourceError> {
        let transfer = |source: TransferError| SourceError::Transfer {
            src: format!("docker://{}", self.reference),
            source,
        };
        let store = BlobStore::create(staging).map_err(|e| transfer(e.into()))?;
        let built = pull(&self.client, &store).map_err(transfer)?;
        Ok(Loaded { store, built })
    }
}

/// Pushes an image to a registry; nothing is visible there until the manifests are PUT.
pub struct RegistrySink {
    address: Address,
    client: Client,
    pushed: Option<PushReport>,
    /// A repository of the same registry that holds the blobs, to mount them from.
    mount_from: Option<String>,
    attachments: Vec<attach::Attachment>,
}

impl RegistrySink {
    /// Connects and settles the scheme and credentials, before any work is done.
    pub fn open(address: &Address, opts: &RegistryOptions) -> Result<Self, SinkError> {
        let label = address.to_string();
        let Address::Registry { reference } = address else {
            unreachable!("open_sink passes registry addresses only")
        };
        let r: Reference = reference.parse().map_err(|source| SinkError::Reference {
            dest: label.clone(),
            source,
        })?;
        let client = Client::connect(&r, opts).map_err(|source| SinkError::Connect {
            dest: label,
            source,
        })?;
        Ok(Self {
            address: address.clone(),
            client,
            pushed: None,
            mount_from: None,
            attachments: Vec::new(),
        })
    }
}

impl Sink for RegistrySink {
    fn address(&self) -> &Address {
        &self.address
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn mount_from(&mut self, source: &Reference) {
        let own = self.client.reference();
        if own.host == source.host && own.repository != source.repository {
            self.mount_from = Some(source.repository.clone());
        }
    }

    fn attach(&mut self, make: &mut dyn FnMut(&Reference) -> Vec<attach::Attachment>) {
        self.attachments = make(self.client.reference());
    }

    fn write(&mut self, store: &BlobStore, built: &Built, _epoch: u64) -> Result<(), SinkError> {
        let report = push(
            store,
            built,
            &self.client,
            self.mount_from.as_deref(),
            &self.attachments,
        )
        .map_err(|source| SinkError::Push {
            dest: self.address.to_string(),
            source,
        })?;
        self.pushed = Some(report);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<Option<PushReport>, SinkError> {
        Ok(self.pushed)
    }
}
