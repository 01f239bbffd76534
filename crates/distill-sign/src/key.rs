//! ECDSA P-256 key pairs in cosign's files, so that keys move between distill, cosign and
//! containers/image (podman, skopeo).
//!
//! - The private key is PKCS#8 DER, encrypted as go-securesystemslib's `encrypted` package
//!   does: a JSON object `{"kdf": {"name": "scrypt", "params": {"N", "r", "p"}, "salt"},
//!   "cipher": {"name": "nacl/secretbox", "nonce"}, "ciphertext"}` (byte fields in standard
//!   base64), in a PEM block `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign's newer name) or
//!   `ENCRYPTED COSIGN PRIVATE KEY` (the older one, which distill writes, since every
//!   release of containers/image reads it).
//! - The secretbox is NaCl's: the 16-byte Poly1305 tag comes first, then the ciphertext.
//! - The public key is a PKIX `PUBLIC KEY` PEM block.
//!
//! Key files are hostile input like any other: the scrypt parameters of a file are accepted
//! only when they are one of the sets go-securesystemslib writes, which bounds the memory
//! and time a file can make distill spend (at most 128 MiB).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::{Nonce, Tag, XSalsa20Poly1305};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The PEM label distill writes, and the newer one cosign writes; both are read.
pub const COSIGN_PEM: &str = "ENCRYPTED COSIGN PRIVATE KEY";
pub const SIGSTORE_PEM: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";

/// The scrypt parameter sets (N, r, p) go-securesystemslib writes: its legacy and standard
/// sets, and the OWASP one.
const SCRYPT_SETS: [(u64, u32, u32); 3] = [(1 << 15, 8, 1), (1 << 16, 8, 1), (1 << 17, 8, 1)];
/// Key files are a few hundred bytes.
const MAX_KEY_FILE: u64 = 64 << 10;
/// What distill writes: the legacy set, the one every reader accepts.
const SCRYPT_WRITE: (u64, u32, u32) = SCRYPT_SETS[0];

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum KeyError {
    #[error("Cannot read the key {}: {source}", path.display())]
    #[diagnostic(help("check the path given to --key or --sign-key"))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("The key {} is not a PEM file", path.display())]
    #[diagnostic(help("give a key written by `distill keygen` or `cosign generate-key-pair`"))]
    NotPem { path: PathBuf },
    #[error("The key {} holds a `{found}` block, not {wanted}", path.display())]
    #[diagnostic(help(
        "a private key from `distill keygen` or `cosign generate-key-pair` signs; its `.pub` file verifies"
    ))]
    Label {
        path: PathBuf,
        found: String,
        wanted: &'static str,
    },
    #[error("The encrypted key {} is malformed: {why}", path.display())]
    #[diagnostic(help("write the key pair again with `distill keygen`"))]
    Malformed { path: PathBuf, why: String },
    #[error("The key {} asks for scrypt parameters N={n}, r={r}, p={p}, which distill does not accept", path.display())]
    #[diagnostic(help(
        "only the parameter sets cosign and go-securesystemslib write are read; write the key pair again with `distill keygen`"
    ))]
    Scrypt {
        path: PathBuf,
        n: u64,
        r: u32,
        p: u32,
    },
    #[error("Cannot decrypt the key {}: the password is wrong", path.display())]
    #[diagnostic(help("set DISTILL_KEY_PASSWORD to the key's password (empty for none)"))]
    Password { path: PathBuf },
    #[error("The key {} is not an ECDSA P-256 key: {why}", path.display())]
    #[diagnostic(help(
        "distill signs with ECDSA P-256 keys, the kind `cosign generate-key-pair` writes"
    ))]
    NotP256 { path: PathBuf, why: String },
    #[error("DISTILL_KEY_PASSWORD is not set")]
    #[diagnostic(help(
        "set DISTILL_KEY_PASSWORD to the password that encrypts the private key; an empty value means no password"
    ))]
    NoPassword,
    #[error("{} already exists", path.display())]
    #[diagnostic(help("remove it, or give `distill keygen` another prefix"))]
    Exists { path: PathBuf },
    #[error("Cannot write {}: {source}", path.display())]
    #[diagnostic(help("check that the directory exists and is writable"))]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The password for private keys, from `DISTILL_KEY_PASSWORD`; set and empty means none.
pub fn password_from_env() -> Result<Zeroizing<String>, KeyError> {
    std::env::var("DISTILL_KEY_PASSWORD")
        .map(Zeroizing::new)
        .map_err(|_| KeyError::NoPassword)
}

/// A private key that signs.
pub struct PrivateKey {
    key: SigningKey,
}

/// A public key that verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

#[derive(Serialize, Deserialize)]
struct Encrypted {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn scrypt_key(password: &[u8], salt: &[u8], (n, r, p): (u64, u32, u32)) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // The sets in SCRYPT_SETS are valid parameters, so neither call can fail.
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 32).expect("valid scrypt set");
    scrypt::scrypt(password, salt, &params, out.as_mut()).expect("32 bytes is a valid length");
    out
}

impl PrivateKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self {
            key: SigningKey::random(&mut OsRng),
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
        }
    }

    /// The ASN.1 DER ECDSA signature of SHA-256 over `message`, as cosign makes it.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: DerSignature = self.key.sign(message);
        sig.as_bytes().to_vec()
    }

    /// The key as an encrypted PEM file.
    pub fn to_pem(&self, password: &str) -> String {
        let der = self
            .key
            .to_pkcs8_der()
            .expect("a P-256 key always encodes as PKCS#8");
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut nonce);
        let box_key = scrypt_key(password.as_bytes(), &salt, SCRYPT_WRITE);
        let cipher = XSalsa20Poly1305::new(box_key.as_ref().into());
        let mut body = der.as_bytes().to_vec();
        let tag = cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut body)
            .expect("a key is far below secretbox's size limit");
        let mut sealed = tag.to_vec();
        sealed.extend_from_slice(&body);
        let (n, r, p) = SCRYPT_WRITE;
        let envelope = Encrypted {
            kdf: Kdf {
                name: "scrypt".into(),
                params: ScryptParams { n, r, p },
                salt: STANDARD.encode(salt),
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: STANDARD.encode(nonce),
            },
            ciphertext: STANDARD.encode(sealed),
        };
        let json = serde_json::to_vec(&envelope).expect("plain structs serialize");
        pem(COSIGN_PEM, &json)
    }

    /// Reads an encrypted private key file of cosign's (either label).
    pub fn read(path: &Path, password: &str) -> Result<Self, KeyError> {
        Self::from_pem(&read_small(path)?, password, path)
    }

    /// Parses an encrypted private key; `path` names it in errors.
    pub fn from_pem(text: &str, password: &str, path: &Path) -> Result<Self, KeyError> {
        let (label, body) = unpem(text).ok_or_else(|| KeyError::NotPem { path: path.into() })?;
        if label != COSIGN_PEM && label != SIGSTORE_PEM {
            return Err(KeyError::Label {
                path: path.into(),
                found: label,
                wanted: "an encrypted private key",
            });
        }
        let malformed = |why: &str| KeyError::Malformed {
            path: path.into(),
            why: why.into(),
        };
        let envelope: Encrypted =
            serde_json::from_slice(&body).map_err(|e| malformed(&e.to_string()))?;
        if envelope.kdf.name != "scrypt" || envelope.cipher.name != "nacl/secretbox" {
            return Err(malformed(&format!(
                "it uses {} and {}, not scrypt and nacl/secretbox",
                envelope.kdf.name, envelope.cipher.name
            )));
        }
        let ScryptParams { n, r, p } = envelope.kdf.params;
        let set = SCRYPT_SETS
            .into_iter()
            .find(|s| *s == (n, r, p))
            .ok_or_else(|| KeyError::Scrypt {
                path: path.into(),
                n,
                r,
                p,
            })?;
        let b64 = |what: &str, s: &str| {
            STANDARD
                .decode(s)
                .map_err(|_| malformed(&format!("its {what} is not base64")))
        };
        let salt = b64("salt", &envelope.kdf.salt)?;
        let nonce = b64("nonce", &envelope.cipher.nonce)?;
        let sealed = b64("ciphertext", &envelope.ciphertext)?;
        if nonce.len() != 24 || sealed.len() < 16 {
            return Err(malformed("its nonce or ciphertext is too short"));
        }
        let box_key = scrypt_key(password.as_bytes(), &salt, set);
        let cipher = XSalsa20Poly1305::new(box_key.as_ref().into());
        let (tag, body) = sealed.split_at(16);
        let mut der = Zeroizing::new(body.to_vec());
        cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                b"",
                &mut der,
                Tag::from_slice(tag),
            )
            .map_err(|_| KeyError::Password { path: path.into() })?;
        let key = SigningKey::from_pkcs8_der(&der).map_err(|e| KeyError::NotP256 {
            path: path.into(),
            why: e.to_string(),
        })?;
        Ok(Self { key })
    }
}

impl PublicKey {
    /// The key as a `PUBLIC KEY` PEM file.
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .expect("a P-256 key always encodes as PKIX")
    }

    pub fn read(path: &Path) -> Result<Self, KeyError> {
        Self::from_pem(&read_small(path)?, path)
    }

    /// Parses a PKIX public key; `path` names it in errors.
    pub fn from_pem(text: &str, path: &Path) -> Result<Self, KeyError> {
        let (label, _) = unpem(text).ok_or_else(|| KeyError::NotPem { path: path.into() })?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::Label {
                path: path.into(),
                found: label,
                wanted: "a public key",
            });
        }
        let key =
            VerifyingKey::from_public_key_pem(text.trim()).map_err(|e| KeyError::NotP256 {
                path: path.into(),
                why: e.to_string(),
            })?;
        Ok(Self { key })
    }

    /// Whether `signature` (ASN.1 DER, or the raw 64 bytes) is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let sig = Signature::from_der(signature).or_else(|_| Signature::from_slice(signature));
        sig.is_ok_and(|s| self.key.verify(message, &s).is_ok())
    }
}

/// A key file's text; a file past 64 KiB is no key, and is not read into memory.
fn read_small(path: &Path) -> Result<String, KeyError> {
    use std::io::Read;
    let fail = |source| KeyError::Read {
        path: path.into(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(fail)?
        .take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(fail)?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(KeyError::Malformed {
            path: path.into(),
            why: format!("it is larger than {} KiB", MAX_KEY_FILE >> 10),
        });
    }
    Ok(text)
}

/// Writes `PREFIX.key` (encrypted with `password`) and `PREFIX.pub`, refusing to overwrite
/// either; returns their paths.
pub fn keygen(prefix: &Path, password: &str) -> Result<(PathBuf, PathBuf), KeyError> {
    let with = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    let (private, public) = (with(".key"), with(".pub"));
    for path in [&private, &public] {
        if path.exists() {
            return Err(KeyError::Exists { path: path.clone() });
        }
    }
    let key = PrivateKey::generate();
    write_new(&private, key.to_pem(password).as_bytes(), 0o600)?;
    write_new(&public, key.public().to_pem().as_bytes(), 0o644)?;
    Ok((private, public))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |source| KeyError::Write {
        path: path.into(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(fail)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(fail)
}

fn pem(label: &str, body: &[u8]) -> String {
    let b64 = STANDARD.encode(body);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The label and body of the first PEM block of `text`.
fn unpem(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let end = rest.find(&end_marker)?;
    let b64: String = rest
        .get(body_start..end)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Some((label.to_owned(), STANDARD.decode(b64).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("test.key")
    }

    #[test]
    fn round_trip_signs_and_verifies() {
        let key = PrivateKey::generate();
        let pem = key.to_pem("s3cret");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
        let back = PrivateKey::from_pem(&pem, "s3cret", path()).unwrap();
        let public = PublicKey::from_pem(&key.public().to_pem(), path()).unwrap();
        let sig = back.sign(b"payload");
        assert!(public.verifies(b"payload", &sig));
        assert!(!public.verifies(b"payloaD", &sig));
        let other = PrivateKey::generate().public();
        assert!(!other.verifies(b"payload", &sig));
    }

    #[test]
    fn empty_password_works_and_a_wrong_one_is_named() {
        let pem = PrivateKey::generate().to_pem("");
        assert!(PrivateKey::from_pem(&pem, "", path()).is_ok());
        assert!(matches!(
            PrivateKey::from_pem(&pem, "x", path()),
            Err(KeyError::Password { .. })
        ));
    }

    #[test]
    fn the_sigstore_label_is_read_too() {
        let pem = PrivateKey::generate()
            .to_pem("")
            .replace(COSIGN_PEM, SIGSTORE_PEM);
        assert!(PrivateKey::from_pem(&pem, "", path()).is_ok());
    }

    #[test]
    fn costly_scrypt_parameters_are_refused_before_any_work() {
        let pem = PrivateKey::generate().to_pem("");
        let (_, body) = unpem(&pem).unwrap();
        let json = String::from_utf8(body)
            .unwrap()
            .replace("\"N\":32768", "\"N\":1073741824");
        let err = PrivateKey::from_pem(&super::pem(COSIGN_PEM, json.as_bytes()), "", path())
            .err()
            .unwrap();
        assert!(
            matches!(err, KeyError::Scrypt { n: 1073741824, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_public_key_is_not_a_private_one() {
        let public = PrivateKey::generate().public().to_pem();
        let err = PrivateKey::from_pem(&public, "", path()).err().unwrap();
        assert_eq!(
            err.to_string(),
            "The key test.key holds a `PUBLIC KEY` block, not an encrypted private key"
        );
        assert!(matches!(
            PrivateKey::from_pem("garbage", "", path()),
            Err(KeyError::NotPem { .. })
        ));
    }

    #[test]
    fn a_flipped_ciphertext_byte_fails_to_decrypt() {
        let pem = PrivateKey::generate().to_pem("");
        let (_, body) = unpem(&pem).unwrap();
        let mut env: Encrypted = serde_json::from_slice(&body).unwrap();
        let mut ct = STANDARD.decode(&env.ciphertext).unwrap();
        ct[20] ^= 1;
        env.ciphertext = STANDARD.encode(ct);
        let pem = super::pem(COSIGN_PEM, &serde_json::to_vec(&env).unwrap());
        assert!(matches!(
            PrivateKey::from_pem(&pem, "", path()),
            Err(KeyError::Password { .. })
        ));
    }

    #[test]
    fn a_huge_key_file_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.key");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(1 << 30).unwrap();
        let err = PrivateKey::read(&path, "").err().unwrap();
        assert!(err.to_string().contains("larger than 64 KiB"), "{err}");
        assert!(PublicKey::read(&path).is_err());
    }

    #[test]
    fn keygen_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("k");
        let (private, public) = keygen(&prefix, "pw").unwrap();
        let key = PrivateKey::read(&private, "pw").unwrap();
        assert_eq!(PublicKey::read(&public).unwrap(), key.public());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the private key is readable by others");
        assert!(matches!(
            keygen(&prefix, "pw"),
            Err(KeyError::Exists { .. })
        ));
    }
}
