//! What a Dockerfile's translation takes and gives, and how it fails.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A Dockerfile larger than this is refused before it is parsed.
pub const MAX_BYTES: u64 = 1 << 20;

/// The translation's inputs besides the Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The build context `COPY` reads from.
    pub context: PathBuf,
    /// `--build-arg NAME=VALUE`.
    pub build_args: BTreeMap<String, String>,
    /// `--target STAGE`: the stage to build instead of the last.
    pub target: Option<String>,
}

/// A translated Dockerfile.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The distill.toml text, with comments where the meaning changed.
    pub toml: String,
    /// What the user should know, for stderr.
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DockerfileError {
    #[error("Cannot read {}: {source}", path.display())]
    #[diagnostic(help("pass the Dockerfile's path with -f"))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is {size} bytes, more than a Dockerfile may have ({MAX_BYTES})", path.display())]
    #[diagnostic(help("check that -f names the Dockerfile, not an archive or a binary"))]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{}:{line}: {message}", path.display())]
    #[diagnostic(help(
        "check the instruction against the Dockerfile reference; the line is as Docker would read it"
    ))]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{at}: {message}")]
    Refused {
        at: String,
        message: String,
        #[help]
        hint: String,
    },
}
