//! Workspaces: one member of a monorepo (npm's and Yarn's `workspaces` in package.json,
//! pnpm's `packages` in pnpm-workspace.yaml) built as the app, with `--workspace NAME`.
//!
//! The member is named by its package name or its directory. The image gets the root's own
//! files, the member and every member it depends on (its `dependencies` and
//! `optionalDependencies` that name a member, transitively), each under `/app` at its place
//! in the repository, so the links the package manager makes between members resolve in the
//! image as they do in the repository. Other members stay out.

use std::path::{Path, PathBuf};

use super::types::{Chosen, Member, NodeAppError, read_json};

impl Chosen {
    pub fn member(&self) -> &Member {
        &self.members[self.chosen]
    }

    /// The directories of the members the image does not hold, as `./DIR`: paths under the
    /// root, never names that could match deeper ([`crate::FileSpec::exclude`]).
    pub fn left_out(&self) -> Vec<String> {
        self.members
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.needed.contains(i))
            .map(|(_, m)| format!("./{}", m.dir))
            .collect()
    }
}

impl Chosen {
    /// Copies every member's manifest from `root` into `copy`, at its place: the managers
    /// check the lock against all of them.
    pub fn copy_manifests(&self, root: &Path, copy: &Path) -> Result<(), NodeAppError> {
        for m in &self.members {
            let to = copy.join(&m.dir);
            std::fs::create_dir_all(&to)
                .and_then(|()| {
                    std::fs::copy(
                        root.join(&m.dir).join("package.json"),
                        to.join("package.json"),
                    )
                })
                .map_err(|source| NodeAppError::Read { path: to, source })?;
        }
        Ok(())
    }

    /// Moves the install's trees (the root's `node_modules` and each needed member's) from
    /// `copy` into `deps` at the same places, and drops the links into members left out,
    /// which the image does not hold. Returns the trees, in `deps`.
    pub fn gather(&self, copy: &Path, deps: &Path) -> Result<Vec<PathBuf>, NodeAppError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| NodeAppError::Read { path, source }
        };
        let _ = std::fs::remove_dir_all(deps);
        std::fs::create_dir_all(deps).map_err(io(deps))?;
        let mut trees = Vec::new();
        let places = std::iter::once(String::new())
            .chain(self.needed.iter().map(|i| self.members[*i].dir.clone()));
        for place in places {
            let from = copy.join(&place).join("node_modules");
            if !from.is_dir() {
                continue;
            }
            let to = deps.join(&place).join("node_modules");
            std::fs::create_dir_all(deps.join(&place)).map_err(io(&to))?;
            std::fs::rename(&from, &to).map_err(io(&from))?;
            trees.push(to);
        }
        for e in walkdir::WalkDir::new(deps).into_iter().flatten() {
            if !e.path_is_symlink() {
                continue;
            }
            let target = std::fs::read_link(e.path()).map_err(io(e.path()))?;
            let rel = e.path().strip_prefix(deps).unwrap_or(e.path());
            let Some(lands) = lexical(rel.parent().unwrap_or(Path::new("")), &target) else {
                continue;
            };
            let out = self.members.iter().enumerate().any(|(i, m)| {
                !self.needed.contains(&i)
                    && (lands == m.dir || lands.starts_with(&format!("{}/", m.dir)))
            });
            if out {
                std::fs::remove_file(e.path()).map_err(io(e.path()))?;
            }
        }
        Ok(trees)
    }
}

/// `target` followed from `dir` (both relative to one root) without the filesystem:
/// `None` when it leaves the root.
fn lexical(dir: &Path, target: &Path) -> Option<String> {
    use std::path::Component;
    let mut parts: Vec<String> = dir
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    for c in target.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// The members the root's manifest (or pnpm-workspace.yaml) declares, sorted by directory;
/// empty when the root is no workspace.
pub fn members(root: &Path, package: &serde_json::Value) -> Result<Vec<Member>, NodeAppError> {
    let patterns = patterns(root, package)?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut negated: Vec<PathBuf> = Vec::new();
    for pattern in &patterns {
        let (list, p) = match pattern.strip_prefix('!') {
            Some(p) => (&mut negated, p),
            None => (&mut dirs, pattern.as_str()),
        };
        let p = p.trim_start_matches("./").trim_end_matches('/');
        if p.split('/').any(|c| c == "..") || p.starts_with('/') {
            return Err(NodeAppError::Workspace {
                dir: root.to_path_buf(),
                why: format!("the pattern `{pattern}` leaves the repository"),
            });
        }
        // The root is a path, not a pattern: `[` in it must match itself.
        let full = format!("{}/{p}", glob::Pattern::escape(&root.to_string_lossy()));
        let found = glob::glob(&full).map_err(|e| NodeAppError::Workspace {
            dir: root.to_path_buf(),
            why: format!("the pattern `{pattern}`: {e}"),
        })?;
        // A member is a directory of the repository: a symlink may lead anywhere.
        list.extend(found.flatten().filter(|d| {
            d.symlink_metadata().is_ok_and(|m| m.is_dir()) && d.join("package.json").is_file()
        }));
    }
    let mut out = Vec::new();
    for d in dirs {
        if negated.contains(&d) || d == root {
            continue;
        }
        let Ok(rel) = d.strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if rel.split('/').any(|c| c == "node_modules") || out.iter().any(|m: &Member| m.dir == rel)
        {
            continue;
        }
        let manifest = read_json(&d.join("package.json"))?;
        let name = manifest["name"].as_str().unwrap_or(&rel).to_owned();
        out.push(Member { name, dir: rel });
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

/// `workspaces` (an array, or Yarn 1's `{packages: [...]}`), else pnpm's `packages`.
fn patterns(root: &Path, package: &serde_json::Value) -> Result<Vec<String>, NodeAppError> {
    let field = match &package["workspaces"] {
        serde_json::Value::Array(a) => Some(a.clone()),
        serde_json::Value::Object(o) => o.get("packages").and_then(|p| p.as_array()).cloned(),
        _ => None,
    };
    if let Some(list) = field {
        return Ok(list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect());
    }
    let yaml = root.join("pnpm-workspace.yaml");
    let Ok(text) = std::fs::read_to_string(&yaml) else {
        return Ok(Vec::new());
    };
    Ok(pnpm_packages(&text))
}

/// The `packages:` list of a pnpm-workspace.yaml: block items (`  - 'apps/*'`) or a flow
/// list (`packages: [a, b]`). pnpm writes and documents only these forms.
fn pnpm_packages(text: &str) -> Vec<String> {
    let unquote = |s: &str| {
        let s = s.split(" #").next().unwrap_or(s).trim();
        s.trim_matches(|c| c == '\'' || c == '"').to_owned()
    };
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("packages:") {
            let rest = rest.trim();
            if let Some(flow) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                out.extend(flow.split(',').map(unquote).filter(|s| !s.is_empty()));
                return out;
            }
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match t.strip_prefix("- ") {
            Some(item) if line.starts_with([' ', '-']) => out.push(unquote(item)),
            _ => inside = false,
        }
    }
    out
}

/// The member `wanted` (a package name or a directory) among `members`, with what it needs.
pub fn choose(root: &Path, members: Vec<Member>, wanted: &str) -> Result<Chosen, NodeAppError> {
    let dir = wanted.trim_start_matches("./").trim_end_matches('/');
    let Some(chosen) = members
        .iter()
        .position(|m| m.name == wanted || m.dir == dir)
    else {
        return Err(NodeAppError::NoSuchWorkspace {
            dir: root.to_path_buf(),
            wanted: wanted.to_owned(),
            members: list(&members),
        });
    };
    let mut needed = vec![chosen];
    let mut next = 0;
    while next < needed.len() {
        let m = &members[needed[next]];
        let manifest = read_json(&root.join(&m.dir).join("package.json"))?;
        for field in ["dependencies", "optionalDependencies"] {
            for name in manifest[field]
                .as_object()
                .into_iter()
                .flat_map(|o| o.keys())
            {
                if let Some(i) = members.iter().position(|m| &m.name == name)
                    && !needed.contains(&i)
                {
                    needed.push(i);
                }
            }
        }
        next += 1;
    }
    needed.sort_unstable();
    Ok(Chosen {
        members,
        chosen,
        needed,
    })
}

/// `@demo/api (packages/api), @demo/lib (packages/lib)`.
pub fn list(members: &[Member]) -> String {
    members
        .iter()
        .map(|m| format!("{} ({})", m.name, m.dir))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let pkg = |dir: &str, json: &str| {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
            std::fs::write(d.path().join(dir).join("package.json"), json).unwrap();
        };
        pkg(
            "",
            r#"{"workspaces": ["packages/*", "apps/web", "!packages/skip"]}"#,
        );
        pkg(
            "packages/api",
            r#"{"name": "@d/api", "dependencies": {"@d/lib": "*", "ms": "2"}, "devDependencies": {"@d/tools": "*"}}"#,
        );
        pkg(
            "packages/lib",
            r#"{"name": "@d/lib", "optionalDependencies": {"@d/deep": "*"}}"#,
        );
        pkg("packages/deep", r#"{"name": "@d/deep"}"#);
        pkg("packages/tools", r#"{"name": "@d/tools"}"#);
        pkg("packages/skip", r#"{"name": "@d/skip"}"#);
        pkg("apps/web", r#"{"name": "web"}"#);
        std::fs::create_dir_all(d.path().join("packages/api/node_modules/x")).unwrap();
        std::fs::write(
            d.path().join("packages/api/node_modules/x/package.json"),
            "{}",
        )
        .unwrap();
        std::fs::write(d.path().join("README.md"), "").unwrap();
        std::os::unix::fs::symlink(d.path().join("apps/web"), d.path().join("packages/linked"))
            .unwrap();
        std::fs::write(d.path().join("packages/NOTES"), "").unwrap();
        d
    }

    #[test]
    fn members_from_the_patterns() {
        let d = repo();
        let package = read_json(&d.path().join("package.json")).unwrap();
        let got = members(d.path(), &package).unwrap();
        let dirs: Vec<&str> = got.iter().map(|m| m.dir.as_str()).collect();
        assert_eq!(
            dirs,
            [
                "apps/web",
                "packages/api",
                "packages/deep",
                "packages/lib",
                "packages/tools"
            ]
        );
        let up = serde_json::json!({"workspaces": ["../elsewhere/*"]});
        assert!(members(d.path(), &up).is_err());
    }

    #[test]
    fn the_member_and_what_it_needs_and_nothing_else() {
        let d = repo();
        let package = read_json(&d.path().join("package.json")).unwrap();
        let all = members(d.path(), &package).unwrap();
        let c = choose(d.path(), all.clone(), "@d/api").unwrap();
        assert_eq!(c.member().dir, "packages/api");
        let needed: Vec<&str> = c.needed.iter().map(|i| all[*i].name.as_str()).collect();
        assert_eq!(needed, ["@d/api", "@d/deep", "@d/lib"]);
        assert_eq!(c.left_out(), ["./apps/web", "./packages/tools"]);
        assert_eq!(
            choose(d.path(), all.clone(), "./apps/web/")
                .unwrap()
                .member()
                .name,
            "web"
        );
        let e = choose(d.path(), all, "nope").unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        let help = miette::Diagnostic::help(&choose(d.path(), Vec::new(), "x").unwrap_err())
            .unwrap()
            .to_string();
        assert!(help.contains("--workspace"), "{help}");
    }

    #[test]
    fn pnpm_workspace_yaml_lists() {
        let block = "packages:\n  - 'packages/*'\n  - \"apps/*\" # the apps\n  - '!**/test/**'\ncatalog:\n  ms: 2\n";
        assert_eq!(
            pnpm_packages(block),
            ["packages/*", "apps/*", "!**/test/**"]
        );
        assert_eq!(pnpm_packages("packages: [a, 'b/*']\n"), ["a", "b/*"]);
        assert!(pnpm_packages("catalog:\n  - x\n").is_empty());
    }
}
