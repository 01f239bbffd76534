//! Context ignore patterns, as `.dockerignore` writes them (`[context] ignore` in
//! distill.toml): which files under the build context a copy leaves out.
//!
//! Semantics follow Docker's documented rules for `.dockerignore`:
//! - a pattern is matched against the path relative to the context root, with `/`
//!   separators, after the pattern is cleaned (a leading `/`, `./` and repeated slashes
//!   go);
//! - `*` and `?` never match `/`; `**` matches any number of directories;
//! - a pattern that matches a directory leaves out everything under it;
//! - `!` makes an exception, and the last pattern that matches a path decides.

use std::path::{Path, PathBuf};

use glob::{MatchOptions, Pattern};

/// The rules, with the context root they are relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    root: PathBuf,
    rules: Vec<(Pattern, bool)>,
}

/// A pattern that is not a valid glob.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("Ignore pattern `{pattern}` is not valid: {why}")]
#[diagnostic(help(
    "write a glob as .dockerignore does: `*` and `?` within a name, `**` for any directories, `!` for an exception"
))]
pub struct IgnoreError {
    pub pattern: String,
    pub why: String,
}

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Ignore {
    /// Compiles `patterns` for the context at `root`. Empty lines and `#` comments, as a
    /// `.dockerignore` file has them, are skipped.
    pub fn new(root: &Path, patterns: &[String]) -> Result<Self, IgnoreError> {
        let mut rules = Vec::new();
        for raw in patterns {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(body);
            if cleaned.is_empty() {
                continue;
            }
            let pattern = Pattern::new(&cleaned).map_err(|e| IgnoreError {
                pattern: raw.clone(),
                why: e.msg.to_owned(),
            })?;
            rules.push((pattern, negated));
        }
        Ok(Self {
            root: root.to_path_buf(),
            rules,
        })
    }

    /// The lines of a `.dockerignore` file.
    pub fn lines(text: &str) -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    }

    /// Whether `path` (absolute, under the root) is left out. Paths outside the root are
    /// never left out.
    pub fn excludes(&self, path: &Path) -> bool {
        let Some(rel) = path.strip_prefix(&self.root).ok().and_then(Path::to_str) else {
            return false;
        };
        if rel.is_empty() {
            return false;
        }
        let mut out = false;
        for (pattern, negated) in &self.rules {
            if matches_or_parent(pattern, rel) {
                out = !negated;
            }
        }
        out
    }

    /// Whether an exception could bring back something under a directory that is left
    /// out, so the walk must go on inside it.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|(_, negated)| *negated)
    }
}

fn matches_or_parent(pattern: &Pattern, rel: &str) -> bool {
    if pattern.matches_with(rel, OPTIONS) {
        return true;
    }
    rel.match_indices('/')
        .any(|(i, _)| pattern.matches_with(&rel[..i], OPTIONS))
}

/// The pattern with `.` parts, a leading `/` and repeated slashes removed, as Go's
/// `filepath.Clean` leaves it (`..` stays, and then matches nothing in the context).
fn clean(pattern: &str) -> String {
    pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(p: &[&str]) -> Ignore {
        let p: Vec<String> = p.iter().map(|s| (*s).to_owned()).collect();
        Ignore::new(Path::new("/ctx"), &p).unwrap()
    }

    fn out(i: &Ignore, rel: &str) -> bool {
        i.excludes(&Path::new("/ctx").join(rel))
    }

    #[test]
    fn star_stays_in_one_directory_and_double_star_crosses() {
        let i = ig(&["*.pyc", "**/*.log", "/build"]);
        assert!(out(&i, "a.pyc"));
        assert!(!out(&i, "sub/a.pyc"));
        assert!(out(&i, "x.log") && out(&i, "deep/er/x.log"));
        assert!(out(&i, "build/lib/a.o"));
        assert!(!out(&i, "src/build"));
    }

    #[test]
    fn a_directory_pattern_leaves_out_its_tree_and_the_last_match_decides() {
        let i = ig(&["docs", "!docs/keep.md", "*.md", "!README.md"]);
        assert!(out(&i, "docs/a.txt"));
        assert!(!out(&i, "docs/keep.md"));
        assert!(out(&i, "CHANGES.md"));
        assert!(!out(&i, "README.md"));
        assert!(i.has_exceptions());
        let j = ig(&["docs", "!docs/keep.md"]);
        assert!(!out(&j, "docs/keep.md"));
        assert!(out(&j, "docs/other.md"));
    }

    #[test]
    fn comments_blank_lines_and_dot_prefixes_are_handled_and_bad_globs_refused() {
        assert_eq!(
            Ignore::lines("# c\n\n  .git \nnode_modules\n"),
            [".git", "node_modules"]
        );
        let i = ig(&["./.git/", "#x"]);
        assert!(out(&i, ".git/config"));
        assert!(!out(&i, "#x"));
        let err = Ignore::new(Path::new("/ctx"), &["[".to_owned()]).unwrap_err();
        assert!(err.to_string().contains('['), "{err}");
        assert!(!ig(&["*"]).excludes(Path::new("/elsewhere/a")));
    }
}
