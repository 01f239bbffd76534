//! Apps detected in the build context (Python, Node): the image they go onto, and their
//! dependencies as a layer of their own, per platform.
//!
//! The layers of an app image are the family member's, then the dependencies (which change
//! only when the lock or requirements do, so their digest is reused), then the app's own
//! files under `/app`.

use std::path::Path;

use distill_apt::debian::Release;
use distill_oci::Entry;

use crate::plan::NativeNeeds;

#[derive(Debug, Clone)]
pub enum App {
    Python(distill_app::python::PythonApp),
    Node(distill_app::nodeapp::NodeApp),
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Python(#[from] distill_app::python::PythonError),
    #[error(transparent)]
    Node(#[from] distill_app::nodeapp::NodeAppError),
    #[error(transparent)]
    Files(#[from] distill_app::FilesError),
    #[error(transparent)]
    Elf(#[from] distill_app::elf::ElfError),
}

impl AppError {
    pub fn hint(&self) -> Option<String> {
        match self {
            AppError::Python(e) => e.hint(),
            AppError::Node(e) => e.hint(),
            AppError::Files(e) => e.hint(),
            AppError::Elf(_) => None,
        }
    }
}

/// Where the app's own files go.
pub const APP_DIR: &str = "/app";

/// Names never copied from the context into `/app`.
pub const IGNORED: [&str; 10] = [
    ".git",
    "__pycache__",
    ".venv",
    "venv",
    "node_modules",
    ".mypy_cache",
    ".pytest_cache",
    "distill.lock",
    ".DS_Store",
    ".ruff_cache",
];

/// Debian's Python on `release`: `(version, interpreter)`.
pub fn python_of(release: Release) -> ((u32, u32), &'static str) {
    match release {
        Release::Bookworm => ((3, 11), "/usr/bin/python3.11"),
        Release::Trixie => ((3, 13), "/usr/bin/python3.13"),
    }
}

/// The glibc of `release`.
pub fn glibc_of(release: Release) -> (u32, u32) {
    match release {
        Release::Bookworm => (2, 36),
        Release::Trixie => (2, 41),
    }
}

/// The dependency entries of `app` for `arch`, and what their native code needs from the
/// image. `work` is scratch space that must outlive the entries (they point into it).
pub fn dependencies(
    app: &App,
    release: Release,
    arch: &str,
    work: &Path,
) -> Result<(Vec<Entry>, Option<NativeNeeds>, String), AppError> {
    let (dir, dst, what, suffixes): (std::path::PathBuf, String, String, &[&str]) = match app {
        App::Python(py) => {
            let (python, _) = python_of(release);
            let target = distill_app::python::Target {
                python,
                glibc: glibc_of(release),
                arch: arch.to_owned(),
            };
            let site = work.join(format!("site-{arch}"));
            distill_app::python::install(py, &target, &site, work)?;
            (
                site,
                format!(
                    "/usr/local/lib/python{}.{}/dist-packages",
                    python.0, python.1
                ),
                "python dependencies".into(),
                &[".so"],
            )
        }
        App::Node(node) => (
            node.install(arch, work)?,
            format!("{APP_DIR}/node_modules"),
            "node_modules".into(),
            &[".node"],
        ),
    };
    if !dir.is_dir() {
        return Ok((Vec::new(), None, what));
    }
    let tree = distill_app::elf::needs_of_tree(&dir, suffixes)?;
    tracing::info!(
        "{what} for {arch}: {} native files, needing {:?}",
        tree.checked,
        tree.needed
    );
    let entries = distill_app::collect(&[distill_app::FileSpec {
        src: dir,
        dst,
        mode: None,
        uid: 0,
        gid: 0,
        origin: what.clone(),
        exclude: vec!["__pycache__".into()],
    }])?;
    let native = (tree.checked > 0).then(|| NativeNeeds {
        binary: what.clone(),
        needed: tree.needed,
        glibc: tree.glibc,
    });
    Ok((entries, native, what))
}
