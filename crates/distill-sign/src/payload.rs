//! What gets signed: simple signing payloads for images, DSSE envelopes for attestations.
//!
//! - Simple signing is the payload cosign signs and containers/image verifies with a
//!   `sigstoreSigned` policy: `{"critical": {"identity": {"docker-reference"}, "image":
//!   {"docker-manifest-digest"}, "type": "cosign container image signature"}, "optional"}`.
//!   containers/image refuses any other field in `critical`, so the parser does too.
//! - DSSE (Dead Simple Signing Envelope, v1) signs `PAE(type, body)` =
//!   `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in decimal.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::key::{PrivateKey, PublicKey};

/// The `critical.type` of a simple signing payload.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// The media type of a simple signing payload blob.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation that carries a payload's signature, base64.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The payload type of in-toto statements in DSSE.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The media type of a DSSE envelope blob.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PayloadError {
    #[error("The signed payload is not a simple signing payload: {why}")]
    #[diagnostic(help("the signature was not made for a container image; sign the image again"))]
    NotSimpleSigning { why: String },
    #[error("The envelope is not DSSE: {why}")]
    #[diagnostic(help("the attestation is corrupted; attach it again"))]
    NotDsse { why: String },
}

/// What a simple signing payload claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    /// The repository the image was pushed to, `registry/name`.
    pub docker_reference: String,
    /// `sha256:…` of the image's manifest (or index).
    pub manifest_digest: String,
}

impl SimpleSigning {
    /// The payload's bytes, as signed. `optional` is null: a creator or a timestamp would
    /// make the same image's signature differ between runs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = json!({
            "critical": {
                "identity": {"docker-reference": self.docker_reference},
                "image": {"docker-manifest-digest": self.manifest_digest},
                "type": SIMPLE_SIGNING_TYPE,
            },
            "optional": null,
        });
        serde_json::to_vec(&v).expect("JSON values serialize")
    }

    /// Parses a payload as strictly as containers/image does.
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        let bad = |why: &str| PayloadError::NotSimpleSigning { why: why.into() };
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
        let top = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
        if top.keys().any(|k| k != "critical" && k != "optional") || !top.contains_key("critical") {
            return Err(bad("its fields are not exactly `critical` and `optional`"));
        }
        let critical = top["critical"]
            .as_object()
            .ok_or_else(|| bad("`critical` is not an object"))?;
        let mut keys: Vec<&str> = critical.keys().map(String::as_str).collect();
        keys.sort_unstable();
        if keys != ["identity", "image", "type"] {
            return Err(bad(
                "`critical` has other fields than identity, image and type",
            ));
        }
        if critical["type"] != SIMPLE_SIGNING_TYPE {
            return Err(bad(&format!("its type is {}", critical["type"])));
        }
        let field = |obj: &Value, key: &str| {
            obj.as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("it has no single `{key}`")))
        };
        Ok(Self {
            docker_reference: field(&critical["identity"], "docker-reference")?,
            manifest_digest: field(&critical["image"], "docker-manifest-digest")?,
        })
    }
}

/// The DSSE pre-authentication encoding of `body` as `payload_type`.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub payload_type: String,
    /// The body, base64.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    #[serde(default)]
    pub keyid: String,
    /// base64 of the ASN.1 DER signature over the PAE.
    pub sig: String,
}

impl Envelope {
    /// Signs `body` as `payload_type` with `key`.
    pub fn sign(payload_type: &str, body: &[u8], key: &PrivateKey) -> Self {
        let sig = key.sign(&pae(payload_type, body));
        Self {
            payload_type: payload_type.into(),
            payload: STANDARD.encode(body),
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig: STANDARD.encode(sig),
            }],
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        serde_json::from_slice(bytes).map_err(|e| PayloadError::NotDsse { why: e.to_string() })
    }

    /// The body, when one of the signatures is `key`'s over it; `None` when none is.
    pub fn verified_body(&self, key: &PublicKey) -> Result<Option<Vec<u8>>, PayloadError> {
        let body = STANDARD
            .decode(&self.payload)
            .map_err(|_| PayloadError::NotDsse {
                why: "its payload is not base64".into(),
            })?;
        let message = pae(&self.payload_type, &body);
        let signed = self.signatures.iter().any(|s| {
            STANDARD
                .decode(&s.sig)
                .is_ok_and(|sig| key.verifies(&message, &sig))
        });
        Ok(signed.then_some(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        // The example of the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn simple_signing_round_trips_and_is_strict() {
        let s = SimpleSigning {
            docker_reference: "127.0.0.1:5000/app".into(),
            manifest_digest: "sha256:ab".into(),
        };
        assert_eq!(SimpleSigning::parse(&s.to_bytes()).unwrap(), s);
        let extra = br#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature","x":1},"optional":null}"#;
        assert!(SimpleSigning::parse(extra).is_err());
        let other = br#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"atomic container signature"},"optional":{}}"#;
        assert!(SimpleSigning::parse(other).is_err());
        let with_optional = br#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":{"creator":"x","timestamp":1}}"#;
        assert!(SimpleSigning::parse(with_optional).is_ok());
    }

    #[test]
    fn envelopes_verify_only_with_their_key_and_bytes() {
        let key = PrivateKey::generate();
        let env = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}", &key);
        let json = serde_json::to_vec(&env).unwrap();
        let back = Envelope::parse(&json).unwrap();
        assert_eq!(
            back.verified_body(&key.public()).unwrap(),
            Some(b"{\"a\":1}".to_vec())
        );
        assert_eq!(
            back.verified_body(&PrivateKey::generate().public())
                .unwrap(),
            None
        );
        let mut tampered = back.clone();
        tampered.payload = STANDARD.encode(b"{\"a\":2}");
        assert_eq!(tampered.verified_body(&key.public()).unwrap(), None);
        let mut retyped = back;
        retyped.payload_type = "text/plain".into();
        assert_eq!(retyped.verified_body(&key.public()).unwrap(), None);
    }
}
