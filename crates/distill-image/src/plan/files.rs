//! `[[files]]` and `[context] ignore`: each item becomes one [`FileSpec`] per source, a
//! glob expanded against the context (sorted, as Docker's `COPY` expands it), or an empty
//! directory when it has no `src`.

use std::path::Path;
use std::sync::Arc;

use distill_app::FileSpec;
use distill_app::ignore::Ignore;

use super::checks::{self, Checker};
use crate::config::{Config, ConfigError, FilesItem};

/// The file specs of `config`, with `src` under `context` (absolute).
pub(crate) fn specs(
    c: &Checker,
    config: &Config,
    context: &Path,
) -> Result<Vec<FileSpec>, ConfigError> {
    let patterns: Vec<String> = config
        .context
        .ignore
        .iter()
        .map(|p| p.get_ref().clone())
        .collect();
    let ignore = match Ignore::new(context, &patterns) {
        Ok(_) if patterns.is_empty() => None,
        Ok(i) => Some(Arc::new(i)),
        Err(e) => {
            let at = config
                .context
                .ignore
                .iter()
                .find(|p| *p.get_ref() == e.pattern)
                .map(|p| p.span())
                .unwrap_or(0..0);
            return c.err(at, e.to_string(), "fix the pattern, or remove it");
        }
    };
    let mut out = Vec::new();
    for item in &config.files {
        let base = FileSpec {
            dst: checks::dst(c, &item.dst)?,
            mode: item.mode.as_ref().map(|m| checks::mode(c, m)).transpose()?,
            dir_mode: item
                .dir_mode
                .as_ref()
                .map(|m| checks::mode(c, m))
                .transpose()?,
            uid: item.uid.unwrap_or(0),
            gid: item.gid.unwrap_or(0),
            origin: c.origin(&item.dst.span()),
            ignore: ignore.clone(),
            ..FileSpec::default()
        };
        let Some(src) = &item.src else {
            out.push(FileSpec {
                empty_dir: true,
                ..base
            });
            continue;
        };
        let origin = c.origin(&src.span());
        for path in sources(c, context, item, src, ignore.as_deref())? {
            out.push(FileSpec {
                src: path,
                origin: origin.clone(),
                ..base.clone()
            });
        }
    }
    Ok(out)
}

/// The paths `src` names: itself, or a glob's matches outside the ignore patterns, which
/// must be at least one; several need a `dst` that ends with `/`.
fn sources(
    c: &Checker,
    context: &Path,
    item: &FilesItem,
    src: &toml::Spanned<String>,
    ignore: Option<&Ignore>,
) -> Result<Vec<std::path::PathBuf>, ConfigError> {
    let path = checks::context_path(c, context, src)?;
    if !src.get_ref().contains(['*', '?', '[']) {
        return Ok(vec![path]);
    }
    let escaped = glob::Pattern::escape(&context.to_string_lossy());
    let rel = src.get_ref().trim_start_matches("./");
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..glob::MatchOptions::new()
    };
    let found = glob::glob_with(&format!("{escaped}/{rel}"), options);
    let Ok(found) = found else {
        return c.err(
            src.span(),
            format!("src `{}` is not a valid glob", src.get_ref()),
            "write `*` and `?` within a name, or `[abc]` for one of a set",
        );
    };
    // What the ignore patterns leave out is not in the context, so no glob matches it.
    let mut paths: Vec<_> = found
        .filter_map(Result::ok)
        .filter(|p| !ignore.is_some_and(|i| i.excludes(p)))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return c.err(
            src.span(),
            format!("src `{}` matches no file in the context", src.get_ref()),
            "check the pattern against the files in the build context",
        );
    }
    if paths.len() > 1 && !item.dst.get_ref().ends_with('/') {
        return c.err(
            item.dst.span(),
            format!(
                "src `{}` matches {} files, but dst `{}` names one",
                src.get_ref(),
                paths.len(),
                item.dst.get_ref()
            ),
            "end dst with `/` to copy them into that directory",
        );
    }
    Ok(paths)
}
