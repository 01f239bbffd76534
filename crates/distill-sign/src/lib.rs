//! Keys and signatures in the formats the container ecosystem verifies.
//!
//! - [`key`]: ECDSA P-256 key pairs in cosign's encrypted key files (what `distill keygen`
//!   writes and `--sign-key` reads; skopeo and cosign read the same files).
//! - [`payload`]: simple signing payloads (cosign's image signatures, verified by
//!   containers/image's `sigstoreSigned` policy) and DSSE envelopes (attestations).
//!
//! Where the signatures live in a registry is distill-oci's concern; this crate only makes
//! and checks bytes.

pub mod key;
pub mod payload;

pub use key::{KeyError, PrivateKey, PublicKey, keygen, password_from_env};
pub use payload::{Envelope, PayloadError, SimpleSigning};
