//! distill-core: the small vocabulary every distill crate shares.
//!
//! - [`Arch`]: every name an architecture goes by (Debian, OCI, GNU triplet, ELF machine,
//!   dynamic loader, Python and Node);
//! - [`Release`]: a Debian release and its facts (codename, Python, glibc, support window);
//! - [`Platform`]: what an image is built for;
//! - [`FamilyMember`]: the distroless members, by name;
//! - [`runtime`]: language runtimes and their end of life;
//! - [`Digest`], [`Reference`]: content digests and registry image references;
//! - [`EnvVar`]: an image's environment;
//! - [`Component`]: what a layer adds, for the build's inventory;
//! - [`hint`]: the fix for an error, read along its chain of causes.
//!
//! Each mapping lives here once; other crates never spell these facts out themselves.

pub mod arch;
pub mod crash;
pub mod digest;
pub mod env;
pub mod hint;
pub mod inventory;
pub mod member;
pub mod platform;
pub mod reference;
pub mod release;
pub mod runtime;

pub use arch::Arch;
pub use digest::{Digest, HashingWriter, InvalidDigest, hash_reader};
pub use env::EnvVar;
pub use hint::hint;
pub use inventory::Component;
pub use member::{FamilyMember, NODE_BINARY, NODE_DEFAULT_MAJOR, NODE_MAJORS};
pub use platform::Platform;
pub use reference::{Reference, ReferenceError, is_loopback_host};
pub use release::Release;
pub use runtime::{Runtime, YearMonth};
