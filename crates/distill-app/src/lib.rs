//! distill-app: what the user brings, turned into layer entries and plans.
//!
//! - [`kind`]: app kinds behind one trait ([`AppKind`], [`App`]), detected in the build
//!   context in the order of [`KINDS`]: [`python`], [`node`];
//! - [`files`]: local files and directories (`[[files]]` in distill.toml), with the
//!   context's [`ignore`] patterns;
//! - [`elf`]: what a binary needs from the image; [`native`]: a binary as the context;
//! - [`sysroot`]: the image's packages on disk, run through their own loader.

pub mod elf;
pub mod files;
pub mod ignore;
pub mod kind;
pub mod native;
pub mod node;
pub mod python;
pub mod sandbox;
pub mod sysroot;

use std::path::Path;

pub use files::{FileSpec, FilesError, collect};
pub use kind::{
    APP_DIR, App, AppError, AppImage, AppKind, DetectOptions, IGNORED, Installed, Target, copy_tree,
};

/// Every kind, in the order detection tries them. A new kind is its module and a line here.
pub static KINDS: &[&dyn AppKind] = &[&python::Python, &node::Node];

/// The app of the first kind that recognises `dir`.
pub fn detect(dir: &Path, opts: &DetectOptions) -> Result<Option<Box<dyn App>>, AppError> {
    for kind in KINDS {
        if let Some(app) = kind.detect(dir, opts)? {
            tracing::debug!("{}: detected by the {} kind", dir.display(), kind.name());
            return Ok(Some(app));
        }
    }
    Ok(None)
}
