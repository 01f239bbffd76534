//! distill-app: collectors that turn what the user brings into layer entries.
//!
//! [`files`] copies local files and directories (`[[files]]` in distill.toml). Python,
//! Node and native-binary collectors join it here.

pub mod files;

pub use files::{FileSpec, FilesError, collect};
