//! The Python app kind's data: what was detected, and what can go wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PythonError {
    #[error("Cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {why}", path.display())]
    #[diagnostic(help("fix the TOML of {}", path.display()))]
    Pyproject { path: PathBuf, why: String },
    #[error(
        "No entrypoint for the Python app in {}: no [project.scripts], __main__.py, app.py or main.py",
        dir.display()
    )]
    #[diagnostic(help(
        "add app.py or main.py, or a [project.scripts] entry, or pass --entrypoint \"python3 FILE\""
    ))]
    NoEntrypoint { dir: PathBuf },
    #[error("Cannot run {tool}: {why}")]
    #[diagnostic(help("install uv (pip install uv), or make `python3 -m pip` work"))]
    Tool { tool: String, why: String },
    #[error("Installing the dependencies for Python {python} on {platform} failed:\n{output}")]
    #[diagnostic(help(
        "check the requirement named above: each dependency needs a wheel for the image's Python and platform, or a pure-Python source distribution"
    ))]
    Install {
        python: String,
        platform: String,
        output: String,
    },
    #[error(
        "{dist} has no wheel for Python {python} on {platform}, and its source distribution builds a C extension (here: {tag})"
    )]
    #[diagnostic(help(
        "pin a version of {dist} that publishes manylinux wheels for this Python, or replace it; distill does not compile C extensions for the image"
    ))]
    NeedsCompiler {
        dist: String,
        python: String,
        platform: String,
        tag: String,
    },
    #[error("{dist} {version} is installed, but uv's resolution for the inventory has {found}")]
    #[diagnostic(help("the index changed during the build; build again"))]
    Inventory {
        dist: String,
        version: String,
        found: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Elf(#[from] crate::elf::ElfError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sysroot(#[from] crate::sysroot::SysrootError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] super::locks::LockError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Version(#[from] super::version::VersionError),
    #[error(
        "{} exists only as source, and building it would run its build script on this machine: {}",
        if dists.len() == 1 { "A dependency" } else { "Dependencies" },
        dists.join(", ")
    )]
    #[diagnostic(help(
        "pin versions that publish wheels for Python {python} on {platform}, build them from source in distill's sandbox with --allow-source={} (or `[python] allow_source = [{}]` in distill.toml), or build the wheels yourself and add them with a `--find-links DIR` line in the requirements", dists.join(","), dists.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ")
    ))]
    SourceOnly {
        dists: Vec<String>,
        python: String,
        platform: String,
    },
    #[error("--allow-source={dist}: the requirements do not pin one version of it (NAME==VERSION)")]
    #[diagnostic(help(
        "lock the project (uv lock, poetry lock…) or pin {dist}==VERSION in requirements.txt"
    ))]
    SourceUnpinned { dist: String },
    #[error("The source distribution of {dist} is not one distill unpacks: {why}")]
    #[diagnostic(help(
        "only .tar.gz sdists with one top directory of files and directories are built"
    ))]
    SourceArchive { dist: String, why: String },
    #[error("{dist}: {} does not have the sha256 the requirements name (it has {got})", path.display())]
    #[diagnostic(help(
        "the index or a proxy served other bytes than were locked; nothing was built, so lock again only if the release was really replaced"
    ))]
    SourceHash {
        dist: String,
        path: PathBuf,
        got: String,
    },
    #[error("Cannot fetch the source distribution from {url}: {why}")]
    #[diagnostic(help("check the index URL (--index-url) and that it serves PEP 503 pages"))]
    SourceFetch { url: String, why: String },
    #[error("Building {dist} from source failed in the sandbox:\n{output}")]
    #[diagnostic(help(
        "the build runs the host's python3 with no network and only its source tree writable; its build requirements must exist as wheels"
    ))]
    SourceBuild { dist: String, output: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("{}: the dependencies are not static ([project] dynamic names them), and reading them would run the build backend", path.display())]
    #[diagnostic(help("list them in [project] dependencies, or lock them (uv lock, poetry lock)"))]
    Dynamic { path: PathBuf },
    #[error("--locked: {} pins no hashes, and distill.lock pins nothing for it", path.display())]
    #[diagnostic(help(
        "run `distill lock` to pin what it resolves to, or lock the project (uv lock, pip-compile --generate-hashes)"
    ))]
    NotPinned { path: PathBuf },
    #[error("Compiling bytecode with the image's Python failed:\n{output}")]
    #[diagnostic(help("the output above names the file; fix it or exclude it from the app"))]
    Compile { output: String },
}

/// Where the dependencies are declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deps {
    UvLock(PathBuf),
    /// `poetry.lock`, `Pipfile.lock`, `pdm.lock` or `pylock.toml`, read by distill itself.
    Lock(LockKind, PathBuf),
    Pyproject(PathBuf),
    Requirements(PathBuf),
}

/// The lockfiles distill reads itself ([`super::locks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    Poetry,
    Pipenv,
    Pdm,
    Pylock,
}

impl LockKind {
    /// In the order detection prefers them.
    pub const ALL: [LockKind; 4] = [
        LockKind::Poetry,
        LockKind::Pdm,
        LockKind::Pipenv,
        LockKind::Pylock,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            LockKind::Poetry => "poetry.lock",
            LockKind::Pipenv => "Pipfile.lock",
            LockKind::Pdm => "pdm.lock",
            LockKind::Pylock => "pylock.toml",
        }
    }
}

impl Deps {
    /// The file whose requirements nothing pins (a requirements.txt without hashes, a
    /// pyproject.toml without a lock), if the dependencies are such.
    pub fn unpinned(&self) -> Result<Option<PathBuf>, PythonError> {
        Ok(match self {
            Deps::Pyproject(p) => Some(p.clone()),
            Deps::Requirements(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| PythonError::Read {
                    path: p.clone(),
                    source,
                })?;
                (!text.contains("--hash")).then(|| p.clone())
            }
            Deps::UvLock(_) | Deps::Lock(..) => None,
        })
    }

    pub fn file_name(&self) -> &'static str {
        match self {
            Deps::UvLock(_) => "uv.lock",
            Deps::Lock(kind, _) => kind.file_name(),
            Deps::Pyproject(_) => "pyproject.toml",
            Deps::Requirements(_) => "requirements.txt",
        }
    }
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
    /// The release whose Python the project asks for ([`super::version`]).
    pub release: distill_core::Release,
    /// `pyproject.toml`, parsed, when there is one.
    pub pyproject: Option<toml::Table>,
    /// Distributions that may be built from source, confined (`--allow-source`).
    pub allow_source: Vec<String>,
    /// Dependency groups installed beside the main one (`[python] groups`).
    pub groups: Vec<String>,
}

impl From<PythonError> for crate::kind::AppError {
    fn from(e: PythonError) -> Self {
        Self::new(e)
    }
}
