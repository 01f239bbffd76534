//! Building on an image from a registry: `base = "docker://HOST/REPO:TAG@sha256:..."`.
//!
//! The base is pulled (by digest: from the config, or as pinned in distill.lock, or as the
//! tag resolves now) into the build's staging store. For each platform its layers come
//! first, unchanged, and its config is the default for ours: our settings win where the
//! config sets them, environment variables merge by name, labels merge, ports add up.
//! A base's non-root user is kept unless the config names a user or variant.

use std::path::Path;

use distill_core::{Component, Platform};
use distill_oci::image::{BuiltImage, ImageLayer};
use distill_oci::registry::{self, Client, Reference, RegistryOptions, TransferError};
use distill_oci::{BlobStore, Built, ImageSpec, media};

use super::StageLayer;
use crate::lock::Lockfile;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BaseError {
    #[error("Cannot pull base image {reference}: {source}")]
    Pull {
        reference: String,
        #[diagnostic_source]
        source: TransferError,
    },
    #[error("Base image {reference} has no {platform} image (it has {available})")]
    #[diagnostic(help("build for the platforms the base provides (--platform)"))]
    NoPlatform {
        reference: String,
        platform: String,
        available: String,
    },
    #[error("Base image {reference}: {why}")]
    Invalid { reference: String, why: String },
    #[error("distill.lock {} pins no base image, but the config builds on {base}", path.display())]
    #[diagnostic(help("run `distill lock` to pin the base image"))]
    LockWithoutBase {
        path: std::path::PathBuf,
        base: String,
    },
}

/// The base pinned in `lock`, which must be the config's base repository.
pub fn pinned(lock: &Lockfile, want: &Reference, path: &Path) -> Result<Reference, BaseError> {
    let mismatch = || BaseError::LockWithoutBase {
        path: path.to_path_buf(),
        base: want.to_string(),
    };
    let pinned: Reference = lock
        .base
        .as_deref()
        .and_then(|b| b.strip_prefix("docker://"))
        .and_then(|b| b.parse().ok())
        .ok_or_else(mismatch)?;
    let same = pinned.host == want.host
        && pinned.repository == want.repository
        && want
            .digest
            .as_ref()
            .is_none_or(|d| pinned.digest.as_ref() == Some(d));
    if same && pinned.digest.is_some() {
        Ok(pinned)
    } else {
        Err(mismatch())
    }
}

/// `reference` pinned to the digest its tag points at now (or as given).
pub fn pin(reference: &Reference, opts: &RegistryOptions) -> Result<Reference, BaseError> {
    if reference.digest.is_some() {
        return Ok(reference.clone());
    }
    let err = |source: TransferError| BaseError::Pull {
        reference: reference.to_string(),
        source,
    };
    let client = Client::connect(reference, opts).map_err(|e| err(e.into()))?;
    let (_, _, digest) = client
        .get_manifest(&reference.target())
        .map_err(|e| err(e.into()))?;
    Ok(Reference {
        digest: Some(digest),
        ..reference.clone()
    })
}

/// Pulls the pinned base into `store`.
pub fn pull(
    reference: &Reference,
    store: &BlobStore,
    opts: &RegistryOptions,
) -> Result<Built, BaseError> {
    let err = |source: TransferError| BaseError::Pull {
        reference: reference.to_string(),
        source,
    };
    let client = Client::connect(reference, opts).map_err(|e| err(e.into()))?;
    registry::pull(&client, store).map_err(err)
}

/// The base's image for `platform`.
pub(crate) fn for_platform<'a>(
    built: &'a Built,
    platform: Platform,
    reference: &Reference,
) -> Result<&'a BuiltImage, BaseError> {
    built
        .images
        .iter()
        .find(|i| i.platform.platform() == Some(platform))
        .ok_or_else(|| BaseError::NoPlatform {
            reference: reference.to_string(),
            platform: platform.to_string(),
            available: built
                .images
                .iter()
                .map(|i| i.platform.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The base's layers, with their history lines, as layers of ours. Docker's gzip layer type
/// becomes OCI's: the same bytes under the name an OCI manifest uses.
pub fn layers(
    store: &BlobStore,
    img: &BuiltImage,
    reference: &Reference,
) -> Result<Vec<StageLayer>, BaseError> {
    let cfg = config(store, img, reference)?;
    let history: Vec<String> = cfg["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|e| e["empty_layer"] != true)
                .map(|e| e["created_by"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    Ok(img
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut layer = l.clone();
            if layer.media_type == media::DOCKER_LAYER_GZIP {
                layer.media_type = media::OCI_LAYER_GZIP;
            }
            StageLayer {
                components: vec![Component::BaseLayer {
                    digest: layer.digest.to_string(),
                    reference: reference.to_string(),
                }],
                notable: Default::default(),
                layer: ImageLayer {
                    layer,
                    created_by: history
                        .get(i)
                        .filter(|h| !h.is_empty())
                        .cloned()
                        .unwrap_or_else(|| format!("base {reference}")),
                },
            }
        })
        .collect())
}

fn config(
    store: &BlobStore,
    img: &BuiltImage,
    reference: &Reference,
) -> Result<serde_json::Value, BaseError> {
    let bytes = store.read(&img.config).map_err(|e| BaseError::Invalid {
        reference: reference.to_string(),
        why: e.to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| BaseError::Invalid {
        reference: reference.to_string(),
        why: format!("config is not JSON: {e}"),
    })
}

fn strings(v: &serde_json::Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    })
}

/// Our image config on top of the base's.
pub fn merge(
    ours: &ImageSpec,
    store: &BlobStore,
    img: &BuiltImage,
    reference: &Reference,
    explicit_user: bool,
) -> Result<ImageSpec, BaseError> {
    let cfg = config(store, img, reference)?;
    let c = &cfg["config"];
    let mut spec = ours.clone();

    let mut env: Vec<(String, String)> = strings(&c["Env"])
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    for e in &ours.env {
        let Some((k, v)) = e.split_once('=') else {
            continue;
        };
        // Our default PATH yields to the base's own.
        if k == "PATH" && v == crate::plan::DEFAULT_PATH && env.iter().any(|(bk, _)| bk == "PATH") {
            continue;
        }
        match env.iter_mut().find(|(bk, _)| bk == k) {
            Some(slot) => slot.1 = v.to_owned(),
            None => env.push((k.to_owned(), v.to_owned())),
        }
    }
    spec.env = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();

    if ours.entrypoint.is_none() {
        spec.entrypoint = strings(&c["Entrypoint"]);
        if ours.cmd.is_none() {
            spec.cmd = strings(&c["Cmd"]);
        }
    }
    if ours.workdir.is_none() {
        spec.workdir = c["WorkingDir"]
            .as_str()
            .filter(|w| !w.is_empty())
            .map(str::to_owned);
    }
    if !explicit_user
        && let Some(u) = c["User"]
            .as_str()
            .filter(|u| !u.is_empty() && !matches!(*u, "root" | "0" | "0:0"))
    {
        spec.user = Some(u.to_owned());
    }
    if let Some(labels) = c["Labels"].as_object() {
        for (k, v) in labels {
            if let Some(v) = v.as_str() {
                spec.labels.entry(k.clone()).or_insert_with(|| v.to_owned());
            }
        }
    }
    if let Some(ports) = c["ExposedPorts"].as_object() {
        spec.exposed_ports.extend(ports.keys().cloned());
        spec.exposed_ports.sort();
        spec.exposed_ports.dedup();
    }
    if ours.stop_signal.is_none() {
        spec.stop_signal = c["StopSignal"].as_str().map(str::to_owned);
    }
    if let Some(volumes) = c["Volumes"].as_object() {
        spec.volumes.extend(volumes.keys().cloned());
        spec.volumes.sort();
        spec.volumes.dedup();
    }
    if ours.healthcheck.is_none() {
        spec.healthcheck =
            serde_json::from_value::<distill_oci::image::Healthcheck>(c["Healthcheck"].clone())
                .ok()
                .filter(|h| !h.test.is_empty());
    }
    Ok(spec)
}
