//! A `pyproject.toml` with no lock: its main dependencies as a requirements file, for uv to
//! resolve. `[project] dependencies` are PEP 508 already; Poetry's
//! `[tool.poetry.dependencies]` are turned into PEP 508 (a project in Poetry's non-package
//! mode has no `[project]` table, and must not be built to be read). The groups asked for
//! add PEP 735's `[dependency-groups]` (with `include-group`) or Poetry's
//! `[tool.poetry.group.NAME.dependencies]`.

use std::path::Path;

use super::{LockError, check_groups};
use crate::python::version::poetry_to_pep440;

/// The requirements `pyproject` (read from `path`) declares for its main group and
/// `groups`, or `None` when its dependencies are dynamic (only its build backend can say
/// them).
pub fn requirements(
    path: &Path,
    pyproject: &toml::Table,
    groups: &[String],
) -> Result<Option<String>, LockError> {
    let project = pyproject.get("project");
    let dynamic = project
        .and_then(|p| p.get("dynamic"))
        .and_then(|d| d.as_array())
        .is_some_and(|d| d.iter().any(|x| x.as_str() == Some("dependencies")));
    let poetry = pyproject
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_table());
    if dynamic && poetry.is_none() {
        return Ok(None);
    }
    let mut lines: Vec<String> = project
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str())
        .map(str::to_owned)
        .collect();
    for (name, spec) in poetry.into_iter().flatten() {
        if name == "python" {
            continue;
        }
        if let Some(line) = poetry_line(path, name, spec)? {
            lines.push(line);
        }
    }
    lines.extend(group_lines(path, pyproject, groups)?);
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(Some(out))
}

/// The requirements of `groups`, from PEP 735 or Poetry's groups.
fn group_lines(
    path: &Path,
    pyproject: &toml::Table,
    groups: &[String],
) -> Result<Vec<String>, LockError> {
    let pep735 = pyproject
        .get("dependency-groups")
        .and_then(|g| g.as_table());
    let poetry = pyproject
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("group"))
        .and_then(|g| g.as_table());
    let known: Vec<String> = pep735
        .into_iter()
        .chain(poetry)
        .flat_map(|t| t.keys().cloned())
        .collect();
    check_groups(path, groups, &known)?;
    let mut lines = Vec::new();
    for g in groups {
        if let Some(items) = pep735.and_then(|t| t.get(g)) {
            include(
                path,
                pep735.unwrap_or(&toml::Table::new()),
                items,
                &mut lines,
                0,
            )?;
        }
        let deps = poetry
            .and_then(|t| t.get(g))
            .and_then(|g| g.get("dependencies"))
            .and_then(|d| d.as_table());
        for (name, spec) in deps.into_iter().flatten() {
            lines.extend(poetry_line(path, name, spec)?);
        }
    }
    Ok(lines)
}

/// A PEP 735 group's items: requirement strings and `{include-group = "NAME"}` tables.
fn include(
    path: &Path,
    table: &toml::Table,
    items: &toml::Value,
    lines: &mut Vec<String>,
    depth: usize,
) -> Result<(), LockError> {
    let syntax = |why: String| LockError::Syntax {
        path: path.to_path_buf(),
        why,
    };
    // PEP 735 forbids cycles; a depth bound refuses one without tracking the path.
    if depth > table.len() {
        return Err(syntax("[dependency-groups] includes itself".into()));
    }
    for item in items.as_array().into_iter().flatten() {
        match item {
            toml::Value::String(s) => lines.push(s.clone()),
            toml::Value::Table(t) => {
                let name = t
                    .get("include-group")
                    .and_then(|n| n.as_str())
                    .unwrap_or("");
                let inner = table.get(name).ok_or_else(|| {
                    syntax(format!(
                        "[dependency-groups] has no group `{name}` to include"
                    ))
                })?;
                include(path, table, inner, lines, depth + 1)?;
            }
            _ => {
                return Err(syntax(
                    "[dependency-groups] items are strings or include-group tables".into(),
                ));
            }
        }
    }
    Ok(())
}

/// One Poetry dependency as PEP 508: `flask = "^3.0"` is `flask>=3.0,<4.0`.
fn poetry_line(path: &Path, name: &str, spec: &toml::Value) -> Result<Option<String>, LockError> {
    let syntax = |why: String| LockError::Syntax {
        path: path.to_path_buf(),
        why: format!("[tool.poetry.dependencies] {name}: {why}"),
    };
    let (version, extras, marker) = match spec {
        toml::Value::String(v) => (v.as_str(), Vec::new(), None),
        toml::Value::Table(t) => {
            if t.get("optional").and_then(|o| o.as_bool()) == Some(true) {
                return Ok(None);
            }
            if let Some(key) = ["git", "path", "url", "file"]
                .iter()
                .find(|k| t.contains_key(**k))
            {
                let what = t.get(*key).and_then(|v| v.as_str()).unwrap_or("");
                return Err(LockError::Unhashed {
                    path: path.to_path_buf(),
                    package: name.to_owned(),
                    what: format!("a {key} dependency ({what})"),
                });
            }
            let extras: Vec<&str> = t
                .get("extras")
                .and_then(|e| e.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let version = t.get("version").and_then(|v| v.as_str()).unwrap_or("*");
            (version, extras, t.get("markers").and_then(|m| m.as_str()))
        }
        _ => return Err(syntax("give a version string or a table".into())),
    };
    let mut line = name.to_owned();
    if !extras.is_empty() {
        line.push_str(&format!("[{}]", extras.join(",")));
    }
    line.push_str(&poetry_to_pep440(version).map_err(syntax)?);
    if let Some(m) = marker {
        line.push_str(&format!(" ; {m}"));
    }
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_and_pep621_dependencies() {
        let p = Path::new("pyproject.toml");
        let doc: toml::Table = toml::from_str(
            "[project]\ndependencies = [\"requests>=2\"]\n\
             [tool.poetry.dependencies]\npython = \"^3.11\"\nflask = \"^3.0\"\n\
             gunicorn = { version = \"~23.0\", extras = [\"gevent\"], markers = \"sys_platform == 'linux'\" }\n\
             docs = { version = \"*\", optional = true }\n",
        )
        .unwrap();
        assert_eq!(
            requirements(p, &doc, &[]).unwrap().unwrap(),
            "requests>=2\nflask>=3.0,<4.0\ngunicorn[gevent]>=23.0,<23.1 ; sys_platform == 'linux'\n"
        );
        let dynamic: toml::Table =
            toml::from_str("[project]\nname = \"x\"\ndynamic = [\"dependencies\"]\n").unwrap();
        assert_eq!(requirements(p, &dynamic, &[]).unwrap(), None);
        let git: toml::Table =
            toml::from_str("[tool.poetry.dependencies]\nlib = { git = \"../lib.git\" }\n").unwrap();
        assert!(matches!(
            requirements(p, &git, &[]),
            Err(LockError::Unhashed { .. })
        ));
    }

    #[test]
    fn groups_from_pep735_and_poetry() {
        let p = Path::new("pyproject.toml");
        let doc: toml::Table = toml::from_str(
            "[project]\ndependencies = [\"flask\"]\n\
             [dependency-groups]\ntest = [\"pytest>=8\", {include-group = \"lint\"}]\nlint = [\"ruff\"]\n\
             [tool.poetry.group.docs.dependencies]\nsphinx = \"^7\"\n",
        )
        .unwrap();
        assert_eq!(requirements(p, &doc, &[]).unwrap().unwrap(), "flask\n");
        let groups = ["test".to_owned(), "docs".to_owned()];
        assert_eq!(
            requirements(p, &doc, &groups).unwrap().unwrap(),
            "flask\npytest>=8\nruff\nsphinx>=7,<8.0\n"
        );
        let e = requirements(p, &doc, &["tset".to_owned()]).unwrap_err();
        assert!(
            matches!(&e, LockError::UnknownGroup { group, known, .. } if group == "tset" && known.contains("lint")),
            "{e}"
        );
        let cycle: toml::Table =
            toml::from_str("[dependency-groups]\na = [{include-group = \"a\"}]\n").unwrap();
        assert!(requirements(p, &cycle, &["a".to_owned()]).is_err());
    }
}
