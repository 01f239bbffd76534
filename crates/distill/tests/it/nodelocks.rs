//! Issue #15, the Node half: one Express app with one dependency besides Express and a
//! devDependency, locked by Yarn 1, Yarn 4, pnpm and Bun, each lock made here with the real
//! tool from the npm registry (locks record registry addresses, so none is committed;
//! package-lock.json has its own test in apps.rs). Each image runs nonroot in podman and
//! answers over HTTP; every package in its node_modules has a version the lock records,
//! and the devDependency is absent. Corepack's `packageManager` hash is checked. A Yarn
//! project with only devDependencies runs with `--entrypoint`/`--cmd`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use distill_test::tools::run_ok;
use sha2::Digest;

/// The lockers' directory, as scripts/install-deps makes it.
pub(crate) fn lockers() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    let dir = cache.join("distill/test-tools/node-lockers");
    for tool in [
        "node_modules/yarn/bin/yarn.js",
        "node_modules/@yarnpkg/cli-dist/bin/yarn.js",
        "node_modules/pnpm/bin/pnpm.cjs",
        "bun",
    ] {
        assert!(
            dir.join(tool).is_file(),
            "{tool} is not installed in {}; run ./scripts/install-deps test",
            dir.display()
        );
    }
    dir
}

const SERVER: &str = "const express = require('express');\nconst ms = require('ms');\n\
const app = express();\napp.get('/', (req, res) => res.send(`${ms(90000)} on node ${process.version}`));\n\
app.listen(Number(process.env.PORT || 8080));\n";

const MANIFEST: &str = r#"{"name": "locked", "version": "1.0.0", "private": true, "main": "server.js",
 "dependencies": {"express": "^4.21.0", "ms": "^2.1.0"}, "devDependencies": {"left-pad": "^1.3.0"}}"#;

/// The lock's `name -> versions`, read from the file the tool wrote.
fn locked(kind: &str, text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |name: &str, version: &str| {
        out.entry(name.trim_matches('"').to_owned())
            .or_default()
            .insert(version.trim_matches(['"', '\'']).to_owned());
    };
    // The name of a `name@range` (a scope's `@` is not the separator).
    let name_of = |spec: &str| {
        let spec = spec.trim().trim_matches('"');
        let at = spec[1..].find('@').map_or(spec.len(), |i| i + 1);
        spec[..at].to_owned()
    };
    match kind {
        "yarn1" | "yarn4" => {
            let mut current = None;
            for line in text.lines() {
                if !line.starts_with(' ') && line.ends_with(':') && !line.starts_with('#') {
                    current = Some(name_of(line.split(',').next().unwrap()));
                } else if let Some(v) = line
                    .strip_prefix("  version ")
                    .or(line.strip_prefix("  version: "))
                    && let Some(n) = &current
                {
                    add(n, v.trim());
                }
            }
        }
        "pnpm" => {
            let section = text.split("\npackages:\n").nth(1).unwrap_or_default();
            for line in section
                .lines()
                .take_while(|l| !l.starts_with(|c: char| c.is_alphabetic()))
            {
                if let Some(key) = line.strip_prefix("  ").filter(|k| !k.starts_with(' ')) {
                    let key = key.trim_end_matches(':').trim_matches('\'');
                    let n = name_of(key);
                    add(&n, &key[n.len() + 1..]);
                }
            }
        }
        "bun" => {
            for line in text.lines() {
                if let Some((_, rest)) = line.split_once(": [\"") {
                    let spec = rest.split('"').next().unwrap();
                    let n = name_of(spec);
                    add(&n, &spec[n.len() + 1..]);
                }
            }
        }
        _ => unreachable!(),
    }
    out
}

/// `name -> version` of every package directory in an image's node_modules.
fn installed(tree: &Path) -> BTreeSet<(String, String)> {
    walkdir::WalkDir::new(tree)
        .into_iter()
        .flatten()
        .filter(|e| e.file_name() == "package.json" && e.file_type().is_file())
        .filter(|e| {
            let dir = e.path().parent().unwrap();
            let parent = dir.parent().unwrap();
            parent.ends_with("node_modules")
                || (parent
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with('@')
                    && parent.parent().unwrap().ends_with("node_modules"))
        })
        .filter_map(|e| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok()?;
            Some((
                v["name"].as_str()?.to_owned(),
                v["version"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The tool that writes `kind`'s lock, run in `dir` with its caches under `scratch`.
pub(crate) fn locker(kind: &str, dir: &Path, scratch: &Path) -> Command {
    let l = lockers();
    let mut c = match kind {
        "bun" => Command::new(l.join("bun")),
        _ => {
            let mut c = Command::new("node");
            c.arg(l.join(match kind {
                "yarn1" => "node_modules/yarn/bin/yarn.js",
                "yarn4" => "node_modules/@yarnpkg/cli-dist/bin/yarn.js",
                _ => "node_modules/pnpm/bin/pnpm.cjs",
            }));
            c
        }
    };
    c.current_dir(dir)
        .env("YARN_CACHE_FOLDER", scratch.join("yarn"))
        .env("YARN_ENABLE_TELEMETRY", "0")
        .env("YARN_ENABLE_GLOBAL_CACHE", "0")
        .env("YARN_ENABLE_SCRIPTS", "0")
        .env("BUN_INSTALL_CACHE_DIR", scratch.join("bun"))
        .env("npm_config_store_dir", scratch.join("pnpm"))
        // CI would make Yarn 4 refuse to write a new lock.
        .env_remove("CI")
        .arg("install");
    // Yarn 4 takes no --ignore-scripts; YARN_ENABLE_SCRIPTS does the same.
    if kind != "yarn4" {
        c.arg("--ignore-scripts");
    }
    c
}

fn one_kind(kind: &'static str) {
    let app = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("package.json"), MANIFEST).unwrap();
    std::fs::write(app.path().join("server.js"), SERVER).unwrap();
    run_ok(&mut locker(kind, app.path(), scratch.path()));
    let file = match kind {
        "yarn1" | "yarn4" => "yarn.lock",
        "pnpm" => "pnpm-lock.yaml",
        _ => "bun.lock",
    };
    let text = std::fs::read_to_string(app.path().join(file))
        .unwrap_or_else(|e| panic!("{kind}: no {file}: {e}"));
    let lock = locked(kind, &text);
    assert!(lock.contains_key("left-pad"), "{kind}: {lock:?}");
    // The tool's own tree and state are not the app's to ship; distill never reads them.
    for d in ["node_modules", ".yarn"] {
        let _ = std::fs::remove_dir_all(app.path().join(d));
    }
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &["-v"], &archive);
    assert!(ok, "{kind}: {err}");
    // The JavaScript managers run under the official Node distill fetched for this machine.
    if kind != "bun" {
        assert!(
            err.contains(", run by ") && err.contains("tools/node-host/24."),
            "{kind}: not run by the fetched node: {err}"
        );
    }
    let root = crate::common::rootfs(&archive, out.path());
    let tree = root.join("app/node_modules");
    let got = installed(&tree);
    for (name, version) in &got {
        assert!(
            lock.get(name).is_some_and(|v| v.contains(version)),
            "{kind}: {name} {version} is not in the lock: {:?}",
            lock.get(name)
        );
    }
    for name in ["express", "ms", "body-parser", "debug"] {
        assert!(
            got.iter().any(|(n, _)| n == name),
            "{kind}: {name} missing from {got:?}"
        );
    }
    assert!(
        !got.iter().any(|(n, _)| n == "left-pad"),
        "{kind}: the devDependency is in the image"
    );
    for f in [".modules.yaml", ".yarn-state.yml", ".yarn-integrity"] {
        assert!(
            !tree.join(f).exists(),
            "{kind}: {f} holds the build's paths"
        );
    }
    // Nothing names the directory it was installed in (pnpm's shell shims once did).
    for e in walkdir::WalkDir::new(&tree).into_iter().flatten() {
        if e.file_type().is_file() {
            let bytes = std::fs::read(e.path()).unwrap();
            assert!(
                !bytes.windows(14).any(|w| w == b"distill-build-"),
                "{kind}: {} names the build directory",
                e.path().display()
            );
        }
    }
    let (answer, _) = crate::common::serve(&archive, None);
    assert!(answer.contains("2m on node v"), "{kind}: {answer}");
}

#[test]
fn every_node_lock_kind_installs_exactly_its_production_tree_and_runs() {
    crate::common::two_at_a_time(&["yarn1", "yarn4", "pnpm", "bun"], one_kind);
}

/// A Yarn 4 project with only devDependencies and Corepack's `packageManager` with the hash
/// Corepack records for Yarn 2+ (the sha512 of its `yarn.js`): a wrong hash is refused,
/// naming the one found; the right one builds, and the image runs with `--entrypoint`/`--cmd`.
#[test]
fn a_yarn_project_with_only_dev_dependencies_and_a_pinned_hash_runs() {
    let app = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let js = lockers().join("node_modules/@yarnpkg/cli-dist/bin/yarn.js");
    let hash = hex::encode(sha2::Sha512::digest(std::fs::read(&js).unwrap()));
    let manifest = |hash: &str| {
        format!(
            r#"{{"name": "dev-only", "private": true, "packageManager": "yarn@4.18.1+sha512.{hash}",
 "devDependencies": {{"left-pad": "^1.3.0"}}}}"#
        )
    };
    std::fs::write(app.path().join("package.json"), manifest(&hash)).unwrap();
    std::fs::write(
        app.path().join("main.js"),
        "console.log('hi', process.argv[2]);\n",
    )
    .unwrap();
    run_ok(&mut locker("yarn4", app.path(), scratch.path()));
    let _ = std::fs::remove_dir_all(app.path().join("node_modules"));
    let _ = std::fs::remove_dir_all(app.path().join(".yarn"));
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let args = [
        "--entrypoint",
        "/nodejs/bin/node",
        "--cmd",
        r#"["/app/main.js", "there"]"#,
    ];
    let wrong = format!("{}0", &hash[..hash.len() - 1]);
    std::fs::write(app.path().join("package.json"), manifest(&wrong)).unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &args, &archive);
    assert!(
        !ok && err.contains(&hash),
        "a wrong hash was not refused: {err}"
    );
    assert!(!archive.exists(), "an image was written");
    std::fs::write(app.path().join("package.json"), manifest(&hash)).unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &args, &archive);
    assert!(ok, "{err}");
    let root = crate::common::rootfs(&archive, out.path());
    assert!(!root.join("app/node_modules/left-pad").exists());
    let run = distill_test::Podman::new().run(&format!("oci-archive:{}", archive.display()), &[]);
    assert_eq!(run.stdout, "hi there\n", "{}", run.stderr);
}

/// npm dependencies whose skipped install scripts would have built or fetched a native
/// addon: bcrypt 5 downloads its `.node` (none is in its tarball) and is refused by name;
/// bufferutil 4.0.9 ships a prebuilt `.node` for linux-x64 only, so it builds for amd64,
/// with a warning, and is refused for arm64; esbuild's script only checks its binary.
#[test]
fn an_addon_that_an_install_script_would_build_is_refused_by_name() {
    let app = tempfile::tempdir().unwrap();
    let lock = |deps: &str| {
        crate::common::npm_lock(
            app.path(),
            &format!(
                r#"{{"name": "addons", "private": true, "main": "i.js", "dependencies": {{{deps}}}}}"#
            ),
        )
    };
    std::fs::write(app.path().join("i.js"), "require('bufferutil');\n").unwrap();
    lock(r#""bcrypt": "5.1.1", "bufferutil": "4.0.9", "esbuild": "0.25.0""#);
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(!ok, "built with bcrypt's addon missing");
    assert!(
        err.contains("ship no addon for linux/amd64: bcrypt@5.1.1 (node-pre-gyp install"),
        "{err}"
    );
    assert!(
        err.contains("--allow-scripts=bcrypt ") && err.contains("--use-node-modules"),
        "no hint: {err}"
    );
    assert!(!archive.exists(), "an image was written");
    lock(r#""bufferutil": "4.0.9", "esbuild": "0.25.0""#);
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains("install scripts not run") && err.contains("esbuild@0.25.0 (node install.js)"),
        "{err}"
    );
    let root = crate::common::rootfs(&archive, out.path());
    assert!(
        root.join("app/node_modules/@esbuild/linux-x64/bin/esbuild")
            .is_file()
    );
    let (ok, err) = crate::common::build_archive(
        app.path(),
        &["--platform", "linux/arm64"],
        &out.path().join("arm64.tar"),
    );
    assert!(!ok, "built for arm64 without bufferutil's addon");
    assert!(
        err.contains("ship no addon for linux/arm64: bufferutil@4.0.9 (node-gyp-build)"),
        "{err}"
    );
}
