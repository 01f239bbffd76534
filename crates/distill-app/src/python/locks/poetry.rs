//! `poetry.lock`, lock-versions 1.1, 2.0 and 2.1: the main group's distributions.
//!
//! Lock-version 2.1 records each package's groups and, per group, its marker, which say
//! what the main group holds. Versions 1.1 and 2.0 do not (1.1's `category` is per package
//! but knows no other group than dev), so the main group is found by walking the project's
//! own dependencies (`[project] dependencies`, `[tool.poetry.dependencies]`, plus the groups
//! asked for) through each locked package's `[package.dependencies]` and requested extras.
//! Walked markers are the union of the markers on the edges into a package: a package
//! reached only under a marker keeps it, so Windows-only dependencies stay out.
//!
//! Hashes come from `[[package]] files` (2.x) or `[metadata.files]` (1.1).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use super::{
    LockError, Locked, any_of, check_groups, file_hashes, normalize, requirement, tables, toml,
};

/// The main group (and `groups`) of the Poetry lock at `path`, for the project `pyproject`.
pub fn read(path: &Path, pyproject: &toml::Table, groups: &[String]) -> Result<Locked, LockError> {
    check_groups(path, groups, &known_groups(pyproject))?;
    let doc = toml(path)?;
    let packages = tables(&doc, "package");
    let mut wanted = vec!["main".to_owned()];
    wanted.extend(groups.iter().cloned());
    let by_groups = !packages.is_empty() && packages.iter().all(|p| p.contains_key("groups"));
    let chosen: Vec<(&toml::Table, Option<String>)> = if by_groups {
        packages
            .iter()
            .filter_map(|p| group_marker(p, &wanted).map(|m| (*p, m)))
            .collect()
    } else {
        walk(&packages, &roots(pyproject, &wanted))
    };
    let legacy_files = doc
        .get("metadata")
        .and_then(|m| m.get("files"))
        .and_then(|f| f.as_table());
    let mut locked = Locked::default();
    for (p, marker) in chosen {
        let name = str_of(p, "name");
        let version = str_of(p, "version");
        if let Some(source) = p.get("source").and_then(|s| s.as_table()) {
            let kind = source.get("type").and_then(|t| t.as_str()).unwrap_or("");
            let url = source.get("url").and_then(|u| u.as_str()).unwrap_or("");
            match kind {
                "legacy" if !url.is_empty() => {
                    if !locked.indexes.iter().any(|i| i == url) {
                        locked.indexes.push(url.to_owned());
                    }
                }
                _ => {
                    return Err(LockError::Unhashed {
                        path: path.to_path_buf(),
                        package: name.to_owned(),
                        what: format!("a {kind} source ({url})"),
                    });
                }
            }
        }
        let files = p
            .get("files")
            .or_else(|| legacy_files.and_then(|f| f.get(name)));
        locked.pin(path, (name, version), marker, file_hashes(files))?;
    }
    Ok(locked)
}

fn str_of<'a>(t: &'a toml::Table, key: &str) -> &'a str {
    t.get(key).and_then(|v| v.as_str()).unwrap_or("")
}

/// 2.1: `Some(marker)` when the package is in a wanted group; the marker of each wanted
/// group it is in (a string for all groups, or a table by group), joined.
fn group_marker(p: &toml::Table, wanted: &[String]) -> Option<Option<String>> {
    let groups: Vec<&str> = p
        .get("groups")
        .and_then(|g| g.as_array())
        .map(|a| a.iter().filter_map(|g| g.as_str()).collect())
        .unwrap_or_default();
    let inside: Vec<&str> = groups
        .into_iter()
        .filter(|g| wanted.iter().any(|w| w == g))
        .collect();
    if inside.is_empty() {
        return None;
    }
    let markers: Vec<Option<String>> = inside
        .iter()
        .map(|g| match p.get("markers") {
            Some(toml::Value::String(m)) => Some(m.clone()),
            Some(toml::Value::Table(t)) => t.get(*g).and_then(|m| m.as_str()).map(str::to_owned),
            _ => None,
        })
        .collect();
    Some(any_of(&markers))
}

/// A dependency wanted by the project or a package: its name, extras and marker.
type Edge = (String, Vec<String>, Option<String>);

/// The project's own dependencies in the wanted groups.
/// The groups the project declares: `[tool.poetry.group.NAME]`, and `dev` for the old
/// `[tool.poetry.dev-dependencies]`.
fn known_groups(pyproject: &toml::Table) -> Vec<String> {
    let poetry = pyproject.get("tool").and_then(|t| t.get("poetry"));
    let mut known: Vec<String> = poetry
        .and_then(|p| p.get("group"))
        .and_then(|g| g.as_table())
        .map(|g| g.keys().cloned().collect())
        .unwrap_or_default();
    if poetry.is_some_and(|p| p.get("dev-dependencies").is_some())
        && !known.iter().any(|g| g == "dev")
    {
        known.push("dev".to_owned());
    }
    known
}

fn roots(pyproject: &toml::Table, wanted: &[String]) -> Vec<Edge> {
    let mut out = Vec::new();
    if wanted.iter().any(|w| w == "main") {
        let deps = pyproject
            .get("project")
            .and_then(|p| p.get("dependencies"))
            .and_then(|d| d.as_array());
        out.extend(
            deps.into_iter()
                .flatten()
                .filter_map(|d| d.as_str())
                .map(requirement),
        );
    }
    let poetry = pyproject.get("tool").and_then(|t| t.get("poetry"));
    for g in wanted {
        let table = if g == "main" {
            poetry.and_then(|p| p.get("dependencies"))
        } else {
            poetry
                .and_then(|p| p.get("group"))
                .and_then(|gs| gs.get(g.as_str()))
                .and_then(|g| g.get("dependencies"))
                .or_else(|| {
                    (g == "dev")
                        .then(|| poetry.and_then(|p| p.get("dev-dependencies")))
                        .flatten()
                })
        };
        for (name, spec) in table.and_then(|t| t.as_table()).into_iter().flatten() {
            if name != "python" {
                out.extend(edges(name, spec, true));
            }
        }
    }
    out
}

/// The edges a `[package.dependencies]` (or pyproject) entry makes: a version string, a
/// table, or a list of tables for different environments. Optional ones are left to the
/// extras that name them, unless `take_optional`.
fn edges(name: &str, spec: &toml::Value, take_optional: bool) -> Vec<Edge> {
    let one = |t: &toml::Table| -> Option<Edge> {
        let optional = t.get("optional").and_then(|o| o.as_bool()) == Some(true);
        if optional && !take_optional {
            return None;
        }
        let extras = t
            .get("extras")
            .and_then(|e| e.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str()).map(normalize).collect())
            .unwrap_or_default();
        let marker = t.get("markers").and_then(|m| m.as_str()).map(str::to_owned);
        Some((normalize(name), extras, marker))
    };
    match spec {
        toml::Value::Table(t) => one(t).into_iter().collect(),
        toml::Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_table())
            .filter_map(one)
            .collect(),
        _ => vec![(normalize(name), Vec::new(), None)],
    }
}

/// Lock-versions 1.1 and 2.0: the packages reachable from `roots`, with their markers.
fn walk<'a>(
    packages: &[&'a toml::Table],
    roots: &[Edge],
) -> Vec<(&'a toml::Table, Option<String>)> {
    let mut by_name: BTreeMap<String, Vec<&toml::Table>> = BTreeMap::new();
    for p in packages {
        by_name
            .entry(normalize(str_of(p, "name")))
            .or_default()
            .push(p);
    }
    let mut markers: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    let mut extras: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut queue: VecDeque<Edge> = roots.iter().cloned().collect();
    while let Some((name, want_extras, marker)) = queue.pop_front() {
        let Some(entries) = by_name.get(&name) else {
            continue;
        };
        let first = !markers.contains_key(&name);
        let ms = markers.entry(name.clone()).or_default();
        if !ms.contains(&marker) {
            ms.push(marker);
        }
        let have = extras.entry(name.clone()).or_default();
        let new: Vec<String> = want_extras
            .into_iter()
            .filter(|e| have.insert(e.clone()))
            .collect();
        if !first && new.is_empty() {
            continue;
        }
        for p in entries {
            if first {
                for (dep, spec) in p
                    .get("dependencies")
                    .and_then(|d| d.as_table())
                    .into_iter()
                    .flatten()
                {
                    queue.extend(edges(dep, spec, false));
                }
            }
            let declared = p.get("extras").and_then(|e| e.as_table());
            for extra in &new {
                let reqs = declared
                    .and_then(|d| d.iter().find(|(k, _)| normalize(k) == *extra))
                    .and_then(|(_, v)| v.as_array());
                queue.extend(
                    reqs.into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str())
                        .map(requirement),
                );
            }
        }
    }
    let mut out = Vec::new();
    for (name, ms) in &markers {
        for p in &by_name[name] {
            out.push((*p, any_of(ms)));
        }
    }
    out
}

/// Whether a Poetry project is in package mode: `[tool.poetry]` without
/// `package-mode = false`, and a `[build-system]` that builds it.
pub fn package_mode(pyproject: &toml::Table) -> bool {
    let poetry = pyproject
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.as_table());
    poetry.is_some_and(|p| p.get("package-mode").and_then(|m| m.as_bool()) != Some(false))
        && pyproject.contains_key("build-system")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYPROJECT: &str = r#"
[tool.poetry]
package-mode = false
[tool.poetry.dependencies]
python = "^3.11"
flask = "^3.0"
[tool.poetry.group.dev.dependencies]
pytest = "^8"
"#;

    fn package(name: &str, version: &str, deps: &str) -> String {
        format!(
            "[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nfiles = [{{file = \"{name}.whl\", hash = \"sha256:{:0>64}\"}}]\n{deps}\n",
            version.replace('.', ""),
        )
    }

    fn read_lock(text: &str, groups: &[String]) -> Result<Locked, LockError> {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("poetry.lock"), text).unwrap();
        read(
            &d.path().join("poetry.lock"),
            &toml::from_str(PYPROJECT).unwrap(),
            groups,
        )
    }

    fn names(l: &Locked) -> Vec<(String, Option<String>)> {
        let mut v: Vec<_> = l
            .pins
            .iter()
            .map(|p| (p.name.clone(), p.marker.clone()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn lock_2_0_is_walked_from_the_project() {
        let lock = [
            package(
                "Flask",
                "3.0.3",
                "[package.dependencies]\nclick = \">=8.1.3\"\nwerkzeug = {version = \">=3.0.0\", extras = [\"watchdog\"]}\nunused = {version = \"*\", optional = true}\n",
            ),
            package(
                "click",
                "8.1.7",
                "[package.dependencies]\ncolorama = {version = \"*\", markers = \"platform_system == \\\"Windows\\\"\"}\n",
            ),
            package("colorama", "0.4.6", ""),
            package("werkzeug", "3.0.4", "[package.extras]\nwatchdog = [\"watchdog (>=2.3)\"]\n"),
            package("watchdog", "4.0.0", ""),
            package("unused", "1.0", ""),
            package("pytest", "8.0.0", ""),
            "[metadata]\nlock-version = \"2.0\"\n".to_owned(),
        ]
        .concat();
        let l = read_lock(&lock, &[]).unwrap();
        assert_eq!(
            names(&l),
            [
                ("click".to_owned(), None),
                (
                    "colorama".to_owned(),
                    Some("platform_system == \"Windows\"".to_owned())
                ),
                ("flask".to_owned(), None),
                ("watchdog".to_owned(), None),
                ("werkzeug".to_owned(), None),
            ]
        );
        assert_eq!(
            l.pins
                .iter()
                .find(|p| p.name == "flask")
                .unwrap()
                .hashes
                .len(),
            1
        );
        let with_dev = read_lock(&lock, &["dev".to_owned()]).unwrap();
        assert!(with_dev.pins.iter().any(|p| p.name == "pytest"));
    }

    #[test]
    fn lock_2_1_says_the_groups_and_1_1_keeps_hashes_apart() {
        let lock = "[[package]]\nname = \"flask\"\nversion = \"3.0.3\"\ngroups = [\"main\"]\nfiles = [{file = \"f.whl\", hash = \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"}]\n\
                    [[package]]\nname = \"colorama\"\nversion = \"0.4.6\"\ngroups = [\"main\", \"dev\"]\nmarkers = {main = \"platform_system == 'Windows'\", dev = \"sys_platform == 'win32'\"}\nfiles = [{file = \"c.whl\", hash = \"sha256:2222222222222222222222222222222222222222222222222222222222222222\"}]\n\
                    [[package]]\nname = \"pytest\"\nversion = \"8.0.0\"\ngroups = [\"dev\"]\nfiles = [{file = \"p.whl\", hash = \"sha256:3333333333333333333333333333333333333333333333333333333333333333\"}]\n\
                    [metadata]\nlock-version = \"2.1\"\n";
        let l = read_lock(lock, &[]).unwrap();
        assert_eq!(
            names(&l),
            [
                (
                    "colorama".to_owned(),
                    Some("platform_system == 'Windows'".to_owned())
                ),
                ("flask".to_owned(), None)
            ]
        );
        let old = "[[package]]\nname = \"flask\"\nversion = \"3.0.3\"\ncategory = \"main\"\n\
                   [metadata]\nlock-version = \"1.1\"\n[metadata.files]\nflask = [{file = \"f.whl\", hash = \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"}]\n";
        let l = read_lock(old, &[]).unwrap();
        assert_eq!(l.pins[0].hashes.len(), 1);
        let nohash = "[[package]]\nname = \"flask\"\nversion = \"3.0.3\"\n[metadata]\nlock-version = \"2.0\"\n";
        assert!(matches!(
            read_lock(nohash, &[]),
            Err(LockError::NoHashes { .. })
        ));
        let git = "[[package]]\nname = \"flask\"\nversion = \"3.0.3\"\nfiles = []\n[package.source]\ntype = \"git\"\nurl = \"https://example.invalid/flask.git\"\n";
        let e = read_lock(git, &[]).unwrap_err().to_string();
        assert!(e.contains("flask") && e.contains("git source"), "{e}");
    }
}
