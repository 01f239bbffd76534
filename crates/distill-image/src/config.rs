//! `distill.toml`: the raw configuration exactly as written, before validation.
//!
//! Every key is optional here and unknown keys are refused (`deny_unknown_fields`), so a typo
//! is an error that names its line instead of a setting that silently does nothing. Values
//! whose validity depends on more than their type keep their source span
//! ([`toml::Spanned`]) so that [`crate::plan`] can point at the line that is wrong.
//! This module holds what was written and nothing else: validation, defaults and detection
//! are the plan's. The reference for users is docs/config.md.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub image: ImageSection,
    #[serde(default)]
    pub debian: DebianSection,
    #[serde(default)]
    pub packages: PackagesSection,
    #[serde(default)]
    pub repositories: Vec<RepositoryItem>,
    #[serde(default)]
    pub certificates: CertificatesSection,
    /// The distill-init helper in front of the entrypoint.
    pub entrypoint: Option<Spanned<EntrypointSection>>,
    #[serde(default)]
    pub files: Vec<FilesItem>,
    /// The Python app in the context, detected, with these settings.
    pub python: Option<Spanned<PythonSection>>,
    /// The Node app in the context, detected, with these settings.
    pub node: Option<Spanned<NodeSection>>,
    #[serde(default)]
    pub context: ContextSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSection {
    /// Patterns of files `[[files]]` leaves out, as `.dockerignore` writes them.
    #[serde(default)]
    pub ignore: Vec<Spanned<String>>,
}

/// `[image.healthcheck]`: Docker's `Healthcheck` in the image config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthcheckSection {
    /// `["CMD", PROGRAM, ARGS...]`, or `["NONE"]` to turn a base's check off.
    pub test: Spanned<Vec<String>>,
    /// Durations: `"30s"`, `"1m30s"`, `"500ms"`.
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub start_period: Option<Spanned<String>>,
    pub start_interval: Option<Spanned<String>>,
    pub retries: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonSection {
    /// Dependency groups installed beside the main one.
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
    /// Distributions that may be built from source, confined.
    #[serde(default)]
    pub allow_source: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// Packages whose install scripts run, confined.
    #[serde(default)]
    pub allow_scripts: Vec<Spanned<String>>,
    /// The member of a monorepo to build, by package name or directory.
    pub workspace: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntrypointSection {
    /// Variables set from the file named in `VAR_FILE`.
    #[serde(default)]
    pub file_env: Vec<Spanned<String>>,
    /// `HOST:PORT` servers to wait for before the app starts.
    #[serde(default)]
    pub wait: Vec<Spanned<String>>,
    pub wait_tries: Option<Spanned<i64>>,
    /// `1`, `0.5`, `500ms`, `2s`.
    pub wait_interval: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebianSection {
    pub mirror: Option<Spanned<String>>,
    /// The keyring for the Debian archives, such as a re-signing corporate mirror's.
    pub keyring: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagesSection {
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    /// Packages kept out, with whatever only they pulled in.
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificatesSection {
    /// PEM files of extra CAs for the image's bundle, relative to the config file.
    #[serde(default)]
    pub extra: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryItem {
    pub uri: Spanned<String>,
    pub suites: Vec<String>,
    #[serde(default)]
    pub components: Vec<String>,
    pub keyring: Option<Spanned<String>>,
    /// `false` turns signature checks off for this repository: an explicit, loud opt-out.
    pub signed: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSection {
    pub base: Option<Spanned<String>>,
    pub debian: Option<Spanned<String>>,
    pub variant: Option<Spanned<String>>,
    pub platforms: Option<Spanned<Vec<String>>>,
    pub entrypoint: Option<Spanned<Vec<String>>>,
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    pub workdir: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<Spanned<String>>,
    pub stop_signal: Option<Spanned<String>>,
    /// Mount points the image declares (`Volumes`).
    #[serde(default)]
    pub volumes: Vec<Spanned<String>>,
    pub healthcheck: Option<Spanned<HealthcheckSection>>,
    pub compression: Option<Spanned<String>>,
    /// Keep a registry base's setuid and setgid files (cleared by default).
    pub allow_setuid: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesItem {
    /// A path or a glob under the context; none makes `dst` an empty directory.
    pub src: Option<Spanned<String>>,
    pub dst: Spanned<String>,
    pub mode: Option<Spanned<ModeValue>>,
    /// The mode of the directories the item writes (default `0755`).
    pub dir_mode: Option<Spanned<ModeValue>>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
}

/// A mode as written: a string of octal digits, or (refused, with a hint) a bare integer,
/// which TOML would read as decimal.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ModeValue {
    Text(String),
    Integer(i64),
}

/// A location in the config file, for messages: `distill.toml:12:5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// The config's text, kept to turn byte spans into line and column numbers.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub(crate) fn locate(&self, span: &std::ops::Range<usize>) -> Location {
        let mut end = span.start.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.text[..end];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Location {
            path: self.path.clone(),
            line,
            column,
        }
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    #[error("Cannot read config {}: {source}", path.display())]
    #[diagnostic(help(
        "pass the config with -f FILE, or create {}; without one, distill detects a Python or Node app, or takes a binary as the context",
        path.display()
    ))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{at}: {message}")]
    Parse {
        at: Location,
        message: String,
        #[help]
        hint: Option<String>,
    },
    #[error("{at}: {message}")]
    Invalid {
        at: Location,
        message: String,
        #[help]
        hint: Option<String>,
    },
}

impl Config {
    /// Reads and parses `path`. Returns the config and its source, for later messages.
    pub fn load(path: &Path) -> Result<(Self, Source), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let source = Source {
            path: path.to_path_buf(),
            text,
        };
        let config = Self::parse(&source)?;
        Ok((config, source))
    }

    pub fn parse(source: &Source) -> Result<Self, ConfigError> {
        toml::from_str(&source.text).map_err(|e| {
            let message = e.message().trim();
            // toml's own messages start in lower case; ours all start with a capital.
            let mut chars = message.chars();
            let message: String = chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            // serde lists the keys it expected after an unknown one: point there, not at docs.
            let hint = if message.to_lowercase().contains("unknown field") {
                "check the spelling: the keys that table takes are listed above"
            } else {
                "write TOML: `key = \"value\"` under `[table]` headers, strings in double quotes"
            };
            ConfigError::Parse {
                at: source.locate(&e.span().unwrap_or(0..0)),
                message,
                hint: Some(hint.to_owned()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source {
            path: "distill.toml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let err = Config::parse(&src("[image]\nbase = \"scratch\"\nentrypiont = [\"/x\"]\n"))
            .unwrap_err();
        let ConfigError::Parse { at, message, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(at.line, 3, "{err}");
        assert!(message.contains("entrypiont"), "{message}");
        assert!(message.contains("expected one of"), "{message}");
        assert!(distill_core::hint(&err).unwrap().contains("listed above"));
    }

    #[test]
    fn invalid_toml_names_the_line() {
        let err = Config::parse(&src("[image]\n\nbase = \n")).unwrap_err();
        assert!(err.to_string().starts_with("distill.toml:3:"), "{err}");
    }

    #[test]
    fn files_items_keep_their_spans() {
        let s = src(
            "[[files]]\nsrc = \"a\"\ndst = \"/a\"\n\n[[files]]\nsrc = \"b\"\ndst = \"/b\"\nmode = \"0600\"\n",
        );
        let c = Config::parse(&s).unwrap();
        assert_eq!(c.files.len(), 2);
        assert_eq!(s.locate(&c.files[1].src.as_ref().unwrap().span()).line, 6);
        assert!(
            matches!(c.files[1].mode.as_ref().unwrap().get_ref(), ModeValue::Text(m) if m == "0600")
        );
    }
}
