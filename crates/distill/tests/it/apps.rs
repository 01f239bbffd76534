//! Issue #5: Python and Node apps from examples/, built with no config and no Dockerfile,
//! run in podman as nonroot and checked over HTTP; the layers an app change leaves alone;
//! the arm64 Flask image under qemu-user-static; and the bad inputs, each refused before an
//! image is written.

use std::path::{Path, PathBuf};
use std::process::Command;

use distill_test::tools::run_ok;
use distill_test::{Podman, validate_archive};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// A copy of an example, so a test may change it.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        Command::new("cp")
            .arg("-r")
            .arg(format!("{}/.", example(name).display()))
            .arg(dir.path()),
    );
    dir
}

fn no_shell(root: &Path) {
    for sh in ["bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/dash"] {
        assert!(!root.join(sh).exists(), "{sh} in the image");
    }
}

#[test]
fn flask_from_requirements_runs_with_its_native_wheel_for_the_images_python() {
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("flask.tar");
    let (ok, err) = crate::common::build_archive(&example("python-flask"), &[], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains("a Python app (requirements.txt) for Python 3.13; it goes onto `python3`"),
        "{err}"
    );
    let root = crate::common::rootfs(&archive, out.path());
    no_shell(&root);
    let site = root.join("usr/local/lib/python3.13/dist-packages");
    let speedups: Vec<_> = std::fs::read_dir(site.join("markupsafe"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".so"))
        .collect();
    assert_eq!(speedups, ["_speedups.cpython-313-x86_64-linux-gnu.so"]);
    // Bytecode for the image's Python, for the dependencies and the app.
    assert!(site.join("flask/__pycache__/app.cpython-313.pyc").is_file());
    assert!(root.join("app/__pycache__/app.cpython-313.pyc").is_file());
    assert!(
        !example("python-flask").join("__pycache__").exists(),
        "the user's tree was written"
    );
    let (answer, _) = crate::common::serve(&archive, None);
    assert!(
        answer.ends_with(
            "hello from flask on Python 3.13 (x86_64), &lt;distill&gt;, speedups True\n"
        ),
        "{answer}"
    );
}

#[test]
fn fastapi_from_pyproject_and_from_a_uv_lock_made_here() {
    distill_test::require("uv");
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("fastapi.tar");
    let (ok, err) = crate::common::build_archive(&example("python-fastapi"), &[], &archive);
    assert!(ok, "{err}");
    assert!(err.contains("a Python app (pyproject.toml)"), "{err}");
    assert!(
        err.contains(
            "started by /usr/bin/python3.13 -c import sys; from hello_fastapi.main import run"
        ),
        "{err}"
    );
    no_shell(&crate::common::rootfs(&archive, out.path()));
    let (answer, _) = crate::common::serve(&archive, None);
    assert!(
        answer.contains(r#""hello":"fastapi","python":"3.13""#),
        "{answer}"
    );

    // A uv.lock records the index's address, so it is made here rather than committed.
    let app = copy_of("python-fastapi");
    run_ok(
        Command::new("uv")
            .current_dir(app.path())
            .args(["lock", "--quiet"])
            .env("UV_PYTHON_DOWNLOADS", "never"),
    );
    assert!(app.path().join("uv.lock").is_file());
    let locked = out.path().join("locked.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &[], &locked);
    assert!(ok, "{err}");
    assert!(err.contains("a Python app (uv.lock)"), "{err}");
    let (answer, _) = crate::common::serve(&locked, None);
    assert!(answer.contains(r#""python":"3.13""#), "{answer}");
}

#[test]
fn express_from_package_lock_runs_without_npm() {
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("express.tar");
    let (ok, err) = crate::common::build_archive(&example("node-express"), &[], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains(
            "a Node app (package.json) for Node 26 (engines.node >=22); it goes onto `nodejs26`"
        ),
        "{err}"
    );
    assert!(
        !example("node-express").join("node_modules").exists(),
        "the user's tree was written"
    );
    let root = crate::common::rootfs(&archive, out.path());
    no_shell(&root);
    assert!(root.join("app/node_modules/express/package.json").is_file());
    // Production dependencies only: nodemon is a devDependency.
    assert!(!root.join("app/node_modules/nodemon").exists());
    assert!(!root.join("nodejs/bin/npm").exists());
    let (answer, _) = crate::common::serve(&archive, None);
    assert!(
        answer.contains("hello from express on node v26."),
        "{answer}"
    );
}

/// The manifest's annotations of an archive's image (the first, through an index).
fn manifest_annotations(archive: &Path) -> serde_json::Value {
    let (_, layout) = validate_archive(archive).unwrap();
    let read = |path: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    };
    let blob = |digest: &serde_json::Value| {
        let hex = digest.as_str().unwrap().strip_prefix("sha256:").unwrap();
        read(layout.path().join("blobs/sha256").join(hex))
    };
    let mut m = blob(&read(layout.path().join("index.json"))["manifests"][0]["digest"]);
    while m["manifests"].is_array() {
        m = blob(&m["manifests"][0]["digest"]);
    }
    m["annotations"].clone()
}

/// Issue #15: `.nvmrc` picks the Node major; one past its end of life (20) builds with a
/// warning and the end-of-life annotation, and `--deny-eol` refuses it.
#[test]
fn nvmrc_picks_the_node_major_and_an_end_of_life_one_warns_or_is_refused() {
    let app = copy_of("node-express");
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("express.tar");
    std::fs::write(app.path().join(".nvmrc"), "v22\n").unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains("for Node 22 (.nvmrc v22); it goes onto `nodejs22`"),
        "{err}"
    );
    assert!(!err.contains("end of life"), "{err}");
    let (answer, _) = crate::common::serve(&archive, None);
    assert!(
        answer.contains("hello from express on node v22."),
        "{answer}"
    );

    std::fs::write(app.path().join(".nvmrc"), "v20.16.0\n").unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(ok, "{err}");
    assert!(err.contains("for Node 20 (.nvmrc v20.16.0)"), "{err}");
    assert!(
        err.contains("node 20 reached its upstream end of life in 2026-04"),
        "{err}"
    );
    let annotations = manifest_annotations(&archive);
    assert_eq!(
        annotations["dev.distill.runtime"], "node 20",
        "{annotations}"
    );
    assert_eq!(
        annotations["dev.distill.runtime.end-of-life"], "2026-04",
        "{annotations}"
    );
    // An exact release the registry has is honoured, not only its major.
    let (answer, _) = crate::common::serve(&archive, None);
    assert!(
        answer.contains("hello from express on node v20.16.0"),
        "{answer}"
    );
    // One it does not have gives the newest of its major, saying so.
    std::fs::write(app.path().join(".nvmrc"), "v22.99.0\n").unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains("node 22.99.0 is not in")
            && err.contains("using the newest release of node 22"),
        "{err}"
    );
    std::fs::write(app.path().join(".nvmrc"), "v20.16.0\n").unwrap();

    let refused = out.path().join("refused.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &["--deny-eol"], &refused);
    assert!(!ok && !refused.exists(), "{err}");
    assert!(
        err.contains(
            "node 20 reached its upstream end of life in 2026-04, and --deny-eol refuses it"
        ) && err.contains("hint:"),
        "{err}"
    );
}

/// Issue #15: every major the registry carries, not only the family's: an LTS line long past
/// its end of life (16) and an odd one (25, whose build links libatomic), each run in podman.
#[test]
fn a_node_major_outside_the_family_builds_and_runs() {
    let app = tempfile::tempdir().unwrap();
    std::fs::write(
        app.path().join("server.js"),
        "require('http').createServer((q, r) => r.end('node ' + process.version))\n\
         .listen(Number(process.env.PORT), '127.0.0.1');\n",
    )
    .unwrap();
    crate::common::npm_lock(
        app.path(),
        r#"{"name": "old", "version": "1.0.0", "main": "server.js"}"#,
    );
    let out = tempfile::tempdir().unwrap();
    for (nvmrc, major, eol) in [("lts/gallium", 16, "2023-09"), ("^25", 25, "2026-06")] {
        std::fs::write(app.path().join(".nvmrc"), format!("{nvmrc}\n")).unwrap();
        let archive = out.path().join(format!("node{major}.tar"));
        let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
        assert!(ok, "{err}");
        assert!(
            err.contains(&format!("it goes onto `nodejs{major}`"))
                && err.contains(&format!(
                    "node {major} reached its upstream end of life in {eol}"
                )),
            "{err}"
        );
        let (answer, _) = crate::common::serve(&archive, None);
        assert!(answer.contains(&format!("node v{major}.")), "{answer}");
    }
}

/// Issue #20 too: the rebuild reuses the install (uv does not run, counted by a shim on
/// PATH in front of the real uv) and gives what a build with no cache gives.
#[test]
fn changing_one_line_of_the_app_changes_only_the_app_and_sbom_layers() {
    let app = copy_of("python-flask");
    let out = tempfile::tempdir().unwrap();
    let real = run_ok(Command::new("sh").args(["-c", "command -v uv"]));
    let shim = out.path().join("shim");
    std::fs::create_dir(&shim).unwrap();
    let log = out.path().join("uv-runs");
    std::fs::write(
        shim.join("uv"),
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.trim()
        ),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("+x").arg(shim.join("uv")));
    let path = format!("{}:{}", shim.display(), std::env::var("PATH").unwrap());
    let runs = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let layers = |name: &str, extra: &[&str]| {
        let layout = out.path().join(name);
        let o = crate::common::distill()
            .env("PATH", &path)
            .arg("build")
            .arg(app.path())
            .args(extra)
            .arg("-o")
            .arg(format!("oci:{}", layout.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let json = |p: PathBuf| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
        };
        let index = json(layout.join("index.json"));
        let d = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
        let manifest = json(layout.join("blobs/sha256").join(&d[7..]));
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let before = layers("before", &[]);
    let source = std::fs::read_to_string(app.path().join("app.py")).unwrap();
    std::fs::write(
        app.path().join("app.py"),
        source.replace("hello from flask", "hi from flask"),
    )
    .unwrap();
    let uv_before = runs();
    let after = layers("after", &[]);
    assert_eq!(runs(), uv_before, "the rebuild ran uv");
    assert_eq!(layers("uncached", &["--no-cache"]), after);
    assert!(runs() > uv_before, "the uncached build did not run uv");
    assert_eq!(before.len(), after.len());
    // The last layer is the SBOM, which lists the app's files by sha256, so it changes with
    // them; the app layer is the one before it.
    let n = before.len() - 1;
    assert_eq!(
        before[..n - 1],
        after[..n - 1],
        "base or dependency layers changed"
    );
    assert_ne!(before[n - 1], after[n - 1], "the app layer did not change");
    assert_ne!(before[n], after[n], "the SBOM layer did not change");
}

#[test]
fn flask_for_amd64_and_arm64_and_the_arm64_image_answers_under_qemu() {
    assert!(
        Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists(),
        "qemu-aarch64 is not registered with binfmt_misc; run ./scripts/install-deps"
    );
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("flask-multi.tar");
    let (ok, err) = crate::common::build_archive(
        &example("python-flask"),
        &["--platform", "linux/amd64,linux/arm64"],
        &archive,
    );
    assert!(ok, "{err}");
    let summary = validate_archive(&archive).unwrap().0;
    let platforms: Vec<&str> = summary.images.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    // aarch64, with MarkupSafe's C speedups loaded: the arm64 wheel was chosen.
    let (answer, _) = crate::common::serve(&archive, Some("linux/arm64"));
    assert!(
        answer.contains("(aarch64), &lt;distill&gt;, speedups True"),
        "{answer}"
    );
}

#[test]
fn bad_apps_are_refused_before_any_image_is_written() {
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("bad.tar");

    // A requirement whose only distribution is an sdist with a C extension.
    let app = tempfile::tempdir().unwrap();
    let src = app.path().join("cext-0.1");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(
        src.join("setup.py"),
        "from setuptools import setup, Extension\nsetup(name='cext', version='0.1', ext_modules=[Extension('cext', ['cext.c'])])\n",
    )
    .unwrap();
    std::fs::write(
        src.join("cext.c"),
        "#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"cext\", NULL, -1, NULL};\nPyMODINIT_FUNC PyInit_cext(void) { return PyModule_Create(&m); }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("PKG-INFO"),
        "Metadata-Version: 2.1\nName: cext\nVersion: 0.1\n",
    )
    .unwrap();
    run_ok(Command::new("tar").current_dir(app.path()).args([
        "czf",
        "cext-0.1.tar.gz",
        "cext-0.1",
    ]));
    std::fs::remove_dir_all(&src).unwrap();
    std::fs::write(app.path().join("requirements.txt"), "./cext-0.1.tar.gz\n").unwrap();
    std::fs::write(app.path().join("main.py"), "import cext\n").unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(!ok && !archive.exists(), "{err}");
    // Refused before setup.py runs: uv builds no source distribution (issue #15).
    assert!(
        err.contains("exists only as source") && err.contains("cext"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");

    // No entrypoint.
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("requirements.txt"), "").unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(!ok && !archive.exists(), "{err}");
    assert!(
        err.contains("No entrypoint for the Python app") && err.contains("hint:"),
        "{err}"
    );
    // ... which --entrypoint supplies.
    std::fs::write(app.path().join("serve.py"), "print('served')\n").unwrap();
    let (ok, err) = crate::common::build_archive(
        app.path(),
        &[
            "--entrypoint",
            r#"["/usr/bin/python3.13", "/app/serve.py"]"#,
        ],
        &archive,
    );
    assert!(ok, "{err}");
    let run = Podman::new().run(&format!("oci-archive:{}", archive.display()), &[]);
    assert_eq!(run.stdout, "served\n", "{}", run.stderr);
    std::fs::remove_file(&archive).unwrap();

    // A package.json with no lockfile.
    let app = tempfile::tempdir().unwrap();
    std::fs::write(
        app.path().join("package.json"),
        r#"{"main": "index.js", "dependencies": {"express": "^5.1.0"}}"#,
    )
    .unwrap();
    std::fs::write(app.path().join("index.js"), "").unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(!ok && !archive.exists(), "{err}");
    assert!(
        err.contains("has no lockfile beside it (package-lock.json, yarn.lock")
            && err.contains("npm install"),
        "{err}"
    );

    // A production dependency from a path is refused by name, not dropped.
    std::fs::write(
        app.path().join("package.json"),
        r#"{"main": "index.js", "dependencies": {"lib": "file:../lib"}}"#,
    )
    .unwrap();
    std::fs::write(app.path().join("package-lock.json"), "{}").unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(!ok && !archive.exists(), "{err}");
    assert!(
        err.contains("the dependency lib is `file:../lib`, not a package from the npm registry"),
        "{err}"
    );
}
