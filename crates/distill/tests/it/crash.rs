//! Issue #17: `distill build` killed with SIGKILL at ten named points (reached through
//! `DISTILL_TEST_KILL_AT`, not a timer) leaves every destination either as it was or
//! complete, and the cache verifiable; the next build succeeds with the right digest and
//! removes what the killed one left.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use distill_test::registry::RegistryServer;
use distill_test::validate_layout;

use crate::common::context;

/// The manifest digest an image layout at `dir` holds.
fn layout_digest(dir: &Path) -> String {
    let summary = validate_layout(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    summary.images[0].0.clone()
}

/// Every cache entry hashes to its name; nothing but resumable downloads in `partial/`, and,
/// right after a kill, the killed run's temporary (which the next run removes).
fn assert_cache_verifies(cache: &Path, killed: bool) {
    use sha2::Digest;
    for e in std::fs::read_dir(cache.join("sha256")).unwrap() {
        let e = e.unwrap();
        let bytes = std::fs::read(e.path()).unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            e.file_name().to_string_lossy(),
            "corrupt cache entry"
        );
    }
    // A layer record is written after its blob: none names a blob the cache lacks.
    for e in std::fs::read_dir(cache.join("layers"))
        .into_iter()
        .flatten()
    {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        let digest = record["digest"].as_str().unwrap();
        assert!(
            cache.join("sha256").join(&digest[7..]).is_file(),
            "a layer record names {digest}, which the cache lacks"
        );
    }
    for e in std::fs::read_dir(cache.join("partial")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let temporary = killed && name.starts_with(".distill-");
        assert!(
            name.ends_with(".part") || temporary,
            "left in partial/: {name}"
        );
    }
}

/// Names under `dir` that a distill run made as temporaries.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("distill-"))
                .collect()
        })
        .unwrap_or_default()
}

struct Run<'a> {
    ctx: &'a Path,
    cache: &'a Path,
    tmp: &'a Path,
}

impl Run<'_> {
    fn build(&self, args: &[String], kill_at: Option<&str>) -> Output {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("distill"));
        c.env("DISTILL_CACHE", self.cache)
            .env("TMPDIR", self.tmp)
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("DISTILL_TEST_KILL_AT")
            .arg("build")
            .arg(self.ctx)
            .args(args);
        if let Some(point) = kill_at {
            c.env("DISTILL_TEST_KILL_AT", point);
        }
        c.output().unwrap()
    }
}

#[test]
fn a_build_killed_at_each_point_leaves_old_or_complete_outputs_and_a_clean_cache() {
    let reg = RegistryServer::plain();
    let ctx = context("[image]\nbase = \"static\"\n");
    let other = context("[image]\nbase = \"static\"\nenv = { OLD = \"1\" }\n");
    let warm = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let reference = scratch.path().join("ref");
    let r = Run {
        ctx: ctx.path(),
        cache: warm.path(),
        tmp: scratch.path(),
    };
    let o = r.build(&[format!("-o=oci:{}", reference.display())], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let digest = String::from_utf8(o.stdout).unwrap().trim().to_owned();

    // (point, the output kind, the cache it starts with: empty, warm, or warm downloads
    // with no layer kept, so that packages are extracted and layers written)
    let cases = [
        ("download", "oci", "empty"),
        ("cache-entry-synced", "oci", "empty"),
        ("extract", "oci", "no-layers"),
        ("layer", "oci", "no-layers"),
        ("layer-blob-kept", "oci", "no-layers"),
        ("oci-dir-synced", "oci-replacing", "warm"),
        ("oci-dir-exchanged", "oci-replacing", "warm"),
        ("archive-synced", "oci-archive", "warm"),
        ("archive-synced", "docker-archive", "warm"),
        ("registry-blobs", "registry", "warm"),
        ("file-written", "report", "warm"),
        ("file-written", "sbom", "warm"),
    ];
    for (i, (point, kind, start)) in cases.into_iter().enumerate() {
        let what = format!("{point} ({kind})");
        let (out, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cold_cache = tempfile::tempdir().unwrap();
        let cache = if start == "empty" {
            cold_cache.path()
        } else {
            warm.path()
        };
        if start == "no-layers" {
            let _ = std::fs::remove_dir_all(cache.join("layers"));
        }
        let run = Run {
            ctx: ctx.path(),
            cache,
            tmp: tmp.path(),
        };
        let dest = out.path().join("dest");
        let layout = format!("-o=oci:{}", out.path().join("layout").display());
        let tag = format!("docker://{}/crash{i}:1", reg.addr);
        let args: Vec<String> = match kind {
            "oci" | "oci-replacing" => vec![format!("-o=oci:{}", dest.display())],
            "oci-archive" => vec![format!("-o=oci-archive:{}", dest.display())],
            "docker-archive" => vec![format!("-o=docker-archive:{}:app:1", dest.display())],
            "registry" => vec![format!("-o={tag}")],
            "report" => vec![layout.clone(), format!("--report={}", dest.display())],
            _ => vec![layout.clone(), format!("--sbom={}", dest.display())],
        };
        let old = (kind == "oci-replacing").then(|| {
            let o = Run {
                ctx: other.path(),
                ..run
            }
            .build(&args, None);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap().trim().to_owned()
        });
        if kind == "sbom" {
            std::fs::create_dir(&dest).unwrap();
        }

        let o = run.build(&args, Some(point));
        assert_eq!(
            o.status.signal(),
            Some(9),
            "{what} was not reached:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // What the kill left: the old layout or the whole new one, never a part of either.
        match (point, kind) {
            ("oci-dir-synced", _) => assert_eq!(Some(layout_digest(&dest)), old, "{what}"),
            ("oci-dir-exchanged", _) => assert_eq!(layout_digest(&dest), digest, "{what}"),
            (_, "registry") => {
                let (status, _) = reg.request(
                    &format!("/v2/crash{i}/manifests/1"),
                    "application/vnd.oci.image.manifest.v1+json",
                );
                assert_eq!(status, 404, "{what}: a tag without its push");
            }
            (_, "sbom") => assert!(
                !dest.join("sbom.spdx.json").exists() && !dest.join("sbom.cdx.json").exists(),
                "{what}: a partial SBOM"
            ),
            _ => assert!(!dest.exists(), "{what}: a partial output"),
        }
        assert_cache_verifies(cache, true);

        let o = run.build(&args, None);
        assert!(
            o.status.success(),
            "{what}: the rebuild failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            String::from_utf8(o.stdout).unwrap().trim(),
            digest,
            "{what}"
        );
        match kind {
            "oci" | "oci-replacing" => assert_eq!(layout_digest(&dest), digest, "{what}"),
            "report" => assert!(std::fs::read_to_string(&dest).unwrap().contains(&digest)),
            "sbom" => assert!(dest.join("sbom.spdx.json").is_file()),
            "registry" => assert_eq!(
                reg.request(
                    &format!("/v2/crash{i}/manifests/1"),
                    "application/vnd.oci.image.manifest.v1+json"
                )
                .0,
                200
            ),
            _ => assert!(dest.is_file()),
        }
        assert_cache_verifies(cache, false);
        assert_eq!(
            temporaries(out.path()),
            Vec::<String>::new(),
            "{what}: left beside the output"
        );
        assert_eq!(
            temporaries(tmp.path()),
            Vec::<String>::new(),
            "{what}: left in TMPDIR"
        );
        if kind == "sbom" {
            assert_eq!(temporaries(&dest), Vec::<String>::new(), "{what}");
        }
    }
}
