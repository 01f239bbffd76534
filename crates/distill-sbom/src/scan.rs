//! Reading an image's [`Metadata`] from its layer tars, as a container runtime would stack
//! them: a later layer's file replaces an earlier one's, and whiteouts (`.wh.NAME`, and the
//! opaque `.wh..wh..opq`, image-spec `layer.md`) remove what earlier layers put there.
//!
//! Only the notable files ([`metadata::is_notable`]) are read into memory, each at most
//! [`metadata::MAX_FILE`] bytes and all together at most [`MAX_TOTAL`]; everything else is
//! streamed past.

use std::io::Read;

use distill_oci::{BlobStore, BuiltImage, Layer};

use crate::metadata::{self, Metadata};

/// The most metadata a scan holds: far above any real image's package databases.
pub const MAX_TOTAL: u64 = 512 << 20;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ScanError {
    #[error("Cannot read layer {digest}: {source}")]
    #[diagnostic(help("the image's blobs are damaged; copy the image again"))]
    Read {
        digest: String,
        source: std::io::Error,
    },
    #[error("Layer {digest} has media type {media_type}, which is not a layer distill reads")]
    #[diagnostic(help("distill reads tar layers, uncompressed, gzip or zstd"))]
    MediaType { digest: String, media_type: String },
    #[error("The image's package metadata is larger than {} MiB", MAX_TOTAL >> 20)]
    #[diagnostic(help("no real image has this much; the image is hostile or damaged"))]
    TooLarge,
    #[error(transparent)]
    #[diagnostic(transparent)]
    Blob(#[from] distill_oci::BlobStoreError),
}

/// The metadata of `image`, whose blobs are in `store`.
pub fn scan(store: &BlobStore, image: &BuiltImage) -> Result<Metadata, ScanError> {
    let mut meta = Metadata::default();
    scan_layers(store, image.layers.iter().enumerate(), &mut meta)?;
    Ok(meta)
}

/// Adds what `layers` (each with its index in the image, in order) hold to `meta`.
pub fn scan_layers<'a>(
    store: &BlobStore,
    layers: impl Iterator<Item = (usize, &'a Layer)>,
    meta: &mut Metadata,
) -> Result<(), ScanError> {
    let mut budget = MAX_TOTAL;
    for (i, layer) in layers {
        let digest = layer.digest.to_string();
        let read = |source| ScanError::Read {
            digest: digest.clone(),
            source,
        };
        let file = store.open(&layer.digest)?;
        let tar = distill_oci::layer::reader(file, layer.media_type)
            .map_err(read)?
            .ok_or_else(|| ScanError::MediaType {
                digest: digest.clone(),
                media_type: layer.media_type.to_owned(),
            })?;
        scan_layer(tar, i, meta, &mut budget).map_err(|e| match e {
            Stop::Io(source) => read(source),
            Stop::TooLarge => ScanError::TooLarge,
        })?;
    }
    Ok(())
}

/// Adds what one uncompressed layer tar holds to `meta`, as [`scan_layers`] does for each
/// layer of an image (the entry point for fuzzing the tar reading).
pub fn scan_tar(tar: Box<dyn Read>, meta: &mut Metadata) -> Result<(), ScanError> {
    let mut budget = MAX_TOTAL;
    scan_layer(tar, 0, meta, &mut budget).map_err(|e| match e {
        Stop::Io(source) => ScanError::Read {
            digest: "(a layer)".into(),
            source,
        },
        Stop::TooLarge => ScanError::TooLarge,
    })
}

/// The SBOM of any image from its own metadata: each layer with what its package databases
/// and manifests list, `name` as the image's name.
pub fn document(
    store: &BlobStore,
    image: &BuiltImage,
    name: &str,
) -> Result<crate::model::Document, ScanError> {
    let meta = scan(store, image)?;
    let config: serde_json::Value =
        serde_json::from_slice(&store.read(&image.config)?).unwrap_or_default();
    let history = history(&config);
    let found = meta.components();
    let layers = image
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| crate::model::Layer {
            digest: Some(l.digest.to_string()),
            created_by: history.get(i).cloned().unwrap_or_default(),
            items: found
                .iter()
                .filter(|(at, _)| *at == i)
                .map(|(_, c)| crate::model::Item {
                    licence: meta.licence(c),
                    component: c.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(crate::model::Document {
        name: name.to_owned(),
        subject: Some(crate::model::Subject {
            digest: image.manifest.to_string(),
            platform: image.platform.to_string(),
        }),
        created: config["created"]
            .as_str()
            .unwrap_or("1970-01-01T00:00:00Z")
            .to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        debian: meta.debian().unwrap_or_default(),
        layers,
    })
}

/// What made each layer, by the image config's `history` (entries of empty layers skipped).
pub fn history(config: &serde_json::Value) -> Vec<String> {
    config["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["empty_layer"] != true)
        .map(|h| h["created_by"].as_str().unwrap_or_default().to_owned())
        .collect()
}

enum Stop {
    Io(std::io::Error),
    TooLarge,
}

fn scan_layer(
    tar: Box<dyn Read>,
    layer: usize,
    meta: &mut Metadata,
    budget: &mut u64,
) -> Result<(), Stop> {
    // Headers that would fill memory are refused as the bytes pass.
    let (tar, _) =
        distill_oci::tarlimits::Guarded::new(tar, distill_oci::tarlimits::Limits::unbounded());
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().map_err(Stop::Io)? {
        let mut entry = entry.map_err(Stop::Io)?;
        let raw = entry.path_bytes();
        let path = String::from_utf8_lossy(&raw);
        let path = path.trim_start_matches("./").trim_start_matches('/');
        let path = path.trim_end_matches('/').to_owned();
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
        if name == ".wh..wh..opq" {
            meta.clear_under(dir, layer);
            continue;
        }
        if let Some(gone) = name.strip_prefix(".wh.") {
            let gone = if dir.is_empty() {
                gone.to_owned()
            } else {
                format!("{dir}/{gone}")
            };
            meta.remove(&gone);
            continue;
        }
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            // A directory or link replaces a file of an earlier layer at the same path.
            if !kind.is_dir() {
                meta.remove(&path);
            }
            if kind.is_symlink()
                && metadata::is_doc_link(&path)
                && let Ok(Some(target)) = entry.link_name()
            {
                meta.insert_link(&path, &target.to_string_lossy());
            }
            continue;
        }
        if !metadata::is_notable(&path) || entry.size() > metadata::MAX_FILE {
            continue;
        }
        *budget = budget.checked_sub(entry.size()).ok_or(Stop::TooLarge)?;
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        (&mut entry)
            .take(metadata::MAX_FILE)
            .read_to_end(&mut bytes)
            .map_err(Stop::Io)?;
        meta.insert(layer, &path, bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, body) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, *body).unwrap();
        }
        b.into_inner().unwrap()
    }

    const A: &[u8] = b"Package: a\nVersion: 1\nArchitecture: all\n";
    const B: &[u8] = b"Package: b\nVersion: 2\nArchitecture: all\n";

    fn names(meta: &Metadata) -> Vec<(usize, String)> {
        meta.components()
            .into_iter()
            .map(|(l, c)| match c {
                distill_core::Component::Deb { name, .. } => (l, name),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn later_layers_replace_and_whiteouts_remove() {
        let (mut meta, mut total) = (Metadata::default(), MAX_TOTAL);
        let l0 = tar_of(&[
            ("var/lib/dpkg/status.d/a", A),
            ("var/lib/dpkg/status.d/b", B),
            ("etc/other", b"x"),
        ]);
        let l1 = tar_of(&[("var/lib/dpkg/status.d/.wh.a", b"")]);
        for (i, l) in [l0, l1].into_iter().enumerate() {
            assert!(
                scan_layer(Box::new(std::io::Cursor::new(l)), i, &mut meta, &mut total).is_ok()
            );
        }
        assert_eq!(names(&meta), [(0, "b".to_owned())]);
        let l2 = tar_of(&[
            ("var/lib/dpkg/status.d/.wh..wh..opq", b""),
            ("var/lib/dpkg/status.d/a", A),
        ]);
        assert!(scan_layer(Box::new(std::io::Cursor::new(l2)), 2, &mut meta, &mut total).is_ok());
        assert_eq!(names(&meta), [(2, "a".to_owned())]);
    }

    #[test]
    fn metadata_past_the_budget_stops_the_scan_and_huge_files_are_skipped() {
        let big = vec![b'x'; (metadata::MAX_FILE + 1) as usize];
        let (mut meta, mut budget) = (Metadata::default(), MAX_TOTAL);
        let l = tar_of(&[
            ("var/lib/dpkg/status.d/huge", &big),
            ("var/lib/dpkg/status.d/a", A),
        ]);
        assert!(scan_layer(Box::new(std::io::Cursor::new(l)), 0, &mut meta, &mut budget).is_ok());
        assert_eq!(names(&meta), [(0, "a".to_owned())]);
        let mut small = A.len() as u64 + 10;
        let l = tar_of(&[
            ("var/lib/dpkg/status.d/a", A),
            ("var/lib/dpkg/status.d/b", B),
        ]);
        let r = scan_layer(Box::new(std::io::Cursor::new(l)), 0, &mut meta, &mut small);
        assert!(matches!(r, Err(Stop::TooLarge)));
    }
}
