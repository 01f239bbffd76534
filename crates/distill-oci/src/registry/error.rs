//! What can go wrong moving an image to or from a registry, or reading one back from a store.

use super::client::RegistryError;
use crate::blob::BlobStoreError;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TransferError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Blob(#[from] BlobStoreError),
    #[error("The registry refused the {what} of {image}: {source}")]
    #[diagnostic(help(
        "the image is pushed by digest but not tagged; push to a registry that stores OCI artifact manifests (distribution 2.8 or later), or push without --sign-key"
    ))]
    Attachment {
        what: String,
        image: String,
        #[source]
        source: Box<RegistryError>,
    },
    #[error("Image {what} {digest} is not valid: {why}")]
    Invalid {
        what: &'static str,
        digest: String,
        why: String,
    },
}
