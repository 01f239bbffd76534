//! Software bills of materials.
//!
//! - [`purl`]: package URLs (purl-spec) for every kind of component of the inventory.
//! - [`license`]: licences as SPDX expressions, read from Debian's machine-readable
//!   copyright files (DEP-5) and, where a package has none, from the common-licenses its
//!   copyright file names; of language packages from what they declare.
//! - [`metadata`] and [`scan`]: what an image's own files (package databases, manifests)
//!   say it holds, read from a build's entries or from any image's layers.
//! - [`model`], [`spdx`], [`cyclonedx`]: one document model, written as SPDX 2.3 and
//!   CycloneDX 1.6.

pub mod cyclonedx;
pub mod license;
pub mod metadata;
pub mod model;
pub mod purl;
pub mod scan;
pub mod spdx;
