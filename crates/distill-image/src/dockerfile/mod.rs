//! Dockerfiles written for distroless, read as they are: the final stage becomes the
//! distill.toml that `distill migrate` prints, and `distill build -f Dockerfile` builds
//! exactly that config, so both give one digest.
//!
//! Implements the Dockerfile reference's semantics for the instructions a stage without a
//! shell can have (`FROM`, `ARG`, `ENV`, `LABEL`, `WORKDIR`, `USER`, `COPY`, `ADD`,
//! `EXPOSE`, `ENTRYPOINT`, `CMD`, `STOPSIGNAL`, `VOLUME`, `HEALTHCHECK`), with its word
//! processing ([`words`]). Parsing (line continuations, the `escape` directive, JSON and
//! shell forms, here-documents) is the `parse-dockerfile` crate's. What cannot work
//! without a shell (`RUN`, shell forms, a stage that runs commands) is refused with the
//! line and what distill does instead ([`hints`]).

mod copy;
mod emit;
mod from;
mod health;
mod hints;
mod stage;
mod types;
pub mod words;

use std::path::Path;

pub use emit::Draft;
pub use types::{DockerfileError, MAX_BYTES, Migration, Options};

/// Whether `path` is a Dockerfile rather than a distill.toml: by its name (`Dockerfile`,
/// `Containerfile`, `*.Dockerfile`, `Dockerfile.*`), or by its first instruction.
pub fn is_dockerfile(path: &Path, text: &str) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.ends_with(".toml") {
        return false;
    }
    let by_name = ["Dockerfile", "Containerfile"].iter().any(|n| {
        name == *n || name.starts_with(&format!("{n}.")) || name.ends_with(&format!(".{n}"))
    });
    by_name
        || text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .and_then(|l| l.split_whitespace().next())
            .is_some_and(|w| w.eq_ignore_ascii_case("FROM") || w.eq_ignore_ascii_case("ARG"))
}

/// Reads and translates the Dockerfile at `path`.
pub fn load(path: &Path, opts: &Options) -> Result<Migration, DockerfileError> {
    let read = |source| DockerfileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read)?.len();
    if size > MAX_BYTES {
        return Err(DockerfileError::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    translate(path, &text, opts)
}

/// Translates Dockerfile `text` (read from `path`, for messages).
pub fn translate(path: &Path, text: &str, opts: &Options) -> Result<Migration, DockerfileError> {
    let parsed = parse_dockerfile::parse(text).map_err(|e| DockerfileError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        message: format!("{e:#}"),
    })?;
    let ignore = ignore_lines(path, &opts.context)?;
    let mut t = stage::Translator::new(path, text, &parsed, opts, ignore)?;
    let index = t.final_stage()?;
    t.stage(index)?;
    let (draft, notes) = t.finish();
    let mut header = vec![format!(
        "Written by `distill migrate {}`; builds to the digest `distill build -f` gives.",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    )];
    header.extend(notes.iter().map(|n| format!("note: {n}")));
    Ok(Migration {
        toml: draft.toml(&header),
        notes,
    })
}

/// The context's ignore patterns: `<Dockerfile>.dockerignore` beside the Dockerfile, as
/// BuildKit reads it first, else `.dockerignore` in the context.
fn ignore_lines(dockerfile: &Path, context: &Path) -> Result<Vec<String>, DockerfileError> {
    let beside = dockerfile.with_file_name(format!(
        "{}.dockerignore",
        dockerfile
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    for candidate in [beside, context.join(".dockerignore")] {
        match std::fs::read_to_string(&candidate) {
            Ok(text) => return Ok(distill_app::ignore::Ignore::lines(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(DockerfileError::Read {
                    path: candidate,
                    source,
                });
            }
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests;
