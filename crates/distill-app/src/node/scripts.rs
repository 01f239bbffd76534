//! Running the install scripts of the packages the user allowed (`--allow-scripts=NAME`),
//! each confined ([`crate::sandbox`]) to its own package directory, with no network.
//!
//! The scripts run after the manager installed the whole tree with scripts disabled, in
//! npm's order (`preinstall`, `install` or the implied `node-gyp rebuild`, `postinstall`),
//! under `sh -c` with npm's lifecycle environment, the tree's `.bin` directories on `PATH`
//! and npm's own node-gyp. node-gyp builds against the host's Node headers
//! (`/usr/include/node`), as it cannot download any; an addon built on Node-API runs on the
//! image's Node whatever its major. The build is for the host, so it is refused for another
//! platform. The tree is seen at one fixed path ([`AT`]), read-only but for the package's
//! own directory, so what a build writes does not name the machine's scratch directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use distill_core::{Arch, Platform};

use super::tree::{install_scripts, packages};
use super::types::NodeAppError;
use crate::sandbox::{self, Mount};

/// Where the installed tree is seen by the scripts.
pub const AT: &str = "/tmp/distill-node";

/// Runs the allowed packages' install scripts in `tree` (a `node_modules`).
pub fn run_allowed(
    tree: &Path,
    allowed: &[String],
    platform: Platform,
) -> Result<(), NodeAppError> {
    if allowed.is_empty() {
        return Ok(());
    }
    if Arch::host() != Some(platform.arch) {
        return Err(NodeAppError::ScriptsForeign {
            platform: platform.to_string(),
            packages: allowed.to_vec(),
        });
    }
    let root = tree.parent().unwrap_or(tree);
    let all = packages(tree);
    for name in allowed {
        if !all.iter().any(|p| p.manifest["name"] == name.as_str()) {
            return Err(NodeAppError::NotInstalled { name: name.clone() });
        }
    }
    let gyp = node_gyp_bin(root)?;
    for p in all
        .iter()
        .filter(|p| allowed.iter().any(|a| p.manifest["name"] == a.as_str()))
    {
        let at = Path::new(AT);
        let dir = at.join(&p.path);
        let name = p.manifest["name"].as_str().unwrap_or_default();
        let version = p.manifest["version"].as_str().unwrap_or_default();
        // The package's own node_modules/.bin, then each enclosing one, as npm does.
        let mut path: Vec<PathBuf> = vec![dir.join("node_modules/.bin")];
        path.extend(
            dir.ancestors()
                .skip(1)
                .take_while(|a| a.starts_with(at))
                .filter(|a| a.ends_with("node_modules"))
                .map(|a| a.join(".bin")),
        );
        path.push(at.join(BIN));
        let mounts = [
            Mount {
                host: root.to_path_buf(),
                at: at.to_path_buf(),
                writable: false,
            },
            Mount {
                host: root.join(&p.path),
                at: dir.clone(),
                writable: true,
            },
        ];
        for (event, script) in install_scripts(&p.manifest, &root.join(&p.path)) {
            tracing::info!("running {name}@{version}'s {event} script, confined: {script}");
            let env: Vec<(&str, OsString)> = vec![
                ("npm_lifecycle_event", event.into()),
                ("npm_lifecycle_script", script.as_str().into()),
                ("npm_package_name", name.into()),
                ("npm_package_version", version.into()),
                ("npm_package_json", dir.join("package.json").into()),
                ("npm_config_nodedir", "/usr".into()),
                ("npm_config_node_gyp", gyp.clone().into()),
                ("npm_config_build_from_source", "true".into()),
                ("INIT_CWD", at.into()),
            ];
            let o = sandbox::command(&mounts, &dir, &path, &env, "sh", &["-c", &script])?
                .output()
                .map_err(|e| NodeAppError::Script {
                    package: format!("{name}@{version}"),
                    event: event.to_owned(),
                    output: e.to_string(),
                })?;
            if !o.status.success() {
                let mut output = String::from_utf8_lossy(&o.stdout).into_owned();
                output.push_str(&String::from_utf8_lossy(&o.stderr));
                // The end of a build log says what failed.
                let tail: Vec<&str> = output.lines().rev().take(40).collect();
                return Err(NodeAppError::Script {
                    package: format!("{name}@{version}"),
                    event: event.to_owned(),
                    output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                });
            }
        }
    }
    Ok(())
}

/// The directory under the tree's parent that holds a `node-gyp` command.
const BIN: &str = ".distill-node-gyp";

/// Writes `root/BIN/node-gyp`, which runs npm's own node-gyp; returns that node-gyp.
fn node_gyp_bin(root: &Path) -> Result<PathBuf, NodeAppError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let gyp = std::env::split_paths(&path)
        .map(|d| d.join("npm"))
        .find(|p| p.is_file())
        .and_then(|npm| std::fs::canonicalize(npm).ok())
        .and_then(|cli| {
            Some(
                cli.parent()?
                    .parent()?
                    .join("node_modules/node-gyp/bin/node-gyp.js"),
            )
        })
        .filter(|g| g.is_file())
        .ok_or(NodeAppError::NoNodeGyp)?;
    let bin = root.join(BIN);
    let io = |source| NodeAppError::Read {
        path: bin.clone(),
        source,
    };
    std::fs::create_dir_all(&bin).map_err(io)?;
    let shim = bin.join("node-gyp");
    std::fs::write(
        &shim,
        format!("#!/bin/sh\nexec node '{}' \"$@\"\n", gyp.display()),
    )
    .map_err(io)?;
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(io)?;
    Ok(gyp)
}
