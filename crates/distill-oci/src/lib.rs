//! distill-oci: everything that turns files into OCI images on disk.
//!
//! The crate owns the image model ([`ImageSpec`]), the deterministic layer writer
//! ([`layer`]), the content-addressed blob store ([`BlobStore`]), canonical JSON, and the
//! outputs a build can be written to ([`Destination`]): an OCI image layout, an
//! `oci-archive` tarball and the dual-format `docker-archive` that both `docker load` and
//! `podman load` accept.
//!
//! Specs implemented: the OCI image-spec v1.1 (image layout, manifest, index, config,
//! layer media types) and the Docker `docker save` archive format (`manifest.json`).

pub mod blob;
pub mod canonical;
pub mod cleanup;
pub mod dest;
pub mod digest;
pub mod image;
pub mod layer;
pub mod media;
pub mod net;
pub mod registry;
pub mod sink;
pub mod transfer;

pub use blob::{BlobStore, BlobStoreError};
pub use dest::{Destination, DestinationError};
pub use digest::Digest;
pub use image::{Built, BuiltImage, ImageError, ImageLayer, ImageSpec, Platform};
pub use layer::{Compression, Entry, EntryKind, FileSource, Layer, LayerError, LayerWriter};
pub use sink::{Outputs, SinkError, Staged, write_output};
