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

/// An app's dependencies for one platform, installed in a scratch directory.
#[derive(Debug, Clone)]
pub struct Dependencies {
    /// Where they were installed.
    pub dir: std::path::PathBuf,
    /// Where they go in the image.
    pub dst: String,
    /// What their native code needs from the image.
    pub native: Option<NativeNeeds>,
    /// "python dependencies" or "node_modules".
    pub what: String,
}

impl Dependencies {
    /// The layer entries, read now (after bytecode was compiled into the directory).
    pub fn entries(&self) -> Result<Vec<Entry>, AppError> {
        if !self.dir.is_dir() {
            return Ok(Vec::new());
        }
        Ok(distill_app::collect(&[distill_app::FileSpec {
            src: self.dir.clone(),
            dst: self.dst.clone(),
            mode: None,
            uid: 0,
            gid: 0,
            origin: self.what.clone(),
            exclude: Vec::new(),
        }])?)
    }
}

/// Installs the dependencies of `app` for `arch` under `work`; `cache` is distill's
/// download cache.
pub fn dependencies(
    app: &App,
    release: Release,
    arch: &str,
    work: &Path,
    cache: &Path,
) -> Result<Dependencies, AppError> {
    let (dir, dst, what, suffixes): (std::path::PathBuf, String, String, &[&str]) = match app {
        App::Python(py) => {
            let (python, _) = python_of(release);
            let target = distill_app::python::Target {
                python,
                glibc: glibc_of(release),
                arch: arch.to_owned(),
            };
            let site = work.join(format!("site-{arch}"));
            distill_app::python::install(py, &target, &site, work, &cache.join("uv"))?;
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
        return Ok(Dependencies {
            dir,
            dst,
            native: None,
            what,
        });
    }
    let tree = distill_app::elf::needs_of_tree(&dir, suffixes)?;
    tracing::info!(
        "{what} for {arch}: {} native files, needing {:?}",
        tree.checked,
        tree.needed
    );
    let native = (tree.checked > 0).then(|| NativeNeeds {
        binary: what.clone(),
        needed: tree.needed,
        glibc: tree.glibc,
    });
    Ok(Dependencies {
        dir,
        dst,
        native,
        what,
    })
}

/// A copy of the app's tree under `into`, without the ignored names, so that bytecode can be
/// compiled beside the sources without touching the user's tree.
pub fn copy_tree(src: &Path, into: &Path, exclude: &[String]) -> Result<(), AppError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| {
            AppError::Files(distill_app::FilesError::Read {
                origin: "the app".into(),
                path,
                source,
            })
        }
    };
    let walk = walkdir::WalkDir::new(src)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0 || !exclude.iter().any(|x| e.file_name().to_str() == Some(x))
        });
    for e in walk {
        let e = e.map_err(|e| io(src)(e.into()))?;
        let rel = e.path().strip_prefix(src).unwrap_or(e.path());
        let to = into.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&to).map_err(io(&to))?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(e.path()).map_err(io(e.path()))?;
            std::os::unix::fs::symlink(target, &to).map_err(io(&to))?;
        } else if ft.is_file() {
            std::fs::copy(e.path(), &to).map_err(io(&to))?;
            // Modes are normalized when the layer is written; keep the execute bit only.
        }
    }
    Ok(())
}
