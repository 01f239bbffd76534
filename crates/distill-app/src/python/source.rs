//! Building the source distributions the user allowed by name (`--allow-source NAME`) into
//! wheels, confined ([`crate::sandbox`]): a build runs the project's `setup.py` or build
//! backend, which is code.
//!
//! Everything is fetched before any of it runs, and nothing runs with the network:
//! 1. the pinned version is found and checked ([`super::sdist`]);
//! 2. its `[build-system] requires` (setuptools when it names none) are installed as wheels
//!    only (installing a wheel runs nothing), for the image's Python, into a directory of
//!    their own;
//! 3. the sdist is unpacked by distill (files and directories under one top directory);
//! 4. the build backend's `build_wheel` runs in the sandbox under the image's Python, on a
//!    root of the image release's `python3-dev` and `gcc` for this machine
//!    ([`Builder::root`]; the host's `python3` only when there is none): no network,
//!    nothing of the host, `/tmp` empty, and only the source tree and the output
//!    directory writable, at fixed paths.
//!
//! The wheel then goes to the ordinary install (`--find-links`, its sha256 added to the
//! requirement's hashes, since it was built from the checked sdist). A C extension built
//! so is compiled for the image's Python and glibc, and fits the image on this machine's
//! architecture ([`super::wheels::check`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use super::sdist::normalize;
use super::sdist::{MAX_SDIST, locate, parse, sha256_file};
use super::types::PythonError;
use crate::sandbox::{self, Mount};

/// Where the build sees its tree.
const AT: &str = "/tmp/distill-sdist";

/// The PEP 517 frontend run in the sandbox: the backend's `build_wheel`, nothing else.
const FRONTEND: &str = r#"
import importlib, json, sys
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["backend_path"]
mod, _, obj = spec["backend"].partition(":")
backend = importlib.import_module(mod)
for part in filter(None, obj.split(".")):
    backend = getattr(backend, part)
print(backend.build_wheel(spec["out"]))
"#;

/// Where allowed builds run: in the image release's root (its Python and C toolchain, for
/// the machine distill runs on), or, without one, under the host's `python3`.
#[derive(Debug, Clone)]
pub struct Builder {
    pub root: Option<PathBuf>,
    /// The image's Python (`3.13`), which build requirements are installed for.
    pub python: String,
    /// uv's `--python-platform` for this machine (`x86_64-manylinux_2_40`).
    pub platform: String,
    pub arch: distill_core::Arch,
}

/// Builds each of `dists` (normalized names) into `work/built-ARCH`; returns that directory
/// and each wheel's sha256 by name.
pub fn build(
    dists: &[String],
    reqs_path: &Path,
    app_dir: &Path,
    uv: &Path,
    work: &Path,
    builder: &Builder,
) -> Result<(PathBuf, BTreeMap<String, String>), PythonError> {
    let arch = builder.arch;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PythonError::Read { path, source }
    };
    let text = std::fs::read_to_string(reqs_path).map_err(io(reqs_path))?;
    let reqs = parse(&text);
    let out = work.join(format!("built-{arch}"));
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    let mut hashes = BTreeMap::new();
    for dist in dists {
        let name = normalize(dist);
        let (version, want) = reqs
            .pins
            .get(&name)
            .cloned()
            .ok_or_else(|| PythonError::SourceUnpinned { dist: dist.clone() })?;
        let scratch = work.join(format!("sdist-{name}-{arch}"));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).map_err(io(&scratch))?;
        let sdist = locate(&name, &version, &want, &reqs, app_dir, uv, &scratch)?;
        let src =
            unpack(&sdist, &scratch.join("src")).map_err(|why| PythonError::SourceArchive {
                dist: dist.clone(),
                why,
            })?;
        let (requires, backend, backend_path) = build_system(&src);
        let deps = scratch.join("build-deps");
        build_requires(dist, uv, &deps, &requires, builder)?;
        let wheel = confined_build(dist, &src, &deps, &out, (&backend, &backend_path), builder)?;
        hashes.insert(name, sha256_file(&wheel).map_err(io(&wheel))?);
    }
    Ok((out, hashes))
}

/// Builds the project in `dir` (a Poetry project in package mode) into a wheel, confined,
/// from a copy of its tree without the directories apps never ship ([`crate::kind::IGNORED`]).
pub fn build_project(
    dir: &Path,
    work: &Path,
    uv: &Path,
    builder: &Builder,
) -> Result<PathBuf, PythonError> {
    let arch = builder.arch;
    let scratch = work.join(format!("project-{arch}"));
    let _ = std::fs::remove_dir_all(&scratch);
    let src = scratch.join("src");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PythonError::Read { path, source }
    };
    let walk = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0 || !crate::kind::IGNORED.iter().any(|i| e.file_name() == *i)
        });
    for e in walk {
        let e = e.map_err(|e| PythonError::Read {
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        let to = src.join(e.path().strip_prefix(dir).unwrap_or(e.path()));
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).map_err(io(&to))?;
        } else if e.file_type().is_file() {
            std::fs::copy(e.path(), &to).map_err(io(&to))?;
        }
    }
    let name = dir
        .file_name()
        .map_or("the project".into(), |n| n.to_string_lossy().into_owned());
    let (requires, backend, backend_path) = build_system(&src);
    let deps = scratch.join("build-deps");
    build_requires(&name, uv, &deps, &requires, builder)?;
    let out = scratch.join("out");
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    confined_build(&name, &src, &deps, &out, (&backend, &backend_path), builder)
}

/// The inventory's record of a wheel distill built.
pub fn component(wheel: &Path) -> Result<distill_core::Component, PythonError> {
    let file = wheel
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = file.split('-');
    let (Some(name), Some(version)) = (parts.next(), parts.next()) else {
        return Err(PythonError::SourceBuild {
            dist: file.clone(),
            output: "the wheel's name is not NAME-VERSION-TAGS.whl".into(),
        });
    };
    Ok(distill_core::Component::Python {
        name: name.to_owned(),
        version: version.to_owned(),
        sha256: sha256_file(wheel).map_err(|source| PythonError::Read {
            path: wheel.to_path_buf(),
            source,
        })?,
        file,
    })
}

/// Installs `requires` as wheels only into `deps`.
fn build_requires(
    dist: &str,
    uv: &Path,
    deps: &Path,
    requires: &[String],
    builder: &Builder,
) -> Result<(), PythonError> {
    let mut cmd = super::index::command(uv);
    cmd.args([
        "pip",
        "install",
        "--quiet",
        "--no-progress",
        "--only-binary",
        ":all:",
    ]);
    // In the image release's root, for its Python (a C-extension build requirement such
    // as Cython must fit it); under the host's, for the host's.
    if builder.root.is_some() {
        cmd.args(["--python-version", &builder.python])
            .args(["--python-platform", &builder.platform]);
    }
    let o = cmd
        .arg("--target")
        .arg(deps)
        .args(requires)
        .env("UV_PYTHON_DOWNLOADS", "never")
        .output()
        .map_err(|e| PythonError::Tool {
            tool: "uv pip install".into(),
            why: e.to_string(),
        })?;
    if !o.status.success() {
        return Err(PythonError::SourceBuild {
            dist: dist.to_owned(),
            output: format!(
                "installing its build requirements {requires:?} as wheels:\n{}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        });
    }
    Ok(())
}

/// Unpacks a `.tar.gz` sdist under `into`; returns its one top directory.
fn unpack(sdist: &Path, into: &Path) -> Result<PathBuf, String> {
    let f = std::fs::File::open(sdist).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(into).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(f).take(MAX_SDIST * 4));
    let mut top: Option<std::ffi::OsString> = None;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let mut parts = path.components();
        let Some(std::path::Component::Normal(first)) = parts.next() else {
            return Err(format!(
                "entry {} is not under one top directory",
                path.display()
            ));
        };
        if top.get_or_insert_with(|| first.to_owned()) != first
            || !parts.all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!(
                "entry {} is not under one top directory",
                path.display()
            ));
        }
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir() || kind == tar::EntryType::XGlobalHeader) {
            return Err(format!("entry {} is a {kind:?}", path.display()));
        }
        if kind.is_file() || kind.is_dir() {
            entry.unpack_in(into).map_err(|e| e.to_string())?;
        }
    }
    top.map(|t| into.join(t))
        .ok_or_else(|| "it is empty".to_owned())
}

/// `[build-system]` of the unpacked sdist: requires, backend and backend-path, with the
/// defaults PEP 517 gives a project that names none.
fn build_system(src: &Path) -> (Vec<String>, String, Vec<String>) {
    let table: Option<toml::Table> = std::fs::read_to_string(src.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse().ok());
    let bs = table.as_ref().and_then(|t| t.get("build-system"));
    let strings = |key: &str| -> Option<Vec<String>> {
        Some(
            bs?.get(key)?
                .as_array()?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )
    };
    let requires = strings("requires").unwrap_or_else(|| vec!["setuptools>=40.8.0".into()]);
    let backend = bs
        .and_then(|b| b.get("build-backend")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "setuptools.build_meta:__legacy__".into());
    let path = strings("backend-path").unwrap_or_default();
    (requires, backend, path)
}

/// Runs the backend's `build_wheel` in the sandbox; returns the wheel it wrote to `out`.
fn confined_build(
    dist: &str,
    src: &Path,
    deps: &Path,
    out: &Path,
    (backend, backend_path): (&str, &[String]),
    builder: &Builder,
) -> Result<PathBuf, PythonError> {
    let at = Path::new(AT);
    let python = match &builder.root {
        Some(_) => (PathBuf::from("/usr/bin/python3"), None),
        None => host_python()?,
    };
    let mut mounts = vec![
        Mount {
            host: deps.to_path_buf(),
            at: at.join("deps"),
            writable: false,
        },
        Mount {
            host: src.to_path_buf(),
            at: at.join("src"),
            writable: true,
        },
        Mount {
            host: out.to_path_buf(),
            at: at.join("out"),
            writable: true,
        },
    ];
    if let Some(prefix) = python.1.clone() {
        mounts.insert(
            0,
            Mount {
                host: prefix.clone(),
                at: prefix,
                writable: false,
            },
        );
    }
    let spec = serde_json::json!({
        "backend": backend,
        "backend_path": backend_path.iter().map(|p| at.join("src").join(p)).collect::<Vec<_>>(),
        "out": at.join("out"),
    })
    .to_string();
    let env: Vec<(&str, OsString)> = vec![
        ("PYTHONPATH", at.join("deps").into()),
        ("PYTHONDONTWRITEBYTECODE", "1".into()),
        ("SOURCE_DATE_EPOCH", "315532800".into()),
    ];
    tracing::info!("building {dist} from source, confined ({backend})");
    let before: Vec<_> = wheels_in(out);
    let o = sandbox::command_in(
        builder.root.as_deref(),
        &mounts,
        &at.join("src"),
        &[],
        &env,
        &python.0.to_string_lossy(),
        &["-c", FRONTEND, &spec],
    )?
    .output()
    .map_err(|e| PythonError::Tool {
        tool: "bwrap".into(),
        why: e.to_string(),
    })?;
    if !o.status.success() {
        let text = String::from_utf8_lossy(&o.stderr);
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        return Err(PythonError::SourceBuild {
            dist: dist.to_owned(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    wheels_in(out)
        .into_iter()
        .find(|w| !before.contains(w))
        .ok_or_else(|| PythonError::SourceBuild {
            dist: dist.to_owned(),
            output: "the backend wrote no wheel".into(),
        })
}

fn wheels_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    v.sort();
    v
}

/// The host's `python3` (resolved), and its installation prefix when the sandbox would
/// not otherwise see it (under the emptied home, as pyenv's are).
fn host_python() -> Result<(PathBuf, Option<PathBuf>), PythonError> {
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys; print(sys.executable); print(sys.base_prefix)",
        ])
        .output()
        .map_err(|e| PythonError::Tool {
            tool: "python3".into(),
            why: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = text.lines();
    let exe = PathBuf::from(lines.next().unwrap_or("python3"));
    let prefix = lines.next().map(PathBuf::from);
    let hidden = prefix.filter(|p| {
        let home = dirs::home_dir();
        p.starts_with("/tmp") || p.starts_with("/root") || home.is_some_and(|h| p.starts_with(h))
    });
    Ok((exe, hidden))
}

/// Adds each built wheel's sha256 to its distribution's hashes in the requirements file.
pub fn add_hashes(path: &Path, built: &BTreeMap<String, String>) -> Result<(), PythonError> {
    let io = |source| PythonError::Read {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    std::fs::write(path, with_hashes(&text, built)).map_err(io)
}

/// The requirements with each built wheel's sha256 added to its distribution's hashes.
pub fn with_hashes(text: &str, built: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let first = line.split_whitespace().next().unwrap_or("");
        let name = first
            .split("==")
            .next()
            .unwrap_or("")
            .split('[')
            .next()
            .unwrap_or("");
        match built.get(&normalize(name)).filter(|_| first.contains("==")) {
            Some(h) => {
                let (spec, rest) = line.split_at(line.find(first).unwrap_or(0) + first.len());
                out.push_str(&format!("{spec} --hash=sha256:{h}{rest}"));
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_wheels_add_their_hashes() {
        let built = BTreeMap::from([("sd-only".to_owned(), "cc".to_owned())]);
        assert_eq!(
            with_hashes(
                "Sd_Only==0.1 \\\n    --hash=sha256:aa\nflask==3.1.0\n",
                &built
            ),
            "Sd_Only==0.1 --hash=sha256:cc \\\n    --hash=sha256:aa\nflask==3.1.0\n"
        );
    }
}
