//! What an SBOM describes, independent of its format: an image (or, inside the image, its
//! contents), its layers, and what each layer adds, with licences.

use distill_core::Component;

use crate::license::Licence;

/// The document's subject and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// What the image is called: the repository it was pushed to, or the config's name.
    pub name: String,
    /// The image's manifest digest and platform. `None` for the SBOM written into the image
    /// itself, which cannot contain the digest of the image that contains it.
    pub subject: Option<Subject>,
    /// RFC 3339, the build's own time (`SOURCE_DATE_EPOCH`), so the document is reproducible.
    pub created: String,
    /// distill's version.
    pub tool_version: String,
    /// The Debian release number, `12`.
    pub debian: String,
    pub layers: Vec<Layer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `sha256:…` of the image manifest.
    pub digest: String,
    /// `linux/amd64`.
    pub platform: String,
}

/// One layer and what it adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `sha256:…` of the compressed layer; `None` for the layer that holds the SBOM itself.
    pub digest: Option<String>,
    pub created_by: String,
    pub items: Vec<Item>,
}

/// A component with its licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub component: Component,
    pub licence: Licence,
}

impl Item {
    /// The component's name and version, for kinds that have them; files are named by path.
    pub fn name_version(&self) -> (String, String) {
        match &self.component {
            Component::Deb { name, version, .. }
            | Component::Python { name, version, .. }
            | Component::Npm { name, version, .. } => (name.clone(), version.clone()),
            Component::NodeRuntime { version, .. } => ("node".into(), version.clone()),
            Component::Init { version, path, .. } => (path.clone(), version.clone()),
            Component::File { path, .. } | Component::Generated { path, .. } => {
                (path.clone(), String::new())
            }
            Component::BaseLayer { reference, .. } => (reference.clone(), String::new()),
        }
    }

    /// The SHA-256 the inventory recorded, hex, when it recorded one.
    pub fn sha256(&self) -> Option<&str> {
        match &self.component {
            Component::Deb { sha256, .. }
            | Component::Python { sha256, .. }
            | Component::File { sha256, .. }
            | Component::Generated { sha256, .. }
            | Component::Init { sha256, .. } => Some(sha256.as_str()).filter(|s| !s.is_empty()),
            _ => None,
        }
    }
}
