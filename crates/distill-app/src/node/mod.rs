//! The Node app kind: a directory with `package.json` ([`app`]).
//!
//! It goes onto the `nodejs` member of the newest family major that `engines.node` allows
//! (the active LTS when it names none), with production dependencies installed by `npm ci`
//! in a copy of the app ([`npm`]). The entrypoint comes from `scripts.start` when it is
//! `node FILE`, else `main`, else `index.js`. A `package.json` without `package-lock.json`
//! is an error: without a lock the dependencies, and so the image, would change from build
//! to build.

pub mod app;
pub mod npm;
pub mod types;

pub use app::{Node, detect};
pub use types::{NodeApp, NodeAppError};
