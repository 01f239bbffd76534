//! The Node app kind's data: what was detected, and what can go wrong.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum NodeAppError {
    #[error("Cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid JSON: {why}", path.display())]
    #[diagnostic(help("fix the JSON of {}", path.display()))]
    Json { path: PathBuf, why: String },
    #[error("{}/package.json has no package-lock.json beside it", dir.display())]
    #[diagnostic(help("run `npm install` to write package-lock.json, and commit it"))]
    NoLock { dir: PathBuf },
    #[error("{source_name} in {} asks for Node `{text}`, which names no Node major distill builds (18, 20, 22, 24 or 26)", path.display())]
    #[diagnostic(help(
        "write a major (24), a version (v24.1.0), a range (>=22), `node` or `lts/*`; or pass --entrypoint and write a distill.toml with base = \"nodejs24\""
    ))]
    Version {
        path: PathBuf,
        source_name: String,
        text: String,
    },
    #[error(
        "No entrypoint for the Node app in {}: no `node FILE` start script, `main` or index.js",
        dir.display()
    )]
    #[diagnostic(help(
        "set \"main\" or a \"start\": \"node FILE\" script in package.json, or pass --entrypoint \"/nodejs/bin/node FILE\""
    ))]
    NoEntrypoint { dir: PathBuf },
    #[error("--use-node-modules: {} has no node_modules", dir.display())]
    #[diagnostic(help("run `npm ci --omit=dev` first, or drop --use-node-modules"))]
    NoNodeModules { dir: PathBuf },
    #[error("Cannot run npm: {why}")]
    #[diagnostic(help("install Node.js and npm on the build machine"))]
    Npm { why: String },
    #[error("npm ci failed for {platform}:\n{output}")]
    #[diagnostic(help("check package-lock.json against package.json: `npm ci` must pass"))]
    Install { platform: String, output: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Elf(#[from] crate::elf::ElfError),
}

/// The Node version a project asks for: the file or field, and its text
/// ([`super::version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub source: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct NodeApp {
    pub dir: PathBuf,
    pub package: serde_json::Value,
    /// The file that starts the app, relative to the app's directory.
    pub start: Option<String>,
    /// The Node version the project asks for, when it names one ([`super::version`]).
    pub wanted: Option<Wanted>,
    /// Use the app's own `node_modules` as it is, instead of `npm ci` (when asked).
    pub use_existing: bool,
}

impl From<NodeAppError> for crate::kind::AppError {
    fn from(e: NodeAppError) -> Self {
        Self::new(e)
    }
}

pub fn read_json(path: &Path) -> Result<serde_json::Value, NodeAppError> {
    let text = std::fs::read_to_string(path).map_err(|source| NodeAppError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| NodeAppError::Json {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}
