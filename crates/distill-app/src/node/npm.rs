//! Installing a Node app's production dependencies: `npm ci --omit=dev --ignore-scripts`
//! for the target's os and cpu, in a copy of the manifest and lock (the user's tree is
//! never touched), or the app's own `node_modules` with `--use-node-modules`.
//!
//! The inventory is the lockfile's record of each package that is in the installed tree:
//! `packages["node_modules/…"]` of `package-lock.json` (npm's hidden
//! `node_modules/.package-lock.json` for an existing tree), with its version and integrity.

use std::path::{Path, PathBuf};
use std::process::Command;

use distill_core::{Component, Platform};

use super::manager::{self, Manager};
use super::types::{NodeApp, NodeAppError, read_json};
use super::{managers, scripts, tree};
use crate::elf::NativeNeeds;
use crate::kind::{APP_DIR, Installed, Target};

/// Production dependencies for `platform`, by the manager the project's lock names
/// ([`manager`]); the tree is `work/LOCK-ARCH/node_modules`.
pub fn install(
    app: &NodeApp,
    target: &Target,
    work: &Path,
    cache: &Path,
) -> Result<Installed, NodeAppError> {
    let platform = target.platform;
    if app.workspace.is_some() && app.use_existing {
        return Err(NodeAppError::Workspace {
            dir: app.dir.clone(),
            why: "--use-node-modules takes one tree as it is, and a member's is spread over the repository".into(),
        });
    }
    let mut dst = format!("{APP_DIR}/node_modules");
    let (tree, lock) = tree_and_lock(app, target, work, cache)?;
    // A workspace member's trees are spread over the repository: the root's and the
    // members'. They go to /app together, at their places.
    let (root, trees) = match &app.workspace {
        Some(w) => {
            let deps = work.join(format!("workspace-{}", platform.arch));
            let trees = w.gather(tree.parent().unwrap_or(&tree), &deps)?;
            for t in &trees {
                managers::forget_the_run(t)?;
            }
            managers::links_stay_inside(&deps)?;
            dst = APP_DIR.to_owned();
            (deps, trees)
        }
        None if tree.is_dir() => (tree.clone(), vec![tree.clone()]),
        None => return Ok(Installed::none(tree, dst, "node_modules")),
    };
    let components = match lock {
        Some(lock) if lock.is_file() => {
            let base = if app.workspace.is_some() {
                root.as_path()
            } else {
                tree.parent().unwrap_or(&tree)
            };
            components(&read_json(&lock)?, base)
        }
        Some(_) => Vec::new(),
        None => {
            let mut all: Vec<Component> = trees.iter().flat_map(|t| tree::components(t)).collect();
            all.sort();
            all
        }
    };
    for tree in &trees {
        if !app.use_existing {
            scripts::run_allowed(tree, &app.allow_scripts, platform)?;
        }
        tree::check_scripts(tree, platform.arch, &platform.to_string())?;
    }
    let tree = root;
    let needs = crate::elf::needs_of_tree(&tree, &[".node"])?;
    tracing::info!(
        "node_modules for {platform}: {} native files, needing {:?}",
        needs.checked,
        needs.needed
    );
    let native = (needs.checked > 0).then(|| NativeNeeds {
        binary: "node_modules".into(),
        needed: needs.needed,
        glibc: needs.glibc,
    });
    Ok(Installed {
        dir: tree,
        dst,
        what: "node_modules".into(),
        native,
        components,
    })
}

/// The installed tree (a `node_modules`) and the lock that describes it, when distill reads
/// that lock: by the project's manager, or the app's own tree with `--use-node-modules`.
fn tree_and_lock(
    app: &NodeApp,
    target: &Target,
    work: &Path,
    cache: &Path,
) -> Result<(PathBuf, Option<PathBuf>), NodeAppError> {
    if app.use_existing {
        let existing = app.dir.join("node_modules");
        if !existing.is_dir() {
            return Err(NodeAppError::NoNodeModules {
                dir: app.dir.clone(),
            });
        }
        let hidden = existing.join(".package-lock.json");
        let lock = if hidden.is_file() {
            hidden
        } else {
            app.dir.join("package-lock.json")
        };
        return Ok((existing, Some(lock)));
    }
    match &app.workspace {
        None => manager::registry_only(&app.dir, &app.package, &[])?,
        Some(w) => {
            let names: Vec<&str> = w.members.iter().map(|m| m.name.as_str()).collect();
            manager::registry_only(&app.dir, &app.package, &names)?;
            for i in &w.needed {
                let dir = app.dir.join(&w.members[*i].dir);
                manager::registry_only(&dir, &read_json(&dir.join("package.json"))?, &names)?;
            }
        }
    }
    let chosen = manager::choose(&app.dir, &app.package)?;
    if chosen.manager != Manager::Npm {
        let copy = managers::install(app, &chosen, target, work, cache)?;
        return Ok((copy.join("node_modules"), None));
    }
    let copy = npm_ci(app, target.platform, work)?;
    Ok((
        copy.join("node_modules"),
        Some(copy.join("package-lock.json")),
    ))
}

/// `npm ci` in a copy of the manifest and lock under `work`; returns the copy.
fn npm_ci(app: &NodeApp, platform: Platform, work: &Path) -> Result<PathBuf, NodeAppError> {
    let copy = work.join(format!("npm-{}", platform.arch));
    let io = |source| NodeAppError::Read {
        path: copy.clone(),
        source,
    };
    std::fs::create_dir_all(&copy).map_err(io)?;
    for f in [
        "package.json",
        "package-lock.json",
        "npm-shrinkwrap.json",
        ".npmrc",
    ] {
        if app.dir.join(f).is_file() {
            std::fs::copy(app.dir.join(f), copy.join(f)).map_err(io)?;
        }
    }
    let mut npm = Command::new("npm");
    if let Some(w) = &app.workspace {
        w.copy_manifests(&app.dir, &copy)?;
        npm.arg(format!("--workspace={}", w.member().dir));
    }
    let o = npm
        .current_dir(&copy)
        .args([
            "ci",
            "--omit=dev",
            // Install scripts would build for the host; native addons must come prebuilt.
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--os=linux",
            &format!("--cpu={}", platform.arch.node()),
        ])
        .env("npm_config_update_notifier", "false")
        .output()
        .map_err(|e| NodeAppError::Npm { why: e.to_string() })?;
    if !o.status.success() {
        return Err(NodeAppError::Install {
            tool: "npm ci --omit=dev".into(),
            lock: "package-lock.json".into(),
            platform: platform.to_string(),
            output: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        });
    }
    Ok(copy)
}

/// The lockfile's packages that are in the tree under `root`, sorted by path.
fn components(lock: &serde_json::Value, root: &Path) -> Vec<Component> {
    let Some(packages) = lock["packages"].as_object() else {
        return Vec::new();
    };
    let mut out: Vec<Component> = packages
        .iter()
        .filter(|(path, p)| {
            (path.starts_with("node_modules/") || path.contains("/node_modules/"))
                && p["link"] != true
                && !path.split('/').any(|c| c == ".." || c == ".")
                && root.join(path).join("package.json").is_file()
        })
        .map(|(path, p)| {
            let name = p["name"].as_str().map(str::to_owned).unwrap_or_else(|| {
                path.rsplit_once("node_modules/")
                    .map_or(path.as_str(), |(_, n)| n)
                    .to_owned()
            });
            Component::Npm {
                name,
                version: p["version"].as_str().unwrap_or_default().to_owned(),
                integrity: p["integrity"].as_str().map(str::to_owned),
                path: path.clone(),
            }
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_the_installed_part_of_the_lock() {
        let d = tempfile::tempdir().unwrap();
        for p in [
            "node_modules/express",
            "node_modules/@scope/x",
            "node_modules/express/node_modules/ms",
        ] {
            std::fs::create_dir_all(d.path().join(p)).unwrap();
            std::fs::write(d.path().join(p).join("package.json"), "{}").unwrap();
        }
        let lock = serde_json::json!({"packages": {
            "": {"name": "app"},
            "node_modules/express": {"version": "4.21.2", "integrity": "sha512-e"},
            "node_modules/@scope/x": {"version": "1.0.0", "integrity": "sha512-x"},
            "node_modules/express/node_modules/ms": {"version": "2.0.0", "integrity": "sha512-m"},
            "node_modules/nodemon": {"version": "3.0.0", "dev": true, "integrity": "sha512-n"},
            "node_modules/../../etc": {"version": "1"},
        }});
        let got = components(&lock, d.path());
        let names: Vec<(String, String)> = got
            .iter()
            .map(|c| match c {
                Component::Npm { name, version, .. } => (name.clone(), version.clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            names,
            [
                ("@scope/x".to_owned(), "1.0.0".to_owned()),
                ("express".to_owned(), "4.21.2".to_owned()),
                ("ms".to_owned(), "2.0.0".to_owned()),
            ]
        );
    }
}
