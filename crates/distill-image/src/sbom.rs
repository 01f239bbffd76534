//! The image's SBOM, from the build's exact inventory: which components each layer adds,
//! with the licences the layers' own files declare (copyright files, dist-info, package.json).
//!
//! Two documents describe one build (docs/sbom.md):
//! - the one written into the image at [`IN_IMAGE_PATH`] (SPDX), with no image digest, since a
//!   file cannot contain the digest of the image that holds it; it lists the other layers by
//!   digest, and is the record scanners find inside the image;
//! - the ones `build --sbom` writes and a push attaches (SPDX and CycloneDX), whose subject is
//!   the image manifest by digest, with every layer, the SBOM's own included.
//!
//! A registry base's layers are described by what their own package databases say.

use distill_core::Component;
use distill_oci::BlobStore;
use distill_sbom::metadata::{IN_IMAGE_PATH, Metadata};
use distill_sbom::model::{Document, Item, Layer, Subject};
use distill_sbom::scan::ScanError;

use crate::plan::{Base, Plan};
use crate::stages::{Context, StageError, StageLayer};

/// How the build names the image in its SBOMs: never by an output address, so that the
/// image's bytes do not depend on where it is written.
pub fn image_name(plan: &Plan) -> String {
    if let Some(title) = plan.image.labels.get("org.opencontainers.image.title") {
        return title.clone();
    }
    match &plan.base {
        Base::Family(m) => format!("{m}-debian{}", plan.debian.release.number()),
        Base::Registry(r) => r.to_string(),
        Base::Scratch => "scratch".into(),
    }
}

/// The metadata of a platform's layers: their notable files, and a registry base's layers
/// read from their tars.
pub fn metadata(store: &BlobStore, layers: &[StageLayer]) -> Result<Metadata, ScanError> {
    let mut meta = Metadata::default();
    let base: Vec<(usize, &distill_oci::Layer)> = layers
        .iter()
        .enumerate()
        .filter(|(_, l)| is_base(&l.components))
        .map(|(i, l)| (i, &l.layer.layer))
        .collect();
    distill_sbom::scan::scan_layers(store, base.into_iter(), &mut meta)?;
    for (i, l) in layers.iter().enumerate() {
        meta.merge(&l.notable, i);
    }
    Ok(meta)
}

fn is_base(components: &[Component]) -> bool {
    matches!(components, [Component::BaseLayer { .. }])
}

/// One layer as an SBOM lists it.
pub struct LayerView<'a> {
    pub digest: Option<String>,
    pub created_by: &'a str,
    pub components: &'a [Component],
}

/// The document over `layers`, for the image `subject` (or, `None`, for inside it).
pub fn document(
    plan: &Plan,
    name: String,
    subject: Option<Subject>,
    layers: &[LayerView],
    meta: &Metadata,
) -> Document {
    let found = meta.components();
    let layers = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut components = l.components.to_vec();
            if is_base(l.components) {
                components.extend(
                    found
                        .iter()
                        .filter(|(at, _)| *at == i)
                        .map(|(_, c)| c.clone()),
                );
            }
            Layer {
                digest: l.digest.clone(),
                created_by: l.created_by.to_owned(),
                items: components
                    .into_iter()
                    .map(|component| Item {
                        licence: meta.licence(&component),
                        component,
                    })
                    .collect(),
            }
        })
        .collect();
    Document {
        name,
        subject,
        created: distill_oci::image::rfc3339(plan.epoch).unwrap_or_default(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        debian: plan.debian.release.number().to_owned(),
        layers,
    }
}

/// The layer holding the SPDX document of the platform's other `layers`.
pub(crate) fn in_image_layer(
    cx: &Context,
    layers: &[StageLayer],
    meta: &Metadata,
) -> Result<StageLayer, StageError> {
    let views: Vec<LayerView> = layers
        .iter()
        .map(|l| LayerView {
            digest: Some(l.layer.layer.digest.to_string()),
            created_by: &l.layer.created_by,
            components: &l.components,
        })
        .collect();
    let doc = document(cx.plan, image_name(cx.plan), None, &views, meta);
    let mut bytes = serde_json::to_vec_pretty(&distill_sbom::spdx::write(&doc))
        .expect("a JSON value serializes");
    bytes.push(b'\n');
    let path = format!("/{IN_IMAGE_PATH}");
    let entries = vec![distill_oci::Entry::bytes(IN_IMAGE_PATH, bytes, 0o644)];
    let components = crate::stages::file_components(&entries, true)?;
    cx.layer(
        entries,
        format!("distill: SBOM (SPDX 2.3) at {path}"),
        components,
    )
}
