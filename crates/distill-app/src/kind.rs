//! App kinds: what a build context holds (a Python app, a Node app, ...), each behind one
//! trait, so that a new kind is one new module and one line in [`KINDS`], never a branch in
//! the planner.
//!
//! A kind *detects* a directory and returns an [`App`]. The app says which image it goes
//! onto ([`App::image`]), *installs* its dependencies for one platform into a directory that
//! becomes a layer of its own ([`App::install`]), and may *finish* them with the image's own
//! programs once the image's packages are known ([`App::finish`]; Python compiles its
//! bytecode with the image's interpreter there).
//!
//! The kinds themselves are listed in [`crate::KINDS`]; this module knows none of them.

use std::path::{Path, PathBuf};

use distill_core::{Component, EnvVar, FamilyMember, Platform, Release};

use crate::elf::NativeNeeds;
use crate::sysroot::Sysroot;

/// Why an app cannot be detected, installed or finished: its kind's own error, whatever
/// the kind. It shows as that error, with that error's causes and hint.
#[derive(Debug)]
pub struct AppError(Box<dyn miette::Diagnostic + Send + Sync>);

impl AppError {
    pub fn new(e: impl miette::Diagnostic + Send + Sync + 'static) -> Self {
        Self(Box::new(e))
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl miette::Diagnostic for AppError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }

    fn diagnostic_source(&self) -> Option<&dyn miette::Diagnostic> {
        self.0.diagnostic_source()
    }
}

impl From<crate::files::FilesError> for AppError {
    fn from(e: crate::files::FilesError) -> Self {
        Self::new(e)
    }
}

impl From<crate::sysroot::SysrootError> for AppError {
    fn from(e: crate::sysroot::SysrootError) -> Self {
        Self::new(e)
    }
}

/// Where an app's own files go in the image.
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

/// What the command line tells detection.
#[derive(Debug, Clone, Default)]
pub struct DetectOptions {
    /// `--use-node-modules`: a Node app's own `node_modules` instead of `npm ci`.
    pub use_node_modules: bool,
    /// `--allow-scripts`: Node packages whose install scripts run, confined.
    pub allow_scripts: Vec<String>,
    /// `--allow-source` and `[python] allow_source`: Python distributions that may be built
    /// from source, confined.
    pub allow_source: Vec<String>,
    /// `[python] groups`: dependency groups installed beside the main one.
    pub groups: Vec<String>,
    /// `[image] debian`: the release the config asks for; the app's own demands must
    /// allow it.
    pub release: Option<Release>,
    /// `--workspace` and `[node] workspace`: the member of a monorepo to build.
    pub workspace: Option<String>,
}

/// The image an app goes onto, and how it starts there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppImage {
    pub member: FamilyMember,
    pub release: Release,
    pub env: Vec<EnvVar>,
    pub entrypoint: Vec<String>,
    /// What was found, for the user: `a Python app (uv.lock) for Python 3.13`.
    pub summary: String,
    /// The exact release of the runtime the project pins (Node `20.16.0`), when the
    /// member's runtime comes from outside Debian and can be pinned.
    pub runtime_version: Option<String>,
    /// Paths under the app's directory left out of [`APP_DIR`] (`/`-separated: a workspace's
    /// members the app does not need), beside the names that never go ([`IGNORED`]).
    pub left_out: Vec<String>,
    /// The working directory, when not [`APP_DIR`] (a workspace member's own).
    pub workdir: Option<String>,
}

/// One platform to install for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub release: Release,
    pub platform: Platform,
    /// A `node` for the build machine, of the image's Node release line, that package
    /// managers run under; the host's `node` when absent.
    pub tool_node: Option<PathBuf>,
    /// `build --locked`: dependencies the project's files do not pin must come from
    /// [`Target::pins`].
    pub locked: bool,
    /// What `distill lock` pinned for this target ([`App::pin`]), read from distill.lock.
    pub pins: Option<String>,
    /// The image release's interpreter and C toolchain for this machine, a root that
    /// allowed source builds run in ([`App::builds_from_source`]); `None` builds them
    /// under the host's own.
    pub build_root: Option<PathBuf>,
}

impl Target {
    /// `platform` on `release`, with nothing pinned, no build root and the host's `node`.
    pub fn new(release: Release, platform: Platform) -> Self {
        Self {
            release,
            platform,
            tool_node: None,
            locked: false,
            pins: None,
            build_root: None,
        }
    }
}

/// An app's dependencies, installed for one platform.
#[derive(Debug, Clone)]
pub struct Installed {
    /// Where they were installed; absent when the app has none.
    pub dir: PathBuf,
    /// Where they go in the image.
    pub dst: String,
    /// `python dependencies`, `node_modules`.
    pub what: String,
    /// What their native code needs from the image.
    pub native: Option<NativeNeeds>,
    /// What was installed, exactly, for the build's inventory.
    pub components: Vec<Component>,
}

impl Installed {
    /// Nothing to install.
    pub fn none(dir: PathBuf, dst: String, what: &str) -> Self {
        Self {
            dir,
            dst,
            what: what.to_owned(),
            native: None,
            components: Vec::new(),
        }
    }
}

/// A kind of app.
pub trait AppKind: Sync {
    /// `python`, `node`.
    fn name(&self) -> &'static str;
    /// The app in `dir`, if `dir` holds one of this kind.
    fn detect(&self, dir: &Path, opts: &DetectOptions) -> Result<Option<Box<dyn App>>, AppError>;
}

/// A detected app.
pub trait App: std::fmt::Debug + Send + Sync {
    /// The directory it was detected in.
    fn dir(&self) -> &Path;

    /// The image it goes onto. With `entrypoint` given (`--entrypoint`), the app need not
    /// know how it starts.
    fn image(&self, entrypoint: Option<&[String]>) -> Result<AppImage, AppError>;

    /// Installs the dependencies for `target` under `work`; `cache` is distill's download
    /// cache, kept between builds.
    fn install(&self, target: &Target, work: &Path, cache: &Path) -> Result<Installed, AppError>;

    /// The files whose contents decide the dependencies [`App::install`] installs (a
    /// lockfile, the requirements), in a fixed order: equal contents install equal
    /// dependencies for a target, so the build may reuse an earlier install. `None` when
    /// they cannot be told from files (the app's own `node_modules`), which installs anew.
    fn inputs(&self) -> Option<Vec<PathBuf>> {
        None
    }

    /// For `distill lock`: the dependencies for `target` resolved now, as a requirement set
    /// that pins each with its hashes, when the project's own files pin nothing (a
    /// requirements.txt without hashes, a pyproject.toml without a lock). `None` when they
    /// do, or the kind has no such set. A `--locked` build installs exactly that set.
    fn pin(&self, target: &Target, work: &Path, cache: &Path) -> Result<Option<String>, AppError> {
        let _ = (target, work, cache);
        Ok(None)
    }

    /// Whether the install builds code from source (allowed by name), and so wants
    /// [`Target::build_root`].
    fn builds_from_source(&self) -> bool {
        false
    }

    /// The settings beside [`App::inputs`] that change what is installed (the groups asked
    /// for, the packages allowed to build), as text for the install's cache key.
    fn settings(&self) -> String {
        String::new()
    }

    /// Whether [`App::finish`] runs the image's programs, over the dependencies and a copy
    /// of the app's own files (which then goes into the image instead of the user's tree,
    /// which is never written).
    fn finishes_with_image(&self) -> bool {
        false
    }

    /// Runs the image's programs (`image`: its packages for this machine's platform) over
    /// the installed dependencies (`deps`, one per platform) and over `app_copy`.
    fn finish(
        &self,
        _deps: &[Installed],
        _app_copy: Option<&Path>,
        _image: &Sysroot,
    ) -> Result<(), AppError> {
        Ok(())
    }
}

/// A copy of the app's tree under `into`, without the `exclude`d names, so that the image's
/// programs can write beside the sources without touching the user's tree.
pub fn copy_tree(
    src: &Path,
    into: &Path,
    exclude: &[String],
) -> Result<(), crate::files::FilesError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| crate::files::FilesError::Read {
            origin: "the app".into(),
            path,
            source,
        }
    };
    let walk = walkdir::WalkDir::new(src)
        .follow_links(false)
        .sort_by_file_name()
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
            // Modes are normalized when the layer is written; keep the execute bit only.
            std::fs::copy(e.path(), &to).map_err(io(&to))?;
        }
    }
    Ok(())
}
