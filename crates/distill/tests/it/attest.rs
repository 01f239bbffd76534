//! Issue #13, acceptance 3, 5 and 6: a build pushed with `--sign-key` to Debian's
//! docker-registry (no referrers API, so the tag schema) carries a cosign signature and
//! signed SBOM and provenance attestations. Checked here by independent means where they
//! exist: openssl verifies the signature and the DSSE envelopes' signatures, podman finds
//! the signature through a `sigstoreSigned` policy, the attestations' subjects and digests
//! are read from the registry, the provenance is compared with distill.lock. Then the
//! failures: another key, a flipped byte in an envelope, the tag moved to an unsigned image.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use distill_test::registry::RegistryServer;

use crate::common::distill;

const KEY_ENV: (&str, &str) = ("DISTILL_KEY_PASSWORD", "");

fn keygen(dir: &Path, prefix: &str) {
    let o = distill()
        .current_dir(dir)
        .env(KEY_ENV.0, KEY_ENV.1)
        .args(["keygen", prefix])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn run(args: &[&str]) -> std::process::Output {
    distill()
        .env(KEY_ENV.0, KEY_ENV.1)
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `openssl dgst -sha256 -verify PUB -signature SIG MESSAGE` succeeds.
fn openssl_verifies(dir: &Path, public: &Path, message: &[u8], der: &[u8]) -> bool {
    let (m, s) = (dir.join("message"), dir.join("sig.der"));
    std::fs::write(&m, message).unwrap();
    std::fs::write(&s, der).unwrap();
    distill_test::tools::require("openssl");
    Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public)
        .arg("-signature")
        .arg(&s)
        .arg(&m)
        .output()
        .unwrap()
        .status
        .success()
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// podman's pull of `image` under a policy requiring a sigstore signature by `public`.
fn podman_pull(dir: &Path, reg: &RegistryServer, public: &Path, image: &str) -> (bool, String) {
    let home = dir.join("home");
    let registries_d = home.join(".config/containers/registries.d");
    std::fs::create_dir_all(&registries_d).unwrap();
    std::fs::write(
        registries_d.join("test.yaml"),
        format!(
            "docker:\n  {}:\n    use-sigstore-attachments: true\n",
            reg.addr
        ),
    )
    .unwrap();
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        serde_json::json!({
            "default": [{"type": "insecureAcceptAnything"}],
            "transports": {"docker": {reg.addr.clone(): [{
                "type": "sigstoreSigned",
                "keyPath": public,
                "signedIdentity": {"type": "matchRepository"},
            }]}},
        })
        .to_string(),
    )
    .unwrap();
    let podman = distill_test::Podman::new();
    let o = podman
        .cmd()
        .env("HOME", &home)
        .args(["pull", "--tls-verify=false", "--signature-policy"])
        .arg(&policy)
        .arg(format!("docker://{}/{image}", reg.addr))
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The base image and the app built on it, pushed signed; returns the app's digest.
fn push_signed(reg: &RegistryServer, dir: &Path) -> (tempfile::TempDir, String) {
    let base = tempfile::tempdir().unwrap();
    std::fs::write(
        base.path().join("distill.toml"),
        "[image]\nbase = \"static\"\n",
    )
    .unwrap();
    ok(&[
        "build",
        base.path().to_str().unwrap(),
        "-q",
        "-o",
        &format!("docker://{}/base:1", reg.addr),
    ]);
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("app.txt"), "app\n").unwrap();
    std::fs::write(
        app.path().join("distill.toml"),
        format!(
            "[image]\nbase = \"docker://{}/base:1\"\n\n[packages]\ninclude = [\"netbase\"]\n\n[[files]]\nsrc = \"app.txt\"\ndst = \"/app/app.txt\"\n",
            reg.addr
        ),
    )
    .unwrap();
    ok(&["lock", app.path().to_str().unwrap()]);
    let key = dir.join("k.key");
    let digest = ok(&[
        "build",
        app.path().to_str().unwrap(),
        "--locked",
        "-q",
        "--sign-key",
        key.to_str().unwrap(),
        "--sbom",
        dir.join("sbom").to_str().unwrap(),
        "-o",
        &format!("docker://{}/app:1", reg.addr),
    ]);
    (app, digest.trim().to_owned())
}

fn check_signature(reg: &RegistryServer, dir: &Path, digest: &str) {
    let sig_tag = digest.replace(':', "-") + ".sig";
    let manifest: serde_json::Value = serde_json::from_slice(&reg.get(
        &format!("/v2/app/manifests/{sig_tag}"),
        "application/vnd.oci.image.manifest.v1+json",
    ))
    .unwrap();
    let layer = &manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let payload = reg.get(
        &format!("/v2/app/blobs/{}", layer["digest"].as_str().unwrap()),
        "*/*",
    );
    let claim: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claim["critical"]["image"]["docker-manifest-digest"], digest);
    assert_eq!(
        claim["critical"]["identity"]["docker-reference"],
        format!("{}/app", reg.addr).as_str()
    );
    let sig = b64(layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap());
    assert!(openssl_verifies(dir, &dir.join("k.pub"), &payload, &sig));
    assert!(!openssl_verifies(dir, &dir.join("o.pub"), &payload, &sig));
}

/// `distill attestations --json`, each line checked against the registry and the key.
fn check_attestations(reg: &RegistryServer, dir: &Path, digest: &str) -> Vec<serde_json::Value> {
    let lines: Vec<serde_json::Value> = ok(&[
        "attestations",
        "--json",
        &format!("docker://{}/app:1", reg.addr),
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    let mut types: Vec<&str> = lines
        .iter()
        .map(|l| l["predicate_type"].as_str().unwrap())
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "https://cyclonedx.org/bom",
            "https://slsa.dev/provenance/v1",
            "https://spdx.dev/Document"
        ]
    );
    // The tag schema's index lists exactly these artifacts.
    let index: serde_json::Value = serde_json::from_slice(&reg.get(
        &format!("/v2/app/manifests/{}", digest.replace(':', "-")),
        "application/vnd.oci.image.index.v1+json",
    ))
    .unwrap();
    let listed: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    for l in &lines {
        assert_eq!(l["subject"], digest);
        assert_eq!(
            l["statement"]["subject"][0]["digest"]["sha256"],
            &digest[7..]
        );
        let artifact = l["artifact"].as_str().unwrap();
        assert!(listed.contains(&artifact), "{artifact} not in {listed:?}");
        let manifest: serde_json::Value = serde_json::from_slice(&reg.get(
            &format!("/v2/app/manifests/{artifact}"),
            "application/vnd.oci.image.manifest.v1+json",
        ))
        .unwrap();
        assert_eq!(manifest["subject"]["digest"], digest);
        let envelope: serde_json::Value = serde_json::from_slice(&reg.get(
            &format!(
                "/v2/app/blobs/{}",
                manifest["layers"][0]["digest"].as_str().unwrap()
            ),
            "*/*",
        ))
        .unwrap();
        let body = b64(envelope["payload"].as_str().unwrap());
        let pae = [
            format!("DSSEv1 28 application/vnd.in-toto+json {} ", body.len()).into_bytes(),
            body.clone(),
        ]
        .concat();
        let sig = b64(envelope["signatures"][0]["sig"].as_str().unwrap());
        assert!(openssl_verifies(dir, &dir.join("k.pub"), &pae, &sig));
        let statement: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(statement, l["statement"]);
    }
    // The attached SBOMs are the ones `build --sbom` wrote.
    let spdx = lines
        .iter()
        .find(|l| l["predicate_type"] == "https://spdx.dev/Document")
        .unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sbom/sbom.spdx.json")).unwrap()).unwrap();
    assert_eq!(spdx["statement"]["predicate"], written);
    lines
}

/// Every .deb of distill.lock with its sha256, and the base image by digest.
fn check_provenance(lines: &[serde_json::Value], app: &Path) {
    let provenance = lines
        .iter()
        .find(|l| l["predicate_type"] == "https://slsa.dev/provenance/v1")
        .unwrap();
    let deps = provenance["statement"]["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(app.join("distill.lock")).unwrap()).unwrap();
    let packages = lock["platform"][0]["package"].as_array().unwrap();
    assert!(!packages.is_empty());
    for p in packages {
        let (name, sha) = (p["name"].as_str().unwrap(), p["sha256"].as_str().unwrap());
        assert!(
            deps.iter()
                .any(|d| d["name"] == name && d["digest"]["sha256"] == sha),
            "{name} {sha} not in the provenance"
        );
    }
    let base = lock["base"].as_str().unwrap();
    let (_, base_digest) = base.rsplit_once('@').unwrap();
    assert!(
        deps.iter()
            .any(|d| d["uri"] == base && d["digest"]["sha256"] == base_digest[7..]),
        "the base {base} is not in the provenance"
    );
}

#[test]
fn a_signed_push_carries_a_signature_sboms_and_provenance_that_verify() {
    let reg = RegistryServer::plain();
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "k");
    keygen(dir.path(), "o");
    let (app, digest) = push_signed(&reg, dir.path());
    let image = format!("docker://{}/app:1", reg.addr);
    let (k, o) = (dir.path().join("k.pub"), dir.path().join("o.pub"));

    assert_eq!(
        ok(&["verify", &image, "--key", k.to_str().unwrap()]).trim(),
        digest
    );
    let wrong = run(&["verify", &image, "--key", o.to_str().unwrap()]);
    assert_eq!(wrong.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("verifies with the key") && stderr.contains("o.pub"),
        "{stderr}"
    );
    check_signature(&reg, dir.path(), &digest);
    let lines = check_attestations(&reg, dir.path(), &digest);
    check_provenance(&lines, app.path());

    // podman reads the signature through the policy: an unsigned image has none, this one
    // has ours. Debian's podman is built with sigstore verification disabled, so what it
    // says about a signature it found is that, not acceptance.
    let (pulled, why) = podman_pull(dir.path(), &reg, &k, "app:1");
    assert!(
        pulled || why.contains("Debian-local change: sigstore disabled"),
        "{why}"
    );
    assert!(!why.contains("no signature exists"), "{why}");

    // A flipped byte in the stored SPDX envelope: verify names the artifact's blob.
    let spdx = lines
        .iter()
        .find(|l| l["predicate_type"] == "https://spdx.dev/Document")
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&reg.get(
        &format!("/v2/app/manifests/{}", spdx["artifact"].as_str().unwrap()),
        "application/vnd.oci.image.manifest.v1+json",
    ))
    .unwrap();
    let blob = manifest["layers"][0]["digest"].as_str().unwrap()[7..].to_owned();
    let data = reg
        .storage()
        .join(format!("blobs/sha256/{}/{blob}/data", &blob[..2]));
    let mut bytes = std::fs::read(&data).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(&data, bytes).unwrap();
    let flipped = run(&["verify", &image, "--key", k.to_str().unwrap()]);
    assert_eq!(flipped.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&flipped.stderr);
    assert!(stderr.contains(&blob), "{stderr}");

    // The tag moved to an unsigned image: verify and podman both refuse it.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("distill.toml"),
        "[image]\nbase = \"static\"\nenv = { OTHER = \"1\" }\n",
    )
    .unwrap();
    ok(&["build", other.path().to_str().unwrap(), "-q", "-o", &image]);
    let moved = run(&["verify", &image, "--key", k.to_str().unwrap()]);
    assert_eq!(moved.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&moved.stderr);
    assert!(stderr.contains("has no signature"), "{stderr}");
    let (pulled, why) = podman_pull(dir.path(), &reg, &k, "app:1");
    assert!(!pulled && why.contains("no signature exists"), "{why}");
}

/// A context building the static member, with the key pair `k` beside it.
fn static_with_key() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "k");
    std::fs::write(
        dir.path().join("distill.toml"),
        "[image]\nbase = \"static\"\n",
    )
    .unwrap();
    dir
}

#[test]
fn sign_key_without_a_registry_output_is_refused_before_any_work() {
    let dir = static_with_key();
    let o = run(&[
        "build",
        dir.path().to_str().unwrap(),
        "--sign-key",
        dir.path().join("k.key").to_str().unwrap(),
        "-o",
        &format!("oci:{}", dir.path().join("out").display()),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no docker:// output"));
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_registry_refusing_artifacts_fails_the_push_and_leaves_no_tag() {
    use distill_test::registry::{FaultProxy, Faults};
    let reg = RegistryServer::plain();
    let proxy = FaultProxy::start(
        &reg.addr,
        Faults {
            refuse_artifacts: true,
            ..Faults::default()
        },
    );
    let dir = static_with_key();
    let layout = format!("oci:{}:v1", dir.path().join("image").display());
    let digest = ok(&["build", dir.path().to_str().unwrap(), "-q", "-o", &layout]);
    let o = run(&[
        "push",
        "--sign-key",
        dir.path().join("k.key").to_str().unwrap(),
        &layout,
        &format!("docker://{}/app:1", proxy.addr),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("refused the attestation") && stderr.contains("MANIFEST_INVALID"),
        "{stderr}"
    );
    let accept = "application/vnd.oci.image.manifest.v1+json";
    assert_eq!(
        reg.request("/v2/app/manifests/1", accept).0,
        404,
        "the tag was pushed"
    );
    // The image itself is there by digest, complete: nothing points at missing content.
    assert_eq!(
        reg.request(&format!("/v2/app/manifests/{}", digest.trim()), accept)
            .0,
        200
    );
}

/// sigstore-rs, cosign's Rust implementation, on a plain-HTTP registry.
mod sigstore_rs {
    use sigstore::cosign::constraint::PrivateKeySigner;
    use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
    use sigstore::cosign::{Constraint, CosignCapabilities, SignatureLayer};
    use sigstore::crypto::SigningScheme;
    use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

    fn client() -> sigstore::cosign::Client {
        let config = ClientConfig {
            protocol: ClientProtocol::Http,
            ..Default::default()
        };
        sigstore::cosign::ClientBuilder::default()
            .with_oci_client_config(config)
            .build()
            .unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Whether some signature of `image` verifies with the public key `pem`.
    pub fn verifies(image: &str, pem: &[u8]) -> bool {
        let image: OciReference = image.parse().unwrap();
        runtime().block_on(async {
            let layers = client()
                .trusted_signature_layers(&Auth::Anonymous, &image)
                .await
                .unwrap();
            let key = PublicKeyVerifier::new(pem, &SigningScheme::ECDSA_P256_SHA256_ASN1).unwrap();
            let constraints: VerificationConstraintVec = vec![Box::new(key)];
            sigstore::cosign::verify_constraints(&layers, constraints.iter()).is_ok()
        })
    }

    /// Signs `image` with the encrypted private key `pem` and pushes the signature.
    pub fn sign(image: &str, pem: Vec<u8>, password: &str) {
        let image: OciReference = image.parse().unwrap();
        runtime().block_on(async {
            let mut c = client();
            let (signatures, digest) = c.triangulate(&image, &Auth::Anonymous).await.unwrap();
            let mut layer = SignatureLayer::new_unsigned(&image, &digest).unwrap();
            let signer = PrivateKeySigner::new_with_raw(
                zeroize::Zeroizing::new(pem),
                zeroize::Zeroizing::new(password.as_bytes().to_vec()),
                &SigningScheme::ECDSA_P256_SHA256_ASN1,
            )
            .unwrap();
            signer.add_constraint(&mut layer).unwrap();
            c.push_signature(None, &Auth::Anonymous, &signatures, vec![layer])
                .await
                .unwrap();
        });
    }
}

/// Issue #13, acceptance 4, with the second implementation that runs here: sigstore-rs
/// verifies distill's signature, and distill verifies sigstore-rs's signature made with a key
/// from `distill keygen`. (Found this way: sigstore-rs names the tag in the signed identity;
/// distill compared the whole reference, and now compares repositories as containers/image.)
#[test]
fn sigstore_rs_and_distill_verify_each_others_signatures() {
    let reg = RegistryServer::plain();
    let dir = tempfile::tempdir().unwrap();
    for prefix in ["k", "o"] {
        let o = distill()
            .current_dir(dir.path())
            .env("DISTILL_KEY_PASSWORD", "pass phrase")
            .args(["keygen", prefix])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    std::fs::write(
        dir.path().join("distill.toml"),
        "[image]\nbase = \"static\"\n",
    )
    .unwrap();
    let layout = format!("oci:{}:v1", dir.path().join("image").display());
    ok(&["build", dir.path().to_str().unwrap(), "-q", "-o", &layout]);

    let ours = format!("{}/ours:1", reg.addr);
    let o = distill()
        .env("DISTILL_KEY_PASSWORD", "pass phrase")
        .args(["push", "--sign-key"])
        .arg(dir.path().join("k.key"))
        .arg(&layout)
        .arg(format!("docker://{ours}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(sigstore_rs::verifies(&ours, &read("k.pub")));
    assert!(!sigstore_rs::verifies(&ours, &read("o.pub")));

    let theirs = format!("{}/theirs:1", reg.addr);
    ok(&["push", &layout, &format!("docker://{theirs}")]);
    sigstore_rs::sign(&theirs, read("k.key"), "pass phrase");
    let key = |f: &str| dir.path().join(f).to_str().unwrap().to_owned();
    ok(&[
        "verify",
        &format!("docker://{theirs}"),
        "--key",
        &key("k.pub"),
    ]);
    let wrong = run(&[
        "verify",
        &format!("docker://{theirs}"),
        "--key",
        &key("o.pub"),
    ]);
    assert_eq!(wrong.status.code(), Some(1));
}
