//! SHA-256 content digests (`distill_core::digest`), and their oci-spec form for descriptors.

pub use distill_core::digest::*;

/// The digest as the oci-spec type, for descriptors.
pub(crate) fn to_oci(d: &Digest) -> oci_spec::image::Digest {
    oci_spec::image::Digest::try_from(d.to_string().as_str())
        .unwrap_or_else(|_| unreachable!("a validated sha256 digest is a valid OCI digest"))
}
