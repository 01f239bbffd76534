//! Software bills of materials.
//!
//! - [`purl`]: package URLs (purl-spec) for every kind of component of the inventory.
//! - [`license`]: licences as SPDX expressions, read from Debian's machine-readable
//!   copyright files (DEP-5) and, where a package has none, from the common-licenses its
//!   copyright file names.

pub mod cyclonedx;
pub mod license;
pub mod model;
pub mod purl;
pub mod spdx;
