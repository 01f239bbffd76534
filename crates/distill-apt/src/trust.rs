//! Who may sign a repository, and checking that they did (apt-secure(8)).
//!
//! Keys come from the Debian archive keyrings embedded in the binary (so hosts that are not
//! Debian work), from the host's keyrings named by `Signed-By`, or from a repository's own
//! `keyring`. A key signs only if:
//! - its self-signature (primary) or binding signature (subkey) verifies — rPGP's
//!   `verify_bindings()` is not used, since it also demands that third-party certifications
//!   verify, which Debian's keys carry;
//! - the newest such signature grants the signing flag;
//! - it is not expired at the time of verification and not revoked;
//! - a signing subkey's embedded back-signature verifies.
//!
//! A signature counts only with an allowed hash (SHA-256, SHA-384, SHA-512) and a creation
//! time that is not in the future. Only the verified text is returned, with the CRLF line
//! endings of the cleartext framework turned back into LF.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature, SignedPublicKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Tag};

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("Cannot read keyring {path}: {source}")]
    ReadKeyring {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Keyring {label} holds no usable OpenPGP key: {why}")]
    BadKeyring { label: String, why: String },
    #[error("{what} from {url} is not a valid OpenPGP signed message: {why}")]
    Malformed {
        what: String,
        url: String,
        why: String,
    },
    #[error("Repository {url} is unsigned: it has neither InRelease nor Release.gpg")]
    Unsigned { url: String },
    #[error("{what} from {url} is not signed by a trusted key (signed by {signers})")]
    NotTrusted {
        what: String,
        url: String,
        signers: String,
    },
}

impl TrustError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            TrustError::NotTrusted { .. } => "the file was tampered with, or the repository's key is missing: add the repository's keyring (`keyring =` in [[repositories]]), or check the mirror".into(),
            TrustError::Unsigned { .. } => "distill refuses unsigned repositories; if you trust this one anyway, set signed = false in its [[repositories]] entry".into(),
            TrustError::Malformed { .. } => "the mirror served something that is not a signed Release file; check the mirror URL".into(),
            TrustError::BadKeyring { .. } | TrustError::ReadKeyring { .. } => "give the repository's public key as a binary (.gpg) or ASCII-armored (.asc) keyring".into(),
        })
    }
}

/// One key, primary or subkey, cleared to verify repository signatures.
#[derive(Debug)]
enum SigningKey {
    Primary(pgp::packet::PublicKey),
    Sub(pgp::packet::PublicSubkey),
}

impl SigningKey {
    fn verify(&self, sig: &Signature, data: &[u8]) -> bool {
        match self {
            SigningKey::Primary(k) => sig.verify(k, data).is_ok(),
            SigningKey::Sub(k) => sig.verify(k, data).is_ok(),
        }
    }

    fn matches(&self, sig: &Signature) -> bool {
        let (fp, id) = match self {
            SigningKey::Primary(k) => (k.fingerprint(), k.legacy_key_id()),
            SigningKey::Sub(k) => (k.fingerprint(), k.legacy_key_id()),
        };
        sig.issuer_fingerprint().iter().any(|f| **f == fp)
            || sig.issuer_key_id().iter().any(|k| **k == id)
    }
}

/// A set of trusted signing keys.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: Vec<SigningKey>,
    pub label: String,
}

const EMBEDDED: &[(&str, &[u8])] = &[
    (
        "debian-archive-bookworm-stable",
        include_bytes!("../keys/debian-archive-bookworm-stable.gpg"),
    ),
    (
        "debian-archive-bookworm-automatic",
        include_bytes!("../keys/debian-archive-bookworm-automatic.gpg"),
    ),
    (
        "debian-archive-bookworm-security-automatic",
        include_bytes!("../keys/debian-archive-bookworm-security-automatic.gpg"),
    ),
    (
        "debian-archive-trixie-stable",
        include_bytes!("../keys/debian-archive-trixie-stable.gpg"),
    ),
    (
        "debian-archive-trixie-automatic",
        include_bytes!("../keys/debian-archive-trixie-automatic.gpg"),
    ),
    (
        "debian-archive-trixie-security-automatic",
        include_bytes!("../keys/debian-archive-trixie-security-automatic.gpg"),
    ),
];

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Keyring {
    /// The Debian archive keys for bookworm and trixie, embedded at build time.
    pub fn debian() -> Self {
        let mut ring = Keyring {
            keys: Vec::new(),
            label: "embedded Debian archive keys".into(),
        };
        for (name, bytes) in EMBEDDED {
            // Embedded keys are tested; one failing to parse is a build defect.
            ring.add_bytes(bytes, name)
                .expect("embedded Debian key parses");
        }
        ring
    }

    /// Reads a binary or ASCII-armored keyring file.
    pub fn load(path: &Path) -> Result<Self, TrustError> {
        let bytes = std::fs::read(path).map_err(|source| TrustError::ReadKeyring {
            path: path.to_path_buf(),
            source,
        })?;
        let mut ring = Keyring {
            keys: Vec::new(),
            label: path.display().to_string(),
        };
        ring.add_bytes(&bytes, &path.display().to_string())?;
        Ok(ring)
    }

    /// Adds every usable signing key of `bytes` (binary or armored).
    pub fn add_bytes(&mut self, bytes: &[u8], label: &str) -> Result<(), TrustError> {
        let bad = |why: String| TrustError::BadKeyring {
            label: label.to_owned(),
            why,
        };
        let keys: Vec<SignedPublicKey> = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            SignedPublicKey::from_armor_many(Cursor::new(bytes))
                .map_err(|e| bad(e.to_string()))?
                .0
                .filter_map(Result::ok)
                .collect()
        } else {
            SignedPublicKey::from_bytes_many(Cursor::new(bytes))
                .map_err(|e| bad(e.to_string()))?
                .filter_map(Result::ok)
                .collect()
        };
        if keys.is_empty() {
            return Err(bad("no public key found".into()));
        }
        let before = self.keys.len();
        let t = now();
        for key in keys {
            self.add_key(key, t);
        }
        if self.keys.len() == before {
            return Err(bad(
                "no key in it may sign: all are expired, revoked or lack the signing flag".into(),
            ));
        }
        Ok(())
    }

    pub fn extend(&mut self, other: Keyring) {
        self.keys.extend(other.keys);
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn add_key(&mut self, key: SignedPublicKey, t: u64) {
        let primary = &key.primary_key;
        if key
            .details
            .revocation_signatures
            .iter()
            .any(|s| s.verify_key(primary).is_ok())
        {
            tracing::debug!("skipping revoked key {}", primary.fingerprint());
            return;
        }
        // The newest valid self-certification decides the primary key's flags and expiry.
        let newest_self = key
            .details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter().map(move |s| (u, s)))
            .filter(|(u, s)| s.verify_certification(primary, Tag::UserId, &u.id).is_ok())
            .map(|(_, s)| s)
            .max_by_key(|s| s.created().map(|c| c.as_secs()).unwrap_or(0));
        let Some(self_sig) = newest_self else {
            tracing::debug!(
                "skipping key {} without a valid self-signature",
                primary.fingerprint()
            );
            return;
        };
        let created = u64::from(primary.created_at().as_secs());
        let live = |sig: &Signature| {
            sig.key_expiration_time()
                .is_none_or(|d| created + u64::from(d.as_secs()) > t)
        };
        if !live(self_sig) {
            tracing::debug!("skipping expired key {}", primary.fingerprint());
            return;
        }
        if self_sig.key_flags().sign() {
            self.keys.push(SigningKey::Primary(primary.clone()));
        }
        for sub in &key.public_subkeys {
            let valid: Vec<&Signature> = sub
                .signatures
                .iter()
                .filter(|s| s.verify_subkey_binding(primary, &sub.key).is_ok())
                .collect();
            if valid
                .iter()
                .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
            {
                continue;
            }
            let Some(binding) = valid
                .iter()
                .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
                .max_by_key(|s| s.created().map(|c| c.as_secs()).unwrap_or(0))
            else {
                continue;
            };
            let sub_created = u64::from(sub.key.created_at().as_secs());
            let sub_live = binding
                .key_expiration_time()
                .is_none_or(|d| sub_created + u64::from(d.as_secs()) > t);
            let back = binding
                .embedded_signature()
                .is_some_and(|b| b.verify_primary_key_binding(&sub.key, primary).is_ok());
            if binding.key_flags().sign() && sub_live && back {
                self.keys.push(SigningKey::Sub(sub.key.clone()));
            }
        }
    }

    fn accepts(&self, sig: &Signature, data: &[u8], t: u64) -> bool {
        let hash_ok = matches!(
            sig.hash_alg(),
            Some(HashAlgorithm::Sha256 | HashAlgorithm::Sha384 | HashAlgorithm::Sha512)
        );
        let created = sig.created().map(|c| u64::from(c.as_secs()));
        // A little slack for clock skew between the archive and this machine.
        let time_ok = created.is_some_and(|c| c <= t + 600)
            && sig
                .signature_expiration_time()
                .is_none_or(|d| created.unwrap_or(0) + u64::from(d.as_secs()) > t);
        hash_ok
            && time_ok
            && self
                .keys
                .iter()
                .any(|k| k.matches(sig) && k.verify(sig, data))
    }

    /// Verifies an `InRelease` file; returns its signed text with LF line endings.
    pub fn verify_inline(&self, text: &str, url: &str) -> Result<String, TrustError> {
        let (msg, _) =
            CleartextSignedMessage::from_string(text).map_err(|e| TrustError::Malformed {
                what: "InRelease".into(),
                url: url.to_owned(),
                why: e.to_string(),
            })?;
        let signed = msg.signed_text();
        let t = now();
        if msg
            .signatures()
            .iter()
            .any(|s| self.accepts(s, signed.as_bytes(), t))
        {
            let mut text = signed.replace("\r\n", "\n");
            if !text.ends_with('\n') {
                text.push('\n');
            }
            return Ok(text);
        }
        Err(TrustError::NotTrusted {
            what: "InRelease".into(),
            url: url.to_owned(),
            signers: signers(msg.signatures()),
        })
    }

    /// Verifies `Release` against the detached `Release.gpg`.
    pub fn verify_detached(
        &self,
        release: &[u8],
        signature: &[u8],
        url: &str,
    ) -> Result<String, TrustError> {
        let malformed = |why: String| TrustError::Malformed {
            what: "Release.gpg".into(),
            url: url.to_owned(),
            why,
        };
        let sigs: Vec<DetachedSignature> =
            DetachedSignature::from_armor_many(Cursor::new(signature))
                .map_err(|e| malformed(e.to_string()))?
                .0
                .filter_map(Result::ok)
                .collect();
        if sigs.is_empty() {
            return Err(malformed("no signature in it".into()));
        }
        let t = now();
        if sigs.iter().any(|s| self.accepts(&s.signature, release, t)) {
            return String::from_utf8(release.to_vec())
                .map_err(|_| malformed("Release is not UTF-8".into()));
        }
        let all: Vec<Signature> = sigs.into_iter().map(|s| s.signature).collect();
        Err(TrustError::NotTrusted {
            what: "Release".into(),
            url: url.to_owned(),
            signers: signers(&all),
        })
    }
}

fn signers(sigs: &[Signature]) -> String {
    let ids: Vec<String> = sigs
        .iter()
        .flat_map(|s| {
            let fps: Vec<String> = s
                .issuer_fingerprint()
                .iter()
                .map(|f| f.to_string())
                .collect();
            if fps.is_empty() {
                s.issuer_key_id().iter().map(|k| k.to_string()).collect()
            } else {
                fps
            }
        })
        .collect();
    if ids.is_empty() {
        "no identified key".into()
    } else {
        ids.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_debian_keys_give_signing_keys() {
        let ring = Keyring::debian();
        // bookworm and trixie: stable primaries plus the archive and security signing subkeys.
        assert!(ring.keys.len() >= 6, "{} keys", ring.keys.len());
    }

    #[test]
    fn garbage_is_not_a_signed_message() {
        let err = Keyring::debian()
            .verify_inline("Origin: Debian\n", "http://x/InRelease")
            .unwrap_err();
        assert!(matches!(err, TrustError::Malformed { .. }), "{err}");
    }
}
