//! Installing a Python app's dependencies with uv, for the image's interpreter.
//!
//! Dependencies come from `uv.lock` (exported without the project and dev groups),
//! `pyproject.toml` (`[project] dependencies`) or `requirements.txt`. They are installed with
//! uv (from the index uv is configured with; uv itself is installed with pip when missing)
//! into a directory, with `--python-version`, `--python-platform` (the manylinux level the
//! image's glibc allows, and its architecture) and the interpreter's ABI, never the host's
//! interpreter. uv builds a source distribution only when it has none of the wheels; the
//! result is then checked: a wheel whose tags do not fit the image (a C extension built for
//! the host) is an error that names it.
//!
//! For the build's inventory, the same requirements are resolved once more by uv into a
//! PEP 751 `pylock.toml` for the same target, which names the one file of each distribution
//! that fits, with its sha256; each installed distribution is matched to it by name,
//! version and wheel tags ([`super::wheels::components`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::types::{Deps, PythonApp, PythonError};
use super::wheels::{self, Tags};
use crate::elf::NativeNeeds;
use crate::kind::{Installed, Target};

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

/// The requirements uv installs from: the file itself, or `uv.lock` exported.
fn requirements(
    app: &PythonApp,
    deps: &Deps,
    uv: &Path,
    work: &Path,
    tags: &Tags,
) -> Result<PathBuf, PythonError> {
    match deps {
        Deps::Requirements(p) | Deps::Pyproject(p) => Ok(p.clone()),
        Deps::UvLock(_) => {
            let out = work.join("requirements.txt");
            let o = run(
                Command::new(uv)
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
                    python: tags.python_text(),
                    platform: tags.uv_platform(),
                    output: String::from_utf8_lossy(&o.stderr).into_owned(),
                });
            }
            Ok(out)
        }
    }
}

/// Installs the app's dependencies for `target` into `work/site-ARCH` (a `site-packages`
/// layout). `cache` is distill's cache; uv's own lives in it (uv checks what it reuses
/// against the index's hashes).
pub fn install(
    app: &PythonApp,
    target: &Target,
    work: &Path,
    cache: &Path,
) -> Result<Installed, PythonError> {
    let arch = target.platform.arch;
    let tags = Tags::new(target.release, arch);
    let (major, minor) = tags.python;
    let site = work.join(format!("site-{arch}"));
    let dst = format!("/usr/local/lib/python{major}.{minor}/dist-packages");
    let Some(deps) = &app.deps else {
        return Ok(Installed::none(site, dst, "python dependencies"));
    };
    let uv = uv(work)?;
    let reqs = requirements(app, deps, &uv, work, &tags)?;
    let uv_cache = cache.join("uv");
    let o = run(
        Command::new(&uv)
            .current_dir(&app.dir)
            .args(["pip", "install", "--quiet", "--no-progress", "--target"])
            .arg(&site)
            .args([
                "--python-version",
                &tags.python_text(),
                "--python-platform",
                &tags.uv_platform(),
                // Bytecode is compiled later, for the image's interpreter.
                "--no-compile",
                "--link-mode",
                "copy",
                "-r",
            ])
            .arg(&reqs)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_CACHE_DIR", &uv_cache),
        "uv pip install",
    )?;
    if !o.status.success() {
        let output = String::from_utf8_lossy(&o.stderr).trim().to_owned();
        return Err(match built_for_another_python(&output) {
            Some((dist, tag)) => PythonError::NeedsCompiler {
                dist,
                python: tags.python_text(),
                platform: tags.uv_platform(),
                tag,
            },
            None => PythonError::Install {
                python: tags.python_text(),
                platform: tags.uv_platform(),
                output,
            },
        });
    }
    wheels::check(&site, &tags)?;
    let components = wheels::components(
        &wheels::installed(&site)?,
        &pylock(app, &uv, &reqs, work, &tags, &uv_cache)?,
    )?;
    // Console scripts carry the host interpreter's path; the image starts the app itself.
    let _ = std::fs::remove_dir_all(site.join("bin"));
    let native = native_needs(&site, "python dependencies")?;
    Ok(Installed {
        dir: site,
        dst,
        what: "python dependencies".into(),
        native,
        components,
    })
}

/// The same requirements resolved for the same target into a `pylock.toml`.
fn pylock(
    app: &PythonApp,
    uv: &Path,
    reqs: &Path,
    work: &Path,
    tags: &Tags,
    uv_cache: &Path,
) -> Result<String, PythonError> {
    let out = work.join(format!("pylock.{}.toml", tags.arch));
    let o = run(
        Command::new(uv)
            .current_dir(&app.dir)
            .args(["pip", "compile", "--quiet", "--no-progress", "--no-header"])
            .args(["--format", "pylock.toml"])
            .args(["--python-version", &tags.python_text()])
            .args(["--python-platform", &tags.uv_platform()])
            .arg("-o")
            .arg(&out)
            .arg(reqs)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_CACHE_DIR", uv_cache),
        "uv pip compile",
    )?;
    if !o.status.success() {
        return Err(PythonError::Install {
            python: tags.python_text(),
            platform: tags.uv_platform(),
            output: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        });
    }
    std::fs::read_to_string(&out).map_err(|source| PythonError::Read { path: out, source })
}

/// What the native code of an installed tree needs from the image.
pub(crate) fn native_needs(dir: &Path, what: &str) -> Result<Option<NativeNeeds>, PythonError> {
    let tree = crate::elf::needs_of_tree(dir, &[".so"])?;
    tracing::info!(
        "{what}: {} native files, needing {:?}",
        tree.checked,
        tree.needed
    );
    Ok((tree.checked > 0).then(|| NativeNeeds {
        binary: what.to_owned(),
        needed: tree.needed,
        glibc: tree.glibc,
    }))
}

/// uv's refusal of a wheel it built from source for the host's interpreter:
/// `(distribution, wheel file)`.
fn built_for_another_python(uv_output: &str) -> Option<(String, String)> {
    if !uv_output.contains("is not compatible with the target") {
        return None;
    }
    let after = |marker: &str| {
        let rest = uv_output.get(uv_output.find(marker)? + marker.len()..)?;
        Some(rest.get(..rest.find('`')?)?.to_owned())
    };
    let dist = after("Failed to build `")?;
    let dist = dist.split(" @ ").next().unwrap_or(&dist).to_owned();
    let wheel = after("built wheel `").unwrap_or_default();
    Some((dist, wheel))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
