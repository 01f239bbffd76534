//! Which Debian release a Python app goes onto: the one whose Python the project asks for.
//!
//! The project says which Python it runs on in `.python-version` (pyenv's and uv's file: a
//! version such as `3.11` or `3.11.4`, or `cpython-3.11`), in `[project] requires-python`
//! (PEP 621, a PEP 440 specifier set) or in Poetry's `[tool.poetry.dependencies] python`
//! (Poetry's constraint syntax, turned into PEP 440 by [`poetry_to_pep440`]). Every one that is
//! given must hold; among the releases whose Python satisfies them all, the newest wins.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use distill_core::Release;
use pep440_rs::{Version, VersionSpecifiers};

/// Why no release fits.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum VersionError {
    #[error("{}: `{text}` is not a Python version or constraint: {why}", path.display())]
    #[diagnostic(help("write a version such as 3.13, or a constraint such as >=3.11"))]
    Syntax {
        path: PathBuf,
        text: String,
        why: String,
    },
    #[error("The config asks for Debian {release}, whose Python {python} does not satisfy {asked}")]
    #[diagnostic(help(
        "drop `debian` from [image] to let the project choose, or relax the constraint; the Pythons: {available}"
    ))]
    Conflict {
        release: String,
        python: String,
        asked: String,
        available: String,
    },
    #[error("No Debian release has a Python that satisfies {asked}")]
    #[diagnostic(help("distill builds on Debian's own Python: {available}; relax the constraint"))]
    Unsatisfied { asked: String, available: String },
}

/// The Pythons of the releases, with a patch level each release ships, so that `>3.11` holds
/// for Debian 12's 3.11.2 as it does at run time.
fn shipped(release: Release) -> Version {
    let (major, minor) = release.python();
    let patch = match release {
        Release::Bookworm => 2,
        Release::Trixie => 5,
    };
    Version::new([u64::from(major), u64::from(minor), patch])
}

/// One source's demand: where it was written, and the specifiers.
struct Demand {
    what: String,
    specifiers: VersionSpecifiers,
}

/// The release for the project in `dir`: `wanted` (the config's) if its Python satisfies
/// every demand, else the newest whose Python does, or the default release when the project
/// makes none.
pub fn release(
    dir: &Path,
    pyproject: Option<&toml::Table>,
    wanted: Option<Release>,
) -> Result<Release, VersionError> {
    let mut demands = Vec::new();
    let file = dir.join(".python-version");
    if let Ok(text) = std::fs::read_to_string(&file) {
        // The first line that is not a comment; pyenv allows several, the first wins.
        if let Some(line) = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let v = line
                .trim_start_matches("cpython-")
                .trim_start_matches("python");
            let v = v.split('-').next().unwrap_or(v);
            if v.starts_with(|c: char| c.is_ascii_digit()) {
                // `3.11` means any 3.11; `3.11.4` means that one, which Debian may not ship:
                // the minor is what decides the interpreter.
                let minor: Vec<&str> = v.split('.').take(2).collect();
                demands.push(parse(
                    &file,
                    &format!("=={}.*", minor.join(".")),
                    ".python-version",
                )?);
            } else {
                // pyenv's `system`, or another interpreter (`pypy3.10`): no CPython version.
                tracing::warn!(
                    "{}: `{line}` names no CPython version; ignored",
                    file.display()
                );
            }
        }
    }
    let path = dir.join("pyproject.toml");
    if let Some(doc) = pyproject {
        if let Some(rp) = doc
            .get("project")
            .and_then(|p| p.get("requires-python"))
            .and_then(|v| v.as_str())
        {
            demands.push(parse(&path, rp, "requires-python")?);
        }
        if let Some(py) = doc
            .get("tool")
            .and_then(|t| t.get("poetry"))
            .and_then(|p| p.get("dependencies"))
            .and_then(|d| d.get("python"))
            .and_then(|v| v.as_str())
        {
            let pep = poetry_to_pep440(py).map_err(|why| VersionError::Syntax {
                path: path.clone(),
                text: py.to_owned(),
                why,
            })?;
            demands.push(parse(&path, &pep, "Poetry's python")?);
        }
    }
    let asked = || {
        demands
            .iter()
            .map(|d| format!("{} {}", d.what, d.specifiers))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    if let Some(r) = wanted {
        if demands.iter().all(|d| d.specifiers.contains(&shipped(r))) {
            return Ok(r);
        }
        let (major, minor) = r.python();
        return Err(VersionError::Conflict {
            release: r.number().to_string(),
            python: format!("{major}.{minor}"),
            asked: asked(),
            available: available(),
        });
    }
    if demands.is_empty() {
        return Ok(Release::default());
    }
    Release::ALL
        .iter()
        .rev()
        .copied()
        .find(|r| demands.iter().all(|d| d.specifiers.contains(&shipped(*r))))
        .ok_or_else(|| VersionError::Unsatisfied {
            asked: asked(),
            available: available(),
        })
}

/// `3.11 (Debian 12, end of life 2027-10), 3.13 (Debian 13, end of life 2029-10)`.
fn available() -> String {
    Release::ALL
        .iter()
        .map(|r| {
            let (major, minor) = r.python();
            let v = format!("{major}.{minor}");
            let eol = distill_core::runtime::find("python", &v)
                .map(|rt| format!(", end of life {}", rt.eol))
                .unwrap_or_default();
            format!("{v} (Debian {}{eol})", r.number())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse(path: &Path, text: &str, what: &str) -> Result<Demand, VersionError> {
    let specifiers = VersionSpecifiers::from_str(text).map_err(|e| VersionError::Syntax {
        path: path.to_path_buf(),
        text: text.to_owned(),
        why: e.to_string(),
    })?;
    Ok(Demand {
        what: what.to_owned(),
        specifiers,
    })
}

/// Poetry's constraint syntax in PEP 440: `^3.11` is `>=3.11,<4.0`, `~3.11` is
/// `>=3.11,<3.12`, `3.11.*` and `*` as written, comparisons as in PEP 440, separated by
/// commas or spaces. An alternative (`||`) has no PEP 440 form and is refused.
pub fn poetry_to_pep440(text: &str) -> Result<String, String> {
    if text.contains("||") || text.contains(" | ") {
        return Err("alternatives (`||`) have no PEP 440 form; give one range".into());
    }
    let mut out = Vec::new();
    for part in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        if part == "*" {
            continue;
        }
        if let Some(v) = part.strip_prefix('^') {
            let nums = numbers(v)?;
            // The first non-zero component may not change.
            let i = nums.iter().position(|n| *n != 0).unwrap_or(nums.len() - 1);
            out.push(format!(">={v}"));
            out.push(format!("<{}", bump(&nums, i)));
        } else if let Some(v) = part.strip_prefix("~=") {
            out.push(format!("~={v}"));
        } else if let Some(v) = part.strip_prefix('~') {
            let nums = numbers(v)?;
            let i = if nums.len() > 1 { 1 } else { 0 };
            out.push(format!(">={v}"));
            out.push(format!("<{}", bump(&nums, i)));
        } else if part.starts_with(['<', '>', '=', '!']) {
            out.push(part.to_owned());
        } else {
            numbers(part.trim_end_matches(".*"))?;
            out.push(format!("=={part}"));
        }
    }
    Ok(out.join(","))
}

fn numbers(v: &str) -> Result<Vec<u64>, String> {
    v.split('.')
        .map(|n| {
            n.parse::<u64>()
                .map_err(|_| format!("`{v}` is not a version"))
        })
        .collect()
}

/// The version with component `i` raised by one and the rest dropped: `bump([3,11], 0)` is
/// `4.0`.
fn bump(nums: &[u64], i: usize) -> String {
    let mut v: Vec<u64> = nums[..=i].to_vec();
    v[i] += 1;
    if v.len() == 1 {
        v.push(0);
    }
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(toml: &str) -> toml::Table {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn poetry_constraints_in_pep440() {
        assert_eq!(poetry_to_pep440("^3.11").unwrap(), ">=3.11,<4.0");
        assert_eq!(poetry_to_pep440("^0.2.3").unwrap(), ">=0.2.3,<0.3");
        assert_eq!(poetry_to_pep440("~3.11").unwrap(), ">=3.11,<3.12");
        assert_eq!(poetry_to_pep440(">=3.9,<3.12").unwrap(), ">=3.9,<3.12");
        assert_eq!(poetry_to_pep440(">=3.9 <3.12").unwrap(), ">=3.9,<3.12");
        assert_eq!(poetry_to_pep440("3.11.*").unwrap(), "==3.11.*");
        assert_eq!(poetry_to_pep440("*").unwrap(), "");
        assert!(poetry_to_pep440("^3.8 || ^3.11").is_err());
        assert!(poetry_to_pep440("^three").is_err());
    }

    #[test]
    fn the_newest_release_that_satisfies_every_demand() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(release(d.path(), None, None).unwrap(), Release::Trixie);
        let p = project("[project]\nrequires-python = \">=3.9\"\n");
        assert_eq!(release(d.path(), Some(&p), None).unwrap(), Release::Trixie);
        let p = project("[project]\nrequires-python = \">=3.11,<3.12\"\n");
        assert_eq!(
            release(d.path(), Some(&p), None).unwrap(),
            Release::Bookworm
        );
        let p = project("[project]\nrequires-python = \">3.11\"\n");
        assert_eq!(release(d.path(), Some(&p), None).unwrap(), Release::Trixie);
        let p = project("[tool.poetry.dependencies]\npython = \"~3.11\"\n");
        assert_eq!(
            release(d.path(), Some(&p), None).unwrap(),
            Release::Bookworm
        );

        std::fs::write(d.path().join(".python-version"), "3.11\n").unwrap();
        assert_eq!(release(d.path(), None, None).unwrap(), Release::Bookworm);
        std::fs::write(d.path().join(".python-version"), "cpython-3.13.1\n").unwrap();
        assert_eq!(release(d.path(), None, None).unwrap(), Release::Trixie);
        // Both given, and they disagree: no release satisfies both.
        let p = project("[project]\nrequires-python = \"<3.12\"\n");
        let e = release(d.path(), Some(&p), None).unwrap_err().to_string();
        assert!(
            e.contains(".python-version") && e.contains("requires-python"),
            "{e}"
        );
        std::fs::write(d.path().join(".python-version"), "system\n").unwrap();
        assert_eq!(release(d.path(), None, None).unwrap(), Release::Trixie);
        std::fs::write(d.path().join(".python-version"), "3.9\n").unwrap();
        let e = release(d.path(), None, None).unwrap_err();
        let help = miette::Diagnostic::help(&e).unwrap().to_string();
        assert!(
            help.contains("3.11 (Debian 12, end of life 2027-10)"),
            "{help}"
        );
        assert!(
            help.contains("3.13 (Debian 13, end of life 2029-10)"),
            "{help}"
        );
    }

    #[test]
    fn a_release_the_config_names_must_satisfy_the_project() {
        let d = tempfile::tempdir().unwrap();
        // No demand: the config's release is taken as it is.
        assert_eq!(
            release(d.path(), None, Some(Release::Bookworm)).unwrap(),
            Release::Bookworm
        );
        let p = project("[project]\nrequires-python = \">=3.11\"\n");
        assert_eq!(
            release(d.path(), Some(&p), Some(Release::Bookworm)).unwrap(),
            Release::Bookworm
        );
        std::fs::write(d.path().join(".python-version"), "3.13\n").unwrap();
        let e = release(d.path(), None, Some(Release::Bookworm)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("Debian 12") && text.contains("3.11") && text.contains("==3.13.*"),
            "{text}"
        );
        let help = miette::Diagnostic::help(&e).unwrap().to_string();
        assert!(help.contains("drop `debian`"), "{help}");
    }
}
