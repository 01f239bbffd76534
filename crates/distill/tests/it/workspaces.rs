//! Issue #15: one member of a Node monorepo, `--workspace NAME`, for npm, Yarn 1, Yarn 4
//! and pnpm, each lock made here with the real tool. The member `@demo/api` depends on the
//! member `@demo/lib` and on ms 2.1.3, and `@demo/lib` on ms 2.0.0 (so it gets a tree of its
//! own); `@demo/web` is another member, left out. The image holds the root's files, api and
//! lib at their places, runs from api's directory nonroot in podman, and answers over HTTP
//! with both versions of ms; web and api's devDependency are absent.

use std::path::Path;
use std::process::Command;

use distill_test::tools::run_ok;

const SERVER: &str = "const http = require('http');\nconst ms = require('ms');\n\
const lib = require('@demo/lib');\n\
http.createServer((req, res) => res.end(`${ms(60000)} ms ${require('ms/package.json').version} lib ${lib()}`))\n\
  .listen(Number(process.env.PORT || 8080));\n";

const LIB: &str = "module.exports = () => require('ms/package.json').version;\n";

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn repo(kind: &str, dir: &Path) {
    if kind == "pnpm" {
        write(dir, "package.json", r#"{"name": "mono", "private": true}"#);
        write(dir, "pnpm-workspace.yaml", "packages:\n  - 'packages/*'\n");
    } else {
        write(
            dir,
            "package.json",
            r#"{"name": "mono", "private": true, "workspaces": ["packages/*"]}"#,
        );
    }
    // pnpm and Yarn 4 link a member only when asked to by the workspace protocol.
    let lib = if matches!(kind, "pnpm" | "yarn4") {
        "workspace:*"
    } else {
        "1.0.0"
    };
    write(
        dir,
        "packages/api/package.json",
        &format!(
            r#"{{"name": "@demo/api", "version": "1.0.0", "main": "server.js",
 "dependencies": {{"@demo/lib": "{lib}", "ms": "2.1.3"}}, "devDependencies": {{"left-pad": "1.3.0"}}}}"#
        ),
    );
    write(dir, "packages/api/server.js", SERVER);
    write(
        dir,
        "packages/lib/package.json",
        r#"{"name": "@demo/lib", "version": "1.0.0", "main": "index.js", "dependencies": {"ms": "2.0.0"}}"#,
    );
    write(dir, "packages/lib/index.js", LIB);
    write(
        dir,
        "packages/web/package.json",
        r#"{"name": "@demo/web", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}}"#,
    );
    write(dir, "packages/web/index.js", "");
    write(dir, "README.md", "the monorepo\n");
}

/// Every package.json `name` under `tree`, at any depth.
fn names(tree: &Path) -> Vec<String> {
    walkdir::WalkDir::new(tree)
        .into_iter()
        .flatten()
        .filter(|e| e.file_name() == "package.json" && e.file_type().is_file())
        .filter_map(|e| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok()?;
            Some(v["name"].as_str()?.to_owned())
        })
        .collect()
}

fn one_kind(kind: &'static str) {
    let app = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    repo(kind, app.path());
    if kind == "npm" {
        run_ok(Command::new("npm").current_dir(app.path()).args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
        ]));
    } else {
        run_ok(&mut crate::nodelocks::locker(
            kind,
            app.path(),
            scratch.path(),
        ));
    }
    for d in [
        "node_modules",
        ".yarn",
        "packages/api/node_modules",
        "packages/lib/node_modules",
        "packages/web/node_modules",
    ] {
        let _ = std::fs::remove_dir_all(app.path().join(d));
    }
    // By package name, and (pnpm) by directory.
    let member = if kind == "pnpm" {
        "packages/api"
    } else {
        "@demo/api"
    };
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &["--workspace", member], &archive);
    assert!(ok, "{kind}: {err}");
    assert!(
        err.contains("a Node app (workspace @demo/api in packages/api)")
            && err.contains("started by /nodejs/bin/node /app/packages/api/server.js"),
        "{kind}: {err}"
    );
    let root = crate::common::rootfs(&archive, out.path());
    for f in [
        "package.json",
        "README.md",
        "packages/api/server.js",
        "packages/lib/index.js",
    ] {
        assert!(root.join("app").join(f).is_file(), "{kind}: no /app/{f}");
    }
    assert!(
        !root.join("app/packages/web").exists(),
        "{kind}: the member left out is in the image"
    );
    let got = names(&root.join("app"));
    assert!(
        !got.iter().any(|n| n == "left-pad"),
        "{kind}: the devDependency is in the image: {got:?}"
    );
    // Yarn 1 cannot focus on one member: the others' dependencies come along (docs/node.md).
    if kind != "yarn1" {
        assert!(
            !got.iter().any(|n| n == "is-number"),
            "{kind}: the left-out member's dependency is in the image: {got:?}"
        );
    }
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("bundle/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["process"]["cwd"], "/app/packages/api", "{kind}");
    let (answer, logs) = crate::common::serve(&archive, None);
    assert!(
        answer.ends_with("1m ms 2.1.3 lib 2.0.0"),
        "{kind}: {answer}\n{logs}"
    );
}

#[test]
fn one_member_of_a_monorepo_builds_with_what_it_needs_and_runs() {
    crate::common::two_at_a_time(&["npm", "pnpm", "yarn4", "yarn1"], one_kind);
}

/// A workspace root with no program of its own names its members; an unknown member is
/// refused with the list.
#[test]
fn a_workspace_root_without_a_member_names_the_members() {
    let app = tempfile::tempdir().unwrap();
    repo("npm", app.path());
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(!ok, "{err}");
    assert!(
        err.contains("workspace root with no program of its own")
            && err.contains("--workspace NAME: @demo/api (packages/api), @demo/lib (packages/lib), @demo/web (packages/web)"),
        "{err}"
    );
    let (ok, err) =
        crate::common::build_archive(app.path(), &["--workspace", "@demo/nope"], &archive);
    assert!(
        !ok && err.contains("has no workspace member `@demo/nope`"),
        "{err}"
    );
    assert!(!archive.exists());
}
