//! Python apps: detection, dependencies installed for the image's interpreter, and the
//! entrypoint.
//!
//! Dependencies come from `uv.lock` (exported without the project and dev groups),
//! `pyproject.toml` (`[project] dependencies`) or `requirements.txt`, in that order. They are
//! installed with uv (from PyPI, installed with pip when missing) into a directory, with
//! `--python-version`, `--python-platform` (the manylinux level the image's glibc allows, and
//! its architecture) and the interpreter's ABI, never the host's interpreter. uv builds a
//! source distribution only when it has none of the wheels; the result is then checked: a
//! wheel whose tags do not fit the image (a C extension built for the host) is an error that
//! names it. Wheel metadata is PEP 427's `WHEEL` file.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("Cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    Pyproject { path: PathBuf, why: String },
    #[error(
        "No entrypoint for the Python app in {dir}: no [project.scripts], __main__.py, app.py or main.py"
    )]
    NoEntrypoint { dir: PathBuf },
    #[error("Cannot run {tool}: {why}")]
    Tool { tool: String, why: String },
    #[error("Installing the dependencies for Python {python} on {platform} failed:\n{output}")]
    Install {
        python: String,
        platform: String,
        output: String,
    },
    #[error(
        "{dist} has no wheel for Python {python} on {platform}, and its source distribution builds a C extension (here: {tag})"
    )]
    NeedsCompiler {
        dist: String,
        python: String,
        platform: String,
        tag: String,
    },
}

impl PythonError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            PythonError::NoEntrypoint { .. } => "add app.py or main.py, a [project.scripts] entry, or set entrypoint in distill.toml".into(),
            PythonError::NeedsCompiler { dist, .. } => format!(
                "pin a version of {dist} that publishes manylinux wheels for this Python, or replace it; distill does not compile C extensions for the image"
            ),
            PythonError::Install { .. } => "check the requirement named above; every dependency needs a wheel for the image's Python and platform, or a pure-Python source distribution".into(),
            PythonError::Tool { .. } => "install uv (pip install uv) or make python3 -m pip work".into(),
            _ => return None,
        })
    }
}

/// Where the dependencies are declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deps {
    UvLock(PathBuf),
    Pyproject(PathBuf),
    Requirements(PathBuf),
}

/// How the app starts, before the interpreter is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// `[project.scripts]`: `module:function`.
    Script { module: String, function: String },
    /// `__main__.py` at the top: the directory runs.
    Main,
    /// `app.py` or `main.py`.
    File(String),
}

#[derive(Debug, Clone)]
pub struct PythonApp {
    pub dir: PathBuf,
    pub deps: Option<Deps>,
    pub start: Option<Start>,
}

/// The image's interpreter and platform, as the installer must target them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `(3, 13)`.
    pub python: (u32, u32),
    /// The image's glibc, `(2, 41)`.
    pub glibc: (u32, u32),
    /// Debian's name: `amd64` or `arm64`.
    pub arch: String,
}

impl Target {
    fn machine(&self) -> &'static str {
        if self.arch == "arm64" {
            "aarch64"
        } else {
            "x86_64"
        }
    }

    /// uv's `--python-platform`: uv knows manylinux levels up to 2.40.
    fn uv_platform(&self) -> String {
        format!("{}-manylinux_2_{}", self.machine(), self.glibc.1.min(40))
    }

    fn python_text(&self) -> String {
        format!("{}.{}", self.python.0, self.python.1)
    }

    /// Whether a wheel tag (`cp313-cp313-manylinux_2_17_x86_64`) fits.
    pub fn accepts(&self, tag: &str) -> bool {
        let mut parts = tag.split('-');
        let (Some(py), Some(abi), Some(plat)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let cp = format!("cp{}{}", self.python.0, self.python.1);
        let py_ok = py.split('.').any(|p| {
            p == "py3"
                || p == format!("py{}{}", self.python.0, self.python.1)
                || p == cp
                || (p.starts_with("cp3") && abi == "abi3")
        });
        let abi_ok = abi
            .split('.')
            .any(|a| a == "none" || a == "abi3" || a == cp);
        let plat_ok = plat.split('.').any(|p| {
            if p == "any" {
                return true;
            }
            let Some(rest) = p.strip_suffix(&format!("_{}", self.machine())) else {
                return false;
            };
            match rest {
                "manylinux1" | "manylinux2010" | "manylinux2014" => true,
                _ => rest
                    .strip_prefix("manylinux_")
                    .and_then(|v| v.split_once('_'))
                    .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
                    .is_some_and(|v| v <= self.glibc),
            }
        });
        py_ok && abi_ok && plat_ok
    }
}

/// A Python app in `dir`, if it is one.
pub fn detect(dir: &Path) -> Result<Option<PythonApp>, PythonError> {
    let deps = if dir.join("uv.lock").is_file() && dir.join("pyproject.toml").is_file() {
        Some(Deps::UvLock(dir.join("uv.lock")))
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
    let mut start = None;
    if dir.join("pyproject.toml").is_file() {
        start = scripts_entry(&dir.join("pyproject.toml"))?;
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
    }))
}

/// The `[project.scripts]` entry: the one named like the project, else the first by name.
fn scripts_entry(path: &Path) -> Result<Option<Start>, PythonError> {
    let text = std::fs::read_to_string(path).map_err(|source| PythonError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| PythonError::Pyproject {
        path: path.to_path_buf(),
        why: e.message().to_owned(),
    })?;
    let project = doc.get("project").and_then(|p| p.as_table());
    let Some(scripts) = project
        .and_then(|p| p.get("scripts"))
        .and_then(|s| s.as_table())
    else {
        return Ok(None);
    };
    let name = project.and_then(|p| p.get("name")).and_then(|n| n.as_str());
    let (_, value) = match name.and_then(|n| scripts.get_key_value(n)) {
        Some(kv) => kv,
        None => match scripts.iter().next() {
            Some(kv) => kv,
            None => return Ok(None),
        },
    };
    let spec = value.as_str().unwrap_or("");
    let (module, function) = spec.split_once(':').ok_or_else(|| PythonError::Pyproject {
        path: path.to_path_buf(),
        why: format!("[project.scripts] entry `{spec}` is not `module:function`"),
    })?;
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
        return Err(PythonError::Pyproject {
            path: path.to_path_buf(),
            why: format!("[project.scripts] entry `{spec}` is not `module:function`"),
        });
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

/// `uv`, installed with pip into a private directory when it is not on PATH.
fn uv(work: &Path) -> Result<PathBuf, PythonError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(p) = std::env::split_paths(&path)
        .map(|d| d.join("uv"))
        .find(|p| p.is_file())
    {
        return Ok(p);
    }
    let dir = work.join("uv");
    let o = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&dir)
        .arg("uv")
        .output()
        .map_err(|e| PythonError::Tool {
            tool: "python3 -m pip".into(),
            why: e.to_string(),
        })?;
    if !o.status.success() {
        return Err(PythonError::Tool {
            tool: "python3 -m pip install uv".into(),
            why: String::from_utf8_lossy(&o.stderr).into_owned(),
        });
    }
    Ok(dir.join("bin/uv"))
}

fn run(cmd: &mut Command, tool: &str) -> Result<std::process::Output, PythonError> {
    cmd.output().map_err(|e| PythonError::Tool {
        tool: tool.into(),
        why: e.to_string(),
    })
}

/// Installs the app's dependencies for `target` into `into` (a `site-packages` layout).
/// `work` is scratch space; `cache` is uv's download cache, kept between builds (uv checks
/// what it reuses against the index's hashes).
pub fn install(
    app: &PythonApp,
    target: &Target,
    into: &Path,
    work: &Path,
    cache: &Path,
) -> Result<(), PythonError> {
    let Some(deps) = &app.deps else {
        return Ok(());
    };
    let uv = uv(work)?;
    let requirements = match deps {
        Deps::Requirements(p) | Deps::Pyproject(p) => p.clone(),
        Deps::UvLock(_) => {
            let out = work.join("requirements.txt");
            let o = run(
                Command::new(&uv)
                    .current_dir(&app.dir)
                    .args([
                        "export",
                        "--frozen",
                        "--no-dev",
                        "--no-emit-project",
                        "--no-header",
                        "--format",
                        "requirements-txt",
                        "-o",
                    ])
                    .arg(&out)
                    // The export keeps markers; the install evaluates them for the image's
                    // Python. No interpreter is needed, and none may be downloaded.
                    .env("UV_PYTHON_DOWNLOADS", "never")
                    .env("UV_NO_SYNC", "1"),
                "uv export",
            )?;
            if !o.status.success() {
                return Err(PythonError::Install {
                    python: target.python_text(),
                    platform: target.uv_platform(),
                    output: String::from_utf8_lossy(&o.stderr).into_owned(),
                });
            }
            out
        }
    };
    let o = run(
        Command::new(&uv)
            .current_dir(&app.dir)
            .args(["pip", "install", "--quiet", "--no-progress", "--target"])
            .arg(into)
            .args([
                "--python-version",
                &target.python_text(),
                "--python-platform",
                &target.uv_platform(),
                // Bytecode is compiled later, for the image's interpreter.
                "--no-compile",
                "--link-mode",
                "copy",
                "-r",
            ])
            .arg(&requirements)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_CACHE_DIR", cache),
        "uv pip install",
    )?;
    if !o.status.success() {
        let output = String::from_utf8_lossy(&o.stderr).trim().to_owned();
        return Err(match built_for_another_python(&output) {
            Some((dist, tag)) => PythonError::NeedsCompiler {
                dist,
                python: target.python_text(),
                platform: target.uv_platform(),
                tag,
            },
            None => PythonError::Install {
                python: target.python_text(),
                platform: target.uv_platform(),
                output,
            },
        });
    }
    check_wheels(into, target)?;
    // Console scripts carry the host interpreter's path; the image starts the app itself.
    let _ = std::fs::remove_dir_all(into.join("bin"));
    Ok(())
}

/// uv's refusal of a wheel it built from source for the host's interpreter:
/// `(distribution, wheel file)`.
fn built_for_another_python(uv_output: &str) -> Option<(String, String)> {
    if !uv_output.contains("is not compatible with the target") {
        return None;
    }
    let after = |marker: &str| {
        let rest = &uv_output[uv_output.find(marker)? + marker.len()..];
        Some(rest[..rest.find('`')?].to_owned())
    };
    let dist = after("Failed to build `")?;
    let dist = dist.split(" @ ").next().unwrap_or(&dist).to_owned();
    let wheel = after("built wheel `").unwrap_or_default();
    Some((dist, wheel))
}

/// Every installed distribution's `WHEEL` tags must fit the image.
pub fn check_wheels(site: &Path, target: &Target) -> Result<(), PythonError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| PythonError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut infos: Vec<PathBuf> = std::fs::read_dir(site)
        .map_err(|source| PythonError::Read {
            path: site.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dist-info"))
        .collect();
    infos.sort();
    for info in infos {
        let wheel = info.join("WHEEL");
        if !wheel.is_file() {
            continue;
        }
        let tags: Vec<String> = read(&wheel)?
            .lines()
            .filter_map(|l| l.strip_prefix("Tag:"))
            .map(|t| t.trim().to_owned())
            .collect();
        if !tags.iter().any(|t| target.accepts(t)) {
            let dist = info
                .file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .trim_end_matches(".dist-info")
                        .to_owned()
                })
                .unwrap_or_default();
            return Err(PythonError::NeedsCompiler {
                dist,
                python: target.python_text(),
                platform: target.uv_platform(),
                tag: tags.join(", "),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t313() -> Target {
        Target {
            python: (3, 13),
            glibc: (2, 41),
            arch: "amd64".into(),
        }
    }

    #[test]
    fn wheel_tags() {
        let t = t313();
        for ok in [
            "py3-none-any",
            "py2.py3-none-any",
            "cp313-cp313-manylinux_2_17_x86_64",
            "cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64",
            "cp39-abi3-manylinux_2_28_x86_64",
            "cp313-cp313-manylinux_2_41_x86_64",
        ] {
            assert!(t.accepts(ok), "{ok}");
        }
        for bad in [
            "cp311-cp311-linux_x86_64",
            "cp313-cp313-linux_x86_64",
            "cp311-cp311-manylinux_2_17_x86_64",
            "cp313-cp313-manylinux_2_42_x86_64",
            "cp313-cp313-manylinux_2_17_aarch64",
            "cp313-cp313-musllinux_1_2_x86_64",
            "cp313-cp313-win_amd64",
            "garbage",
        ] {
            assert!(!t.accepts(bad), "{bad}");
        }
        let arm = Target {
            arch: "arm64".into(),
            ..t313()
        };
        assert!(arm.accepts("cp313-cp313-manylinux_2_17_aarch64"));
        assert_eq!(arm.uv_platform(), "aarch64-manylinux_2_40");
    }

    #[test]
    fn uv_refusing_a_host_built_wheel_is_named() {
        let out = "error: Failed to build `cext @ file:///tmp/app/cext-0.1.tar.gz`\n  cause: The built wheel `cext-0.1-cp311-cp311-linux_x86_64.whl` is not compatible with the target Python 3.13 on Linux x86_64.";
        assert_eq!(
            built_for_another_python(out),
            Some((
                "cext".to_owned(),
                "cext-0.1-cp311-cp311-linux_x86_64.whl".to_owned()
            ))
        );
        assert_eq!(built_for_another_python("error: No solution found"), None);
    }

    #[test]
    fn detection_and_entrypoints() {
        let d = tempfile::tempdir().unwrap();
        assert!(detect(d.path()).unwrap().is_none());
        std::fs::write(d.path().join("requirements.txt"), "flask\n").unwrap();
        let app = detect(d.path()).unwrap().unwrap();
        assert!(matches!(app.deps, Some(Deps::Requirements(_))));
        assert!(app.entrypoint("/usr/bin/python3", "/app").is_err());
        std::fs::write(d.path().join("main.py"), "").unwrap();
        std::fs::write(d.path().join("app.py"), "").unwrap();
        let app = detect(d.path()).unwrap().unwrap();
        assert_eq!(
            app.entrypoint("/usr/bin/python3", "/app").unwrap(),
            ["/usr/bin/python3", "/app/app.py"]
        );
        std::fs::write(
            d.path().join("pyproject.toml"),
            "[project]\nname = \"svc\"\ndependencies = []\n[project.scripts]\nother = \"x:y\"\nsvc = \"svc.cli:main\"\n",
        )
        .unwrap();
        let app = detect(d.path()).unwrap().unwrap();
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
        assert!(detect(d.path()).is_err());
    }
}
