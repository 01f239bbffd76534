//! Issue #17: credentials stay with the host they were given for, and hostile servers are
//! refused with errors that name them.

use distill_test::scripted::{Answer, Request, Scripted};

use crate::common::*;

/// `ci:pw`, as a Basic `Authorization`.
const CI_AUTH: &str = "Basic Y2k6cHc=";

/// Asks for Basic credentials on every request, as a registry (or a host posing as one) may.
fn challenge() -> Answer {
    Answer::new(401).header("WWW-Authenticate: Basic realm=\"registry\"")
}

/// `distill` with the CI credentials `ci:pw` in the environment and no Docker config.
fn with_ci_credentials() -> assert_cmd::Command {
    let mut c = distill();
    c.env("DISTILL_REGISTRY_USERNAME", "ci")
        .env("DISTILL_REGISTRY_PASSWORD", "pw")
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
    let dir = tempfile::tempdir().unwrap();
    let src = hello_layout(dir.path());
    let o = with_ci_credentials()
        .args(["push", &src, &format!("docker://{}/app:1", registry.host())])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
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
    let dir = tempfile::tempdir().unwrap();
    let src = hello_layout(dir.path());
    let o = with_ci_credentials()
        .args(["push", &src, &format!("docker://{}/app:1", registry.host())])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("http://auth.registry.invalid/token")
            && err.contains("plain HTTP on another host")
            && err.contains("hint: "),
        "{err}"
    );
    assert!(!err.contains("pw"), "{err}");
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
