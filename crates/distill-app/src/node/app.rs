//! The Node kind: detection, the Node major, the image it goes onto, and its install.

use std::path::Path;

use distill_core::{EnvVar, FamilyMember, NODE_BINARY, NODE_DEFAULT_MAJOR, Release};

use super::types::{NodeApp, NodeAppError, read_json};
use super::{npm, version, workspace};
use crate::kind::{APP_DIR, App, AppError, AppImage, AppKind, DetectOptions, Installed, Target};

/// The Node kind.
pub struct Node;

/// The release the `nodejs` members of detected apps are built on.
pub(crate) const RELEASE: Release = Release::Trixie;

impl AppKind for Node {
    fn name(&self) -> &'static str {
        "node"
    }

    fn detect(&self, dir: &Path, opts: &DetectOptions) -> Result<Option<Box<dyn App>>, AppError> {
        let Some(app) = detect(dir)? else {
            return Ok(None);
        };
        let app = match &opts.workspace {
            Some(name) => in_workspace(app, name)?,
            None => app,
        };
        Ok(Some(Box::new(NodeApp {
            use_existing: opts.use_node_modules,
            allow_scripts: opts.allow_scripts.clone(),
            release: opts.release.unwrap_or(RELEASE),
            ..app
        })))
    }
}

impl App for NodeApp {
    fn dir(&self) -> &Path {
        &self.dir
    }

    fn image(&self, entrypoint: Option<&[String]>) -> Result<AppImage, AppError> {
        let major = self.major()?;
        let member_dir = self.member_dir();
        let entrypoint = match entrypoint {
            Some(e) => e.to_vec(),
            None => self.entrypoint(NODE_BINARY, &member_dir)?,
        };
        let (left_out, workdir) = match &self.workspace {
            Some(w) => (w.left_out(), Some(member_dir)),
            None => (Vec::new(), None),
        };
        Ok(AppImage {
            left_out,
            workdir,
            runtime_version: self.wanted.as_ref().and_then(version::release),
            member: FamilyMember::Nodejs(major),
            release: self.release,
            env: EnvVar::new("NODE_ENV", "production").into_iter().collect(),
            entrypoint,
            summary: format!(
                "a Node app ({}) for Node {major}{}",
                match &self.workspace {
                    Some(w) => format!("workspace {} in {}", w.member().name, w.member().dir),
                    None => "package.json".to_owned(),
                },
                match &self.wanted {
                    Some(w) => format!(" ({} {})", w.source, w.text),
                    None => String::new(),
                }
            ),
        })
    }

    fn inputs(&self) -> Option<Vec<std::path::PathBuf>> {
        // The app's own node_modules is what it is; npm ci installs what the lock says. An
        // allowed script builds with the host's compiler and headers, which no file names.
        (!self.use_existing && self.allow_scripts.is_empty()).then(|| {
            [
                "package.json",
                "package-lock.json",
                "npm-shrinkwrap.json",
                "yarn.lock",
                ".yarnrc",
                "pnpm-lock.yaml",
                "pnpm-workspace.yaml",
                "bun.lock",
            ]
            .iter()
            .map(|f| self.dir.join(f))
            .chain(self.workspace.iter().flat_map(|w| {
                w.members
                    .iter()
                    .map(|m| self.dir.join(&m.dir).join("package.json"))
            }))
            .collect()
        })
    }

    fn settings(&self) -> String {
        self.workspace
            .as_ref()
            .map(|w| format!("workspace={}", w.member().dir))
            .unwrap_or_default()
    }

    fn install(&self, target: &Target, work: &Path, cache: &Path) -> Result<Installed, AppError> {
        Ok(npm::install(self, target, work, cache)?)
    }
}

/// A Node app in `dir`, if it is one.
pub fn detect(dir: &Path) -> Result<Option<NodeApp>, NodeAppError> {
    // Absolute, as npm runs in a copy elsewhere and paths must not depend on the cwd.
    let dir = &std::path::absolute(dir).map_err(|source| NodeAppError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
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
        wanted: version::wanted(dir, &package),
        package,
        start,
        use_existing: false,
        allow_scripts: Vec::new(),
        release: RELEASE,
        workspace: None,
    }))
}

/// `app`, a workspace root, as its member `name`: its start, its Node version (the root's
/// when the member names none) and the members it needs.
fn in_workspace(app: NodeApp, name: &str) -> Result<NodeApp, NodeAppError> {
    let members = workspace::members(&app.dir, &app.package)?;
    if members.is_empty() {
        return Err(NodeAppError::NotAWorkspace {
            dir: app.dir,
            wanted: name.to_owned(),
        });
    }
    let chosen = workspace::choose(&app.dir, members, name)?;
    let member =
        detect(&app.dir.join(&chosen.member().dir))?.ok_or_else(|| NodeAppError::NoEntrypoint {
            dir: app.dir.join(&chosen.member().dir),
        })?;
    Ok(NodeApp {
        start: member.start,
        wanted: member.wanted.or(app.wanted),
        workspace: Some(chosen),
        ..app
    })
}

impl NodeApp {
    /// The Node major for the image: the one the project asks for, else the default.
    pub fn major(&self) -> Result<u8, NodeAppError> {
        match &self.wanted {
            None => Ok(NODE_DEFAULT_MAJOR),
            Some(w) => version::major(&self.dir, w),
        }
    }

    /// Where the program's directory is in the image: `/app`, or a member's under it.
    pub fn member_dir(&self) -> String {
        match &self.workspace {
            Some(w) => format!("{APP_DIR}/{}", w.member().dir),
            None => APP_DIR.to_owned(),
        }
    }

    pub fn entrypoint(&self, node: &str, app_dir: &str) -> Result<Vec<String>, NodeAppError> {
        let local = match &self.workspace {
            Some(w) => self.dir.join(&w.member().dir),
            None => self.dir.clone(),
        };
        let Some(start) = self.start.as_ref().filter(|s| local.join(s).is_file()) else {
            let members = workspace::members(&self.dir, &self.package).unwrap_or_default();
            if self.workspace.is_none() && !members.is_empty() {
                return Err(NodeAppError::WorkspaceNeeded {
                    dir: self.dir.clone(),
                    members: workspace::list(&members),
                });
            }
            return Err(NodeAppError::NoEntrypoint { dir: local });
        };
        Ok(vec![node.to_owned(), format!("{app_dir}/{start}")])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use distill_core::{Arch, Platform};

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
        assert!(app.entrypoint(NODE_BINARY, "/app").is_err(), "no server.js");
        std::fs::write(d.path().join("server.js"), "").unwrap();
        assert_eq!(
            app.entrypoint(NODE_BINARY, "/app").unwrap(),
            ["/nodejs/bin/node", "/app/server.js"]
        );
        assert_eq!(app.major().unwrap(), NODE_DEFAULT_MAJOR);
        std::fs::write(
            d.path().join("package.json"),
            r#"{"scripts": {"start": "nodemon x.js"}, "engines": {"node": "3"}}"#,
        )
        .unwrap();
        let app = detect(d.path()).unwrap().unwrap();
        assert_eq!(app.start, None);
        assert!(app.major().is_err());
        let target = Target::new(distill_core::Release::Trixie, Platform::linux(Arch::Amd64));
        let err = npm::install(&app, &target, d.path(), d.path()).unwrap_err();
        assert!(matches!(err, NodeAppError::NoLock { .. }));
    }

    #[test]
    fn yarn_3_is_refused_with_the_way_to_yarn_4() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("package.json"),
            r#"{"main": "x.js", "packageManager": "yarn@3.8.7", "dependencies": {"ms": "^2"}}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("yarn.lock"), "__metadata:\n  version: 6\n").unwrap();
        let app = detect(d.path()).unwrap().unwrap();
        let target = Target::new(distill_core::Release::Trixie, Platform::linux(Arch::Amd64));
        let err = npm::install(&app, &target, d.path(), d.path()).unwrap_err();
        assert!(
            matches!(&err, NodeAppError::OldYarn { version, .. } if version == "3.8.7"),
            "{err}"
        );
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(help.contains("yarn set version 4"), "{help}");
    }
}
