//! PEP 751's `pylock.toml`: every package whose marker holds for the default groups and no
//! extras, with the sha256 of each of its wheels and its sdist.
//!
//! A package's marker may test `dependency_groups` and `extras`, which only a lock installer
//! knows; those tests are decided here, for the lock's `default-groups` (and the groups
//! asked for) and no extras, and replaced by a marker that is always true or always false,
//! so that uv evaluates the rest for the image's Python and platform.

use std::path::Path;

use super::{LockError, Locked, check_groups, normalize, strings, toml};

const TRUE: &str = "python_version >= '0'";
const FALSE: &str = "python_version < '0'";

/// The default groups (and `groups`) of the PEP 751 lock at `path`.
pub fn read(path: &Path, groups: &[String]) -> Result<Locked, LockError> {
    let doc = toml(path)?;
    let mut wanted = strings(doc.get("default-groups"));
    // `dependency-groups` is optional: the groups the markers test count as well.
    let mut known = strings(doc.get("dependency-groups"));
    known.extend(wanted.iter().cloned());
    let packages = doc.get("packages").and_then(|p| p.as_array());
    for p in packages.into_iter().flatten() {
        if let Some(m) = p.get("marker").and_then(|m| m.as_str()) {
            known.extend(tested_groups(m));
        }
    }
    check_groups(path, groups, &known)?;
    wanted.extend(groups.iter().cloned());
    let mut locked = Locked::default();
    let packages = doc.get("packages").and_then(|p| p.as_array());
    for p in packages.into_iter().flatten().filter_map(|p| p.as_table()) {
        let name = p.get("name").and_then(|n| n.as_str()).unwrap_or("");
        let version = p.get("version").and_then(|n| n.as_str()).unwrap_or("");
        let marker = p
            .get("marker")
            .and_then(|m| m.as_str())
            .map(|m| decide(m, &wanted));
        if marker.as_deref() == Some(FALSE) {
            continue;
        }
        if let Some(key) = ["vcs", "directory", "archive"]
            .iter()
            .find(|k| p.contains_key(**k))
        {
            return Err(LockError::Unhashed {
                path: path.to_path_buf(),
                package: name.to_owned(),
                what: format!("a {key} entry"),
            });
        }
        let wheels = p.get("wheels").and_then(|w| w.as_array());
        let files = wheels.into_iter().flatten().chain(p.get("sdist"));
        let mut hashes: Vec<String> = files
            .filter_map(|f| f.get("hashes")?.get("sha256")?.as_str())
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|h| format!("sha256:{}", h.to_ascii_lowercase()))
            .collect();
        hashes.sort();
        hashes.dedup();
        locked.pin(path, (name, version), marker.filter(|m| m != TRUE), hashes)?;
    }
    Ok(locked)
}

/// The groups `marker` tests: each `'G'` of `'G' in dependency_groups` (or `not in`).
fn tested_groups(marker: &str) -> Vec<String> {
    let pieces: Vec<&str> = marker.split("dependency_groups").collect();
    let mut out = Vec::new();
    for before in &pieces[..pieces.len().saturating_sub(1)] {
        let rest = before.trim_end();
        let Some(rest) = rest.strip_suffix("in") else {
            continue;
        };
        let rest = rest.trim_end();
        let rest = rest.strip_suffix("not").unwrap_or(rest).trim_end();
        let Some(quote) = rest.chars().last().filter(|c| matches!(c, '\'' | '"')) else {
            continue;
        };
        let inner = &rest[..rest.len() - 1];
        if let Some(start) = inner.rfind(quote) {
            out.push(inner[start + 1..].to_owned());
        }
    }
    out
}

/// `marker` with each `'G' in dependency_groups` and `'E' in extras` (and their `not in`)
/// decided; the marker itself when it is only that one test.
fn decide(marker: &str, groups: &[String]) -> String {
    let mut out = String::new();
    let mut rest = marker;
    loop {
        // The next quoted word followed by ` in ` or ` not in ` and a set name.
        let Some((start, end, value)) = next_set_test(rest, groups) else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(if value { TRUE } else { FALSE });
        rest = &rest[end..];
    }
    out.trim().to_owned()
}

/// The first `'WORD' [not ]in dependency_groups|extras` in `text`: its span and its value.
fn next_set_test(text: &str, groups: &[String]) -> Option<(usize, usize, bool)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let q = bytes[i];
        if q == b'\'' || q == b'"' {
            let close = text[i + 1..].find(q as char)? + i + 1;
            let word = &text[i + 1..close];
            let after = &text[close + 1..];
            let trimmed = after.trim_start();
            let (negated, tail) = if let Some(t) = trimmed.strip_prefix("not in ") {
                (true, t)
            } else if let Some(t) = trimmed.strip_prefix("in ") {
                (false, t)
            } else {
                i = close + 1;
                continue;
            };
            let tail_trim = tail.trim_start();
            for (set, members) in [("dependency_groups", groups), ("extras", &[][..])] {
                if let Some(rest) = tail_trim.strip_prefix(set) {
                    let end = text.len() - rest.len();
                    let member = members.iter().any(|g| normalize(g) == normalize(word));
                    return Some((i, end, member != negated));
                }
            }
            i = close + 1;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_tests_are_decided_and_the_rest_kept() {
        let g = vec!["default".to_owned()];
        assert_eq!(decide("'dev' in dependency_groups", &g), FALSE);
        assert_eq!(decide("\"default\" in dependency_groups", &g), TRUE);
        assert_eq!(
            decide(
                "sys_platform == 'win32' and 'default' in dependency_groups",
                &g
            ),
            format!("sys_platform == 'win32' and {TRUE}")
        );
        assert_eq!(decide("'socks' not in extras", &g), TRUE);
        assert_eq!(
            decide("python_version < '3.12'", &g),
            "python_version < '3.12'"
        );
    }

    #[test]
    fn packages_of_other_groups_stay_out() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("pylock.toml");
        let h = "c".repeat(64);
        std::fs::write(
            &path,
            format!(
                "lock-version = \"1.0\"\ndefault-groups = [\"default\"]\ncreated-by = \"test\"\n\
                 [[packages]]\nname = \"flask\"\nversion = \"3.0.3\"\nwheels = [{{ url = \"f.whl\", hashes = {{ sha256 = \"{h}\" }} }}]\n\
                 [[packages]]\nname = \"pytest\"\nversion = \"8.0.0\"\nmarker = \"'dev' in dependency_groups\"\nwheels = [{{ url = \"p.whl\", hashes = {{ sha256 = \"{h}\" }} }}]\n"
            ),
        )
        .unwrap();
        let l = read(&path, &[]).unwrap();
        assert_eq!(l.pins.len(), 1);
        assert_eq!(l.pins[0].name, "flask");
        assert_eq!(l.pins[0].marker, None);
        assert_eq!(read(&path, &["dev".to_owned()]).unwrap().pins.len(), 2);
        let e = read(&path, &["test".to_owned()]).unwrap_err().to_string();
        assert!(e.contains("no dependency group `test`"), "{e}");
        assert_eq!(
            tested_groups("'dev' in dependency_groups or \"lint\" not in dependency_groups"),
            ["dev", "lint"]
        );
    }
}
