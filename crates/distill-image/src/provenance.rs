//! The build's provenance: an in-toto Statement v1 predicate of type SLSA Provenance v1
//! (slsa.dev/spec/v1.0/provenance), made from the report.
//!
//! - `buildDefinition.externalParameters`: what the user controls: the config's and the
//!   lock's SHA-256, whether the lock was enforced, the platforms.
//! - `buildDefinition.internalParameters`: the epoch, the compression.
//! - `buildDefinition.resolvedDependencies`: every material, each with its digest: the
//!   `.deb` files (sha256, as distill.lock pins them), the wheels (sha256), the npm tarballs
//!   and the Node build (sha512 from their integrity), the base image by manifest digest
//!   and its layers.
//! - `runDetails.builder`: distill and its version. No timestamps: the same build gives the
//!   same provenance.

use base64::Engine as _;
use distill_core::Component;
use serde_json::{Value, json};

use crate::report::Report;

/// The SLSA Provenance v1 predicate type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What kind of build this is: distill's own, versioned with its meaning.
pub const BUILD_TYPE: &str = "urn:distill:build:v1";

fn sha512_hex(integrity: &str) -> Option<String> {
    let b64 = integrity.strip_prefix("sha512-")?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .map(hex::encode)
}

/// The resource descriptor of one component, when it is a material fetched from outside.
fn material(c: &Component, debian: &str) -> Option<Value> {
    let purl = distill_sbom::purl::of(c, debian);
    Some(match c {
        Component::Deb {
            name,
            sha256,
            repository,
            suite,
            ..
        } => json!({
            "name": name, "uri": purl, "digest": {"sha256": sha256},
            "annotations": {"repository": repository, "suite": suite},
        }),
        Component::Python { file, sha256, .. } => {
            json!({"name": file, "uri": purl, "digest": {"sha256": sha256}})
        }
        Component::Npm {
            name,
            integrity: Some(integrity),
            ..
        } => json!({"name": name, "uri": purl, "digest": {"sha512": sha512_hex(integrity)?}}),
        Component::NodeRuntime {
            integrity, origin, ..
        } => json!({"name": origin, "uri": purl, "digest": {"sha512": sha512_hex(integrity)?}}),
        Component::BaseLayer { digest, reference } => json!({
            "name": format!("layer of {reference}"),
            "digest": {"sha256": digest.trim_start_matches("sha256:")},
        }),
        _ => return None,
    })
}

/// The provenance predicate of the report's build.
pub fn predicate(report: &Report) -> Value {
    let debian = report.plan.debian.release.number();
    let mut deps: Vec<Value> = Vec::new();
    if let Some(base) = report.lock.as_ref().and_then(|l| l.base.as_ref())
        && let Some((_, digest)) = base.rsplit_once('@')
    {
        deps.push(json!({
            "uri": base,
            "digest": {"sha256": digest.trim_start_matches("sha256:")},
        }));
    }
    for c in report.components() {
        if let Some(m) = material(c, debian)
            && !deps.contains(&m)
        {
            deps.push(m);
        }
    }
    let platforms: Vec<String> = report
        .plan
        .platforms
        .iter()
        .map(|p| p.to_string())
        .collect();
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "config": report.inputs.config.as_ref().map(|s| json!({"sha256": s})),
                "lock": report.inputs.lock.as_ref().map(|(s, locked)| json!({"sha256": s, "locked": locked})),
                "platforms": platforms,
            },
            "internalParameters": {
                "epoch": report.plan.epoch,
                "compression": report.plan.compression.media_type(),
            },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {
                "id": "urn:distill:builder",
                "version": {"distill": env!("CARGO_PKG_VERSION")},
            },
            "metadata": {"invocationId": report.digest().to_string()},
        },
    })
}
