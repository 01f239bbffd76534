//! SPDX 2.3 JSON (spdx-spec v2.3, §6–§11): the image as the described package, each layer a
//! package the image CONTAINS, each component a package its layer CONTAINS. Files are
//! packages of purpose `FILE`: an SPDX file element may only sit in a package whose files
//! were analysed, and needs a SHA-1 the inventory does not have.
//!
//! Deterministic: elements are numbered in inventory order and the document namespace is a
//! hash of the document's own content, so the same build writes the same bytes.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use distill_core::Component;

use crate::model::{Document, Item};
use crate::purl;

/// `NOASSERTION`, SPDX's word for "not read".
const NOASSERTION: &str = "NOASSERTION";

/// The SPDX 2.3 JSON document.
pub fn write(doc: &Document) -> Value {
    let mut packages = vec![image_package(doc)];
    let mut relationships = vec![rel("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-image")];
    let mut refs: BTreeMap<String, String> = BTreeMap::new();
    for (i, layer) in doc.layers.iter().enumerate() {
        let layer_id = format!("SPDXRef-layer-{i}");
        let mut p = json!({
            "SPDXID": layer_id,
            "name": layer.digest.clone().unwrap_or_else(|| "the layer of this document".into()),
            "downloadLocation": NOASSERTION,
            "filesAnalyzed": false,
            "comment": layer.created_by,
            "primaryPackagePurpose": "ARCHIVE",
        });
        if let Some(hex) = layer
            .digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
        {
            p["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": hex}]);
        }
        packages.push(p);
        relationships.push(rel("SPDXRef-image", "CONTAINS", &layer_id));
        for (j, item) in layer.items.iter().enumerate() {
            let id = format!("SPDXRef-{}-{i}-{j}", kind(&item.component));
            refs.extend(item.licence.refs.clone());
            packages.push(package(&id, item, &doc.debian));
            relationships.push(rel(&layer_id, "CONTAINS", &id));
        }
    }
    let mut out = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": doc.name,
        "creationInfo": {
            "created": doc.created,
            "creators": [format!("Tool: distill-{}", doc.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
        "hasExtractedLicensingInfos": refs.iter().map(|(id, text)| json!({
            "licenseId": id,
            "name": id.trim_start_matches("LicenseRef-"),
            "extractedText": text,
        })).collect::<Vec<_>>(),
    });
    let hash = hex::encode(Sha256::digest(out.to_string().as_bytes()));
    out["documentNamespace"] = json!(format!("urn:uuid:{}", uuid_of(&hash)));
    out
}

fn kind(c: &Component) -> &'static str {
    match c {
        Component::Deb { .. } => "deb",
        Component::Python { .. } => "python",
        Component::Npm { .. } => "npm",
        Component::NodeRuntime { .. } => "node",
        Component::File { .. } => "file",
        Component::Generated { .. } => "generated",
        Component::BaseLayer { .. } => "base",
        Component::Init { .. } => "init",
    }
}

fn rel(a: &str, kind: &str, b: &str) -> Value {
    json!({"spdxElementId": a, "relationshipType": kind, "relatedSpdxElement": b})
}

fn image_package(doc: &Document) -> Value {
    let mut p = json!({
        "SPDXID": "SPDXRef-image",
        "name": doc.name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
    });
    if let Some(s) = &doc.subject {
        p["versionInfo"] = json!(s.digest);
        if let Some(hex) = s.digest.strip_prefix("sha256:") {
            p["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": hex}]);
        }
        p["comment"] = json!(format!("platform {}", s.platform));
    }
    p
}

fn package(id: &str, item: &Item, debian: &str) -> Value {
    let (name, version) = item.name_version();
    let licence = item.licence.expression.as_deref().unwrap_or(NOASSERTION);
    let mut p = json!({
        "SPDXID": id,
        "name": name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": licence,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": match item.component {
            Component::NodeRuntime { .. } | Component::Init { .. } => "APPLICATION",
            Component::File { .. } | Component::Generated { .. } => "FILE",
            Component::BaseLayer { .. } => "ARCHIVE",
            _ => "LIBRARY",
        },
    });
    if !version.is_empty() {
        p["versionInfo"] = json!(version);
    }
    if let Some(sha) = item.sha256() {
        p["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": sha}]);
    }
    if let Some(purl) = purl::of(&item.component, debian) {
        p["externalRefs"] = json!([{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl,
        }]);
    }
    p
}

/// A version-8 UUID (RFC 9562: custom content) from a hex hash.
pub(crate) fn uuid_of(hex: &str) -> String {
    let mut h: Vec<u8> = hex.bytes().take(32).collect();
    h[12] = b'8';
    // The variant: the top two bits of this nibble are 10.
    h[16] = b"89ab"[(h[16] as usize) % 4];
    let s = String::from_utf8(h).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::license::from_copyright;
    use crate::model::{Layer, Subject};

    pub(crate) fn sample() -> Document {
        let dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+ and custom\n\nLicense: custom\n Be nice.\n";
        Document {
            name: "127.0.0.1:5000/app".into(),
            subject: Some(Subject {
                digest: format!("sha256:{}", "a".repeat(64)),
                platform: "linux/amd64".into(),
            }),
            created: "2024-01-01T00:00:00Z".into(),
            tool_version: "0.1.0".into(),
            debian: "12".into(),
            layers: vec![Layer {
                digest: Some(format!("sha256:{}", "b".repeat(64))),
                created_by: "distill: packages".into(),
                items: vec![
                    Item {
                        component: Component::Deb {
                            name: "tzdata".into(),
                            version: "1:2024a-0+deb12u1".into(),
                            arch: "all".into(),
                            source: "tzdata".into(),
                            sha256: "c".repeat(64),
                            repository: "http://127.0.0.1/debian".into(),
                            suite: "bookworm".into(),
                        },
                        licence: from_copyright(dep5),
                    },
                    Item {
                        component: Component::File {
                            path: "app/main.py".into(),
                            sha256: "d".repeat(64),
                        },
                        licence: Default::default(),
                    },
                ],
            }],
        }
    }

    #[test]
    fn same_document_same_bytes_and_namespace() {
        let a = write(&sample());
        assert_eq!(a, write(&sample()));
        let ns = a["documentNamespace"].as_str().unwrap();
        assert!(ns.starts_with("urn:uuid:") && ns.len() == 45, "{ns}");
        let mut other = sample();
        other.created = "2025-01-01T00:00:00Z".into();
        assert_ne!(write(&other)["documentNamespace"], a["documentNamespace"]);
    }
}
