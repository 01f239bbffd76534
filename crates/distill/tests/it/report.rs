//! Issue #12, acceptance 4: `build --report` is the build's exact inventory. For the python3
//! member it lists exactly the packages its status.d records, with the sha256s distill.lock
//! pins; for the Flask example also every installed distribution, with the version its
//! dist-info records. The oracles are the image itself and the lock, read here.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{distill, examples};

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `distill build CONTEXT ARGS --report OUT/report.json -o oci:OUT/image`: the layout, the
/// report, and the printed digest.
fn build(
    context: &Path,
    args: &[&str],
    out: &Path,
) -> (std::path::PathBuf, serde_json::Value, String) {
    let layout = out.join("image");
    let json = out.join("report.json");
    let o = distill()
        .arg("build")
        .arg(context)
        .args(args)
        .arg("--report")
        .arg(&json)
        .arg("-o")
        .arg(format!("oci:{}", layout.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let digest = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    (layout, report(&json), digest)
}

fn components<'a>(r: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    r["images"][0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["components"].as_array().unwrap())
        .filter(|c| c["kind"] == kind)
        .collect()
}

#[test]
fn the_report_of_python3_is_its_status_d_with_the_locks_sha256s() {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("distill.toml"),
        "[image]\nbase = \"python3\"\n",
    )
    .unwrap();
    let o = distill().arg("lock").arg(ctx.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = tempfile::tempdir().unwrap();
    let (layout, r, digest) = build(ctx.path(), &["--locked"], out.path());
    assert_eq!(r["digest"].as_str().unwrap(), digest);
    let debs: BTreeSet<(String, String)> = components(&r, "deb")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let status: BTreeSet<String> = distill_test::layout_paths(&layout)
        .into_iter()
        .filter_map(|p| p.strip_prefix("var/lib/dpkg/status.d/").map(str::to_owned))
        .filter(|n| !n.ends_with(".md5sums") && !n.is_empty())
        .collect();
    assert_eq!(
        debs.iter().map(|(n, _)| n.clone()).collect::<BTreeSet<_>>(),
        status
    );
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(ctx.path().join("distill.lock")).unwrap()).unwrap();
    let pinned: BTreeSet<(String, String)> = lock["platform"][0]["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(debs, pinned);
    let lock_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(ctx.path().join("distill.lock")).unwrap(),
    ));
    assert_eq!(r["inputs"]["lock"]["sha256"], lock_sha.as_str());
    assert_eq!(r["inputs"]["lock"]["locked"], true);
}

#[test]
fn the_report_of_the_flask_example_lists_every_distribution_as_its_dist_info_does() {
    let out = tempfile::tempdir().unwrap();
    // A relative context, as a user types it: uv used to look for the requirements inside
    // the app's directory a second time (found while checking the redesign's digests).
    let relative = examples().join("python-flask");
    let relative = relative
        .strip_prefix(std::env::current_dir().unwrap())
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| Path::new("../../examples/python-flask").to_path_buf());
    let (layout, r, _) = build(&relative, &[], out.path());
    let listed: BTreeSet<(String, String)> = components(&r, "python")
        .iter()
        .map(|c| {
            let file = c["file"].as_str().unwrap();
            assert!(
                file.ends_with(".whl") || file.ends_with(".tar.gz"),
                "{file}"
            );
            assert_eq!(c["sha256"].as_str().unwrap().len(), 64);
            (
                c["name"].as_str().unwrap().to_lowercase(),
                c["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let root = distill_test::unpack_layout(&layout);
    let site = root.path().join("usr/local/lib/python3.13/dist-packages");
    let mut installed = BTreeSet::new();
    for e in std::fs::read_dir(&site).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "dist-info") {
            let meta = std::fs::read_to_string(p.join("METADATA")).unwrap();
            let field = |k: &str| {
                meta.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .unwrap()
                    .trim()
                    .to_owned()
            };
            installed.insert((field("Name:").to_lowercase(), field("Version:")));
        }
    }
    assert!(installed.iter().any(|(n, _)| n == "flask"), "{installed:?}");
    assert_eq!(listed, installed);
    // Every file of the app is listed with the sha256 of its bytes in the image.
    let files = components(&r, "file");
    let app = files
        .iter()
        .find(|c| c["path"] == "/app/app.py")
        .expect("app.py in the report");
    let bytes = std::fs::read(root.path().join("app/app.py")).unwrap();
    assert_eq!(
        app["sha256"].as_str().unwrap(),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
    );
}
