//! distill-oci: images as values, and the transports that read and write them.
//!
//! - the image model: [`ImageSpec`] and layers become a config, a manifest and an index
//!   ([`image`]); images are read back from a blob store ([`read`]);
//! - the deterministic layer writer ([`layer`]) and the content-addressed blob store
//!   ([`blob`]), with canonical JSON ([`canonical`]);
//! - one module per transport, each with a [`Source`] and a [`Sink`]: [`layout`] (`oci:`),
//!   [`archive`] (`oci-archive:`, `docker-archive:`, and reading `docker save`'s legacy
//!   form) and [`registry`] (`docker://`), addressed by [`Address`] ([`transport`]);
//! - [`outputs`]: several sinks written as one, atomically; [`copy`]: any source to sinks;
//! - [`validate`]: re-hashes every blob and checks sizes, media types and `diff_ids`, the
//!   assertion every test of every crate makes about an image.
//!
//! Specs implemented: the OCI image-spec v1.1 (image layout, manifest, index, config,
//! layer media types), the distribution-spec v1.1, and the Docker `docker save` archive
//! format (`manifest.json`).

pub mod archive;
pub mod blob;
pub mod canonical;
pub mod cleanup;
pub mod copy;
pub mod digest;
pub mod durable;
pub mod image;
pub mod layer;
pub mod layout;
pub mod media;
pub mod net;
pub mod outputs;
pub mod read;
pub mod registry;
pub mod tarlimits;
pub mod transport;
pub mod validate;

pub use blob::{BlobStore, BlobStoreError};
pub use digest::Digest;
pub use image::{Built, BuiltImage, ImageError, ImageLayer, ImageSpec, OciPlatform};
pub use layer::{Compression, Entry, EntryKind, FileSource, Layer, LayerError, LayerWriter};
pub use outputs::Outputs;
pub use transport::{Address, AddressError, Loaded, Sink, SinkError, Source, SourceError};
