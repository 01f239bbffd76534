//! Issue #2, acceptance 1: an image of a static program validates with umoci,
//! oci-image-tool and skopeo, and runs in podman and in the Docker engine.

use std::process::Command;

use distill_test::tools::{require, run_ok};
use distill_test::{DockerEngine, Podman, validate_archive, validate_layout};

use crate::common::*;

#[test]
fn static_program_image_validates_with_umoci_oci_image_tool_and_skopeo() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    let archive = out.path().join("img.tar");
    let digest = build_ok(
        ctx.path(),
        &[
            format!("oci:{}:v1", layout.display()),
            format!("oci-archive:{}:v1", archive.display()),
        ],
    );

    let summary = validate_layout(&layout).unwrap();
    assert_eq!(summary.roots.len(), 1);
    assert_eq!(summary.roots[0].1, digest);
    assert_eq!(summary.roots[0].2.as_deref(), Some("v1"));
    let (from_archive, _dir) = validate_archive(&archive).unwrap();
    assert_eq!(from_archive.roots, summary.roots);

    require("umoci");
    let bundle = out.path().join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:v1", layout.display()))
            .arg(&bundle),
    );
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        std::fs::read(rootfs.join("usr/bin/printenv")).unwrap(),
        std::fs::read(print_env_binary()).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("srv/data/greeting.txt")).unwrap(),
        "hi\n"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["process"]["user"]["uid"], 65532);
    assert_eq!(config["process"]["args"][0], "/usr/bin/printenv");

    require("oci-image-tool");
    let v = run_ok(
        Command::new("oci-image-tool")
            .args(["validate", "--type", "image", "--ref", "name=v1"])
            .arg(&layout),
    );
    assert!(v.contains("Validation succeeded"), "{v}");

    require("skopeo");
    for src in [
        format!("oci:{}:v1", layout.display()),
        format!("oci-archive:{}", archive.display()),
    ] {
        let info: serde_json::Value =
            serde_json::from_str(&run_ok(Command::new("skopeo").args(["inspect", &src]))).unwrap();
        assert_eq!(info["Digest"], digest.as_str(), "{src}");
        assert_eq!(info["Architecture"], "amd64");
        assert_eq!(info["Labels"]["org.opencontainers.image.title"], "printenv");
        assert_eq!(info["Created"], "1970-01-01T00:00:00Z");
        let raw: serde_json::Value = serde_json::from_str(&run_ok(
            Command::new("skopeo").args(["inspect", "--config", &src]),
        ))
        .unwrap();
        assert_eq!(raw["config"]["User"], "65532:65532");
        assert_eq!(raw["config"]["WorkingDir"], "/srv");
        assert!(raw["config"]["ExposedPorts"]["8080/tcp"].is_object());
    }
}

#[test]
fn static_program_runs_in_podman_from_oci_archive_and_docker_archive() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let oci = out.path().join("img.tar");
    let docker = out.path().join("docker.tar");
    build_ok(
        ctx.path(),
        &[
            format!("oci-archive:{}", oci.display()),
            format!(
                "docker-archive:{}:distill-test/printenv:1",
                docker.display()
            ),
        ],
    );
    let (summary, _dir) = validate_archive(&docker).unwrap();
    assert!(
        summary.docker_manifest.is_some(),
        "docker-archive has manifest.json"
    );

    let podman = Podman::new();
    let run = podman.run(
        &format!("oci-archive:{}", oci.display()),
        &["one", "two words"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_printenv(&run.stdout, &["one", "two words"], 65532);

    let loaded = podman.load(&docker);
    assert!(loaded.contains("distill-test/printenv:1"), "{loaded}");
    let run = podman.run("distill-test/printenv:1", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_printenv(&run.stdout, &["from-cmd"], 65532);
}

#[test]
fn docker_archive_loads_and_runs_in_the_docker_engine() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let docker = out.path().join("docker.tar");
    build_ok(
        ctx.path(),
        &[format!(
            "docker-archive:{}:distill-test/printenv:2",
            docker.display()
        )],
    );
    validate_archive(&docker).unwrap();

    let engine = DockerEngine::start();
    let loaded = engine.load(&docker);
    assert!(loaded.contains("distill-test/printenv:2"), "{loaded}");
    let run = engine.run("distill-test/printenv:2", &["x"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_printenv(&run.stdout, &["x"], 65532);
}

#[test]
fn zstd_layers_validate_and_run_in_podman() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    let mut cmd = distill();
    cmd.arg("build")
        .arg(ctx.path())
        .arg("--compression")
        .arg("zstd");
    cmd.arg("-o").arg(format!("oci:{}:z", layout.display()));
    let archive = out.path().join("z.tar");
    cmd.arg("-o")
        .arg(format!("oci-archive:{}", archive.display()));
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    validate_layout(&layout).unwrap();
    let manifest_digest = String::from_utf8(o.stdout).unwrap();
    let blob = layout
        .join("blobs/sha256")
        .join(manifest_digest.trim().trim_start_matches("sha256:"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob).unwrap()).unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );

    let run = Podman::new().run(&format!("oci-archive:{}", archive.display()), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_printenv(&run.stdout, &["from-cmd"], 65532);
}

#[test]
fn variant_latest_runs_as_root() {
    let ctx = context(&HELLO_CONFIG.replace("[image]", "[image]\nvariant = \"latest\""));
    let out = tempfile::tempdir().unwrap();
    let oci = out.path().join("img.tar");
    build_ok(ctx.path(), &[format!("oci-archive:{}", oci.display())]);
    let run = Podman::new().run(&format!("oci-archive:{}", oci.display()), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_printenv(&run.stdout, &["from-cmd"], 0);
}
