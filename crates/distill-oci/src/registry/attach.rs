//! What a push puts beside an image: signatures and attestations (distribution-spec v1.1
//! "Listing Referrers", image-spec v1.1 `manifest.md` `subject` and `artifactType`).
//!
//! - A signature goes where cosign puts it and containers/image looks for it: an OCI image
//!   manifest tagged `sha256-<hex>.sig`, one layer per signature. A signature already there
//!   is kept beside ours, as cosign keeps it.
//! - An attestation is an artifact manifest whose `subject` is the image. Registries with
//!   the referrers API index it themselves; for the others (distribution 2.8) the push
//!   maintains the referrers tag schema, an index tagged `sha256-<hex>` listing every
//!   referrer, and reading falls back to it the same way.
//!
//! The push writes these after the image's manifests by digest and before its tag, so no
//! tag points at an image whose signature is not yet there.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::client::{Client, RegistryError};
use crate::digest::Digest;
use crate::media;

/// The media type of an artifact manifest's empty config (image-spec `manifest.md`).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub use super::client::MAX_MANIFEST;

/// One manifest and the blobs it references, to push beside an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// What it is, for messages: `signature`, `attestation https://slsa.dev/provenance/v1`.
    pub what: String,
    /// The canonical bytes of an OCI image manifest.
    pub manifest: Vec<u8>,
    pub blobs: Vec<Vec<u8>>,
    /// Where it goes: a tag (`sha256-<hex>.sig`), or by digest when `None`.
    pub tag: Option<String>,
    /// Its descriptor in the subject's referrers, when it has a subject.
    pub referrer: Option<Value>,
}

fn blob_descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": Digest::of(bytes).to_string(), "size": bytes.len()})
}

/// The tag of an image's signatures: `sha256-<hex>.sig`.
pub fn signature_tag(image: &Digest) -> String {
    format!("{}.sig", referrers_tag(image))
}

/// The referrers tag schema's tag for `subject`: `sha256-<hex>`.
pub fn referrers_tag(subject: &Digest) -> String {
    subject.to_string().replacen(':', "-", 1)
}

impl Attachment {
    /// cosign's signature manifest for `image`: one layer per `(payload, annotations)`.
    pub fn signatures(image: &Digest, layers: &[(Vec<u8>, BTreeMap<String, String>)]) -> Self {
        let config = signature_config(
            layers
                .iter()
                .map(|(p, _)| json!(Digest::of(p).to_string()))
                .collect(),
        );
        let layer_descs: Vec<Value> = layers
            .iter()
            .map(|(payload, annotations)| {
                let mut d = blob_descriptor(SIMPLE_SIGNING, payload);
                d["annotations"] = json!(annotations);
                d
            })
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": blob_descriptor(media::OCI_CONFIG, &config),
            "layers": layer_descs,
        });
        let mut blobs = vec![config];
        blobs.extend(layers.iter().map(|(p, _)| p.clone()));
        Self {
            manifest: crate::canonical::to_vec(&manifest).unwrap_or_default(),
            blobs,
            tag: Some(signature_tag(image)),
            referrer: None,
            what: "signature".into(),
        }
    }

    /// An artifact of type `artifact_type` whose one layer is `bytes`, referring to
    /// `subject` (media type, digest, size).
    pub fn artifact(
        subject: (&str, &Digest, u64),
        artifact_type: &str,
        layer_media_type: &str,
        bytes: Vec<u8>,
        annotations: BTreeMap<String, String>,
    ) -> Self {
        let empty = b"{}".to_vec();
        let mut layer = blob_descriptor(layer_media_type, &bytes);
        layer["annotations"] = json!(annotations);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": blob_descriptor(EMPTY_MEDIA_TYPE, &empty),
            "layers": [layer],
            "subject": {"mediaType": subject.0, "digest": subject.1.to_string(), "size": subject.2},
            "annotations": annotations,
        });
        let manifest = crate::canonical::to_vec(&manifest).unwrap_or_default();
        let referrer = json!({
            "mediaType": media::OCI_MANIFEST,
            "digest": Digest::of(&manifest).to_string(),
            "size": manifest.len(),
            "artifactType": artifact_type,
            "annotations": annotations,
        });
        Self {
            what: format!("attestation {artifact_type}"),
            manifest,
            blobs: vec![empty, bytes],
            tag: None,
            referrer: Some(referrer),
        }
    }
}

/// The config cosign writes for a signature manifest, its diff_ids the layers' digests:
/// containers/image reads only the layers, cosign also the diff_ids.
fn signature_config(diff_ids: Vec<Value>) -> Vec<u8> {
    crate::canonical::to_vec(&json!({
        "architecture": "", "os": "", "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap_or_default()
}

fn upload_bytes(client: &Client, bytes: &[u8]) -> Result<(), RegistryError> {
    let d = Digest::of(bytes);
    if client.has_blob(&d)? {
        return Ok(());
    }
    let body = bytes.to_vec();
    // One PUT: these blobs are small (signatures, envelopes of at most a few MiB).
    client.upload_blob(&d, body.len() as u64, u64::MAX, &move |offset| {
        Ok(Box::new(std::io::Cursor::new(
            body[offset as usize..].to_vec(),
        )))
    })
}

/// cosign's simple-signing layer media type.
const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// A manifest's JSON, refusing a body larger than [`MAX_MANIFEST`].
fn manifest_json(client: &Client, target: &str) -> Result<Option<Value>, RegistryError> {
    match client.get_manifest(target) {
        Ok((bytes, _, _)) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| RegistryError::Protocol {
                    url: client.manifest_url(target),
                    why: format!("not JSON: {e}"),
                })
        }
        Err(RegistryError::Status { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Pushes `a`'s blobs and manifest, and lists it as a referrer of `subject`.
pub(crate) fn push_attachment(
    client: &Client,
    subject: &Digest,
    a: &Attachment,
) -> Result<(), RegistryError> {
    for b in &a.blobs {
        upload_bytes(client, b)?;
    }
    let mut manifest = a.manifest.clone();
    if let Some(tag) = &a.tag {
        manifest = merge_signatures(client, tag, manifest)?;
    }
    let target = a
        .tag
        .clone()
        .unwrap_or_else(|| Digest::of(&manifest).to_string());
    client.put_manifest(&target, media::OCI_MANIFEST, &manifest)?;
    if let Some(desc) = &a.referrer
        && referrers_api(client, subject)?.is_none()
    {
        add_referrer(client, subject, desc)?;
    }
    Ok(())
}

/// Our signature manifest with the layers of one already at `tag` (other signers') kept.
fn merge_signatures(client: &Client, tag: &str, ours: Vec<u8>) -> Result<Vec<u8>, RegistryError> {
    let Some(existing) = manifest_json(client, tag)? else {
        return Ok(ours);
    };
    let mut mine: Value = serde_json::from_slice(&ours).unwrap_or_default();
    let ours_layers = mine["layers"].as_array().cloned().unwrap_or_default();
    let mut layers: Vec<Value> = existing["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|l| !ours_layers.iter().any(|o| o["digest"] == l["digest"]))
        .collect();
    if layers.is_empty() {
        return Ok(ours);
    }
    layers.extend(ours_layers);
    let config = signature_config(layers.iter().map(|l| l["digest"].clone()).collect());
    upload_bytes(client, &config)?;
    mine["config"] = blob_descriptor(media::OCI_CONFIG, &config);
    mine["layers"] = Value::Array(layers);
    Ok(crate::canonical::to_vec(&mine).unwrap_or_default())
}

/// `subject`'s referrers index from the referrers API (distribution-spec v1.1), `None` when
/// the registry has no such API.
fn referrers_api(client: &Client, subject: &Digest) -> Result<Option<Value>, RegistryError> {
    let url = client.url(&format!("referrers/{subject}"));
    let resp = client.send(Method::GET, &url, &|rb| {
        rb.header(reqwest::header::ACCEPT, media::OCI_INDEX)
    })?;
    let is_index = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|t| t.starts_with(media::OCI_INDEX));
    if resp.status() != StatusCode::OK || !is_index {
        return Ok(None);
    }
    let bytes = client.bounded_body(resp, &url, MAX_MANIFEST)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| RegistryError::Protocol {
            url,
            why: format!("not JSON: {e}"),
        })
}

/// Adds `desc` to the referrers tag schema's index of `subject`.
fn add_referrer(client: &Client, subject: &Digest, desc: &Value) -> Result<(), RegistryError> {
    let tag = referrers_tag(subject);
    let mut index = manifest_json(client, &tag)?.unwrap_or_else(
        || json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": []}),
    );
    let list = index["manifests"].as_array().cloned().unwrap_or_default();
    if list.iter().any(|d| d["digest"] == desc["digest"]) {
        return Ok(());
    }
    let mut list = list;
    list.push(desc.clone());
    index["manifests"] = Value::Array(list);
    let bytes = crate::canonical::to_vec(&index).unwrap_or_default();
    client.put_manifest(&tag, media::OCI_INDEX, &bytes)?;
    Ok(())
}

/// The descriptors of `subject`'s referrers: from the referrers API, else the tag schema.
pub fn referrers(client: &Client, subject: &Digest) -> Result<Vec<Value>, RegistryError> {
    let index = match referrers_api(client, subject)? {
        Some(index) => index,
        None => manifest_json(client, &referrers_tag(subject))?.unwrap_or_default(),
    };
    Ok(index["manifests"].as_array().cloned().unwrap_or_default())
}

/// A manifest and its layers' bytes, in order.
pub type Artifact = (Value, Vec<Vec<u8>>);

/// A manifest and each of its layers' bytes, by digest, each verified; `None` when absent.
pub fn fetch_artifact(client: &Client, target: &str) -> Result<Option<Artifact>, RegistryError> {
    let Some(manifest) = manifest_json(client, target)? else {
        return Ok(None);
    };
    let mut layers = Vec::new();
    for l in manifest["layers"].as_array().into_iter().flatten() {
        let d: Digest = l["digest"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| RegistryError::Protocol {
                url: client.manifest_url(target),
                why: "a layer without a valid digest".into(),
            })?;
        let size = match l["size"].as_u64() {
            Some(s) if s <= MAX_MANIFEST => s,
            _ => {
                return Err(RegistryError::Protocol {
                    url: client.manifest_url(target),
                    why: format!("layer {d} is larger than {} MiB", MAX_MANIFEST >> 20),
                });
            }
        };
        let mut out = Limited(Vec::new(), MAX_MANIFEST);
        client.get_blob(&d, size, &mut out)?;
        layers.push(out.0);
    }
    Ok(Some((manifest, layers)))
}

/// A buffer that refuses to grow past its limit: a registry streaming without end fails
/// the read instead of filling memory.
struct Limited(Vec<u8>, u64);

impl std::io::Write for Limited {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if (self.0.len() + buf.len()) as u64 > self.1 {
            return Err(std::io::Error::other(format!(
                "larger than {} MiB",
                self.1 >> 20
            )));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
