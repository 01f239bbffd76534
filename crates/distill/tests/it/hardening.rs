//! Issue #17: credentials stay with the host they were given for, and hostile servers are
//! refused with errors that name them.

use distill_test::scripted::{Answer, Request, Scripted};

use crate::common::*;

/// `ci:ci-Secret-7q`, as a Basic `Authorization`.
const CI_AUTH: &str = "Basic Y2k6Y2ktU2VjcmV0LTdx";

/// The CI password: distinctive, so that no temporary path or port can contain it by chance.
const CI_PASSWORD: &str = "ci-Secret-7q";

/// Asks for Basic credentials on every request, as a registry (or a host posing as one) may.
fn challenge() -> Answer {
    Answer::new(401).header("WWW-Authenticate: Basic realm=\"registry\"")
}

/// `distill` with the CI credentials `ci:ci-Secret-7q` in the environment and no Docker config.
fn with_ci_credentials() -> assert_cmd::Command {
    let mut c = distill();
    c.env("DISTILL_REGISTRY_USERNAME", "ci")
        .env("DISTILL_REGISTRY_PASSWORD", CI_PASSWORD)
        .env_remove("DISTILL_REGISTRY_HOST")
        .env("DOCKER_CONFIG", "/nonexistent");
    c
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A layout of the hello image, to push.
fn hello_layout(dir: &std::path::Path) -> String {
    let ctx = context(HELLO_CONFIG);
    let src = format!("oci:{}:v1", dir.join("layout").display());
    build_ok(ctx.path(), std::slice::from_ref(&src));
    src
}

/// Pushes the hello image to `host` with the CI credentials; the push must fail: stderr.
fn push_hello_failing(host: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let src = hello_layout(dir.path());
    let o = with_ci_credentials()
        .args(["push", &src, &format!("docker://{host}/app:1")])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    err
}

fn authorized(r: &[Request]) -> Vec<&Request> {
    r.iter().filter(|r| r.authorization.is_some()).collect()
}

#[test]
fn an_upload_location_on_another_host_is_sent_no_credentials() {
    // The other host challenges too: a credential must not be handed over even when asked.
    let elsewhere = Scripted::start(|_, _| challenge());
    let upload = format!("http://{}/upload/1", elsewhere.host());
    let location = upload.clone();
    let registry = Scripted::start(move |r, _| {
        if r.authorization.as_deref() != Some(CI_AUTH) {
            return challenge();
        }
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/v2/") => Answer::new(200),
            ("POST", p) if p.starts_with("/v2/app/blobs/uploads/") => {
                Answer::new(202).header(format!("Location: {location}"))
            }
            _ => Answer::new(404),
        }
    });
    let err = push_hello_failing(&registry.host());
    assert!(
        err.contains(&upload) && err.contains("sent no credentials"),
        "{err}"
    );
    assert!(
        !authorized(&registry.requests()).is_empty(),
        "the registry itself got the credentials"
    );
    let there = elsewhere.requests();
    assert!(!there.is_empty(), "the upload went to the Location");
    assert_eq!(authorized(&there), Vec::<&Request>::new());
}

#[test]
fn a_token_realm_over_plain_http_on_another_host_is_refused() {
    let registry = Scripted::start(|_, _| {
        Answer::new(401).header(
            "WWW-Authenticate: Bearer realm=\"http://auth.registry.invalid/token\",service=\"r\"",
        )
    });
    let err = push_hello_failing(&registry.host());
    assert!(
        err.contains("http://auth.registry.invalid/token")
            && err.contains("plain HTTP on another host")
            && err.contains("hint: "),
        "{err}"
    );
    assert!(!err.contains(CI_PASSWORD), "{err}");
}

#[test]
fn a_base_on_another_host_never_gets_the_push_credentials() {
    let base = Scripted::start(|_, _| challenge());
    let ctx = context(&format!(
        "[image]\nbase = \"docker://{}/base:1\"\n",
        base.host()
    ));
    let dir = tempfile::tempdir().unwrap();
    let out = format!("oci:{}:v1", dir.path().join("l").display());
    let o = with_ci_credentials()
        .args(["build"])
        .arg(ctx.path())
        .args(["-o", &out])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains(&base.host()) && err.contains("DISTILL_REGISTRY_HOST"),
        "{err}"
    );
    assert!(!base.requests().is_empty());
    assert_eq!(authorized(&base.requests()), Vec::<&Request>::new());
    assert!(!dir.path().join("l").exists(), "nothing at the destination");

    // Named for that host, the same credentials go there: the check above can fail.
    let o = with_ci_credentials()
        .env("DISTILL_REGISTRY_HOST", base.host())
        .args(["build"])
        .arg(ctx.path())
        .args(["-o", &out])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let sent: Vec<_> = base
        .requests()
        .into_iter()
        .filter_map(|r| r.authorization)
        .collect();
    assert!(
        sent.iter().all(|a| a == CI_AUTH) && !sent.is_empty(),
        "{sent:?}"
    );
}

#[test]
fn two_builds_on_one_empty_cache_both_succeed_with_one_digest() {
    // The indexes of three suites and static's packages, all fetched by both at once.
    let ctx = context("[image]\nbase = \"static\"\n");
    let mut digests = std::collections::BTreeSet::new();
    for round in 0..5 {
        let cache = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..2)
            .map(|i| {
                std::process::Command::new(assert_cmd::cargo::cargo_bin("distill"))
                    .env("DISTILL_CACHE", cache.path())
                    .env_remove("SOURCE_DATE_EPOCH")
                    .arg("build")
                    .arg(ctx.path())
                    .arg("-o")
                    .arg(format!(
                        "oci:{}",
                        out.path().join(format!("l{i}")).display()
                    ))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "round {round}: {}", stderr(&o));
            digests.insert(String::from_utf8(o.stdout).unwrap().trim().to_owned());
        }
        assert_eq!(
            std::fs::read_dir(cache.path().join("partial"))
                .unwrap()
                .count(),
            0,
            "round {round}: partial downloads left"
        );
    }
    assert_eq!(digests.len(), 1, "{digests:?}");
}

/// Adds a gzip layer holding `/usr/bin/su-like` (mode 4755, owned by root) and
/// `/usr/bin/plain` (0755) to the single-platform image layout at `dir`.
fn add_setuid_layer(dir: &std::path::Path) {
    use sha2::Digest;
    let sha = |b: &[u8]| format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)));
    let put = |b: &[u8]| {
        let d = sha(b);
        std::fs::write(dir.join("blobs/sha256").join(&d[7..]), b).unwrap();
        d
    };
    let mut tar = tar::Builder::new(Vec::new());
    for (path, mode) in [("usr/bin/su-like", 0o4755), ("usr/bin/plain", 0o755)] {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_size(3);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        tar.append(&h, &b"#!x"[..]).unwrap();
    }
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let gz = gz.finish().unwrap();
    let read = |d: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(&d[7..])).unwrap())
            .unwrap()
    };
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let mut manifest = read(index["manifests"][0]["digest"].as_str().unwrap());
    let mut config = read(manifest["config"]["digest"].as_str().unwrap());
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(sha(&tar).into());
    config["history"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"created_by": "setuid"}));
    let config = serde_json::to_vec(&config).unwrap();
    manifest["config"]["size"] = config.len().into();
    manifest["config"]["digest"] = put(&config).into();
    manifest["layers"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": put(&gz),
            "size": gz.len(),
        }));
    let manifest = serde_json::to_vec(&manifest).unwrap();
    index["manifests"][0]["size"] = manifest.len().into();
    index["manifests"][0]["digest"] = put(&manifest).into();
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Every path of the layout's layers with the mode its last layer gives it (as written in
/// the tar headers: unpacking would drop setuid bits itself).
pub(crate) fn modes_in_layers(layout: &std::path::Path) -> std::collections::BTreeMap<String, u32> {
    let mut out = std::collections::BTreeMap::new();
    for d in distill_test::layer_digests(layout) {
        let blob = std::fs::File::open(layout.join("blobs/sha256").join(&d[7..])).unwrap();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(blob));
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            out.insert(
                path.trim_start_matches("./").to_owned(),
                e.header().mode().unwrap(),
            );
        }
    }
    out
}

#[test]
fn a_registry_base_loses_its_setuid_bits_unless_allowed() {
    let reg = distill_test::registry::RegistryServer::plain();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let ctx = context("[image]\nbase = \"static\"\n");
    build_ok(ctx.path(), &[format!("oci:{}", base.display())]);
    add_setuid_layer(&base);
    let base_layers = distill_test::layer_digests(&base);
    let o = distill()
        .args([
            "push",
            &format!("oci:{}", base.display()),
            &format!("docker://{}/suid:1", reg.addr),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for (allow, mode) in [(false, 0o755), (true, 0o4755)] {
        let app = context(&format!(
            "[image]\nbase = \"docker://{}/suid:1\"\nallow_setuid = {allow}\n",
            reg.addr
        ));
        let o = distill().arg("lock").arg(app.path()).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let out = dir.path().join(format!("app-{allow}"));
        let o = distill()
            .arg("build")
            .arg(app.path())
            .args(["--locked", "-o", &format!("oci:{}", out.display())])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        assert_eq!(err.contains("/usr/bin/su-like"), !allow, "{err}");
        let m = |p: &str| modes_in_layers(&out)[p];
        assert_eq!(m("usr/bin/su-like"), mode, "allow_setuid = {allow}");
        assert_eq!(m("usr/bin/plain"), 0o755);
        // Layers without such files are the base's own bytes, shared with it.
        let layers = distill_test::layer_digests(&out);
        assert_eq!(
            layers[..base_layers.len() - 1],
            base_layers[..base_layers.len() - 1]
        );
        assert_eq!(
            layers[base_layers.len() - 1] == base_layers[base_layers.len() - 1],
            allow
        );
    }
}
