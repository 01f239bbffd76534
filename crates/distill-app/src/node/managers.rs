//! Installing a Yarn, pnpm or Bun project's production dependencies, exactly as its lock
//! says, with scripts disabled, for the target's os and cpu, in a copy of the manifest and
//! lock (the user's tree is never touched).
//!
//! - Yarn 1: `install --frozen-lockfile --production`, after the copy's `resolved` URLs
//!   are pointed at the host's registry (the lock records the registry it was made
//!   against). Yarn 1 cannot install for another cpu, so a foreign platform installs every
//!   platform's optional packages (`--ignore-platform`).
//! - Yarn 2+: `workspaces focus --all --production` (built into Yarn 4) with the
//!   node-modules linker, `npmRegistryServer` set to the host's registry, telemetry and
//!   scripts off and `supportedArchitectures` set to the target. Plug'n'Play is not used:
//!   the image gets a `node_modules` tree that plain `node` runs. Of the project's
//!   `.yarnrc.yml`, only the registry settings are taken ([`REGISTRY_KEYS`]): its
//!   `yarnPath` and `plugins` are code from the project.
//!   Yarn 2 and 3 have `focus` only in a plugin, so a project pinned to them is refused
//!   with the way to Yarn 4.
//! - pnpm: `install --frozen-lockfile --prod`, files copied out of a store in the build's
//!   work directory, with `supportedArchitectures` for the target; the links of its
//!   isolated layout stay inside `node_modules`. `.pnpmfile.cjs` is ignored (code).
//! - Bun: `install --frozen-lockfile --production --linker=hoisted` with `--cpu`/`--os`.
//!
//! For a workspace member ([`super::workspace`]), every member's manifest is copied too.
//! Yarn 2+ focuses on the member (`workspaces focus NAME`), pnpm filters to it and its
//! dependencies (`--filter NAME...`); Yarn 1 and Bun install every member's production
//! dependencies, and the members left out stay out of the image.
//!
//! Each runs with the credentials of the host's and the project's `.npmrc`. Files a manager
//! writes about its own run (`.modules.yaml`, `.yarn-state.yml`, …) hold build paths and
//! times, so they are removed: the image must not depend on where it was built.

use std::path::{Component, Path, PathBuf};
use std::process::Stdio;

use distill_core::{Arch, Platform};

use super::manager::{Chosen, Manager};
use super::types::{NodeApp, NodeAppError};
use super::{registry, tools};
use crate::kind::Target;

/// Production dependencies by the chosen manager; returns the copy holding `node_modules`.
pub fn install(
    app: &NodeApp,
    chosen: &Chosen,
    target: &Target,
    work: &Path,
    cache: &Path,
) -> Result<PathBuf, NodeAppError> {
    let platform = target.platform;
    if chosen.manager == Manager::Yarn
        && matches!(chosen.version.split('.').next(), Some("2" | "3"))
    {
        return Err(NodeAppError::OldYarn {
            dir: app.dir.clone(),
            version: chosen.version.clone(),
        });
    }
    let tool = tools::get(chosen, cache, target.tool_node.as_deref())?;
    let registry = registry::registry(cache);
    let copy = work.join(format!("{}-{}", chosen.manager.lock(), platform.arch));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NodeAppError::Read { path, source }
    };
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).map_err(io(&copy))?;
    let own: &[&str] = match chosen.manager {
        Manager::Yarn1 => &[".yarnrc"],
        Manager::Pnpm => &["pnpm-workspace.yaml"],
        _ => &[],
    };
    for f in ["package.json", chosen.manager.lock(), ".npmrc"]
        .iter()
        .chain(own)
    {
        if app.dir.join(f).is_file() {
            std::fs::copy(app.dir.join(f), copy.join(f)).map_err(io(&copy.join(f)))?;
        }
    }
    if let Some(w) = &app.workspace {
        w.copy_manifests(&app.dir, &copy)?;
    }
    if chosen.manager == Manager::Yarn {
        let rc = copy.join(".yarnrc.yml");
        let own = std::fs::read_to_string(app.dir.join(".yarnrc.yml")).unwrap_or_default();
        std::fs::write(&rc, registry_settings(&own)).map_err(io(&rc))?;
    }
    let mut cmd = tool.command();
    cmd.current_dir(&copy)
        .stdin(Stdio::null())
        .env("npm_config_update_notifier", "false")
        .env("DO_NOT_TRACK", "1")
        .env("CI", "true")
        .env("COREPACK_ENABLE_STRICT", "0");
    let what = configure(
        &mut cmd,
        chosen.manager,
        &copy,
        work,
        registry.as_deref(),
        platform,
        app.workspace.as_ref().map(|w| w.member().name.as_str()),
    )?;
    tracing::info!(
        "{what} ({}, run by {}) for {platform}",
        tool.spec,
        tool.program.display()
    );
    let o = cmd.output().map_err(|e| NodeAppError::ToolFetch {
        spec: tool.spec.clone(),
        output: format!("cannot run {}: {e}", tool.program.display()),
    })?;
    if !o.status.success() {
        let mut output = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        output.push('\n');
        output.push_str(String::from_utf8_lossy(&o.stderr).trim());
        return Err(NodeAppError::Install {
            tool: format!("{what} ({})", tool.spec),
            lock: chosen.manager.lock().to_owned(),
            platform: platform.to_string(),
            output: output.trim().to_owned(),
        });
    }
    let tree = copy.join("node_modules");
    if tree.is_dir() {
        forget_the_run(&tree)?;
        // A workspace's links lead to its members: they are checked once the trees are
        // gathered under the repository's root.
        if app.workspace.is_none() {
            links_stay_inside(&tree)?;
        }
    }
    Ok(copy)
}

/// The manager's install command for the target, in `cmd`; returns what it runs, for
/// messages.
fn configure(
    cmd: &mut std::process::Command,
    manager: Manager,
    copy: &Path,
    work: &Path,
    registry: Option<&str>,
    platform: Platform,
    member: Option<&str>,
) -> Result<&'static str, NodeAppError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NodeAppError::Read { path, source }
    };
    let foreign = Arch::host() != Some(platform.arch);
    let cpu = platform.arch.node();
    Ok(match manager {
        Manager::Npm => unreachable!("npm ci is not run here"),
        Manager::Yarn1 => {
            if let Some(r) = registry {
                let lock = copy.join("yarn.lock");
                let text = std::fs::read_to_string(&lock).map_err(io(&lock))?;
                std::fs::write(&lock, rewrite_resolved(&text, r)).map_err(io(&lock))?;
                cmd.args(["--registry", r]);
            }
            cmd.env("YARN_IGNORE_PATH", "1")
                .args(["install", "--frozen-lockfile", "--production"])
                .args(["--ignore-scripts", "--ignore-engines", "--non-interactive"])
                .args(["--no-progress", "--cache-folder"])
                .arg(work.join("yarn1-cache"));
            if foreign {
                cmd.arg("--ignore-platform");
            }
            "yarn install --frozen-lockfile --production"
        }
        Manager::Yarn => yarn_berry(cmd, copy, work, registry, cpu, member)?,
        Manager::Pnpm => {
            supported_architectures(copy, cpu)?;
            if let Some(r) = registry {
                cmd.arg(format!("--config.registry={r}/"));
            }
            cmd.args(["install", "--frozen-lockfile", "--prod", "--ignore-scripts"])
                .args(["--ignore-pnpmfile", "--package-import-method", "copy"])
                .args(["--config.manage-package-manager-versions=false"])
                // Links, not shell shims that name the build directory (and need a shell).
                .args(["--config.prefer-symlinked-executables=true"])
                .args(["--config.engine-strict=false", "--reporter=append-only"])
                .arg("--store-dir")
                .arg(work.join("pnpm-store"));
            // The member and the members it depends on.
            if let Some(m) = member {
                cmd.arg(format!("--filter={m}..."));
            }
            "pnpm install --frozen-lockfile --prod"
        }
        Manager::Bun => {
            if let Some(r) = registry {
                cmd.arg(format!("--registry={r}/"));
            }
            cmd.args([
                "install",
                "--frozen-lockfile",
                "--production",
                "--ignore-scripts",
            ])
            .args(["--linker=hoisted", "--backend=copyfile", "--no-progress"])
            .arg(format!("--cpu={cpu}"))
            .arg("--os=linux")
            .arg(format!("--cache-dir={}", work.join("bun-cache").display()));
            "bun install --frozen-lockfile --production"
        }
    })
}

/// Yarn 2+'s production install, focused on `member` when it is a workspace's.
fn yarn_berry(
    cmd: &mut std::process::Command,
    copy: &Path,
    work: &Path,
    registry: Option<&str>,
    cpu: &str,
    member: Option<&str>,
) -> Result<&'static str, NodeAppError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NodeAppError::Read { path, source }
    };
    // The copy's .yarnrc.yml holds the project's registry settings: its own server wins
    // over the host's npm registry.
    let rc = copy.join(".yarnrc.yml");
    let mut text = std::fs::read_to_string(&rc).unwrap_or_default();
    let own_server = text.lines().any(|l| l.starts_with("npmRegistryServer:"));
    if let Some(r) = registry.filter(|_| !own_server) {
        cmd.env("YARN_NPM_REGISTRY_SERVER", r);
    }
    // The one setting the environment cannot carry.
    text.push_str(&format!(
        "supportedArchitectures:\n  os: [linux]\n  cpu: [{cpu}]\n  libc: [glibc]\n"
    ));
    std::fs::write(&rc, text).map_err(io(&rc))?;
    cmd.env("YARN_IGNORE_PATH", "1")
        .env("YARN_NODE_LINKER", "node-modules")
        .env("YARN_ENABLE_TELEMETRY", "0")
        .env("YARN_ENABLE_SCRIPTS", "0")
        .env("YARN_ENABLE_GLOBAL_CACHE", "0")
        .env("YARN_ENABLE_PROGRESS_BARS", "0")
        .env("YARN_ENABLE_IMMUTABLE_INSTALLS", "1")
        .env("YARN_CACHE_FOLDER", work.join("yarn-cache"))
        .args(["workspaces", "focus"])
        .arg(member.unwrap_or("--all"))
        .arg("--production");
    Ok(if member.is_some() {
        "yarn workspaces focus MEMBER --production"
    } else {
        "yarn workspaces focus --all --production"
    })
}

/// The top-level settings of a `.yarnrc.yml` that take along: where packages come from and
/// the credentials for there. They are data; `yarnPath`, `plugins` and the rest are not
/// taken, since some are code from the project and others would change the install.
const REGISTRY_KEYS: [&str; 6] = [
    "npmScopes",
    "npmRegistries",
    "npmRegistryServer",
    "npmAuthToken",
    "npmAuthIdent",
    "npmAlwaysAuth",
];

/// The [`REGISTRY_KEYS`] blocks of the `.yarnrc.yml` text, as written (Yarn expands the
/// `${VAR}` in them from the environment, as it would in the project).
fn registry_settings(text: &str) -> String {
    let mut out = String::new();
    let mut keep = false;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) || line.trim().is_empty() {
            if keep && !line.trim().is_empty() {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        let key = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        keep = !line.starts_with('#') && REGISTRY_KEYS.contains(&key);
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Yarn 1's lock with every registry tarball URL on `registry` (no trailing slash).
pub fn rewrite_resolved(text: &str, registry: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let url = trimmed
            .strip_prefix("resolved \"")
            .and_then(|r| r.split_once('"'))
            .map(|(u, _)| u);
        match url.and_then(|u| tarball_path(u)) {
            Some(path) => {
                let end = if line.ends_with('\n') { "\n" } else { "" };
                out.push_str(&format!("{indent}resolved \"{registry}/{path}\"{end}"));
            }
            None => out.push_str(line),
        }
    }
    out
}

/// `NAME/-/FILE.tgz[#sha1]` (or `@scope/NAME/-/…`) of a registry tarball URL.
fn tarball_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or(url.strip_prefix("http://"))?;
    let marker = rest.find("/-/")?;
    let before = &rest[..marker];
    let mut cut = before.rfind('/')?;
    if before[cut + 1..].starts_with('@') {
        return None;
    }
    if let Some(scope) = before[..cut].rfind('/')
        && before[scope + 1..].starts_with('@')
    {
        cut = scope;
    }
    Some(&rest[cut + 1..])
}

/// The target's os, cpu and libc in the copy's `pnpm-workspace.yaml`, unless it sets them.
fn supported_architectures(copy: &Path, cpu: &str) -> Result<(), NodeAppError> {
    let path = copy.join("pnpm-workspace.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    if text
        .lines()
        .any(|l| l.starts_with("supportedArchitectures:"))
    {
        return Ok(());
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "supportedArchitectures:\n  os: [linux]\n  cpu: [{cpu}]\n  libc: [glibc]\n"
    ));
    std::fs::write(&path, text).map_err(|source| NodeAppError::Read { path, source })
}

/// Removes what a manager wrote about its run (paths, times), not used at run time.
pub(super) fn forget_the_run(tree: &Path) -> Result<(), NodeAppError> {
    const RUN_FILES: [&str; 4] = [
        ".modules.yaml",
        ".yarn-integrity",
        ".yarn-state.yml",
        ".pnpm-workspace-state-v1.json",
    ];
    for f in RUN_FILES {
        let p = tree.join(f);
        if p.is_file() {
            std::fs::remove_file(&p).map_err(|source| NodeAppError::Read { path: p, source })?;
        }
    }
    Ok(())
}

/// Every symlink in `tree` is relative and resolves inside it, as it will in the image.
pub(super) fn links_stay_inside(tree: &Path) -> Result<(), NodeAppError> {
    for e in walkdir::WalkDir::new(tree).into_iter().flatten() {
        if !e.path_is_symlink() {
            continue;
        }
        let target = std::fs::read_link(e.path()).map_err(|source| NodeAppError::Read {
            path: e.path().to_path_buf(),
            source,
        })?;
        let rel = e.path().strip_prefix(tree).unwrap_or(e.path());
        let mut depth = rel.components().count() as i64 - 1;
        let inside = target.components().all(|c| {
            depth += match c {
                Component::Normal(_) => 1,
                Component::CurDir => 0,
                Component::ParentDir => -1,
                _ => -1_000_000,
            };
            depth >= 0
        });
        if !inside {
            return Err(NodeAppError::OutsideLink {
                path: rel.to_path_buf(),
                target,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yarn1_tarballs_move_to_the_host_registry() {
        let lock = concat!(
            "ms@2.1.3:\n",
            "  version \"2.1.3\"\n",
            "  resolved \"https://example.test/ms/-/ms-2.1.3.tgz#d6a3\"\n",
            "\"@babel/core@^7\":\n",
            "  resolved \"https://mirror.test/npm/@babel/core/-/core-7.0.0.tgz#aa\"\n",
            "x@github:a/b:\n",
            "  resolved \"https://codeload.test/a/b/tar.gz/0123\"\n",
        );
        let got = rewrite_resolved(lock, "http://127.0.0.1:4873/r");
        assert_eq!(
            got,
            concat!(
                "ms@2.1.3:\n",
                "  version \"2.1.3\"\n",
                "  resolved \"http://127.0.0.1:4873/r/ms/-/ms-2.1.3.tgz#d6a3\"\n",
                "\"@babel/core@^7\":\n",
                "  resolved \"http://127.0.0.1:4873/r/@babel/core/-/core-7.0.0.tgz#aa\"\n",
                "x@github:a/b:\n",
                "  resolved \"https://codeload.test/a/b/tar.gz/0123\"\n",
            )
        );
    }

    #[test]
    fn only_the_registry_settings_of_a_yarnrc_are_taken() {
        let rc = "yarnPath: .yarn/releases/evil.cjs\nplugins:\n  - path: .yarn/plugins/x.cjs\n\
                  npmScopes:\n  acme:\n    npmRegistryServer: \"https://npm.acme.test\"\n    npmAuthToken: \"${ACME_TOKEN}\"\n\
                  # a comment\nnodeLinker: pnp\n\"npmAlwaysAuth\": true\nenableScripts: true\n";
        assert_eq!(
            registry_settings(rc),
            "npmScopes:\n  acme:\n    npmRegistryServer: \"https://npm.acme.test\"\n    npmAuthToken: \"${ACME_TOKEN}\"\n\"npmAlwaysAuth\": true\n"
        );
        assert_eq!(registry_settings(""), "");
    }

    #[test]
    fn links_must_resolve_inside_the_tree() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path();
        std::fs::create_dir_all(t.join(".pnpm/ms@2.1.3/node_modules/ms")).unwrap();
        std::os::unix::fs::symlink(".pnpm/ms@2.1.3/node_modules/ms", t.join("ms")).unwrap();
        std::fs::create_dir_all(t.join(".bin")).unwrap();
        std::os::unix::fs::symlink("../ms/cli.js", t.join(".bin/ms")).unwrap();
        links_stay_inside(t).unwrap();
        std::os::unix::fs::symlink("../../secret", t.join(".bin/up")).unwrap();
        let err = links_stay_inside(t).unwrap_err();
        assert!(err.to_string().contains(".bin/up"), "{err}");
        std::fs::remove_file(t.join(".bin/up")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.join("abs")).unwrap();
        assert!(links_stay_inside(t).is_err());
    }

    #[test]
    fn pnpm_gets_the_target_unless_the_project_set_it() {
        let d = tempfile::tempdir().unwrap();
        supported_architectures(d.path(), "arm64").unwrap();
        let text = std::fs::read_to_string(d.path().join("pnpm-workspace.yaml")).unwrap();
        assert!(text.contains("cpu: [arm64]"), "{text}");
        std::fs::write(
            d.path().join("pnpm-workspace.yaml"),
            "supportedArchitectures:\n  cpu: [x64, arm64]",
        )
        .unwrap();
        supported_architectures(d.path(), "arm64").unwrap();
        let text = std::fs::read_to_string(d.path().join("pnpm-workspace.yaml")).unwrap();
        assert!(!text.contains("glibc"), "{text}");
    }
}
