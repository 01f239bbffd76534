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
    #[error("Image {what} {digest} is not valid: {why}")]
    Invalid {
        what: &'static str,
        digest: String,
        why: String,
    },
}
