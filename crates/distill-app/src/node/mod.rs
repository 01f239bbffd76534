//! The Node app kind: a directory with `package.json` ([`app`]).
//!
//! It goes onto the `nodejs` member of the major the project asks for in `.nvmrc`,
//! `.node-version`, `.tool-versions`, `volta.node`, `devEngines.runtime` or `engines.node`
//! ([`version`]; the active LTS when none is given), with production dependencies installed by `npm ci`
//! in a copy of the app ([`npm`]). The entrypoint comes from `scripts.start` when it is
//! `node FILE`, else `main`, else `index.js`. A `package.json` without `package-lock.json`
//! is an error: without a lock the dependencies, and so the image, would change from build
//! to build.

pub mod app;
pub mod npm;
pub mod types;
pub mod version;

pub use app::{Node, detect};
pub use types::{NodeApp, NodeAppError};
