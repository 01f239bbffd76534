//! distill-image: from what the user wrote (or brought) to a finished image.
//!
//! The data flows one way:
//! - [`config`]: the raw `distill.toml`, with spans for error messages;
//! - [`plan`]: validation and detection into a typed [`Plan`];
//! - [`resolve`]: the plan's packages resolved (or read from [`lock`], `distill.lock`);
//! - [`stages`]: one module per stage, each adding layers that list what they add;
//! - [`assemble`]: the one orchestrator, calling the stages in order and writing outputs;
//! - [`report`]: the build's inventory and inputs.
//!
//! [`family`] is the distroless family as one table of recipes, with the files, the package
//! treatment, the loader's cache, Java's trust store and the official Node builds it needs.

pub mod assemble;
pub mod config;
pub mod dockerfile;
pub mod family;
pub mod init;
pub mod layercache;
pub mod lock;
pub mod plan;
pub mod provenance;
pub mod report;
pub mod resolve;
pub mod sbom;
pub mod sources;
pub mod stages;

pub use assemble::{Attach, BuildError, assemble, assemble_with, write_lock};
pub use config::{Config, ConfigError};
pub use distill_apt::install::Progress;
pub use plan::{Options, Plan, PlanError, plan};
pub use report::Report;
pub use sources::Sources;
