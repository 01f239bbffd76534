//! The Python kind: detection, the image it goes onto, and its install and finish.

use std::path::Path;

use distill_core::{EnvVar, FamilyMember, Release};

use super::types::{Deps, LockKind, PythonApp, PythonError, Start};
use super::{bytecode, uv, version};
use crate::kind::{APP_DIR, App, AppError, AppImage, AppKind, DetectOptions, Installed, Target};
use crate::sysroot::Sysroot;

/// The Python kind.
pub struct Python;

impl AppKind for Python {
    fn name(&self) -> &'static str {
        "python"
    }

    /// A Python app, unless the only Python in a Node app is a loose script.
    fn detect(&self, dir: &Path, opts: &DetectOptions) -> Result<Option<Box<dyn App>>, AppError> {
        let Some(mut app) = detect(dir, opts.release)? else {
            return Ok(None);
        };
        if app.deps.is_none() && dir.join("package.json").is_file() {
            return Ok(None);
        }
        app.allow_source = opts.allow_source.clone();
        app.groups = opts.groups.clone();
        Ok(Some(Box::new(app)))
    }
}

impl App for PythonApp {
    fn dir(&self) -> &Path {
        &self.dir
    }

    fn image(&self, entrypoint: Option<&[String]>) -> Result<AppImage, AppError> {
        let (major, minor) = self.release.python();
        let entrypoint = match entrypoint {
            Some(e) => e.to_vec(),
            None => self.entrypoint(&self.release.python_binary(), APP_DIR)?,
        };
        let env = [("PYTHONPATH", APP_DIR), ("PYTHONUNBUFFERED", "1")]
            .into_iter()
            .map(|(k, v)| EnvVar::new(k, v))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_default();
        Ok(AppImage {
            runtime_version: None,
            left_out: Vec::new(),
            workdir: None,
            member: FamilyMember::Python3,
            release: self.release,
            env,
            entrypoint,
            summary: format!(
                "a Python app ({}) for Python {major}.{minor}",
                self.deps
                    .as_ref()
                    .map_or("no dependencies", Deps::file_name)
            ),
        })
    }

    fn install(&self, target: &Target, work: &Path, cache: &Path) -> Result<Installed, AppError> {
        Ok(uv::install(self, target, work, cache)?)
    }

    fn pin(&self, target: &Target, work: &Path, cache: &Path) -> Result<Option<String>, AppError> {
        Ok(super::pin::pin(self, target, work, cache)?)
    }

    fn inputs(&self) -> Option<Vec<std::path::PathBuf>> {
        // In package mode the dependencies include the project's own wheel, built from
        // its whole tree: no list of files says when that changed.
        if matches!(self.deps, Some(Deps::Lock(LockKind::Poetry, _)))
            && self
                .pyproject
                .as_ref()
                .is_some_and(super::locks::poetry::package_mode)
        {
            return None;
        }
        Some(match &self.deps {
            None => Vec::new(),
            Some(Deps::UvLock(lock)) => vec![lock.clone(), self.dir.join("pyproject.toml")],
            // The project's dependencies decide what a Poetry lock's main group holds.
            Some(Deps::Lock(LockKind::Poetry, lock)) => {
                vec![lock.clone(), self.dir.join("pyproject.toml")]
            }
            Some(Deps::Lock(_, p) | Deps::Pyproject(p) | Deps::Requirements(p)) => vec![p.clone()],
        })
    }

    fn builds_from_source(&self) -> bool {
        !self.allow_source.is_empty()
            || (matches!(self.deps, Some(Deps::Lock(LockKind::Poetry, _)))
                && self
                    .pyproject
                    .as_ref()
                    .is_some_and(super::locks::poetry::package_mode))
    }

    fn settings(&self) -> String {
        format!(
            "groups={:?} allow_source={:?}",
            self.groups, self.allow_source
        )
    }

    fn finishes_with_image(&self) -> bool {
        true
    }

    /// Compiles the bytecode of the dependencies and the app with the image's Python.
    fn finish(
        &self,
        deps: &[Installed],
        app_copy: Option<&Path>,
        image: &Sysroot,
    ) -> Result<(), AppError> {
        let python = bytecode::Compiler::new(image, self.release.python());
        for d in deps.iter().filter(|d| d.dir.is_dir()) {
            python.compile(&d.dir, &d.dst)?;
        }
        if let Some(copy) = app_copy {
            python.compile(copy, APP_DIR)?;
        }
        Ok(())
    }
}

/// A Python app in `dir`, if it is one; on `wanted` when the config names a release.
pub fn detect(dir: &Path, wanted: Option<Release>) -> Result<Option<PythonApp>, PythonError> {
    // Absolute, since the installer runs in the app's directory: a relative context
    // (`distill build examples/app`) would otherwise be looked for inside itself.
    let dir = &std::path::absolute(dir).map_err(|source| PythonError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let lock = LockKind::ALL
        .into_iter()
        .find(|k| dir.join(k.file_name()).is_file());
    let deps = if dir.join("uv.lock").is_file() && dir.join("pyproject.toml").is_file() {
        Some(Deps::UvLock(dir.join("uv.lock")))
    } else if let Some(kind) = lock {
        Some(Deps::Lock(kind, dir.join(kind.file_name())))
    } else if dir.join("pyproject.toml").is_file() {
        Some(Deps::Pyproject(dir.join("pyproject.toml")))
    } else if dir.join("requirements.txt").is_file() {
        Some(Deps::Requirements(dir.join("requirements.txt")))
    } else {
        None
    };
    let loose = ["__main__.py", "app.py", "main.py"]
        .iter()
        .any(|f| dir.join(f).is_file());
    if deps.is_none() && !loose {
        return Ok(None);
    }
    let pyproject = pyproject(dir)?;
    let mut start = None;
    if let Some(doc) = &pyproject {
        start = scripts_entry(&dir.join("pyproject.toml"), doc)?;
    }
    if start.is_none() {
        start = if dir.join("__main__.py").is_file() {
            Some(Start::Main)
        } else {
            ["app.py", "main.py"]
                .iter()
                .find(|f| dir.join(f).is_file())
                .map(|f| Start::File((*f).to_owned()))
        };
    }
    Ok(Some(PythonApp {
        dir: dir.to_path_buf(),
        deps,
        start,
        release: version::release(dir, pyproject.as_ref(), wanted)?,
        pyproject,
        allow_source: Vec::new(),
        groups: Vec::new(),
    }))
}

/// The project's `pyproject.toml`, parsed, if it has one.
fn pyproject(dir: &Path) -> Result<Option<toml::Table>, PythonError> {
    let path = dir.join("pyproject.toml");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|source| PythonError::Read {
        path: path.clone(),
        source,
    })?;
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| PythonError::Pyproject {
            path,
            why: e.message().to_owned(),
        })
}

/// The `[project.scripts]` entry: the one named like the project, else the first by name.
/// Poetry's `[tool.poetry.scripts]` is read the same way.
fn scripts_entry(path: &Path, doc: &toml::Table) -> Result<Option<Start>, PythonError> {
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.as_table());
    let project = doc
        .get("project")
        .and_then(|p| p.as_table())
        .filter(|p| p.contains_key("scripts"))
        .or(poetry);
    let Some(scripts) = project
        .and_then(|p| p.get("scripts"))
        .and_then(|s| s.as_table())
    else {
        return Ok(None);
    };
    let name = project.and_then(|p| p.get("name")).and_then(|n| n.as_str());
    let Some((_, value)) = name
        .and_then(|n| scripts.get_key_value(n))
        .or_else(|| scripts.iter().next())
    else {
        return Ok(None);
    };
    let spec = value.as_str().unwrap_or("");
    let bad = || PythonError::Pyproject {
        path: path.to_path_buf(),
        why: format!("[project.scripts] entry `{spec}` is not `module:function`"),
    };
    let (module, function) = spec.split_once(':').ok_or_else(bad)?;
    let ident = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|p| {
                p.chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                    && p.chars().all(|c| c.is_alphanumeric() || c == '_')
            })
    };
    if !ident(module.trim()) || !ident(function.trim()) {
        return Err(bad());
    }
    Ok(Some(Start::Script {
        module: module.trim().to_owned(),
        function: function.trim().to_owned(),
    }))
}

impl PythonApp {
    /// The image's entrypoint, with the app at `app_dir` and `python` the interpreter.
    pub fn entrypoint(&self, python: &str, app_dir: &str) -> Result<Vec<String>, PythonError> {
        Ok(match &self.start {
            Some(Start::Script { module, function }) => vec![
                python.to_owned(),
                "-c".into(),
                format!("import sys; from {module} import {function}; sys.exit({function}())"),
            ],
            Some(Start::Main) => vec![python.to_owned(), app_dir.to_owned()],
            Some(Start::File(f)) => vec![python.to_owned(), format!("{app_dir}/{f}")],
            None => {
                return Err(PythonError::NoEntrypoint {
                    dir: self.dir.clone(),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_and_entrypoints() {
        let d = tempfile::tempdir().unwrap();
        assert!(detect(d.path(), None).unwrap().is_none());
        std::fs::write(d.path().join("requirements.txt"), "flask\n").unwrap();
        let app = detect(d.path(), None).unwrap().unwrap();
        assert!(matches!(app.deps, Some(Deps::Requirements(_))));
        assert!(app.entrypoint("/usr/bin/python3", "/app").is_err());
        std::fs::write(d.path().join("main.py"), "").unwrap();
        std::fs::write(d.path().join("app.py"), "").unwrap();
        let app = detect(d.path(), None).unwrap().unwrap();
        assert_eq!(
            app.entrypoint("/usr/bin/python3", "/app").unwrap(),
            ["/usr/bin/python3", "/app/app.py"]
        );
        std::fs::write(
            d.path().join("pyproject.toml"),
            "[project]\nname = \"svc\"\ndependencies = []\n[project.scripts]\nother = \"x:y\"\nsvc = \"svc.cli:main\"\n",
        )
        .unwrap();
        let app = detect(d.path(), None).unwrap().unwrap();
        assert!(matches!(app.deps, Some(Deps::Pyproject(_))));
        assert_eq!(
            app.start,
            Some(Start::Script {
                module: "svc.cli".into(),
                function: "main".into()
            })
        );
        std::fs::write(
            d.path().join("pyproject.toml"),
            "[project]\nname = \"svc\"\n[project.scripts]\nsvc = \"os; import evil:x\"\n",
        )
        .unwrap();
        assert!(detect(d.path(), None).is_err());
    }

    #[test]
    fn a_loose_script_in_a_node_app_is_not_a_python_app() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("app.py"), "").unwrap();
        let opts = DetectOptions::default();
        assert!(Python.detect(d.path(), &opts).unwrap().is_some());
        std::fs::write(d.path().join("package.json"), "{}").unwrap();
        assert!(Python.detect(d.path(), &opts).unwrap().is_none());
        std::fs::write(d.path().join("requirements.txt"), "").unwrap();
        assert!(Python.detect(d.path(), &opts).unwrap().is_some());
    }
}
