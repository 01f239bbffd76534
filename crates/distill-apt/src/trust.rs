//! Who may sign a repository, and checking that they did (apt-secure(8)).
//!
//! Keys come from a keyring file (the host's `Signed-By` keyring, the host's
//! `debian-archive-keyring`, or a repository's own `keyring`) or from the Debian archive
//! keys embedded in the binary, the last fallback, so that hosts that are not Debian work.
//! [`Keyring::for_debian`] makes that choice, as apt does.
//!
//! A key is kept when loading only if:
//! - its self-signature (primary) or binding signature (subkey) verifies — rPGP's
//!   `verify_bindings()` is not used, since it also demands that third-party certifications
//!   verify, which Debian's keys carry;
//! - the newest such signature grants the signing flag;
//! - a signing subkey's embedded back-signature verifies.
//!
//! Expiry and revocation depend on the clock, so they are checked when a signature is
//! verified, against the time the caller gives: a keyring whose keys have all expired, or a
//! file signed only by expired or revoked keys, is an error that names the keys, their expiry
//! and the clock. Nothing here panics on a key or a clock, embedded or not.
//!
//! A signature counts only with an allowed hash (SHA-256, SHA-384, SHA-512) and a creation
//! time that is not in the future. Only the verified text is returned, with the CRLF line
//! endings of the cleartext framework turned back into LF.

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature, SignedPublicKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Tag};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TrustError {
    #[error("Cannot read keyring {path}: {source}")]
    #[diagnostic(help(
        "check that {} exists and is readable; a keyring is a binary (.gpg) or ASCII-armored (.asc) OpenPGP public key file", path.display()
    ))]
    ReadKeyring {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Keyring {label} holds no usable OpenPGP key: {why}")]
    #[diagnostic(help(
        "give the repository's public key as a binary (.gpg) or ASCII-armored (.asc) keyring"
    ))]
    BadKeyring { label: String, why: String },
    #[error(
        "No key of keyring {keyring} can be used at {}: {}",
        date(*clock),
        list(keys, *clock)
    )]
    #[diagnostic(help("{CLOCK_HINT}"))]
    NoUsableKey {
        keyring: String,
        keys: Vec<KeyState>,
        clock: u64,
    },
    #[error("{what} from {url} is not a valid OpenPGP signed message: {why}")]
    #[diagnostic(help(
        "the mirror served something that is not a signed Release file; check the mirror's URL"
    ))]
    Malformed {
        what: String,
        url: String,
        why: String,
    },
    #[error("Repository {url} is unsigned: it has neither InRelease nor Release.gpg")]
    #[diagnostic(help(
        "distill refuses unsigned repositories; if you trust this one anyway, set signed = false in its [[repositories]] entry"
    ))]
    Unsigned { url: String },
    #[error("{what} from {url} is not signed by a trusted key (signed by {signers})")]
    #[diagnostic(help(
        "the file was tampered with, or the repository's key is missing: give its keyring with keyring = \"FILE\" in [debian] or in its [[repositories]] entry"
    ))]
    NotTrusted {
        what: String,
        url: String,
        signers: String,
    },
    #[error(
        "{what} from {url} is signed only by keys that cannot be used at {}: {}",
        date(*clock),
        list(keys, *clock)
    )]
    #[diagnostic(help("{CLOCK_HINT}"))]
    SignedByUnusable {
        what: String,
        url: String,
        keys: Vec<KeyState>,
        clock: u64,
    },
}

const CLOCK_HINT: &str = "if the clock is wrong, set it (`date -u` shows it); if it is right, the keyring is out of date: install a current debian-archive-keyring, or name a current keyring with keyring = \"FILE\" in [debian]";

/// A key as a keyring holds it, for messages: which key, from where, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// The fingerprint, upper-case hex.
    pub fingerprint: String,
    /// The primary key's newest user ID.
    pub user: String,
    /// The keyring the key was loaded from.
    pub keyring: Arc<str>,
    /// Seconds since the epoch at which the key stops being valid.
    pub expires: Option<u64>,
    pub revoked: bool,
}

impl KeyState {
    fn usable_at(&self, t: u64) -> bool {
        !self.revoked && self.expires.is_none_or(|e| e > t)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) in {}",
            self.fingerprint, self.user, self.keyring
        )?;
        if self.revoked {
            f.write_str(", revoked")
        } else if let Some(e) = self.expires {
            write!(f, ", expires {}", date(e))
        } else {
            f.write_str(", no expiry")
        }
    }
}

/// The keys, each with what stops it at `clock`.
fn list(keys: &[KeyState], clock: u64) -> String {
    keys.iter()
        .map(|k| {
            let state = match k.expires {
                _ if k.revoked => "revoked".to_owned(),
                Some(e) if e <= clock => format!("expired {}", date(e)),
                Some(e) => format!("valid until {}", date(e)),
                None => "no expiry".to_owned(),
            };
            format!("{} ({}) in {}, {state}", k.fingerprint, k.user, k.keyring)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An RFC 3339 date in UTC for a time in seconds, whatever the value.
fn date(t: u64) -> String {
    // SystemTime cannot hold every u64; the message is still useful with the raw number.
    std::time::UNIX_EPOCH
        .checked_add(std::time::Duration::from_secs(t))
        .filter(|_| t < 253_402_300_800) // 10000-01-01, beyond which RFC 3339 has no form
        .map_or_else(
            || format!("{t} s after 1970"),
            |st| humantime::format_rfc3339_seconds(st).to_string(),
        )
}

/// One key, primary or subkey, whose binding allows it to sign.
#[derive(Debug)]
enum Material {
    Primary(pgp::packet::PublicKey),
    Sub(pgp::packet::PublicSubkey),
}

#[derive(Debug)]
struct SigningKey {
    material: Material,
    state: KeyState,
}

impl SigningKey {
    fn verify(&self, sig: &Signature, data: &[u8]) -> bool {
        match &self.material {
            Material::Primary(k) => sig.verify(k, data).is_ok(),
            Material::Sub(k) => sig.verify(k, data).is_ok(),
        }
    }

    /// The key's fingerprint, in hex.
    fn fingerprint_hex(&self) -> String {
        match &self.material {
            Material::Primary(k) => hex::encode(k.fingerprint().as_bytes()),
            Material::Sub(k) => hex::encode(k.fingerprint().as_bytes()),
        }
    }

    fn matches(&self, sig: &Signature) -> bool {
        let (fp, id) = match &self.material {
            Material::Primary(k) => (k.fingerprint(), k.legacy_key_id()),
            Material::Sub(k) => (k.fingerprint(), k.legacy_key_id()),
        };
        sig.issuer_fingerprint().iter().any(|f| **f == fp)
            || sig.issuer_key_id().iter().any(|k| **k == id)
    }
}

/// A set of signing keys, each remembering the keyring it came from.
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

/// Where Debian's archive keyring is installed on a Debian or Ubuntu host.
pub const HOST_DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

impl Keyring {
    /// The Debian archive keys for bookworm and trixie, embedded at build time.
    pub fn debian() -> Self {
        let mut ring = Keyring {
            keys: Vec::new(),
            label: "the Debian archive keys built into distill".into(),
        };
        for (name, bytes) in EMBEDDED {
            let label = format!("distill's embedded {name}");
            // A key that fails to parse costs only its own keys: verification then reports
            // what is missing, with the clock, instead of the build panicking.
            if let Err(e) = ring.add_bytes(bytes, &label) {
                tracing::warn!("{e}");
            }
        }
        ring
    }

    /// The keyring for a Debian archive, chosen as apt would: the `Signed-By` keyring the
    /// host's sources name for it, alone; else the host's `debian-archive-keyring`
    /// (`host_default`, when it exists); else the keys embedded in distill.
    pub(crate) fn for_debian(
        signed_by: Option<&Path>,
        host_default: &Path,
    ) -> Result<Self, TrustError> {
        match signed_by {
            Some(path) => Keyring::load(path),
            None if host_default.is_file() => Keyring::load(host_default),
            None => Ok(Keyring::debian()),
        }
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

    /// Adds every signing key of `bytes` (binary or armored), expired or not.
    pub(crate) fn add_bytes(&mut self, bytes: &[u8], label: &str) -> Result<(), TrustError> {
        let bad = |why: String| TrustError::BadKeyring {
            label: label.to_owned(),
            why,
        };
        let keys: Vec<SignedPublicKey> = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            // An .asc file may hold several armored blocks one after another (keys
            // concatenated with `cat`, as gpg accepts); rPGP reads one block per call.
            let mut keys = Vec::new();
            for block in armored_blocks(bytes) {
                keys.extend(
                    SignedPublicKey::from_armor_many(Cursor::new(block))
                        .map_err(|e| bad(e.to_string()))?
                        .0
                        .filter_map(Result::ok),
                );
            }
            keys
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
        let source: Arc<str> = Arc::from(label);
        for key in keys {
            self.add_key(key, &source);
        }
        if self.keys.len() == before {
            return Err(bad(
                "no key in it may sign: none has a valid self-signature with the signing flag"
                    .into(),
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

    /// Every signing key, with its state, for messages and `-v` logs.
    pub fn keys(&self) -> impl Iterator<Item = &KeyState> {
        self.keys.iter().map(|k| &k.state)
    }

    fn add_key(&mut self, key: SignedPublicKey, source: &Arc<str>) {
        let primary = &key.primary_key;
        let revoked = key
            .details
            .revocation_signatures
            .iter()
            .any(|s| s.verify_key(primary).is_ok());
        // The newest valid self-certification decides the primary key's flags and expiry.
        let newest_self = key
            .details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter().map(move |s| (u, s)))
            .filter(|(u, s)| s.verify_certification(primary, Tag::UserId, &u.id).is_ok())
            .max_by_key(|(_, s)| s.created().map(|c| c.as_secs()).unwrap_or(0));
        let Some((user, self_sig)) = newest_self else {
            tracing::debug!(
                "skipping key {:X} without a valid self-signature",
                primary.fingerprint()
            );
            return;
        };
        let user = String::from_utf8_lossy(user.id.id()).into_owned();
        let expiry = |created: u32, sig: &Signature| {
            sig.key_expiration_time()
                .map(|d| u64::from(created) + u64::from(d.as_secs()))
        };
        let primary_expires = expiry(primary.created_at().as_secs(), self_sig);
        let state = |fp: String, expires: Option<u64>, revoked: bool| KeyState {
            fingerprint: fp,
            user: user.clone(),
            keyring: source.clone(),
            // A subkey cannot outlive its primary.
            expires: match (expires, primary_expires) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            revoked,
        };
        if self_sig.key_flags().sign() {
            self.keys.push(SigningKey {
                material: Material::Primary(primary.clone()),
                state: state(format!("{:X}", primary.fingerprint()), None, revoked),
            });
        }
        for sub in &key.public_subkeys {
            let valid: Vec<&Signature> = sub
                .signatures
                .iter()
                .filter(|s| s.verify_subkey_binding(primary, &sub.key).is_ok())
                .collect();
            let sub_revoked = valid
                .iter()
                .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation));
            let Some(binding) = valid
                .iter()
                .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
                .max_by_key(|s| s.created().map(|c| c.as_secs()).unwrap_or(0))
            else {
                continue;
            };
            let back = binding
                .embedded_signature()
                .is_some_and(|b| b.verify_primary_key_binding(&sub.key, primary).is_ok());
            if binding.key_flags().sign() && back {
                let expires = expiry(sub.key.created_at().as_secs(), binding);
                self.keys.push(SigningKey {
                    material: Material::Sub(sub.key.clone()),
                    state: state(
                        format!("{:X}", sub.key.fingerprint()),
                        expires,
                        revoked || sub_revoked,
                    ),
                });
            }
        }
    }

    /// Whether the signature's own properties allow it at `t`: hash and time.
    fn signature_ok(sig: &Signature, t: u64) -> bool {
        let hash_ok = matches!(
            sig.hash_alg(),
            Some(HashAlgorithm::Sha256 | HashAlgorithm::Sha384 | HashAlgorithm::Sha512)
        );
        let created = sig.created().map(|c| u64::from(c.as_secs()));
        // A little slack for clock skew between the archive and this machine.
        let time_ok = created.is_some_and(|c| c <= t.saturating_add(600))
            && sig
                .signature_expiration_time()
                .is_none_or(|d| created.unwrap_or(0) + u64::from(d.as_secs()) > t);
        hash_ok && time_ok
    }

    /// Checks `sigs` over `data` at time `t`: the key that verified one, or why none did.
    fn check(
        &self,
        sigs: &[&Signature],
        data: &[u8],
        t: u64,
        what: &str,
        url: &str,
    ) -> Result<&KeyState, TrustError> {
        if !self.keys.iter().any(|k| k.state.usable_at(t)) {
            return Err(TrustError::NoUsableKey {
                keyring: self.label.clone(),
                keys: self.keys().cloned().collect(),
                clock: t,
            });
        }
        let mut unusable: Vec<KeyState> = Vec::new();
        for sig in sigs {
            for key in self.keys.iter().filter(|k| k.matches(sig)) {
                if !Self::signature_ok(sig, t) || !key.verify(sig, data) {
                    continue;
                }
                if key.state.usable_at(t) {
                    return Ok(&key.state);
                }
                if !unusable.contains(&key.state) {
                    unusable.push(key.state.clone());
                }
            }
        }
        if unusable.is_empty() {
            let owned: Vec<Signature> = sigs.iter().map(|s| (*s).clone()).collect();
            Err(TrustError::NotTrusted {
                what: what.to_owned(),
                url: url.to_owned(),
                signers: signers(&owned),
            })
        } else {
            Err(TrustError::SignedByUnusable {
                what: what.to_owned(),
                url: url.to_owned(),
                keys: unusable,
                clock: t,
            })
        }
    }

    /// Verifies an `InRelease` file at time `t`; returns its signed text with LF line endings.
    /// What the keyring holds, for keying what was verified with it: every key's
    /// fingerprint and state, so a key added, revoked or expired changes it.
    pub fn identity(&self) -> String {
        let mut keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{} {:?}", k.fingerprint_hex(), k.state))
            .collect();
        keys.sort();
        keys.join("\n")
    }

    pub fn verify_inline(&self, text: &str, url: &str, t: u64) -> Result<String, TrustError> {
        self.verify_inline_by(text, url, t).map(|(text, _)| text)
    }

    /// [`Keyring::verify_inline`], with the keyring the verifying key came from.
    pub fn verify_inline_by(
        &self,
        text: &str,
        url: &str,
        t: u64,
    ) -> Result<(String, String), TrustError> {
        let (msg, _) =
            CleartextSignedMessage::from_string(text).map_err(|e| TrustError::Malformed {
                what: "InRelease".into(),
                url: url.to_owned(),
                why: e.to_string(),
            })?;
        let signed = msg.signed_text();
        let sigs: Vec<&Signature> = msg.signatures().iter().collect();
        let key = self.check(&sigs, signed.as_bytes(), t, "InRelease", url)?;
        tracing::info!("{url}: verified with {}", key.keyring);
        tracing::debug!("{url}: signed by {key}");
        let mut text = signed.replace("\r\n", "\n");
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok((text, key.keyring.to_string()))
    }

    /// Verifies `Release` against the detached `Release.gpg` at time `t`.
    pub fn verify_detached(
        &self,
        release: &[u8],
        signature: &[u8],
        url: &str,
        t: u64,
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
        let refs: Vec<&Signature> = sigs.iter().map(|s| &s.signature).collect();
        let key = self.check(&refs, release, t, "Release", url)?;
        tracing::info!("{url}: verified with {}", key.keyring);
        tracing::debug!("{url}: signed by {key}");
        String::from_utf8(release.to_vec()).map_err(|_| malformed("Release is not UTF-8".into()))
    }
}

/// Each armored block of `bytes`, from its `-----BEGIN` line to the next one.
fn armored_blocks(bytes: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP PUBLIC KEY BLOCK-----";
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i..].starts_with(BEGIN))
        .collect();
    if starts.is_empty() {
        return vec![bytes];
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &a)| &bytes[a..starts.get(k + 1).copied().unwrap_or(bytes.len())])
        .collect()
}

fn signers(sigs: &[Signature]) -> String {
    let ids: Vec<String> = sigs
        .iter()
        .flat_map(|s| {
            let fps: Vec<String> = s
                .issuer_fingerprint()
                .iter()
                .map(|f| format!("{f:X}"))
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

    /// 2026-01-01, when every embedded key is valid.
    const NOW: u64 = 1_767_225_600;
    /// 2031-06-01: the bookworm keys expired in January 2031, the trixie ones have not.
    const AFTER_BOOKWORM: u64 = 1_938_038_400;
    /// 2036-01-01: every embedded key has expired.
    const AFTER_ALL: u64 = 2_082_758_400;

    #[test]
    fn embedded_debian_keys_give_signing_keys() {
        let ring = Keyring::debian();
        // bookworm and trixie: stable primaries plus the archive and security signing subkeys.
        assert!(ring.keys.len() >= 6, "{} keys", ring.keys.len());
        assert!(
            ring.keys().all(|k| k.usable_at(NOW)),
            "{}",
            list(&ring.keys().cloned().collect::<Vec<_>>(), NOW)
        );
        let live_2031: Vec<&KeyState> = ring
            .keys()
            .filter(|k| k.usable_at(AFTER_BOOKWORM))
            .collect();
        assert!(!live_2031.is_empty() && live_2031.iter().all(|k| k.user.contains("trixie")));
    }

    #[test]
    fn garbage_is_not_a_signed_message() {
        let err = Keyring::debian()
            .verify_inline("Origin: Debian\n", "http://x/InRelease", NOW)
            .unwrap_err();
        assert!(matches!(err, TrustError::Malformed { .. }), "{err}");
    }

    /// Issue #11: a clock past every key's expiry gave a panic; now it is an error that names
    /// the keyring, each key and its expiry, and the clock.
    #[test]
    fn a_keyring_with_every_key_expired_is_an_error_naming_keys_and_clock() {
        let ring = Keyring::debian();
        let err = ring
            .check(&[], b"", AFTER_ALL, "InRelease", "http://x/InRelease")
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, TrustError::NoUsableKey { .. }), "{msg}");
        assert!(msg.contains("2036-01-01T00:00:00Z"), "{msg}");
        assert!(
            msg.contains("F8D2585B8783D481"),
            "names the bookworm stable key: {msg}"
        );
        assert!(
            msg.contains("expired 2031-01-21"),
            "gives its expiry: {msg}"
        );
        assert!(msg.contains("embedded"), "names the keyring: {msg}");
        assert!(distill_core::hint(&err).unwrap().contains("clock"));
    }

    #[test]
    fn dates_of_any_size_format_without_panicking() {
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
        assert_eq!(date(u64::MAX), format!("{} s after 1970", u64::MAX));
    }
}
