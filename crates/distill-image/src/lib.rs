//! distill-image: from `distill.toml` to a finished image.
//!
//! - [`config`]: the raw TOML, with spans for error messages;
//! - [`plan`]: validation into a [`plan::BuildPlan`];
//! - [`family`]: the distroless image family (static, base-nossl, base, cc);
//! - [`base`]: building on an image from a registry;
//! - [`packages`]: where Debian packages become a layer;
//! - [`build`]: executing a plan, from layers to written outputs.
//!
//! The base-image recipes of the distroless family join here.

pub mod app;
pub mod base;
pub mod build;
pub mod bytecode;
pub mod config;
pub mod family;
pub mod init;
pub mod packages;
pub mod plan;

pub use build::{BuildError, Progress, Report, build, write_lock};
pub use config::{Config, ConfigError};
pub use packages::Sources;
pub use plan::{BuildPlan, Options, plan};
