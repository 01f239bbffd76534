//! Keys and signatures in the formats the container ecosystem verifies.
//!
//! - [`key`]: ECDSA P-256 key pairs in cosign's encrypted key files (what `distill keygen`
//!   writes and `--sign-key` reads; skopeo and cosign read the same files).
//! - [`payload`]: simple signing payloads (cosign's image signatures, verified by
//!   containers/image's `sigstoreSigned` policy) and DSSE envelopes (attestations).
//! - [`image`]: an image's signature and attestations as a push attaches them, read back
//!   and verified. Where they live in a registry (tags, referrers) is distill-oci's concern.

pub mod image;
pub mod key;
pub mod payload;

pub use key::{KeyError, PrivateKey, PublicKey, keygen, password_from_env};
pub use payload::{Envelope, PayloadError, SimpleSigning};
