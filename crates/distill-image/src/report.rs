//! What a build reports: the image, its layers with what each adds (the build's exact
//! inventory), and its inputs. `build --report FILE` writes [`Report::to_json`]; the SBOM and
//! provenance are made from the same data.
//!
//! The JSON, with keys sorted:
//! ```text
//! { "digest": "sha256:…",                      the image (or the index) a user refers to
//!   "inputs": { "config": {"sha256": …} | null, the distill.toml, as read
//!               "lock": {"sha256": …, "locked": bool} | null },   distill.lock, as written
//!   "images": [ { "platform", "manifest", "config",
//!                 "layers": [ { "digest", "diff_id", "size", "media_type", "created_by",
//!                               "components": [ { "kind": "deb" | "python" | "npm" |
//!                                 "node-runtime" | "file" | "base-layer" | "init" |
//!                                 "generated", … } ] } ] } ] }
//! ```

use distill_core::Component;
use distill_oci::Built;
use distill_oci::transport::PushReport;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::lock::Lockfile;
use crate::plan::Plan;

/// The inputs of a build, by digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// The SHA-256 of the config file's bytes, when there is one.
    pub config: Option<String>,
    /// The SHA-256 of the lock's canonical text, and whether it came from distill.lock.
    pub lock: Option<(String, bool)>,
}

impl Inputs {
    pub fn of(plan: &Plan, lock: Option<&Lockfile>) -> Self {
        let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
        Self {
            config: plan
                .config
                .as_ref()
                .and_then(|p| std::fs::read(p).ok())
                .map(|b| sha(&b)),
            lock: lock.map(|l| (sha(l.to_toml().as_bytes()), plan.debian.locked)),
        }
    }
}

/// What one layer adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInventory {
    pub created_by: String,
    pub components: Vec<Component>,
}

/// What a finished build reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub built: Built,
    /// Entries of the user's files layer.
    pub files: usize,
    /// Debian packages installed, per platform.
    pub packages: usize,
    /// Packages that `[packages] exclude` (or the family) kept out, with what only they
    /// pulled in; empty when the packages came from distill.lock.
    pub excluded: Vec<String>,
    /// What each registry output's push did.
    pub pushed: Vec<PushReport>,
    /// Per image (in `built.images` order), per layer, what it adds.
    pub inventory: Vec<Vec<LayerInventory>>,
    /// Per image, what its files declare (for licences).
    pub metadata: Vec<distill_sbom::metadata::Metadata>,
    /// The image's name in its SBOMs.
    pub name: String,
    pub plan: Plan,
    /// The packages (and base image) the build installed, pinned.
    pub lock: Option<Lockfile>,
    pub inputs: Inputs,
}

impl Report {
    pub fn digest(&self) -> &distill_oci::Digest {
        self.built.digest()
    }

    /// Every component of every layer of every image.
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.inventory
            .iter()
            .flatten()
            .flat_map(|l| l.components.iter())
    }

    /// The SBOM of image `i`, its manifest as the subject, every layer listed.
    pub fn sbom(&self, i: usize) -> distill_sbom::model::Document {
        let img = &self.built.images[i];
        let views: Vec<crate::sbom::LayerView> = img
            .layers
            .iter()
            .zip(&self.inventory[i])
            .map(|(l, inv)| crate::sbom::LayerView {
                digest: Some(l.digest.to_string()),
                created_by: &inv.created_by,
                components: &inv.components,
            })
            .collect();
        let subject = distill_sbom::model::Subject {
            digest: img.manifest.to_string(),
            platform: img.platform.to_string(),
        };
        crate::sbom::document(
            &self.plan,
            self.name.clone(),
            Some(subject),
            &views,
            &self.metadata[i],
        )
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let images: Vec<Value> = self
            .built
            .images
            .iter()
            .zip(&self.inventory)
            .map(|(img, layers)| {
                let layers: Vec<Value> = img
                    .layers
                    .iter()
                    .zip(layers)
                    .map(|(l, inv)| {
                        json!({
                            "digest": l.digest.to_string(),
                            "diff_id": l.diff_id.to_string(),
                            "size": l.size,
                            "media_type": l.media_type,
                            "created_by": inv.created_by,
                            "components": inv.components,
                        })
                    })
                    .collect();
                json!({
                    "platform": img.platform.to_string(),
                    "manifest": img.manifest.to_string(),
                    "config": img.config.to_string(),
                    "layers": layers,
                })
            })
            .collect();
        json!({
            "digest": self.digest().to_string(),
            "inputs": {
                "config": self.inputs.config.as_ref().map(|s| json!({"sha256": s})),
                "lock": self.inputs.lock.as_ref().map(|(s, locked)| json!({"sha256": s, "locked": locked})),
            },
            "images": images,
        })
    }
}
