//! Which package manager installs a Node app, and at which version.
//!
//! The lockfile beside `package.json` names the manager: `package-lock.json` or
//! `npm-shrinkwrap.json` (npm), `yarn.lock` (Yarn 1, or Yarn 2+ when it opens with
//! `__metadata:`), `pnpm-lock.yaml` (pnpm) and `bun.lock` (Bun). The `packageManager`
//! field (Corepack's `NAME@VERSION[+ALGO.HEX]`) picks the version, and settles which lock
//! counts when there are two; without it each manager has a pinned version that distill is
//! tested with ([`Manager::pinned`]). npm is the host's own, as `npm ci` needs nothing else.

use std::path::Path;

use super::types::NodeAppError;

/// A Node package manager distill knows how to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Npm,
    /// Yarn 1 (classic).
    Yarn1,
    /// Yarn 2 and later (berry).
    Yarn,
    Pnpm,
    Bun,
}

impl Manager {
    /// The name users write (`packageManager`, messages).
    pub fn name(self) -> &'static str {
        match self {
            Self::Npm => "npm",
            Self::Yarn1 | Self::Yarn => "yarn",
            Self::Pnpm => "pnpm",
            Self::Bun => "bun",
        }
    }

    /// The lockfile it writes.
    pub fn lock(self) -> &'static str {
        match self {
            Self::Npm => "package-lock.json",
            Self::Yarn1 | Self::Yarn => "yarn.lock",
            Self::Pnpm => "pnpm-lock.yaml",
            Self::Bun => "bun.lock",
        }
    }

    /// The version distill runs when the project names none. Each is the newest of its line
    /// on the day it was pinned, and the tests make and install locks with it.
    pub fn pinned(self) -> &'static str {
        match self {
            Self::Npm => "",
            Self::Yarn1 => "1.22.22",
            Self::Yarn => "4.18.1",
            Self::Pnpm => "10.34.8",
            Self::Bun => "1.4.5",
        }
    }
}

/// Corepack's `packageManager` field: `pnpm@10.34.8+sha512.HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub version: String,
    /// The hash algorithm and its hex digest, when given.
    pub hash: Option<(String, String)>,
}

/// The manager that installs the app in `dir`, and the version to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub manager: Manager,
    pub version: String,
    /// The hash the `packageManager` field asks the tool to have.
    pub hash: Option<(String, String)>,
}

/// Parses `packageManager`; an exact version is required, as Corepack requires it.
pub fn field(text: &str) -> Option<Field> {
    let (name, rest) = text
        .trim()
        .rsplit_once('@')
        .filter(|(n, _)| !n.is_empty())?;
    let (version, hash) = match rest.split_once('+') {
        Some((v, h)) => {
            let (algo, hex) = h.split_once('.')?;
            (v, Some((algo.to_owned(), hex.to_ascii_lowercase())))
        }
        None => (rest, None),
    };
    let parts: Vec<&str> = version.split('.').collect();
    let exact = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    exact.then(|| Field {
        name: name.to_owned(),
        version: version.to_owned(),
        hash,
    })
}

/// The locks present in `dir`, as managers, in a fixed order.
fn locks(dir: &Path) -> Result<Vec<Manager>, NodeAppError> {
    let mut found = Vec::new();
    if dir.join("package-lock.json").is_file() || dir.join("npm-shrinkwrap.json").is_file() {
        found.push(Manager::Npm);
    }
    let yarn = dir.join("yarn.lock");
    if yarn.is_file() {
        let text = std::fs::read_to_string(&yarn).map_err(|source| NodeAppError::Read {
            path: yarn.clone(),
            source,
        })?;
        let berry = text.lines().any(|l| l.starts_with("__metadata:"));
        found.push(if berry { Manager::Yarn } else { Manager::Yarn1 });
    }
    if dir.join("pnpm-lock.yaml").is_file() {
        found.push(Manager::Pnpm);
    }
    if dir.join("bun.lock").is_file() {
        found.push(Manager::Bun);
    } else if dir.join("bun.lockb").is_file() {
        return Err(NodeAppError::BinaryBunLock {
            dir: dir.to_path_buf(),
        });
    }
    Ok(found)
}

/// The manager for the app in `dir` with manifest `package`.
pub fn choose(dir: &Path, package: &serde_json::Value) -> Result<Chosen, NodeAppError> {
    let found = locks(dir)?;
    let declared = match package["packageManager"].as_str() {
        None => None,
        Some(text) => Some(
            field(text).ok_or_else(|| NodeAppError::PackageManagerField {
                dir: dir.to_path_buf(),
                text: text.to_owned(),
            })?,
        ),
    };
    let Some(f) = declared else {
        return match found.as_slice() {
            [] => Err(NodeAppError::NoLock {
                dir: dir.to_path_buf(),
            }),
            [m] => Ok(Chosen {
                manager: *m,
                version: m.pinned().to_owned(),
                hash: None,
            }),
            _ => Err(NodeAppError::TwoLocks {
                dir: dir.to_path_buf(),
                locks: found.iter().map(|m| m.lock().to_owned()).collect(),
            }),
        };
    };
    let manager = match (f.name.as_str(), f.version.split('.').next()) {
        ("npm", _) => Manager::Npm,
        ("yarn", Some("1" | "0")) => Manager::Yarn1,
        ("yarn", _) => Manager::Yarn,
        ("pnpm", _) => Manager::Pnpm,
        ("bun", _) => Manager::Bun,
        _ => {
            return Err(NodeAppError::PackageManagerField {
                dir: dir.to_path_buf(),
                text: format!("{}@{}", f.name, f.version),
            });
        }
    };
    if !found.contains(&manager) {
        // A Yarn 1 lock read by Yarn 2+ (or the reverse) is a migration, not an install.
        return Err(NodeAppError::NoLockFor {
            dir: dir.to_path_buf(),
            manager: format!("{}@{}", f.name, f.version),
            lock: manager.lock().to_owned(),
            found: found.iter().map(|m| m.lock().to_owned()).collect(),
        });
    }
    Ok(Chosen {
        manager,
        // npm is the host's; the field's version is then only a note.
        version: if manager == Manager::Npm {
            String::new()
        } else {
            f.version
        },
        hash: f.hash,
    })
}

/// Refuses a production dependency that is not a registry package: a path (`file:`,
/// `link:`, `portal:`), a workspace, a git repository or a URL. The scratch copy the
/// managers install in holds only the manifest and lock, and only the registries are
/// reachable, so the manager would fail with an error of its own, or drop the package.
/// The `members` of a workspace are exempt: the copy holds their manifests, and the image
/// their files.
pub fn registry_only(
    dir: &Path,
    package: &serde_json::Value,
    members: &[&str],
) -> Result<(), NodeAppError> {
    for section in ["dependencies", "optionalDependencies"] {
        let Some(deps) = package[section].as_object() else {
            continue;
        };
        for (name, spec) in deps.iter().filter(|(n, _)| !members.contains(&n.as_str())) {
            let spec = spec.as_str().unwrap_or_default().trim();
            let (scheme, _) = spec.split_once(':').unwrap_or(("", ""));
            let scheme = scheme.to_ascii_lowercase();
            // `npm:other@1` is an alias of a registry package.
            let other = !scheme.is_empty() && scheme != "npm";
            // `user/repo` is GitHub's shorthand, and a path starts with `.`, `/` or `~`.
            let shorthand = scheme.is_empty()
                && (spec.starts_with(['.', '/', '~'])
                    || (spec.contains('/') && !spec.starts_with('@')));
            if other || shorthand {
                return Err(NodeAppError::NotFromRegistry {
                    dir: dir.to_path_buf(),
                    name: name.clone(),
                    spec: spec.to_owned(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_registry_packages() {
        let d = Path::new("/app");
        let ok = serde_json::json!({"dependencies": {"a": "^1", "b": "npm:c@2", "d": "latest", "e": ">=1 <2"}});
        registry_only(d, &ok, &[]).unwrap();
        for spec in [
            "file:../lib",
            "link:x",
            "git+https://h.test/a/b.git",
            "github:a/b",
            "a/b",
            "./vendor/x.tgz",
            "https://h.test/x.tgz",
            "workspace:*",
        ] {
            let bad = serde_json::json!({"optionalDependencies": {"x": spec}});
            assert!(
                matches!(
                    registry_only(d, &bad, &[]),
                    Err(NodeAppError::NotFromRegistry { .. })
                ),
                "{spec}"
            );
        }
        let dev = serde_json::json!({"devDependencies": {"x": "file:../x"}});
        registry_only(d, &dev, &[]).unwrap();
    }

    #[test]
    fn corepack_field() {
        assert_eq!(
            field("pnpm@10.34.8+sha512.ABCD"),
            Some(Field {
                name: "pnpm".into(),
                version: "10.34.8".into(),
                hash: Some(("sha512".into(), "abcd".into()))
            })
        );
        assert_eq!(field("@scope/pm@1.2.3").unwrap().name, "@scope/pm");
        assert_eq!(field("yarn@4"), None, "Corepack wants an exact version");
        assert_eq!(field("yarn@^4.1.0"), None);
        assert_eq!(field("@1.2.3"), None);
        assert_eq!(field("pnpm@1.2.3+sha512"), None);
    }

    #[test]
    fn the_lock_names_the_manager_and_the_field_its_version() {
        let d = tempfile::tempdir().unwrap();
        let pkg = serde_json::json!({});
        assert!(matches!(
            choose(d.path(), &pkg),
            Err(NodeAppError::NoLock { .. })
        ));
        std::fs::write(d.path().join("yarn.lock"), "# yarn lockfile v1\n").unwrap();
        assert_eq!(choose(d.path(), &pkg).unwrap().manager, Manager::Yarn1);
        std::fs::write(d.path().join("yarn.lock"), "__metadata:\n  version: 8\n").unwrap();
        let c = choose(d.path(), &pkg).unwrap();
        assert_eq!((c.manager, c.version.as_str()), (Manager::Yarn, "4.18.1"));
        let pinned = serde_json::json!({"packageManager": "yarn@3.8.7+sha224.ab"});
        let c = choose(d.path(), &pinned).unwrap();
        assert_eq!((c.manager, c.version.as_str()), (Manager::Yarn, "3.8.7"));
        let classic = serde_json::json!({"packageManager": "yarn@1.22.22"});
        assert!(matches!(
            choose(d.path(), &classic),
            Err(NodeAppError::NoLockFor { .. })
        ));
        std::fs::write(d.path().join("pnpm-lock.yaml"), "lockfileVersion: '9.0'\n").unwrap();
        assert!(matches!(
            choose(d.path(), &pkg),
            Err(NodeAppError::TwoLocks { .. })
        ));
        let pnpm = serde_json::json!({"packageManager": "pnpm@9.15.0"});
        assert_eq!(choose(d.path(), &pnpm).unwrap().manager, Manager::Pnpm);
        std::fs::write(d.path().join("bun.lockb"), "\0").unwrap();
        assert!(matches!(
            choose(d.path(), &pnpm),
            Err(NodeAppError::BinaryBunLock { .. })
        ));
    }
}
