//! distill-app: what the user brings, turned into layer entries and plans.
//!
//! - [`kind`]: app kinds behind one trait ([`AppKind`], [`App`]), detected in the build
//!   context in the order of [`kind::KINDS`]: [`python`], [`node`];
//! - [`files`]: local files and directories (`[[files]]` in distill.toml);
//! - [`elf`]: what a binary needs from the image; [`native`]: a binary as the context;
//! - [`sysroot`]: the image's packages on disk, run through their own loader.

pub mod elf;
pub mod files;
pub mod kind;
pub mod native;
pub mod node;
pub mod python;
pub mod sysroot;

pub use files::{FileSpec, FilesError, collect};
pub use kind::{APP_DIR, App, AppImage, AppKind, DetectOptions, Installed, Target};

/// Why an app cannot be detected, installed or finished.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AppError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Python(#[from] python::PythonError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Node(#[from] node::NodeAppError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sysroot(#[from] sysroot::SysrootError),
}
