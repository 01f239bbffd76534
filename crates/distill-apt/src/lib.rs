//! distill-apt: Debian packages, verified, without apt, dpkg or root.
//!
//! - [`version`], [`relation`]: dpkg versions and dependency fields (Debian Policy §5.6.12, §7);
//! - [`packages`]: `Packages` indexes;
//! - [`resolver`]: from package names to the closed set apt would install;
//! - [`contents`]: which package ships a library;
//! - [`trust`], [`release`], [`repo`], [`debian`], [`sources`]: verified suites of the host's
//!   mirrors, with the keyrings apt would use; [`replay`]: no going back to an older Release;
//! - [`fetch`]: HTTP with retries, resume and a verified cache;
//! - [`pin`], [`install`], [`deb`]: exact files, downloaded, verified and extracted.

pub mod contents;
pub mod deb;
pub mod debian;
pub mod fetch;
pub mod install;
pub mod limits;
pub mod packages;
pub mod pin;
pub mod relation;
pub mod release;
pub mod replay;
pub mod repo;
pub mod resolver;
pub mod sources;
pub mod trust;
pub mod version;
