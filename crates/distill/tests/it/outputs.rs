//! Output formats: multi-platform indexes, layer attributes, replacing an earlier layout.

use std::process::Command;

use distill_test::tools::run_ok;
use distill_test::validate_layout;

use crate::common::*;

#[test]
fn two_platforms_give_an_index_over_two_manifests() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("l");
    let o = distill()
        .arg("build")
        .arg(ctx.path())
        .args(["--platform", "linux/amd64,linux/arm64"])
        .arg("-o")
        .arg(format!("oci:{}:multi", layout.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let digest = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    let summary = validate_layout(&layout).unwrap();
    assert_eq!(
        summary.roots[0].0,
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(summary.roots[0].1, digest);
    let platforms: Vec<&str> = summary.images.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let raw: serde_json::Value = serde_json::from_str(&run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        &format!("oci:{}:multi", layout.display()),
    ])))
    .unwrap();
    assert_eq!(raw["manifests"][1]["platform"]["architecture"], "arm64");
    assert_eq!(raw["manifests"][1]["platform"]["variant"], "v8");
}

#[test]
fn layer_carries_modes_owners_and_parent_directories() {
    let config = HELLO_CONFIG.to_owned()
        + "\n[[files]]\nsrc = \"srv/data/greeting.txt\"\ndst = \"/home/app/\"\nmode = \"0600\"\nuid = 1000\ngid = 1001\n";
    let ctx = context(&config);
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("l");
    let digest = build_ok(ctx.path(), &[format!("oci:{}", layout.display())]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap(),
    )
    .unwrap();
    let layer = layout
        .join("blobs/sha256")
        .join(&manifest["layers"][0]["digest"].as_str().unwrap()[7..]);
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(layer).unwrap(),
    ));
    let got: Vec<(String, u32, u64, u64)> = ar
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
            )
        })
        .collect();
    let expect: Vec<(String, u32, u64, u64)> = [
        ("home/", 0o755, 0, 0),
        ("home/app/", 0o755, 0, 0),
        ("home/app/greeting.txt", 0o600, 1000, 1001),
        ("srv/", 0o755, 0, 0),
        ("srv/data/", 0o755, 0, 0),
        ("srv/data/greeting.txt", 0o644, 0, 0),
        ("usr/", 0o755, 0, 0),
        ("usr/bin/", 0o755, 0, 0),
        ("usr/bin/printenv", 0o755, 0, 0),
    ]
    .into_iter()
    .map(|(p, m, u, g)| (p.to_owned(), m, u, g))
    .collect();
    assert_eq!(got, expect);
}

#[test]
fn rebuilding_into_an_existing_layout_replaces_it() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("l");
    let first = build_ok(ctx.path(), &[format!("oci:{}", layout.display())]);
    std::fs::write(ctx.path().join("srv/data/greeting.txt"), "changed\n").unwrap();
    let second = build_ok(ctx.path(), &[format!("oci:{}", layout.display())]);
    assert_ne!(first, second);
    let summary = validate_layout(&layout).unwrap();
    assert_eq!(summary.roots.len(), 1);
    assert_eq!(summary.roots[0].1, second);
    // Nothing else beside it: no temporary or set-aside directory survives.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);
}
