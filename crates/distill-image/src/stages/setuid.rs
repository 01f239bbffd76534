//! A registry base's setuid and setgid bits, cleared: images distill builds carry none,
//! whoever built their base. A base layer without such a file is kept byte for byte (and
//! stays shared with the base in every registry and runtime); one with them is rewritten
//! with the bits cleared, owners kept, in distill's own deterministic form (mtimes at the
//! build's epoch; extended attributes, file capabilities among them, are not carried).
//! `[image] allow_setuid = true` keeps the base as it is.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use distill_oci::layer::{Entry, EntryKind, FileSource, Layer, normalize_path};
use distill_oci::tarlimits::{Guarded, Limits};

use super::{Context, StageError, StageLayer};

/// `layers`, each with its setuid and setgid files cleared (see the module docs).
pub fn clear(cx: &Context, layers: Vec<StageLayer>) -> Result<Vec<StageLayer>, StageError> {
    layers
        .into_iter()
        .enumerate()
        .map(|(i, mut l)| {
            let layer = &l.layer.layer;
            let setuid = marked(tar_of(cx, layer)?, layer)?;
            if setuid.is_empty() {
                return Ok(l);
            }
            tracing::warn!(
                "base layer {} has setuid or setgid files ({}); they are cleared (allow_setuid = true keeps them)",
                layer.digest,
                setuid.join(", ")
            );
            let stage = cx.staging.join(format!("setuid-{i}"));
            std::fs::create_dir_all(&stage).map_err(|e| bad(layer, e))?;
            let entries = entries(tar_of(cx, layer)?, layer, &stage)?;
            let rewritten = distill_oci::layer::write_layer(
                cx.store,
                cx.plan.compression,
                cx.plan.epoch,
                entries,
            )?;
            l.layer.layer = rewritten;
            Ok(l)
        })
        .collect()
}

fn bad(layer: &Layer, e: impl std::fmt::Display) -> StageError {
    StageError::BaseLayer {
        digest: layer.digest.to_string(),
        why: e.to_string(),
    }
}

/// The layer's tar stream, decompressed, with the limits every tar from outside gets.
fn tar_of(cx: &Context, layer: &Layer) -> Result<Box<dyn Read>, StageError> {
    let file = cx.store.open(&layer.digest).map_err(|e| bad(layer, e))?;
    let tar = distill_oci::layer::reader(file, layer.media_type)
        .map_err(|e| bad(layer, e))?
        .ok_or_else(|| bad(layer, format!("unknown layer type {}", layer.media_type)))?;
    Ok(Box::new(Guarded::new(tar, Limits::unbounded()).0))
}

/// The paths of the layer's entries with a setuid or setgid bit.
fn marked(tar: Box<dyn Read>, layer: &Layer) -> Result<Vec<String>, StageError> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(tar);
    for e in ar.entries().map_err(|e| bad(layer, e))? {
        let e = e.map_err(|e| bad(layer, e))?;
        if e.header().mode().map_err(|e| bad(layer, e))? & 0o6000 != 0 {
            out.push(format!(
                "/{}",
                String::from_utf8_lossy(&e.path_bytes()).trim_start_matches("./")
            ));
        }
    }
    Ok(out)
}

/// The layer as entries, its files' bytes in `stage/contents`, setuid and setgid cleared.
fn entries(
    tar: Box<dyn Read>,
    layer: &Layer,
    stage: &std::path::Path,
) -> Result<Vec<Entry>, StageError> {
    let contents = stage.join("contents");
    let mut staged = BufWriter::new(File::create(&contents).map_err(|e| bad(layer, e))?);
    let mut offset = 0u64;
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(tar);
    for e in ar.entries().map_err(|e| bad(layer, e))? {
        let mut e = e.map_err(|e| bad(layer, e))?;
        let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let trimmed = raw.trim_start_matches("./").trim_start_matches('/');
        if trimmed.trim_end_matches('/').is_empty() {
            continue;
        }
        let path = normalize_path(trimmed).map_err(|e| bad(layer, e))?;
        let h = e.header();
        let mode = h.mode().map_err(|e| bad(layer, e))? & 0o1777;
        let (uid, gid) = (
            h.uid().map_err(|e| bad(layer, e))?,
            h.gid().map_err(|e| bad(layer, e))?,
        );
        let link = || {
            e.link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .ok_or_else(|| bad(layer, format!("/{path}: a link without a target")))
        };
        let kind = match h.entry_type() {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink { target: link()? },
            tar::EntryType::Link => EntryKind::Hardlink {
                target: normalize_path(link()?.trim_start_matches("./").trim_start_matches('/'))
                    .map_err(|e| bad(layer, e))?,
            },
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = io::copy(&mut e, &mut staged).map_err(|e| bad(layer, e))?;
                let source = FileSource::Slice {
                    path: contents.clone(),
                    offset,
                    size,
                };
                offset += size;
                EntryKind::File(source)
            }
            other => {
                return Err(bad(
                    layer,
                    format!(
                        "/{path} is a {other:?}, which distill cannot rewrite; set allow_setuid = true to keep the base as it is"
                    ),
                ));
            }
        };
        out.push(Entry {
            path,
            kind,
            mode,
            uid,
            gid,
        });
    }
    staged.flush().map_err(|e| bad(layer, e))?;
    Ok(out)
}
