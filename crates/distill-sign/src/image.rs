//! Signing an image in a registry and checking what is attached to it.
//!
//! - The signature: a simple signing payload naming the repository pushed to (without a tag,
//!   as cosign writes it) and the image digest, signed with the key and attached at
//!   `sha256-<hex>.sig` in cosign's layout, which containers/image verifies with a
//!   `sigstoreSigned` policy (`signedIdentity` `matchRepository`, since the identity names
//!   the repository).
//! - Attestations: an in-toto Statement v1 per document (SBOMs, provenance), its subject the
//!   image, in a DSSE envelope signed with the same key, attached as an OCI artifact whose
//!   `subject` is the image.
//!
//! [`attachments`] makes them for a push; [`read`] fetches them back and [`Attached::verify`]
//! checks every one against a public key, naming what failed.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use distill_oci::Digest;
use distill_oci::registry::Client;
use distill_oci::registry::attach::{self, Attachment};
use serde_json::{Value, json};

use crate::key::{PrivateKey, PublicKey};
use crate::payload::{
    DSSE_MEDIA_TYPE, Envelope, IN_TOTO_PAYLOAD_TYPE, SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE, SimpleSigning,
};

/// The in-toto Statement v1 type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The artifact type of attestations, and the annotation naming their predicate type.
pub const ATTESTATION_TYPE: &str = IN_TOTO_PAYLOAD_TYPE;
pub const PREDICATE_ANNOTATION: &str = "in-toto.io/predicate-type";

/// A document to attest: its predicate type and the predicate.
#[derive(Debug, Clone)]
pub struct Predicate {
    pub predicate_type: String,
    pub predicate: Value,
}

/// The image a push signs: its repository (`host/name`) and its root descriptor.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub repository: String,
    pub media_type: &'a str,
    pub digest: &'a Digest,
    pub size: u64,
}

/// The statement of `predicate` about `subject`.
pub fn statement(subject: &Subject, predicate: &Predicate) -> Value {
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject.repository, "digest": {"sha256": subject.digest.hex()}}],
        "predicateType": predicate.predicate_type,
        "predicate": predicate.predicate,
    })
}

/// The signature and one attestation per predicate, signed with `key`.
pub fn attachments(
    key: &PrivateKey,
    subject: &Subject,
    predicates: &[Predicate],
) -> Vec<Attachment> {
    let payload = SimpleSigning {
        docker_reference: subject.repository.clone(),
        manifest_digest: subject.digest.to_string(),
    }
    .to_bytes();
    let sig = STANDARD.encode(key.sign(&payload));
    let annotations = BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), sig)]);
    let mut out = vec![Attachment::signatures(
        subject.digest,
        &[(payload, annotations)],
    )];
    for p in predicates {
        let body = serde_json::to_vec(&statement(subject, p)).expect("JSON values serialize");
        let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, &body, key);
        let bytes = serde_json::to_vec(&envelope).expect("JSON values serialize");
        let mut a = Attachment::artifact(
            (subject.media_type, subject.digest, subject.size),
            ATTESTATION_TYPE,
            DSSE_MEDIA_TYPE,
            bytes,
            BTreeMap::from([(PREDICATE_ANNOTATION.to_owned(), p.predicate_type.clone())]),
        );
        a.what = format!("attestation {}", p.predicate_type);
        out.push(a);
    }
    out
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum VerifyError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Registry(#[from] distill_oci::registry::RegistryError),
    #[error("{image} has no signature (no {tag} in the repository)")]
    #[diagnostic(help("push it with --sign-key KEY"))]
    Unsigned { image: String, tag: String },
    #[error("No signature of {image} verifies with the key {key}: {why}")]
    #[diagnostic(help("check that --key is the public half of the key the image was signed with"))]
    Signature {
        image: String,
        key: String,
        why: String,
    },
    #[error("Attestation {artifact} ({predicate}) is corrupted: {why}")]
    #[diagnostic(help("the registry serves other bytes than were attached; push the image again"))]
    Corrupted {
        artifact: String,
        predicate: String,
        why: String,
    },
    #[error("Attestation {artifact} ({predicate}) is not signed by the key {key}")]
    #[diagnostic(help("check that --key is the public half of the key the image was signed with"))]
    Unverified {
        artifact: String,
        predicate: String,
        key: String,
    },
    #[error("Attestation {artifact} ({predicate}) is about {found}, not {image}")]
    #[diagnostic(help(
        "an attestation of another image was attached to this one; do not trust it"
    ))]
    OtherSubject {
        artifact: String,
        predicate: String,
        found: String,
        image: String,
    },
}

/// One attestation as the registry holds it.
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The artifact manifest's digest.
    pub artifact: String,
    pub predicate_type: String,
    /// The subject digest the artifact manifest names.
    pub manifest_subject: String,
    /// The envelope's bytes, as fetched (and checked against their digest).
    pub envelope: Vec<u8>,
}

impl Attestation {
    /// The statement inside the envelope, unverified.
    pub fn statement(&self) -> Option<Value> {
        let env = Envelope::parse(&self.envelope).ok()?;
        let body = STANDARD.decode(env.payload).ok()?;
        serde_json::from_slice(&body).ok()
    }
}

/// What is attached to an image: its signature layers and its attestations.
#[derive(Debug, Clone)]
pub struct Attached {
    pub image: Digest,
    pub repository: String,
    /// `(payload, base64 signature)` of each simple signing layer.
    pub signatures: Vec<(Vec<u8>, String)>,
    pub attestations: Vec<Attestation>,
}

/// Fetches what is attached to `image` in the client's repository.
pub fn read(client: &Client, image: &Digest) -> Result<Attached, VerifyError> {
    let reference = client.reference();
    let mut signatures = Vec::new();
    if let Some((manifest, layers)) = attach::fetch_artifact(client, &attach::signature_tag(image))?
    {
        for (desc, bytes) in manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(layers)
        {
            if desc["mediaType"] == SIMPLE_SIGNING_MEDIA_TYPE
                && let Some(sig) = desc["annotations"][SIGNATURE_ANNOTATION].as_str()
            {
                signatures.push((bytes, sig.to_owned()));
            }
        }
    }
    let mut attestations = Vec::new();
    for desc in attach::referrers(client, image)? {
        if desc["artifactType"] != ATTESTATION_TYPE {
            continue;
        }
        let artifact = desc["digest"].as_str().unwrap_or_default().to_owned();
        let predicate_type = desc["annotations"][PREDICATE_ANNOTATION]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some((manifest, mut layers)) = attach::fetch_artifact(client, &artifact)? else {
            continue;
        };
        attestations.push(Attestation {
            manifest_subject: manifest["subject"]["digest"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            envelope: if layers.is_empty() {
                Vec::new()
            } else {
                layers.remove(0)
            },
            artifact,
            predicate_type,
        });
    }
    Ok(Attached {
        image: image.clone(),
        repository: format!("{}/{}", reference.host, reference.repository),
        signatures,
        attestations,
    })
}

/// The repository a signed identity names, without its tag or digest: other signers
/// (sigstore-rs) write the reference as it was given, `host/name:tag`, and containers/image's
/// `matchRepository` compares repositories.
fn repository_of(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    let name_start = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[name_start..].find(':') {
        Some(i) => &no_digest[..name_start + i],
        None => no_digest,
    }
}

impl Attached {
    /// Checks the signature and every attestation against `key` (named `key_name` in
    /// errors); returns how many signatures verified.
    pub fn verify(&self, key: &PublicKey, key_name: &str) -> Result<usize, VerifyError> {
        let image = self.image.to_string();
        if self.signatures.is_empty() {
            return Err(VerifyError::Unsigned {
                image,
                tag: attach::signature_tag(&self.image),
            });
        }
        let mut why = String::from("the signature does not match");
        let mut good = 0;
        for (payload, sig) in &self.signatures {
            let Ok(raw) = STANDARD.decode(sig) else {
                why = "a signature is not base64".into();
                continue;
            };
            if !key.verifies(payload, &raw) {
                continue;
            }
            match SimpleSigning::parse(payload) {
                Ok(p) if p.manifest_digest != image => {
                    why = format!("the signature is for {}", p.manifest_digest);
                }
                Ok(p) if repository_of(&p.docker_reference) != self.repository => {
                    why = format!("the signature names {}", p.docker_reference);
                }
                Ok(_) => good += 1,
                Err(e) => why = e.to_string(),
            }
        }
        if good == 0 {
            return Err(VerifyError::Signature {
                image,
                key: key_name.into(),
                why,
            });
        }
        for a in &self.attestations {
            self.verify_attestation(a, key, key_name)?;
        }
        Ok(good)
    }

    fn verify_attestation(
        &self,
        a: &Attestation,
        key: &PublicKey,
        key_name: &str,
    ) -> Result<(), VerifyError> {
        let image = self.image.to_string();
        let other = |found: String| VerifyError::OtherSubject {
            artifact: a.artifact.clone(),
            predicate: a.predicate_type.clone(),
            found,
            image: image.clone(),
        };
        if a.manifest_subject != image {
            return Err(other(a.manifest_subject.clone()));
        }
        let corrupted = |why: String| VerifyError::Corrupted {
            artifact: a.artifact.clone(),
            predicate: a.predicate_type.clone(),
            why,
        };
        let env = Envelope::parse(&a.envelope).map_err(|e| corrupted(e.to_string()))?;
        if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(corrupted(format!(
                "its payload type is {}",
                env.payload_type
            )));
        }
        let body = env
            .verified_body(key)
            .map_err(|e| corrupted(e.to_string()))?
            .ok_or_else(|| VerifyError::Unverified {
                artifact: a.artifact.clone(),
                predicate: a.predicate_type.clone(),
                key: key_name.into(),
            })?;
        let statement: Value = serde_json::from_slice(&body)
            .map_err(|e| corrupted(format!("the statement is not JSON: {e}")))?;
        let subjects: Vec<&str> = statement["subject"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["digest"]["sha256"].as_str())
            .collect();
        if !subjects.contains(&self.image.hex()) {
            return Err(other(format!("sha256:{}", subjects.join(", sha256:"))));
        }
        if statement["predicateType"] != a.predicate_type.as_str() {
            return Err(corrupted(format!(
                "the statement's predicate type is {}",
                statement["predicateType"]
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a registry would hand back for `attachments`, without a registry.
    fn attached(image: &Digest, repository: &str, list: &[Attachment]) -> Attached {
        let sig: Value = serde_json::from_slice(&list[0].manifest).unwrap();
        let annotation = sig["layers"][0]["annotations"][SIGNATURE_ANNOTATION]
            .as_str()
            .unwrap()
            .to_owned();
        let attestations = list[1..]
            .iter()
            .map(|a| {
                let m: Value = serde_json::from_slice(&a.manifest).unwrap();
                Attestation {
                    artifact: Digest::of(&a.manifest).to_string(),
                    predicate_type: m["annotations"][PREDICATE_ANNOTATION]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    manifest_subject: m["subject"]["digest"].as_str().unwrap().to_owned(),
                    envelope: a.blobs[1].clone(),
                }
            })
            .collect();
        Attached {
            image: image.clone(),
            repository: repository.into(),
            signatures: vec![(list[0].blobs[1].clone(), annotation)],
            attestations,
        }
    }

    fn setup() -> (PrivateKey, Digest, Vec<Attachment>) {
        let key = PrivateKey::generate();
        let image = Digest::of(b"manifest");
        let subject = Subject {
            repository: "127.0.0.1:5000/app".into(),
            media_type: "application/vnd.oci.image.manifest.v1+json",
            digest: &image,
            size: 8,
        };
        let preds = [Predicate {
            predicate_type: "https://slsa.dev/provenance/v1".into(),
            predicate: json!({"x": 1}),
        }];
        let list = attachments(&key, &subject, &preds);
        (key, image, list)
    }

    #[test]
    fn identities_compare_by_repository() {
        assert_eq!(
            repository_of("127.0.0.1:5000/a/app:v2"),
            "127.0.0.1:5000/a/app"
        );
        assert_eq!(
            repository_of("127.0.0.1:5000/app@sha256:00"),
            "127.0.0.1:5000/app"
        );
        assert_eq!(repository_of("127.0.0.1:5000/app"), "127.0.0.1:5000/app");
    }

    #[test]
    fn what_is_attached_verifies_with_its_key_only() {
        let (key, image, list) = setup();
        let a = attached(&image, "127.0.0.1:5000/app", &list);
        assert_eq!(a.verify(&key.public(), "k.pub").unwrap(), 1);
        let other = PrivateKey::generate().public();
        assert!(matches!(
            a.verify(&other, "o.pub"),
            Err(VerifyError::Signature { .. })
        ));
        // Another repository's name in the payload is refused.
        let moved = attached(&image, "127.0.0.1:5000/elsewhere", &list);
        let e = moved.verify(&key.public(), "k.pub").unwrap_err();
        assert!(e.to_string().contains("names 127.0.0.1:5000/app"), "{e}");
    }

    #[test]
    fn a_flipped_envelope_or_another_subject_fails_naming_the_artifact() {
        let (key, image, list) = setup();
        let mut a = attached(&image, "127.0.0.1:5000/app", &list);
        let mut env: Value = serde_json::from_slice(&a.attestations[0].envelope).unwrap();
        let mut body = STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
        body[10] ^= 1;
        env["payload"] = json!(STANDARD.encode(&body));
        a.attestations[0].envelope = serde_json::to_vec(&env).unwrap();
        let e = a.verify(&key.public(), "k.pub").unwrap_err();
        assert!(matches!(e, VerifyError::Unverified { .. }), "{e}");
        assert!(e.to_string().contains(&a.attestations[0].artifact));

        let mut a = attached(&image, "127.0.0.1:5000/app", &list);
        a.attestations[0].manifest_subject = Digest::of(b"other").to_string();
        let e = a.verify(&key.public(), "k.pub").unwrap_err();
        assert!(matches!(e, VerifyError::OtherSubject { .. }), "{e}");

        let mut a = attached(&image, "127.0.0.1:5000/app", &list);
        a.attestations[0].envelope = b"{not json".to_vec();
        let e = a.verify(&key.public(), "k.pub").unwrap_err();
        assert!(matches!(e, VerifyError::Corrupted { .. }), "{e}");
    }
}
