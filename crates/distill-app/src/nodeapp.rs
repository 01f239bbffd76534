//! Node.js apps: detection from `package.json`, the Node major, production dependencies
//! installed with `npm ci` in a copy of the app (the user's tree is never touched), and the
//! entrypoint.
//!
//! The major comes from `engines.node` (the newest of the family's majors the range allows)
//! or the config; the entrypoint from `scripts.start` when it is `node FILE`, else `main`,
//! else `index.js`. A `package.json` without `package-lock.json` is an error: without a lock
//! the dependencies, and so the image, would change from build to build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Node majors the image family offers, newest last.
pub const MAJORS: [u8; 3] = [22, 24, 26];
/// The default when nothing asks for a major: the active LTS.
pub const DEFAULT_MAJOR: u8 = 24;

#[derive(Debug, thiserror::Error)]
pub enum NodeAppError {
    #[error("Cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {why}")]
    Json { path: PathBuf, why: String },
    #[error("{dir}/package.json has no package-lock.json beside it")]
    NoLock { dir: PathBuf },
    #[error("engines.node `{range}` in {path} allows none of Node 22, 24, 26")]
    Engines { path: PathBuf, range: String },
    #[error(
        "No entrypoint for the Node app in {dir}: no `node FILE` start script, `main` or index.js"
    )]
    NoEntrypoint { dir: PathBuf },
    #[error("--use-node-modules: {dir} has no node_modules")]
    NoNodeModules { dir: PathBuf },
    #[error("Cannot run npm: {why}")]
    Npm { why: String },
    #[error("npm ci failed for {platform}:\n{output}")]
    Install { platform: String, output: String },
}

impl NodeAppError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            NodeAppError::NoLock { .. } => {
                "run `npm install` to write package-lock.json, and commit it".into()
            }
            NodeAppError::Engines { .. } => {
                "allow one of 22, 24 or 26 in engines.node, or set base = \"nodejs24\" in distill.toml".into()
            }
            NodeAppError::NoEntrypoint { .. } => {
                "set \"main\" or a \"start\": \"node FILE\" script in package.json, or entrypoint in distill.toml".into()
            }
            NodeAppError::Npm { .. } => "install Node.js and npm on the build machine".into(),
            NodeAppError::NoNodeModules { .. } => {
                "run `npm ci --omit=dev` first, or drop --use-node-modules".into()
            }
            NodeAppError::Install { .. } => {
                "check package-lock.json against package.json (`npm ci` must pass)".into()
            }
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NodeApp {
    pub dir: PathBuf,
    pub package: serde_json::Value,
    /// The file that starts the app, relative to the app's directory.
    pub start: Option<String>,
    /// `engines.node`, when given.
    pub engines: Option<String>,
    /// Use the app's own `node_modules` as it is, instead of `npm ci` (when asked).
    pub use_existing: bool,
}

fn read_json(path: &Path) -> Result<serde_json::Value, NodeAppError> {
    let text = std::fs::read_to_string(path).map_err(|source| NodeAppError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| NodeAppError::Json {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// A Node app in `dir`, if it is one.
pub fn detect(dir: &Path) -> Result<Option<NodeApp>, NodeAppError> {
    let manifest = dir.join("package.json");
    if !manifest.is_file() {
        return Ok(None);
    }
    let package = read_json(&manifest)?;
    let from_start = package["scripts"]["start"].as_str().and_then(|s| {
        let mut words = s.split_whitespace();
        (words.next() == Some("node"))
            .then(|| words.next())
            .flatten()
            .filter(|f| !f.starts_with('-'))
            .map(str::to_owned)
    });
    let start = from_start
        .or_else(|| package["main"].as_str().map(str::to_owned))
        .or_else(|| {
            dir.join("index.js")
                .is_file()
                .then(|| "index.js".to_owned())
        })
        .map(|f| f.trim_start_matches("./").to_owned());
    Ok(Some(NodeApp {
        dir: dir.to_path_buf(),
        engines: package["engines"]["node"].as_str().map(str::to_owned),
        package,
        start,
        use_existing: false,
    }))
}

/// The newest family major that `range` (an npm semver range) allows. Handles what
/// `engines.node` is written as: `>=N`, `^N`, `~N`, `N`, `N.x`, `>=N <M`, and `||` of those.
pub fn major_for(range: &str) -> Option<u8> {
    let allows = |major: u8, part: &str| -> bool {
        let m = u32::from(major);
        part.split_whitespace().all(|cond| {
            let num = |s: &str| {
                s.trim_start_matches('v')
                    .split('.')
                    .next()
                    .and_then(|n| n.parse::<u32>().ok())
            };
            if let Some(v) = cond.strip_prefix(">=") {
                num(v).is_some_and(|v| m >= v)
            } else if let Some(v) = cond.strip_prefix('>') {
                // `>24` allows 24.1, so a major above or equal, unless `>24.x`-style exact.
                num(v).is_some_and(|v| m >= v)
            } else if let Some(v) = cond.strip_prefix("<=") {
                num(v).is_some_and(|v| m <= v)
            } else if let Some(v) = cond.strip_prefix('<') {
                num(v).is_some_and(|v| m < v)
            } else if let Some(v) = cond.strip_prefix('^').or_else(|| cond.strip_prefix('~')) {
                num(v).is_some_and(|v| m == v)
            } else if cond == "*" || cond == "x" {
                true
            } else {
                num(cond.trim_start_matches('=')).is_some_and(|v| m == v)
            }
        })
    };
    MAJORS
        .iter()
        .rev()
        .copied()
        .find(|&m| range.split("||").any(|part| allows(m, part.trim())))
}

impl NodeApp {
    /// The Node major for the image: `engines.node`'s newest allowed, else the default.
    pub fn major(&self) -> Result<u8, NodeAppError> {
        match &self.engines {
            None => Ok(DEFAULT_MAJOR),
            Some(r) => major_for(r).ok_or_else(|| NodeAppError::Engines {
                path: self.dir.join("package.json"),
                range: r.clone(),
            }),
        }
    }

    pub fn entrypoint(&self, node: &str, app_dir: &str) -> Result<Vec<String>, NodeAppError> {
        let start = self
            .start
            .as_ref()
            .ok_or_else(|| NodeAppError::NoEntrypoint {
                dir: self.dir.clone(),
            })?;
        if !self.dir.join(start).is_file() {
            return Err(NodeAppError::NoEntrypoint {
                dir: self.dir.clone(),
            });
        }
        Ok(vec![node.to_owned(), format!("{app_dir}/{start}")])
    }

    /// Production dependencies for `arch` (`amd64` or `arm64`): `npm ci --omit=dev` in a
    /// copy of the manifest and lock under `work`; returns its `node_modules`.
    pub fn install(&self, arch: &str, work: &Path) -> Result<PathBuf, NodeAppError> {
        if self.use_existing {
            let existing = self.dir.join("node_modules");
            return if existing.is_dir() {
                Ok(existing)
            } else {
                Err(NodeAppError::NoNodeModules {
                    dir: self.dir.clone(),
                })
            };
        }
        let lock = self.dir.join("package-lock.json");
        if !lock.is_file() {
            return Err(NodeAppError::NoLock {
                dir: self.dir.clone(),
            });
        }
        let copy = work.join(format!("npm-{arch}"));
        let io = |source| NodeAppError::Read {
            path: copy.clone(),
            source,
        };
        std::fs::create_dir_all(&copy).map_err(io)?;
        for f in ["package.json", "package-lock.json", ".npmrc"] {
            if self.dir.join(f).is_file() {
                std::fs::copy(self.dir.join(f), copy.join(f)).map_err(io)?;
            }
        }
        let cpu = if arch == "arm64" { "arm64" } else { "x64" };
        let o = Command::new("npm")
            .current_dir(&copy)
            .args([
                "ci",
                "--omit=dev",
                // Install scripts would build for the host; native addons must come prebuilt.
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--os=linux",
                &format!("--cpu={cpu}"),
            ])
            .env("npm_config_update_notifier", "false")
            .output()
            .map_err(|e| NodeAppError::Npm { why: e.to_string() })?;
        if !o.status.success() {
            return Err(NodeAppError::Install {
                platform: format!("linux/{arch}"),
                output: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            });
        }
        Ok(copy.join("node_modules"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_ranges() {
        assert_eq!(major_for(">=18"), Some(26));
        assert_eq!(major_for("^22"), Some(22));
        assert_eq!(major_for("22.x"), Some(22));
        assert_eq!(major_for("~24.1.0"), Some(24));
        assert_eq!(major_for(">=20 <25"), Some(24));
        assert_eq!(major_for("^20 || ^22"), Some(22));
        assert_eq!(major_for("18"), None);
        assert_eq!(major_for("*"), Some(26));
    }

    #[test]
    fn start_main_and_index() {
        let d = tempfile::tempdir().unwrap();
        assert!(detect(d.path()).unwrap().is_none());
        std::fs::write(
            d.path().join("package.json"),
            r#"{"main": "lib/x.js", "scripts": {"start": "node ./server.js --port 1"}}"#,
        )
        .unwrap();
        let app = detect(d.path()).unwrap().unwrap();
        assert_eq!(app.start.as_deref(), Some("server.js"));
        assert!(
            app.entrypoint("/nodejs/bin/node", "/app").is_err(),
            "no server.js"
        );
        std::fs::write(d.path().join("server.js"), "").unwrap();
        assert_eq!(
            app.entrypoint("/nodejs/bin/node", "/app").unwrap(),
            ["/nodejs/bin/node", "/app/server.js"]
        );
        assert_eq!(app.major().unwrap(), DEFAULT_MAJOR);
        std::fs::write(
            d.path().join("package.json"),
            r#"{"scripts": {"start": "nodemon x.js"}, "engines": {"node": "16"}}"#,
        )
        .unwrap();
        let app = detect(d.path()).unwrap().unwrap();
        assert_eq!(app.start, None);
        assert!(app.major().is_err());
        let err = app.install("amd64", d.path()).unwrap_err();
        assert!(matches!(err, NodeAppError::NoLock { .. }));
    }
}
