//! distill-app: collectors that turn what the user brings into layer entries.
//!
//! [`files`] copies local files and directories (`[[files]]` in distill.toml); [`elf`] reads
//! what a binary needs from the image, and [`native`] turns a binary into a plan. Python, Node and native-binary collectors join them
//! here.

pub mod elf;
pub mod files;
pub mod native;
pub mod nodeapp;
pub mod python;

pub use files::{FileSpec, FilesError, collect};
