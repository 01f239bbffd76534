//! Issue #7: pushing to and pulling from Debian's docker-registry on 127.0.0.1, plain and
//! with TLS and htpasswd auth, checked with skopeo; re-push sends nothing; bad credentials
//! and expired tokens fail cleanly; injected faults do not break a push.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use distill_test::registry::{FaultProxy, Faults, RegistryServer};
use distill_test::tools::{require, run_ok};
use distill_test::validate_layout;

use crate::common::*;

fn with_registry(cmd: &mut assert_cmd::Command, reg: &RegistryServer) {
    if let Some(ca) = &reg.ca {
        cmd.arg("--ca-cert").arg(ca);
    }
    if let Some((u, p)) = &reg.login {
        cmd.env("DISTILL_REGISTRY_USERNAME", u)
            .env("DISTILL_REGISTRY_PASSWORD", p);
    }
    cmd.env("DOCKER_CONFIG", "/nonexistent");
}

fn skopeo(reg: &RegistryServer, args: &[&str]) -> String {
    require("skopeo");
    let mut c = Command::new("skopeo");
    c.arg(args[0]).args(reg.skopeo_flags()).args(&args[1..]);
    if args[0] == "copy" {
        // copy takes source and destination flags apart.
        c = Command::new("skopeo");
        let flags = reg.skopeo_flags();
        c.arg("copy");
        for f in &flags {
            let f = f.replacen("--", "--src-", 1);
            c.arg(f);
        }
        for f in &flags {
            c.arg(f.replacen("--", "--dest-", 1));
        }
        c.args(&args[1..]);
    }
    run_ok(&mut c)
}

/// skopeo sees `reference` (REPO:TAG on `reg`) at `digest`.
fn assert_skopeo_digest(reg: &RegistryServer, reference: &str, digest: &str) {
    let info: serde_json::Value = serde_json::from_str(&skopeo(
        reg,
        &["inspect", &format!("docker://{}/{reference}", reg.addr)],
    ))
    .unwrap();
    assert_eq!(info["Digest"], digest, "{reference}");
}

/// Pushes `src` with `distill push --json EXTRA...`; returns the report.
fn push_with(reg: &RegistryServer, src: &str, dest: &str, extra: &[&str]) -> serde_json::Value {
    let mut c = distill();
    c.args(["push", src, dest, "--json"]).args(extra);
    with_registry(&mut c, reg);
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "push: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn push(reg: &RegistryServer, src: &str, dest: &str) -> serde_json::Value {
    push_with(reg, src, dest, &[])
}

fn build_layouts(dir: &Path) -> (String, String) {
    let ctx = context(HELLO_CONFIG);
    let single = build_ok(
        ctx.path(),
        &[format!("oci:{}:v1", dir.join("single").display())],
    );
    let mut c = distill();
    c.arg("build")
        .arg(ctx.path())
        .args(["--platform", "linux/amd64,linux/arm64"]);
    c.arg("-o")
        .arg(format!("oci:{}:v1", dir.join("multi").display()));
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        single,
        String::from_utf8(o.stdout).unwrap().trim().to_owned(),
    )
}

/// Every blob of layout `a` is in layout `b`, byte for byte.
fn assert_blobs_contained(a: &Path, b: &Path) {
    for e in std::fs::read_dir(a.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let other = b.join("blobs/sha256").join(e.file_name());
        assert_eq!(
            std::fs::read(e.path()).unwrap(),
            std::fs::read(&other).unwrap_or_default(),
            "{:?}",
            e.file_name()
        );
    }
}

fn round_trip(reg: &RegistryServer) {
    let dir = tempfile::tempdir().unwrap();
    let (single, multi) = build_layouts(dir.path());
    let a = &reg.addr;
    for (name, digest) in [("single", &single), ("multi", &multi)] {
        let report = push(
            reg,
            &format!("oci:{}:v1", dir.path().join(name).display()),
            &format!("docker://{a}/app:{name}"),
        );
        assert_eq!(report["digest"], digest.as_str());
        let raw = skopeo(
            reg,
            &["inspect", "--raw", &format!("docker://{a}/app:{name}")],
        );
        assert_eq!(
            format!(
                "sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw.as_bytes()))
            ),
            *digest,
            "{name}: registry bytes differ"
        );
        let back = dir.path().join(format!("{name}-back"));
        skopeo(
            reg,
            &[
                "copy",
                "--all",
                "--preserve-digests",
                &format!("docker://{a}/app:{name}"),
                &format!("oci:{}:v1", back.display()),
            ],
        );
        assert_blobs_contained(&dir.path().join(name), &back);
    }
    // An image skopeo pushed, pulled by distill.
    skopeo(
        reg,
        &[
            "copy",
            "--all",
            &format!("oci:{}:v1", dir.path().join("multi").display()),
            &format!("docker://{a}/by-skopeo:1"),
        ],
    );
    let pulled = dir.path().join("pulled");
    let mut c = distill();
    c.args([
        "pull",
        &format!("docker://{a}/by-skopeo:1"),
        "-o",
        &format!("oci:{}", pulled.display()),
    ]);
    with_registry(&mut c, reg);
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "pull: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), multi);
    let summary = validate_layout(&pulled).unwrap();
    assert_eq!(summary.images.len(), 2);
}

#[test]
fn push_and_pull_round_trip_on_a_plain_registry() {
    round_trip(&RegistryServer::plain());
}

#[test]
fn push_and_pull_round_trip_with_tls_and_htpasswd() {
    round_trip(&RegistryServer::tls_with_auth());
}

#[test]
fn build_pushes_directly_and_pushing_again_sends_nothing() {
    let reg = RegistryServer::tls_with_auth();
    let ctx = context(HELLO_CONFIG);
    let mut c = distill();
    c.arg("build")
        .arg(ctx.path())
        .args(["-o", &format!("docker://{}/direct:1", reg.addr)]);
    with_registry(&mut c, &reg);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let digest = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert_skopeo_digest(&reg, "direct:1", &digest);

    let first = push(
        &reg,
        &format!("docker://{}/direct:1", reg.addr),
        &format!("docker://{}/copy:1", reg.addr),
    );
    // The config, the files layer and the SBOM layer.
    assert_eq!(first["blobs_mounted"], 3, "{first}");
    assert_eq!(first["bytes_sent"], 0);
    let again = push(
        &reg,
        &format!("docker://{}/direct:1", reg.addr),
        &format!("docker://{}/copy:1", reg.addr),
    );
    assert_eq!(
        (
            again["blobs_uploaded"].as_u64(),
            again["bytes_sent"].as_u64()
        ),
        (Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(again["blobs_present"], 3);

    // inspect and diff read registry images too, over TLS with credentials.
    let mut c = distill();
    c.args([
        "inspect",
        "--json",
        &format!("docker://{}/direct:1", reg.addr),
    ]);
    with_registry(&mut c, &reg);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["manifest"], digest.as_str());
    assert_eq!(
        report["largest"][0]["path"], "/usr/bin/printenv",
        "{report:#}"
    );
    let mut c = distill();
    c.args([
        "diff",
        &format!("docker://{}/direct:1", reg.addr),
        &format!("docker://{}/copy:1", reg.addr),
    ]);
    with_registry(&mut c, &reg);
    let o = c.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("identical: {digest}\n")
    );
}

#[test]
fn wrong_password_fails_clearly_without_the_secret() {
    let reg = RegistryServer::tls_with_auth();
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let mut c = distill();
    c.arg("build").arg(ctx.path());
    c.args([
        "-o",
        &format!("docker://{}/app:1", reg.addr),
        "-o",
        &format!("oci:{}", out.path().join("l").display()),
    ]);
    with_registry(&mut c, &reg);
    c.env("DISTILL_REGISTRY_PASSWORD", "not-the-Pa55word");
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("refused the credentials") && stderr.contains("hint: "),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-Pa55word") && !stderr.contains("s3cret-pw"),
        "secret leaked:\n{stderr}"
    );
    // Credentials are checked when outputs open: the local output is not written either.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

/// A registry that speaks the bearer flow and rejects every token as expired.
fn expired_token_registry() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let realm = format!("http://{addr}/token");
    let handle = std::thread::spawn(move || {
        for conn in listener.incoming().take(20) {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            // The client tries TLS first: bytes that are not an HTTP request end the
            // connection, as they would on a plain-HTTP registry.
            let mut first = Vec::new();
            if reader.read_until(b'\n', &mut first).is_err()
                || !first.starts_with(b"GET ")
                    && !first.starts_with(b"PUT ")
                    && !first.starts_with(b"POST ")
                    && !first.starts_with(b"HEAD ")
            {
                continue;
            }
            let first = String::from_utf8_lossy(&first).into_owned();
            loop {
                let mut l = Vec::new();
                if reader.read_until(b'\n', &mut l).unwrap_or(0) == 0 || l == b"\r\n" {
                    break;
                }
            }
            let resp = if first.contains("/token") {
                let body = r#"{"token":"tok-SECRET-123","expires_in":1}"#;
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}"#;
                format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"{realm}\",service=\"test\",scope=\"repository:app:pull,push\",error=\"invalid_token\",error_description=\"token expired\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = conn.write_all(resp.as_bytes());
        }
    });
    (addr, handle)
}

#[test]
fn expired_token_fails_clearly_without_the_secret() {
    let (addr, _server) = expired_token_registry();
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(HELLO_CONFIG);
    build_ok(
        ctx.path(),
        &[format!("oci:{}:v1", dir.path().join("l").display())],
    );
    let o = distill()
        .args([
            "push",
            &format!("oci:{}:v1", dir.path().join("l").display()),
            &format!("docker://{addr}/app:1"),
        ])
        .env("DISTILL_REGISTRY_USERNAME", "u")
        .env("DISTILL_REGISTRY_PASSWORD", "pw-SECRET-456")
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("token expired") && stderr.contains("hint: "),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRET"), "secret leaked:\n{stderr}");
}

#[test]
fn push_survives_a_dropped_connection_and_a_503() {
    let reg = RegistryServer::plain();
    // A 10 MiB incompressible file, so its layer is large.
    let ctx =
        context(&(HELLO_CONFIG.to_owned() + "\n[[files]]\nsrc = \"noise\"\ndst = \"/noise\"\n"));
    let mut noise = vec![0u8; 10 << 20];
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(ctx.path().join("noise"), &noise).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let digest = build_ok(
        ctx.path(),
        &[format!("oci:{}:v1", dir.path().join("l").display())],
    );
    let proxy = FaultProxy::start(
        &reg.addr,
        Faults {
            drop_body_over: Some(1 << 20),
            manifest_503: true,
            ..Faults::default()
        },
    );
    let report = push(
        &reg,
        &format!("oci:{}:v1", dir.path().join("l").display()),
        &format!("docker://{}/faulty:1", proxy.addr),
    );
    assert_eq!(report["digest"], digest.as_str());
    assert_eq!(
        proxy.dropped.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "no connection was dropped"
    );
    assert_eq!(
        proxy.refused.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "no 503 was served"
    );
    let raw = skopeo(
        &reg,
        &[
            "inspect",
            "--raw",
            &format!("docker://{}/faulty:1", reg.addr),
        ],
    );
    assert_eq!(
        format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw.as_bytes()))
        ),
        digest
    );
    let back = dir.path().join("back");
    skopeo(
        &reg,
        &[
            "copy",
            "--preserve-digests",
            &format!("docker://{}/faulty:1", reg.addr),
            &format!("oci:{}:v1", back.display()),
        ],
    );
    assert_blobs_contained(&dir.path().join("l"), &back);
}

#[test]
fn builds_on_a_registry_base_and_the_lock_pins_its_digest() {
    let reg = RegistryServer::plain();
    let base_ctx = context(HELLO_CONFIG);
    build_ok(base_ctx.path(), &[format!("docker://{}/base:1", reg.addr)]);

    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("app.txt"), "app\n").unwrap();
    std::fs::write(
        app.path().join("distill.toml"),
        format!(
            "[image]\nbase = \"docker://{}/base:1\"\nenv = {{ EXTRA = \"1\" }}\n\n[[files]]\nsrc = \"app.txt\"\ndst = \"/app/app.txt\"\n",
            reg.addr
        ),
    )
    .unwrap();
    let lock = distill().arg("lock").arg(app.path()).output().unwrap();
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    let lockfile = std::fs::read_to_string(app.path().join("distill.lock")).unwrap();
    assert!(
        lockfile.contains(&format!("base = \"docker://{}/base:1@sha256:", reg.addr)),
        "{lockfile}"
    );

    let out = tempfile::tempdir().unwrap();
    let build_locked = |name: &str| {
        let o = distill()
            .arg("build")
            .arg(app.path())
            .arg("--locked")
            .arg("-o")
            .arg(format!("oci-archive:{}", out.path().join(name).display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    let first = build_locked("a.tar");
    let (summary, dir) = distill_test::validate_archive(&out.path().join("a.tar")).unwrap();
    assert_eq!(summary.images.len(), 1);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("blobs/sha256").join(&first[7..])).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["layers"].as_array().unwrap().len(),
        4,
        "the base's files and SBOM layers, then ours"
    );

    // The base's entrypoint, cmd, workdir and env carry over; ours add to them.
    let run = distill_test::Podman::new().run(
        &format!("oci-archive:{}", out.path().join("a.tar").display()),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_printenv(&run.stdout, &["from-cmd"], 65532);
    assert!(
        run.stdout.lines().any(|l| l == "env:EXTRA=1"),
        "{}",
        run.stdout
    );

    // The tag moves; the locked build does not.
    build_ok(
        context(&HELLO_CONFIG.replace("hello world", "moved on")).path(),
        &[format!("docker://{}/base:1", reg.addr)],
    );
    assert_eq!(build_locked("b.tar"), first);
    let unlocked = build_ok(
        app.path(),
        &[format!(
            "oci-archive:{}",
            out.path().join("c.tar").display()
        )],
    );
    assert_ne!(unlocked, first);
}

#[test]
fn credentials_come_from_a_docker_credential_helper() {
    let reg = RegistryServer::tls_with_auth();
    let (user, password) = reg.login.clone().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-distilltest");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\nread host\n[ \"$host\" = \"{}\" ] || exit 1\necho '{{\"Username\":\"{user}\",\"Secret\":\"{password}\"}}'\n", reg.addr),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let docker_config = tempfile::tempdir().unwrap();
    std::fs::write(
        docker_config.path().join("config.json"),
        format!("{{\"credHelpers\":{{\"{}\":\"distilltest\"}}}}", reg.addr),
    )
    .unwrap();
    let ctx = context(HELLO_CONFIG);
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = distill()
        .arg("build")
        .arg(ctx.path())
        .args(["-o", &format!("docker://{}/helped:1", reg.addr)])
        .arg("--ca-cert")
        .arg(reg.ca.as_ref().unwrap())
        .env("DOCKER_CONFIG", docker_config.path())
        .env_remove("DISTILL_REGISTRY_USERNAME")
        .env_remove("DISTILL_REGISTRY_PASSWORD")
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let digest = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert_skopeo_digest(&reg, "helped:1", &digest);
}

#[test]
fn a_registry_serving_other_bytes_than_the_digest_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let wanted = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"the real manifest"))
    );
    let dir = root.path().join("v2/app/manifests");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(&wanted),
        b"{\"schemaVersion\":2,\"tampered\":true}",
    )
    .unwrap();
    let server = distill_test::http::FileServer::start(root.path());
    let out = tempfile::tempdir().unwrap();
    let o = distill()
        .args([
            "pull",
            &format!(
                "docker://{}/app@{wanted}",
                server.url("").trim_start_matches("http://")
            ),
        ])
        .args(["-o", &format!("oci:{}", out.path().join("l").display())])
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("has digest") && stderr.contains(&wanted) && stderr.contains("hint: "),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

/// Issue #20, acceptance 2: runner A builds and fills a cache repository; runner B, with an
/// empty cache of its own, builds the same digest from it and pushes the image to the same
/// registry sending no layer byte (counted at a proxy in front of the registry: its only
/// upload is the image config). Two more runners sharing a fresh cache repository at once
/// agree with both.
#[test]
fn a_cache_repository_warms_an_empty_cache_and_no_layer_is_sent_twice() {
    let reg = RegistryServer::plain();
    let proxy = FaultProxy::start(&reg.addr, Faults::default());
    let at = format!("127.0.0.1:{}", proxy.addr.port());
    let f = crate::packages::Fixture::new(&crate::packages::good_packages(), &["hello-app"]);
    let repo = format!("docker://{at}/team/cache");
    let a = f.build("a", &["--cache-repo", &repo]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let digest = String::from_utf8(a.stdout).unwrap().trim().to_owned();
    let layout = f.out.path().join("a");
    let layers = distill_test::layer_digests(&layout);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(&manifest_digest[7..])).unwrap(),
    )
    .unwrap();
    let config_size = manifest["config"]["size"].as_u64().unwrap();
    {
        let sent = proxy.uploads.lock().unwrap();
        for d in &layers {
            assert!(
                sent.iter().any(|(line, _)| line.contains(d.as_str())),
                "layer {d} was not put in the cache repository: {sent:?}"
            );
        }
    }

    let before = proxy.uploads.lock().unwrap().len();
    let b_cache = tempfile::tempdir().unwrap();
    let dest = format!("docker://{at}/team/app:1");
    let b = f
        .command(
            b_cache.path(),
            "build",
            &["-o", &dest, "--cache-repo", &repo],
        )
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(String::from_utf8(b.stdout).unwrap().trim(), digest);
    let sent: Vec<(String, u64)> = proxy.uploads.lock().unwrap()[before..].to_vec();
    assert_eq!(
        sent.iter().map(|(_, n)| n).sum::<u64>(),
        config_size,
        "runner B sent more than the image config: {sent:?}"
    );
    // B downloaded no package: its cache holds no .deb.
    let debs = walk_files(b_cache.path())
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.starts_with(b"!<arch>\n")))
        .count();
    assert_eq!(debs, 0, "runner B downloaded packages");

    let fresh = format!("docker://{at}/team/fresh-cache");
    let outs: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = ["c", "d"]
            .into_iter()
            .map(|name| {
                let (f, fresh) = (&f, &fresh);
                s.spawn(move || {
                    let cache = tempfile::tempdir().unwrap();
                    let dest = format!("oci:{}", f.out.path().join(name).display());
                    let o = f
                        .command(cache.path(), "build", &["-o", &dest, "--cache-repo", fresh])
                        .output()
                        .unwrap();
                    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                    String::from_utf8(o.stdout).unwrap().trim().to_owned()
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(outs, [digest.clone(), digest.clone()]);

    // A cache repository that lies (every blob it serves has one byte changed) is one
    // warning: the build makes its layers itself, to the same digest, and keeps no bad byte.
    let liar = FaultProxy::start(
        &reg.addr,
        Faults {
            blob_get: Some((distill_test::http::Fault::Flip, usize::MAX)),
            ..Faults::default()
        },
    );
    let lying = format!("docker://127.0.0.1:{}/team/cache", liar.addr.port());
    let e_cache = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}", f.out.path().join("e").display());
    let e = f
        .command(
            e_cache.path(),
            "build",
            &["-o", &dest, "--cache-repo", &lying],
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(e.status.success(), "{err}");
    assert_eq!(String::from_utf8(e.stdout).unwrap().trim(), digest);
    assert!(liar.spoiled.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert_eq!(err.matches("building without it").count(), 1, "{err}");
    for p in walk_files(&e_cache.path().join("sha256")) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            name
        );
    }
}

fn walk_files(dir: &Path) -> impl Iterator<Item = std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.into_iter()
}
