//! Java's `cacerts` trust store, built natively from the same certificates as the CA bundle.
//!
//! Debian's ca-certificates-java builds `/etc/ssl/certs/java/cacerts` in its postinst by
//! running Java itself; distill cannot run the image's JVM (nor should it need qemu for
//! another architecture), so it writes the keystore directly, in the JKS format that every
//! JDK reads (`keystore.type.compat` lets the default PKCS12 type read it too): magic, version
//! 2, then one trusted-certificate entry per CA, then a SHA-1 over the password-keyed
//! contents. A trust store holds no secrets, which is why its password is the well-known
//! `changeit`, and why this keyed hash is an integrity check only.

use sha1::{Digest, Sha1};

/// Where Debian's JREs look for their trust store (`lib/security/cacerts` links here).
pub const PATH: &str = "etc/ssl/certs/java/cacerts";

const MAGIC: u32 = 0xFEED_FEED;
const VERSION: u32 = 2;
const TRUSTED_CERT: u32 = 2;
const PASSWORD: &str = "changeit";

/// A trust store of `certs`, `(alias, DER)`, with every entry dated `epoch` (seconds).
/// Aliases are lowercased (JKS compares them case-insensitively) and written sorted, so the
/// same certificates always give the same bytes.
pub(crate) fn keystore(certs: &[(String, Vec<u8>)], epoch: u64) -> Vec<u8> {
    let mut sorted: Vec<(String, &[u8])> = certs
        .iter()
        .map(|(a, der)| (a.to_lowercase(), der.as_slice()))
        .collect();
    sorted.sort();
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_be_bytes());
    for (alias, der) in &sorted {
        out.extend_from_slice(&TRUSTED_CERT.to_be_bytes());
        utf(&mut out, alias);
        out.extend_from_slice(&epoch.saturating_mul(1000).to_be_bytes());
        utf(&mut out, "X.509");
        out.extend_from_slice(&(der.len() as u32).to_be_bytes());
        out.extend_from_slice(der);
    }
    let mut h = Sha1::new();
    for unit in PASSWORD.encode_utf16() {
        h.update(unit.to_be_bytes());
    }
    h.update(b"Mighty Aphrodite");
    h.update(&out);
    out.extend_from_slice(&h.finalize());
    out
}

/// Java's `writeUTF`: a u16 length, then the bytes. Aliases here are ASCII file names, for
/// which modified UTF-8 is plain UTF-8; longer ones are cut, as no real alias is.
fn utf(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

/// The DER certificates in a PEM text, in order.
pub(crate) fn der_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .map(|c| c.as_ref().to_vec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystore_layout_and_integrity_hash() {
        let ks = keystore(
            &[("B".into(), vec![1, 2, 3]), ("a".into(), vec![9])],
            1_700_000_000,
        );
        assert_eq!(&ks[..12], &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 2]);
        // The first entry is "a": tag 2, alias, date in milliseconds, type, the DER.
        assert_eq!(&ks[12..16], &[0, 0, 0, 2]);
        assert_eq!(&ks[16..19], &[0, 1, b'a']);
        assert_eq!(&ks[19..27], &1_700_000_000_000u64.to_be_bytes());
        assert_eq!(&ks[27..34], b"\x00\x05X.509");
        assert_eq!(&ks[34..39], &[0, 0, 0, 1, 9]);
        assert_eq!(&ks[39..46], &[0, 0, 0, 2, 0, 1, b'b']);
        let (body, mac) = ks.split_at(ks.len() - 20);
        let mut h = Sha1::new();
        h.update(b"\0c\0h\0a\0n\0g\0e\0i\0t");
        h.update(b"Mighty Aphrodite");
        h.update(body);
        assert_eq!(mac, h.finalize().as_slice());
        // Order of input does not matter.
        assert_eq!(
            ks,
            keystore(
                &[("a".into(), vec![9]), ("B".into(), vec![1, 2, 3])],
                1_700_000_000
            )
        );
    }

    #[test]
    fn pem_blocks_decode_and_other_text_is_skipped() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n# c\n-----BEGIN CERTIFICATE-----\nBAU=\n-----END CERTIFICATE-----\n";
        assert_eq!(der_certificates(pem), vec![vec![1, 2, 3], vec![4, 5]]);
        assert!(der_certificates(b"not a certificate").is_empty());
    }
}
