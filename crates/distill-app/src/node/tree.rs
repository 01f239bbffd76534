//! An installed `node_modules` tree, read as the image will hold it: its packages, for the
//! inventory of managers whose lock distill does not read, and the install scripts the
//! managers were told to skip.
//!
//! Scripts never run (they would build for the host, with the host's files and network), so
//! a package that builds or downloads its native addon in one would be missing its `.node`
//! file at run time. Such a package is one with a `binding.gyp` (npm then runs
//! `node-gyp rebuild` by default) or whose `preinstall`, `install` or `postinstall` calls
//! node-gyp, node-gyp-build, prebuild-install, node-pre-gyp or cmake-js. When it ships no
//! `.node` built for the target's machine, the build fails naming it; other skipped scripts
//! are reported as warnings.

use std::path::{Path, PathBuf};

use distill_core::{Arch, Component};

use super::types::{NodeAppError, read_json};

/// A package directory in the tree, relative to the tree's parent.
pub(super) struct Package {
    pub path: PathBuf,
    pub manifest: serde_json::Value,
}

/// Each `node_modules/NAME` and `node_modules/@SCOPE/NAME` directory with a `package.json`,
/// at any depth, including the `.pnpm` store of pnpm's isolated layout. Symlinks are not
/// followed (they are the same packages again).
pub(super) fn packages(tree: &Path) -> Vec<Package> {
    let root = tree.parent().unwrap_or(tree);
    let subdirs = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::from("node_modules")];
    while let Some(nm) = todo.pop() {
        for name in subdirs(&root.join(&nm)) {
            if name == ".pnpm" {
                let store = nm.join(".pnpm");
                for entry in subdirs(&root.join(&store)) {
                    todo.push(store.join(entry).join("node_modules"));
                }
                continue;
            }
            if name.starts_with('.') {
                continue;
            }
            let dirs = if name.starts_with('@') {
                let scope = nm.join(&name);
                subdirs(&root.join(&scope))
                    .into_iter()
                    .map(|n| scope.join(n))
                    .collect()
            } else {
                vec![nm.join(&name)]
            };
            for path in dirs {
                if let Ok(manifest) = read_json(&root.join(&path).join("package.json")) {
                    todo.push(path.join("node_modules"));
                    out.push(Package { path, manifest });
                }
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The packages of the tree, for the inventory.
pub fn components(tree: &Path) -> Vec<Component> {
    let mut out: Vec<Component> = packages(tree)
        .into_iter()
        .filter_map(|p| {
            Some(Component::Npm {
                name: p.manifest["name"].as_str()?.to_owned(),
                version: p.manifest["version"].as_str()?.to_owned(),
                integrity: None,
                path: p.path.to_string_lossy().into_owned(),
            })
        })
        .collect();
    out.sort();
    out
}

/// The install scripts that were skipped: `name@version (script)` of packages that would
/// have built or fetched a native addon and ship none for `arch`, and of all others.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    pub addons: Vec<String>,
    pub others: Vec<String>,
}

const BUILDERS: [&str; 5] = [
    "node-gyp",
    "prebuild-install",
    "node-pre-gyp",
    "cmake-js",
    "node-gyp-build",
];

/// The install scripts a package manager would run for the package in `dir`, in order,
/// with their event names; `node-gyp rebuild` for a `binding.gyp` with no install script of
/// its own, as npm does.
pub(super) fn install_scripts(
    manifest: &serde_json::Value,
    dir: &Path,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = ["preinstall", "install", "postinstall"]
        .into_iter()
        .filter_map(|e| Some((e, manifest["scripts"][e].as_str()?.to_owned())))
        .collect();
    if dir.join("binding.gyp").is_file()
        && manifest["scripts"]["install"].is_null()
        && manifest["scripts"]["preinstall"].is_null()
    {
        out.insert(0, ("install", "node-gyp rebuild".into()));
    }
    out
}

pub fn skipped(tree: &Path, arch: Arch) -> Skipped {
    let root = tree.parent().unwrap_or(tree);
    let mut out = Skipped::default();
    for p in packages(tree) {
        let dir = root.join(&p.path);
        let scripts: Vec<String> = install_scripts(&p.manifest, &dir)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        let gyp = dir.join("binding.gyp").is_file();
        if scripts.is_empty() {
            continue;
        }
        let label = format!(
            "{}@{} ({})",
            p.manifest["name"].as_str().unwrap_or("?"),
            p.manifest["version"].as_str().unwrap_or("?"),
            scripts.join("; ")
        );
        let builds = gyp
            || scripts
                .iter()
                .any(|s| BUILDERS.iter().any(|b| s.contains(b)));
        if builds && !has_addon_for(&dir, arch) {
            out.addons.push(label);
        } else {
            out.others.push(label);
        }
    }
    out
}

/// Whether `dir` (not its own node_modules) holds a `.node` ELF file for `arch`.
fn has_addon_for(dir: &Path, arch: Arch) -> bool {
    let machine: u16 = match arch {
        Arch::Amd64 => 62,
        Arch::Arm64 => 183,
    };
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || e.file_name() != "node_modules")
        .flatten()
        .filter(|e| e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".node"))
        .any(|e| {
            let mut head = [0u8; 20];
            std::fs::File::open(e.path())
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && head.starts_with(b"\x7fELF")
                && head[5] == 1
                && u16::from_le_bytes([head[18], head[19]]) == machine
        })
}

/// Fails on skipped addon builds; warns about the other skipped scripts.
pub fn check_scripts(tree: &Path, arch: Arch, platform: &str) -> Result<(), NodeAppError> {
    let s = skipped(tree, arch);
    if !s.others.is_empty() {
        tracing::warn!(
            "install scripts not run (distill runs none; none of these builds an addon it lacks for {platform}): {}",
            s.others.join(", ")
        );
    }
    if s.addons.is_empty() {
        return Ok(());
    }
    Err(NodeAppError::NativeAddons {
        platform: platform.to_owned(),
        packages: s.addons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(root: &Path, path: &str, manifest: &str) -> PathBuf {
        let dir = root.join(path);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), manifest).unwrap();
        dir
    }

    fn elf(machine: u16) -> Vec<u8> {
        let mut h = b"\x7fELF\x02\x01\x01".to_vec();
        h.resize(18, 0);
        h.extend(machine.to_le_bytes());
        h.resize(64, 0);
        h
    }

    #[test]
    fn addon_builds_without_a_target_binary_are_named() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        let gyp = package(r, "node_modules/gyp", r#"{"name":"gyp","version":"1.0.0"}"#);
        std::fs::write(gyp.join("binding.gyp"), "{}").unwrap();
        let pre = package(
            r,
            "node_modules/@s/pre",
            r#"{"name":"@s/pre","version":"2.0.0","scripts":{"install":"node-gyp-build"}}"#,
        );
        std::fs::create_dir_all(pre.join("prebuilds/linux-x64")).unwrap();
        std::fs::write(pre.join("prebuilds/linux-x64/x.node"), elf(62)).unwrap();
        package(
            r,
            "node_modules/.pnpm/es@1.0.0/node_modules/es",
            r#"{"name":"es","version":"1.0.0","scripts":{"postinstall":"node install.js"}}"#,
        );
        package(
            r,
            "node_modules/plain",
            r#"{"name":"plain","version":"1.0.0"}"#,
        );
        let tree = r.join("node_modules");
        assert_eq!(
            skipped(&tree, Arch::Amd64),
            Skipped {
                addons: vec!["gyp@1.0.0 (node-gyp rebuild)".into()],
                others: vec![
                    "es@1.0.0 (node install.js)".into(),
                    "@s/pre@2.0.0 (node-gyp-build)".into(),
                ],
            }
        );
        let arm = skipped(&tree, Arch::Arm64);
        assert_eq!(arm.addons.len(), 2, "{arm:?}: no arm64 prebuild");
        assert!(check_scripts(&tree, Arch::Amd64, "linux/amd64").is_err());
        let names: Vec<String> = components(&tree)
            .into_iter()
            .map(|c| match c {
                Component::Npm { name, .. } => name,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(names, ["@s/pre", "es", "gyp", "plain"]);
    }
}
