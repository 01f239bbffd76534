//! Issue #15: install scripts a user allows (`--allow-scripts`) run confined. A package
//! served by a registry made here (scoped in the app's `.npmrc`) has an install script
//! that writes a marker outside its directory and one inside: skipped by default (the build
//! warns, naming it), and, when allowed, run in the sandbox, where the marker never reaches
//! the host and the script finds no network. bcrypt 5, whose addon no tarball carries,
//! builds from source in the sandbox and hashes a password in the image.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use sha2::Digest;

/// A registry on 127.0.0.1 serving `@distill-test/marker` 1.0.0, whose install script
/// tries to write `marker` and to reach the registry itself, and records what happened in
/// `ran.txt` in its own directory.
fn marker_registry(root: &Path, marker: &Path) -> distill_test::http::FileServer {
    let server = distill_test::http::FileServer::start(root);
    let script = format!(
        "const fs = require('fs'); const net = require('net');\n\
         let wrote = 'refused';\n\
         try {{ fs.writeFileSync({marker:?}, 'x'); wrote = 'written'; }} catch (e) {{}}\n\
         const s = net.connect({port}, '127.0.0.1');\n\
         const done = (how) => {{ fs.writeFileSync('ran.txt', `ran ${{how}}`); process.exit(0); }};\n\
         s.on('connect', () => done('online')); s.on('error', () => done('offline'));\n",
        marker = marker.display().to_string(),
        port = server
            .url("")
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/'),
    );
    let manifest = serde_json::json!({
        "name": "@distill-test/marker", "version": "1.0.0", "main": "index.js",
        "scripts": {"install": "node install.js"},
    });
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, body) in [
        ("package/package.json", manifest.to_string()),
        ("package/install.js", script),
        (
            "package/index.js",
            "module.exports = 'marker';\n".to_owned(),
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    let tgz = tar.into_inner().unwrap().finish().unwrap();
    let dir = root.join("@distill-test/marker/-");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::File::create(dir.join("marker-1.0.0.tgz"))
        .unwrap()
        .write_all(&tgz)
        .unwrap();
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tgz))
    );
    let mut version = manifest.clone();
    version["dist"] = serde_json::json!({
        "tarball": server.url("/@distill-test/marker/-/marker-1.0.0.tgz"),
        "integrity": integrity,
    });
    let packument = serde_json::json!({
        "name": "@distill-test/marker",
        "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": version},
    });
    std::fs::write(root.join("@distill-test%2fmarker"), packument.to_string()).unwrap();
    server
}

/// The text of `path` in the image of an oci-archive, unpacked under `out`.
fn file_in(archive: &Path, out: &Path, path: &str) -> Option<String> {
    let root = crate::common::rootfs(archive, out);
    std::fs::read_to_string(root.join(path)).ok()
}

#[test]
fn an_allowed_install_script_runs_confined_and_a_skipped_one_is_named() {
    let served = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    let marker = host.path().join("marker");
    let server = marker_registry(served.path(), &marker);
    let app = tempfile::tempdir().unwrap();
    std::fs::write(
        app.path().join(".npmrc"),
        format!("@distill-test:registry={}/\n", server.url("")),
    )
    .unwrap();
    std::fs::write(
        app.path().join("i.js"),
        "console.log(require('@distill-test/marker'));\n",
    )
    .unwrap();
    crate::common::npm_lock(
        app.path(),
        r#"{"name": "scripts", "private": true, "main": "i.js", "dependencies": {"@distill-test/marker": "1.0.0"}}"#,
    );
    let ran = "app/node_modules/@distill-test/marker/ran.txt";

    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("skipped.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains("install scripts not run")
            && err.contains("@distill-test/marker@1.0.0 (node install.js)"),
        "{err}"
    );
    assert_eq!(file_in(&archive, &out.path().join("a"), ran), None);
    assert!(!marker.exists(), "a skipped script ran");

    let archive = out.path().join("allowed.tar");
    let (ok, err) = crate::common::build_archive(
        app.path(),
        &["--allow-scripts", "@distill-test/marker"],
        &archive,
    );
    assert!(ok, "{err}");
    assert_eq!(
        file_in(&archive, &out.path().join("b"), ran).as_deref(),
        Some("ran offline"),
        "the script did not run, or reached the network"
    );
    assert!(
        !marker.exists(),
        "the sandbox let the script write outside its package"
    );

    let (ok, err) = crate::common::build_archive(
        app.path(),
        &["--allow-scripts", "left-pad"],
        &out.path().join("typo.tar"),
    );
    assert!(
        !ok && err.contains("--allow-scripts=left-pad: no package of that name"),
        "{err}"
    );
}

#[test]
fn bcrypt_builds_its_addon_in_the_sandbox_and_runs_in_the_image() {
    let app = tempfile::tempdir().unwrap();
    std::fs::write(
        app.path().join("i.js"),
        "const b = require('bcrypt');\nconsole.log('match', b.compareSync('pw', b.hashSync('pw', 4)));\n",
    )
    .unwrap();
    crate::common::npm_lock(
        app.path(),
        r#"{"name": "bc", "private": true, "main": "i.js", "dependencies": {"bcrypt": "5.1.1"}}"#,
    );
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &["--allow-scripts=bcrypt"], &archive);
    assert!(ok, "{err}");
    let run = distill_test::Podman::new().run(&format!("oci-archive:{}", archive.display()), &[]);
    assert_eq!(run.stdout, "match true\n", "{}", run.stderr);
    let (ok, err) = crate::common::build_archive(
        app.path(),
        &["--allow-scripts=bcrypt", "--platform", "linux/arm64"],
        &out.path().join("arm64.tar"),
    );
    assert!(
        !ok && err.contains("install scripts build for this machine, not for linux/arm64"),
        "{err}"
    );
}
