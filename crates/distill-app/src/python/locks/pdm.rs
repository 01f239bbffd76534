//! `pdm.lock`: the packages of the `default` group (and any asked for), as PDM's
//! `inherit_metadata` strategy (its default) records them, each with its groups, marker and
//! files. A lock without per-package groups is refused with the command that makes one.

use std::path::Path;

use super::{LockError, Locked, check_groups, file_hashes, strings, tables, toml};

/// The `default` group (and `groups`) of the PDM lock at `path`.
pub fn read(path: &Path, groups: &[String]) -> Result<Locked, LockError> {
    let doc = toml(path)?;
    let known = strings(doc.get("metadata").and_then(|m| m.get("groups")));
    check_groups(path, groups, &known)?;
    let packages = tables(&doc, "package");
    let mut locked = Locked::default();
    for p in packages {
        let name = p.get("name").and_then(|n| n.as_str()).unwrap_or("");
        let version = p.get("version").and_then(|n| n.as_str()).unwrap_or("");
        let Some(in_groups) = p.get("groups").and_then(|g| g.as_array()) else {
            return Err(LockError::NoGroups {
                path: path.to_path_buf(),
            });
        };
        let wanted = in_groups
            .iter()
            .filter_map(|g| g.as_str())
            .any(|g| g == "default" || groups.iter().any(|w| w == g));
        if !wanted {
            continue;
        }
        if let Some(key) = ["path", "git", "url"].iter().find(|k| p.contains_key(**k)) {
            let what = p.get(*key).and_then(|v| v.as_str()).unwrap_or("");
            return Err(LockError::Unhashed {
                path: path.to_path_buf(),
                package: name.to_owned(),
                what: format!("a {key} dependency ({what})"),
            });
        }
        let marker = p.get("marker").and_then(|m| m.as_str()).map(str::to_owned);
        locked.pin(path, (name, version), marker, file_hashes(p.get("files")))?;
    }
    Ok(locked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_group_with_markers() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("pdm.lock");
        let h = "b".repeat(64);
        let pkg = |name: &str, groups: &str, extra: &str| {
            format!(
                "[[package]]\nname = \"{name}\"\nversion = \"1.0\"\ngroups = [{groups}]\n{extra}files = [{{file = \"{name}.whl\", hash = \"sha256:{h}\"}}]\n"
            )
        };
        let text = [
            "[metadata]\ngroups = [\"default\", \"dev\"]\nlock_version = \"4.5.0\"\n".to_owned(),
            pkg("Flask", "\"default\"", ""),
            pkg(
                "colorama",
                "\"default\", \"dev\"",
                "marker = \"platform_system == \\\"Windows\\\"\"\n",
            ),
            pkg("pytest", "\"dev\"", ""),
        ]
        .concat();
        std::fs::write(&path, &text).unwrap();
        let l = read(&path, &[]).unwrap();
        let names: Vec<&str> = l.pins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["flask", "colorama"]);
        assert!(l.pins[1].marker.is_some());
        assert_eq!(read(&path, &["dev".to_owned()]).unwrap().pins.len(), 3);
        std::fs::write(&path, "[[package]]\nname = \"flask\"\nversion = \"1.0\"\n").unwrap();
        assert!(matches!(read(&path, &[]), Err(LockError::NoGroups { .. })));
    }
}
