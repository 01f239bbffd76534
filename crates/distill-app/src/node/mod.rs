//! The Node app kind: a directory with `package.json` ([`app`]).
//!
//! It goes onto the `nodejs` member of the major the project asks for in `.nvmrc`,
//! `.node-version`, `.tool-versions`, `volta.node`, `devEngines.runtime` or `engines.node`
//! ([`version`]; the active LTS when none is given). Production dependencies are installed
//! in a copy of the manifest and lock by the manager the lock names ([`manager`]): `npm ci`
//! ([`npm`]), or Yarn 1, Yarn 2+, pnpm or Bun at pinned versions fetched from the npm
//! registry ([`tools`], [`managers`]), with scripts disabled; the installed tree is then
//! checked for native addons that a skipped script would have built ([`tree`]). The
//! entrypoint comes from `scripts.start` when it is `node FILE`, else `main`, else
//! `index.js`. A `package.json` without a lock is an error: without one the dependencies,
//! and so the image, would change from build to build. One member of a monorepo is built
//! with `--workspace NAME` ([`workspace`]).

pub mod app;
pub mod manager;
pub mod managers;
pub mod npm;
pub mod registry;
pub mod scripts;
pub mod tools;
pub mod tree;
pub mod types;
pub mod version;
pub mod workspace;

pub use app::{Node, detect};
pub use types::{NodeApp, NodeAppError};
