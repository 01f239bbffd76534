//! CycloneDX 1.6 JSON: the image as `metadata.component` (type `container`), its layers and
//! their components as one flat `components` list (scanners read the top level), and
//! image → layer → component as the `dependencies` graph.
//!
//! A layer is a component of type `file` (it is one: a tar archive) named by its digest.
//! Every component also carries the property `distill:layer`, so a flat reader still knows
//! where it sits.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use distill_core::Component;

use crate::license::Licence;
use crate::model::{Document, Item};
use crate::purl;
use crate::spdx::uuid_of;

/// The CycloneDX 1.6 JSON document.
pub fn write(doc: &Document) -> Value {
    let mut image = json!({"type": "container", "bom-ref": "image", "name": doc.name});
    if let Some(s) = &doc.subject {
        image["version"] = json!(s.digest);
        image["properties"] = json!([{"name": "distill:platform", "value": s.platform}]);
    }
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    let mut layer_refs = Vec::new();
    for (i, layer) in doc.layers.iter().enumerate() {
        let layer_ref = format!("layer-{i}");
        let name = layer
            .digest
            .clone()
            .unwrap_or_else(|| "the layer of this document".into());
        let mut c = json!({
            "type": "file",
            "bom-ref": layer_ref,
            "name": name,
            "description": layer.created_by,
        });
        if let Some(hex) = layer
            .digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
        {
            c["hashes"] = json!([{"alg": "SHA-256", "content": hex}]);
        }
        components.push(c);
        let mut items = Vec::new();
        for (j, item) in layer.items.iter().enumerate() {
            let r = format!("component-{i}-{j}");
            components.push(component(&r, item, &name, &doc.debian));
            items.push(r);
        }
        dependencies.push(json!({"ref": layer_ref, "dependsOn": items}));
        layer_refs.push(layer_ref);
    }
    dependencies.insert(0, json!({"ref": "image", "dependsOn": layer_refs}));
    let mut out = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": doc.created,
            "tools": {"components": [{"type": "application", "name": "distill", "version": doc.tool_version}]},
            "component": image,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let hash = hex::encode(Sha256::digest(out.to_string().as_bytes()));
    out["serialNumber"] = json!(format!("urn:uuid:{}", uuid_of(&hash)));
    out
}

fn component(bom_ref: &str, item: &Item, layer: &str, debian: &str) -> Value {
    let (name, version) = item.name_version();
    let kind = match item.component {
        Component::File { .. } | Component::Generated { .. } => "file",
        Component::NodeRuntime { .. } | Component::Init { .. } => "application",
        _ => "library",
    };
    let mut c = json!({
        "type": kind,
        "bom-ref": bom_ref,
        "name": name,
        "properties": [{"name": "distill:layer", "value": layer}],
    });
    if !version.is_empty() {
        c["version"] = json!(version);
    }
    if let Some(sha) = item.sha256() {
        c["hashes"] = json!([{"alg": "SHA-256", "content": sha}]);
    }
    if let Component::NodeRuntime { integrity, .. }
    | Component::Npm {
        integrity: Some(integrity),
        ..
    } = &item.component
        && let Some(hex) = sri_sha512(integrity)
    {
        c["hashes"] = json!([{"alg": "SHA-512", "content": hex}]);
    }
    if let Some(p) = purl::of(&item.component, debian) {
        c["purl"] = json!(p);
    }
    if let Some(l) = licenses(&item.licence) {
        c["licenses"] = l;
    }
    c
}

fn sri_sha512(integrity: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(integrity.strip_prefix("sha512-")?)
        .ok()?;
    Some(hex::encode(raw))
}

/// A single SPDX identifier as `license.id`, anything else as one `expression`; the texts of
/// LicenseRefs have no place in an expression, so they are left to the SPDX document.
fn licenses(l: &Licence) -> Option<Value> {
    let e = l.expression.as_deref()?;
    Some(if spdx::license_id(e).is_some() {
        json!([{"license": {"id": e}}])
    } else {
        json!([{"expression": e}])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_document_same_bytes_with_layers_as_the_graph() {
        let doc = crate::spdx::tests::sample();
        let a = write(&doc);
        assert_eq!(a, write(&doc));
        assert_eq!(a["dependencies"][0]["ref"], "image");
        assert_eq!(a["dependencies"][0]["dependsOn"], json!(["layer-0"]));
        assert_eq!(
            a["dependencies"][1]["dependsOn"],
            json!(["component-0-0", "component-0-1"])
        );
        assert_eq!(
            a["components"][1]["purl"],
            "pkg:deb/debian/tzdata@1%3A2024a-0%2Bdeb12u1?arch=all&distro=debian-12"
        );
    }
}
