//! `Pipfile.lock` (Pipenv): its `default` section, the app's own dependencies; `develop`
//! and Pipenv's other categories are left out unless named in `[python] groups`. Each
//! entry pins `version` (`==X`), with `hashes` and `markers`.

use std::path::Path;

use super::{LockError, Locked, check_groups, normalize, read as read_text, sha256s};

/// The keys that make an entry something other than a distribution from an index.
const ELSEWHERE: [&str; 4] = ["git", "path", "file", "editable"];

/// The `default` section (and the categories in `groups`) of the Pipenv lock at `path`.
pub fn read(path: &Path, groups: &[String]) -> Result<Locked, LockError> {
    let doc: serde_json::Value =
        serde_json::from_str(&read_text(path)?).map_err(|e| LockError::Syntax {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    let sections = doc.as_object().ok_or_else(|| LockError::Syntax {
        path: path.to_path_buf(),
        why: "not a JSON object".into(),
    })?;
    let known: Vec<String> = sections
        .keys()
        .filter(|k| !matches!(k.as_str(), "_meta" | "default"))
        .cloned()
        .collect();
    check_groups(path, groups, &known)?;
    let mut locked = Locked::default();
    let wanted = std::iter::once("default").chain(groups.iter().map(String::as_str));
    for section in wanted {
        let entries = sections
            .get(section)
            .and_then(|d| d.as_object())
            .ok_or_else(|| LockError::Syntax {
                path: path.to_path_buf(),
                why: format!("no `{section}` section"),
            })?;
        for (name, entry) in entries {
            // A package in two categories is pinned once, as the first one has it.
            if !locked.pins.iter().any(|p| p.name == normalize(name)) {
                pin(path, &mut locked, name, entry)?;
            }
        }
    }
    Ok(locked)
}

fn pin(
    path: &Path,
    locked: &mut Locked,
    name: &str,
    entry: &serde_json::Value,
) -> Result<(), LockError> {
    if let Some(key) = ELSEWHERE.iter().find(|k| entry.get(**k).is_some()) {
        let what = entry.get(*key).and_then(|v| v.as_str()).unwrap_or("");
        return Err(LockError::Unhashed {
            path: path.to_path_buf(),
            package: name.to_owned(),
            what: format!("a {key} dependency ({what})"),
        });
    }
    let version = entry
        .get("version")
        .and_then(|v| v.as_str())
        .and_then(|v| v.strip_prefix("=="))
        .ok_or_else(|| LockError::Syntax {
            path: path.to_path_buf(),
            why: format!("{name} has no `==` version"),
        })?;
    let hashes = sha256s(
        entry
            .get("hashes")
            .and_then(|h| h.as_array())
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str()),
    );
    let marker = entry
        .get("markers")
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    locked.pin(path, (name, version), marker, hashes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_section_only() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("Pipfile.lock");
        let h = "a".repeat(64);
        std::fs::write(
            &path,
            format!(
                r#"{{"_meta": {{"hash": {{}}}},
                "default": {{"Flask": {{"hashes": ["sha256:{h}"], "index": "pypi", "version": "==3.0.3"}},
                             "colorama": {{"hashes": ["sha256:{h}"], "markers": "platform_system == 'Windows'", "version": "==0.4.6"}}}},
                "develop": {{"pytest": {{"hashes": ["sha256:{h}"], "version": "==8.0.0"}}}}}}"#
            ),
        )
        .unwrap();
        let l = read(&path, &[]).unwrap();
        let mut names: Vec<&str> = l.pins.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["colorama", "flask"]);
        let colorama = l.pins.iter().find(|p| p.name == "colorama").unwrap();
        assert_eq!(
            colorama.marker.as_deref(),
            Some("platform_system == 'Windows'")
        );
        let l = read(&path, &["develop".to_owned()]).unwrap();
        assert!(l.pins.iter().any(|p| p.name == "pytest"), "{l:?}");
        let e = read(&path, &["dev".to_owned()]).unwrap_err().to_string();
        assert!(e.contains("no dependency group `dev`"), "{e}");
        std::fs::write(
            &path,
            r#"{"default": {"mylib": {"path": "../mylib", "editable": true}}}"#,
        )
        .unwrap();
        let e = read(&path, &[]).unwrap_err().to_string();
        assert!(e.contains("mylib") && e.contains("../mylib"), "{e}");
    }
}
