//! Issue #2, acceptance 2: the same config gives the same digest whatever the umask, time
//! zone, locale, working directory, source mtimes and directory creation order.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// Makes a context whose tree is built by `sh` under `umask`, creating the data files in
/// `order`, with every mtime set to `stamp`.
fn shaped_context(umask: &str, order: &[&str], stamp: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut script =
        format!("set -e; umask {umask}; cd \"$1\"; cp \"$2\" printenv; mkdir -p srv/data;");
    for name in order {
        script += &format!(
            " mkdir -p srv/{name}; echo {name} > srv/{name}/file; echo {name} > srv/data/{name}.txt;"
        );
    }
    script +=
        &format!(" printf '%s' \"$3\" > distill.toml; find . -exec touch -h -d '{stamp}' {{}} +");
    let st = Command::new("sh")
        .args(["-c", &script, "sh"])
        .arg(dir.path())
        .arg(print_env_binary())
        .arg(HELLO_CONFIG)
        .status()
        .unwrap();
    assert!(st.success());
    dir
}

/// Builds from `ctx` with `cwd`, `umask`, `TZ` and `LC_ALL` and `extra` flags, into fresh
/// archives; returns the digest and both archives' bytes.
fn build_in(
    ctx: &Path,
    cwd: &Path,
    (umask, tz, locale): (&str, &str, &str),
    extra: &[&str],
) -> (String, Vec<u8>, Vec<u8>) {
    let bin = assert_cmd::cargo::cargo_bin("distill");
    let out = tempfile::tempdir().unwrap();
    let oci = out.path().join("i.tar");
    let docker = out.path().join("d.tar");
    let o = Command::new("sh")
        .args(["-c", &format!("umask {umask}; exec \"$@\""), "sh"])
        .arg(&bin)
        .arg("build")
        .arg(ctx)
        .arg("-o")
        .arg(format!("oci-archive:{}:v1", oci.display()))
        .arg("-o")
        .arg(format!("docker-archive:{}:app:v1", docker.display()))
        .args(extra)
        .current_dir(cwd)
        .env("TZ", tz)
        .env("LC_ALL", locale)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        String::from_utf8(o.stdout).unwrap().trim().to_owned(),
        std::fs::read(oci).unwrap(),
        std::fs::read(docker).unwrap(),
    )
}

#[test]
fn same_config_same_digest_whatever_umask_tz_cwd_mtimes_and_creation_order() {
    let a = shaped_context(
        "022",
        &["alpha", "beta", "gamma", "delta"],
        "2001-02-03 04:05:06",
    );
    let b = shaped_context(
        "077",
        &["delta", "gamma", "beta", "alpha"],
        "2024-12-31 23:59:59",
    );
    let (cwd_a, cwd_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = build_in(a.path(), cwd_a.path(), ("022", "UTC", "C"), &[]);
    // Every layer made anew: the cache's layers must be the bytes a build makes.
    let second = build_in(
        b.path(),
        cwd_b.path(),
        ("077", "Pacific/Chatham", "C.UTF-8"),
        &["--no-cache"],
    );
    assert_eq!(first.0, second.0, "digests differ");
    assert!(first.1 == second.1, "oci-archive bytes differ");
    assert!(first.2 == second.2, "docker-archive bytes differ");
}

#[test]
fn source_date_epoch_sets_created_and_changes_the_digest() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("l");
    let plain = build_ok(
        ctx.path(),
        &[format!("oci:{}", out.path().join("p").display())],
    );
    let o = distill()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("build")
        .arg(ctx.path())
        .arg("-o")
        .arg(format!("oci:{}", layout.display()))
        .output()
        .unwrap();
    assert!(o.status.success());
    let digest = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert_ne!(digest, plain);
    let info: serde_json::Value = serde_json::from_str(&distill_test::tools::run_ok(
        Command::new("skopeo").args(["inspect", &format!("oci:{}", layout.display())]),
    ))
    .unwrap();
    assert_eq!(info["Created"], "2023-11-14T22:13:20Z");
    let layer = layout.join("blobs/sha256").join(
        info["Layers"][0]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:"),
    );
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(layer).unwrap(),
    ));
    for e in ar.entries().unwrap() {
        assert_eq!(e.unwrap().header().mtime().unwrap(), 1_700_000_000);
    }
}
