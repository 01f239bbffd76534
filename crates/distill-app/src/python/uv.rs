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

use super::types::{Deps, LockKind, PythonApp, PythonError};
use super::wheels::{self, Tags};
use distill_core::Component;

use super::{locks, source};
use crate::elf::NativeNeeds;
use crate::kind::{Installed, Target};

/// The uv distill is tested with. Its resolver and its reading of locks and markers decide
/// what is installed, so a different uv is not used: the one on PATH only when it is this
/// version, else this one, installed with pip into distill's cache once.
pub const UV_VERSION: &str = "0.13.9";

/// `uv` at [`UV_VERSION`].
pub(super) fn uv(cache: &Path) -> Result<PathBuf, PythonError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path)
        .map(|d| d.join("uv"))
        .find(|p| p.is_file());
    if let Some(p) = on_path {
        let said = Command::new(&p).arg("--version").output();
        if said.is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout).split_whitespace().nth(1) == Some(UV_VERSION)
        }) {
            return Ok(p);
        }
    }
    let dir = cache.join("tools").join(format!("uv-{UV_VERSION}"));
    let bin = dir.join("bin/uv");
    if bin.is_file() {
        return Ok(bin);
    }
    // Into a fresh directory renamed into place: a second build never sees half of it.
    let tmp = cache
        .join("tools")
        .join(format!(".uv-{UV_VERSION}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let o = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&tmp)
        .arg(format!("uv=={UV_VERSION}"))
        .output()
        .map_err(|e| PythonError::Tool {
            tool: "python3 -m pip".into(),
            why: e.to_string(),
        })?;
    if !o.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(PythonError::Tool {
            tool: format!("python3 -m pip install uv=={UV_VERSION}"),
            why: String::from_utf8_lossy(&o.stderr).into_owned(),
        });
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another build put it in place first.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(bin)
}

pub(super) fn run(cmd: &mut Command, tool: &str) -> Result<std::process::Output, PythonError> {
    cmd.output().map_err(|e| PythonError::Tool {
        tool: tool.into(),
        why: e.to_string(),
    })
}

/// The requirements uv installs from, and whether they pin every distribution with hashes.
pub(super) struct Requirements {
    pub path: PathBuf,
    pub hashed: bool,
}

/// The requirements uv installs from: `uv.lock` exported (with hashes), another lock read
/// by distill ([`locks`]), the project's dependencies, or `requirements.txt` itself.
pub(super) fn requirements(
    app: &PythonApp,
    deps: &Deps,
    uv: &Path,
    work: &Path,
    tags: &Tags,
    target: &Target,
) -> Result<Requirements, PythonError> {
    let out = work.join(format!("requirements.{}.txt", tags.arch));
    let write = |text: String| {
        std::fs::create_dir_all(work)
            .and_then(|()| std::fs::write(&out, text))
            .map_err(|source| PythonError::Read {
                path: out.clone(),
                source,
            })
    };
    // What the project's files do not pin, distill.lock may (`distill lock`).
    if let Some(path) = deps.unpinned()? {
        if let Some(text) = &target.pins {
            write(text.clone())?;
            return Ok(Requirements {
                path: out,
                hashed: true,
            });
        }
        if target.locked {
            return Err(PythonError::NotPinned { path });
        }
    }
    let no_pyproject = toml::Table::new();
    let pyproject = app.pyproject.as_ref().unwrap_or(&no_pyproject);
    match deps {
        Deps::Requirements(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| PythonError::Read {
                path: p.clone(),
                source,
            })?;
            // A requirements file has no groups: a group asked for is a mistake.
            locks::check_groups(p, &app.groups, &[])?;
            let hashed = text.contains("--hash");
            if !hashed {
                unlocked(p);
            }
            Ok(Requirements {
                path: p.clone(),
                hashed,
            })
        }
        Deps::Pyproject(p) => {
            let text = locks::project::requirements(p, pyproject, &app.groups)?
                .ok_or_else(|| PythonError::Dynamic { path: p.clone() })?;
            unlocked(p);
            write(text)?;
            Ok(Requirements {
                path: out,
                hashed: false,
            })
        }
        Deps::Lock(kind, p) => {
            let locked = match kind {
                LockKind::Poetry => locks::poetry::read(p, pyproject, &app.groups)?,
                LockKind::Pipenv => locks::pipfile::read(p, &app.groups)?,
                LockKind::Pdm => locks::pdm::read(p, &app.groups)?,
                LockKind::Pylock => locks::pylock::read(p, &app.groups)?,
            };
            write(locked.requirements())?;
            Ok(Requirements {
                path: out,
                hashed: true,
            })
        }
        Deps::UvLock(p) => {
            let mut known: Vec<String> = pyproject
                .get("dependency-groups")
                .and_then(|g| g.as_table())
                .map(|g| g.keys().cloned().collect())
                .unwrap_or_default();
            let uv_dev = pyproject
                .get("tool")
                .and_then(|t| t.get("uv"))
                .is_some_and(|u| u.get("dev-dependencies").is_some());
            if uv_dev && !known.iter().any(|g| g == "dev") {
                known.push("dev".to_owned());
            }
            locks::check_groups(p, &app.groups, &known)?;
            export(app, uv, &out, tags)?;
            Ok(Requirements {
                path: out,
                hashed: true,
            })
        }
    }
}

/// The warning for dependencies no lock pins.
fn unlocked(path: &Path) {
    tracing::warn!(
        "{} pins no hashes: this build is not locked, and installs what the index serves today; lock it (uv lock, poetry lock, pip-compile --generate-hashes), or pin it with `distill lock` and build with --locked",
        path.display()
    );
}

/// `uv.lock` as a hashed requirements file, without the project and the dev groups.
fn export(app: &PythonApp, uv: &Path, out: &Path, tags: &Tags) -> Result<(), PythonError> {
    let mut cmd = super::index::command(uv);
    cmd.current_dir(&app.dir).args(["export", "--frozen"]);
    if !app.groups.iter().any(|g| g == "dev") {
        cmd.arg("--no-dev");
    }
    for g in &app.groups {
        cmd.args(["--group", g]);
    }
    let o = run(
        cmd.args([
            "--no-emit-project",
            "--no-header",
            "--format",
            "requirements-txt",
            "-o",
        ])
        .arg(out)
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
    Ok(())
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
    let uv = uv(cache)?;
    let reqs = requirements(app, deps, &uv, work, &tags, target)?;
    let uv_cache = cache.join("uv");
    let mut links = None;
    let builder = builder(target, &tags);
    let mut built_names: Vec<String> = Vec::new();
    let mut o = pip_install(app, &uv, &site, &reqs, &tags, &uv_cache, None)?;
    let refused = |output: &str| refused_sources(app, output);
    let output = String::from_utf8_lossy(&o.stderr).into_owned();
    let sources = source_only(&output);
    if !o.status.success() && !sources.is_empty() && refused(&output).is_empty() {
        // Only allowed ones are missing: build them, confined, and install again.
        let (dir, built) = source::build(&sources, &reqs.path, &app.dir, &uv, work, &builder)?;
        if builder.root.is_some() {
            built_names = built.keys().cloned().collect();
        }
        if reqs.hashed {
            source::add_hashes(&reqs.path, &built)?;
        }
        o = pip_install(app, &uv, &site, &reqs, &tags, &uv_cache, Some(&dir))?;
        links = Some(dir);
    }
    if !o.status.success() {
        let output = String::from_utf8_lossy(&o.stderr).trim().to_owned();
        return Err(install_failed(refused(&output), output, &tags));
    }
    // A Poetry project in package mode is itself a distribution: built (confined) and
    // installed beside its dependencies, as `poetry install` does.
    let project = match (&deps, &app.pyproject) {
        (Deps::Lock(LockKind::Poetry, _), Some(p)) if locks::poetry::package_mode(p) => {
            let wheel = source::build_project(&app.dir, work, &uv, &builder)?;
            install_wheel(app, &uv, &site, &wheel, &tags, &uv_cache)?;
            Some(source::component(&wheel)?)
        }
        _ => None,
    };
    wheels::check(&site, &tags, &built_names)?;
    let dists: Vec<wheels::Dist> = wheels::installed(&site)?
        .into_iter()
        .filter(|d| match &project {
            Some(Component::Python { name, .. }) => {
                source::normalize(name) != source::normalize(&d.name)
            }
            _ => true,
        })
        .collect();
    let mut components = wheels::components(
        &dists,
        &pylock(
            app,
            &uv,
            &reqs.path,
            work,
            &tags,
            &uv_cache,
            links.as_deref(),
        )?,
    )?;
    components.extend(project);
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

/// Where allowed builds run for `target`: in its build root, for this machine.
fn builder(target: &Target, tags: &Tags) -> source::Builder {
    let arch = distill_core::Arch::host().unwrap_or(target.platform.arch);
    source::Builder {
        root: target.build_root.clone(),
        python: tags.python_text(),
        platform: Tags::new(target.release, arch).uv_platform(),
        arch,
    }
}

/// The source-only distributions in uv's `output` that are not allowed to build.
pub(super) fn refused_sources(app: &PythonApp, output: &str) -> Vec<String> {
    source_only(output)
        .into_iter()
        .filter(|d| {
            !app.allow_source
                .iter()
                .any(|a| source::normalize(a) == source::normalize(d))
        })
        .collect()
}

/// Why `uv pip install` failed: the source-only distributions not allowed, a wheel built
/// for another Python, or uv's own words.
pub(super) fn install_failed(refused: Vec<String>, output: String, tags: &Tags) -> PythonError {
    if !refused.is_empty() {
        return PythonError::SourceOnly {
            dists: refused,
            python: tags.python_text(),
            platform: tags.uv_platform(),
        };
    }
    match built_for_another_python(&output) {
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
    }
}

/// `uv pip SUB` for the image's target, in the app's directory, never building a source
/// distribution (its build runs its code on this machine), never downloading a Python;
/// `links` is a directory of wheels distill built, confined.
pub(super) fn uv_pip(
    sub: &str,
    app: &PythonApp,
    uv: &Path,
    tags: &Tags,
    uv_cache: &Path,
    links: Option<&Path>,
) -> Command {
    let mut cmd = super::index::command(uv);
    cmd.current_dir(&app.dir)
        .args(["pip", sub, "--quiet", "--no-progress", "--no-build"])
        .args(["--python-version", &tags.python_text()])
        .args(["--python-platform", &tags.uv_platform()])
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("UV_CACHE_DIR", uv_cache);
    if let Some(l) = links {
        cmd.arg("--find-links").arg(l);
    }
    cmd
}

/// uv's failure, as the error that names the target.
fn succeeded(o: &std::process::Output, tags: &Tags) -> Result<(), PythonError> {
    if o.status.success() {
        return Ok(());
    }
    Err(PythonError::Install {
        python: tags.python_text(),
        platform: tags.uv_platform(),
        output: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
    })
}

/// `uv pip install` of the requirements into `site`.
fn pip_install(
    app: &PythonApp,
    uv: &Path,
    site: &Path,
    reqs: &Requirements,
    tags: &Tags,
    uv_cache: &Path,
    links: Option<&Path>,
) -> Result<std::process::Output, PythonError> {
    let mut cmd = uv_pip("install", app, uv, tags, uv_cache, links);
    cmd.arg("--target").arg(site);
    if reqs.hashed {
        cmd.arg("--require-hashes");
    }
    // Bytecode is compiled later, for the image's interpreter.
    cmd.args(["--no-compile", "--link-mode", "copy", "-r"])
        .arg(&reqs.path);
    run(&mut cmd, "uv pip install")
}

/// Installs one wheel distill built into `site`, without its dependencies (installed
/// already, from the lock).
fn install_wheel(
    app: &PythonApp,
    uv: &Path,
    site: &Path,
    wheel: &Path,
    tags: &Tags,
    uv_cache: &Path,
) -> Result<(), PythonError> {
    let mut cmd = uv_pip("install", app, uv, tags, uv_cache, None);
    cmd.args([
        "--no-deps",
        "--no-compile",
        "--link-mode",
        "copy",
        "--target",
    ])
    .arg(site)
    .arg(wheel);
    succeeded(&run(&mut cmd, "uv pip install")?, tags)
}

/// The same requirements resolved for the same target into a `pylock.toml`.
fn pylock(
    app: &PythonApp,
    uv: &Path,
    reqs: &Path,
    work: &Path,
    tags: &Tags,
    uv_cache: &Path,
    links: Option<&Path>,
) -> Result<String, PythonError> {
    let out = work.join(format!("pylock.{}.toml", tags.arch));
    let mut cmd = uv_pip("compile", app, uv, tags, uv_cache, links);
    cmd.args(["--no-header", "--format", "pylock.toml", "-o"])
        .arg(&out)
        .arg(reqs);
    succeeded(&run(&mut cmd, "uv pip compile")?, tags)?;
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

/// The distributions uv would have had to build from source (`--no-build`): every
/// "Wheels are required for `NAME`" (from an index) and "Building source distributions for
/// `NAME` is disabled" (a file or URL) it says.
fn source_only(uv_output: &str) -> Vec<String> {
    let markers = [
        "Wheels are required for `",
        "Building source distributions for `",
    ];
    let mut out: Vec<String> = markers
        .iter()
        .flat_map(|marker| {
            uv_output.match_indices(marker).filter_map(|(i, _)| {
                let rest = &uv_output[i + marker.len()..];
                Some(rest[..rest.find('`')?].to_owned())
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
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

    #[test]
    fn every_source_only_distribution_is_named() {
        let out = "error: Failed to build `cext @ file:///tmp/cext-0.1.tar.gz`\n  cause: Building source distributions for `cext` is disabled\nhint: Wheels are required for `docopt` because building from source is disabled for all packages (i.e., with `--no-build`)";
        assert_eq!(source_only(out), ["cext", "docopt"]);
        assert!(source_only("error: No solution found").is_empty());
    }
}
