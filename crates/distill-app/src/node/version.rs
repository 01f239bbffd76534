//! Which Node major a Node app runs on, from what the project already says: the first of
//! `.nvmrc`, `.node-version`, `.tool-versions` (asdf, mise), `package.json`'s `volta.node`,
//! `devEngines.runtime` and `engines.node` that is given.
//!
//! A version (`v20.16.0`, `20`, `20.16`) names its major; `node`, `latest`, `current` and
//! `stable` the newest major the family offers, `lts/*` the newest even one, and `lts/NAME`
//! that line (`lts/iron` is 20). A range (`>=20 <25`, `^22 || ^24`) takes the newest
//! family major it allows, else the newest older LTS (even) major, else the newest odd one.
//! Every major whose official builds the npm registry carries is available (4 to 26, in
//! [`distill_core::runtime`]'s table): one past its end of life builds with a warning (and
//! `--deny-eol` refuses it).

use std::path::Path;

use distill_core::NODE_MAJORS;
use distill_core::runtime::node_majors;

use super::types::{NodeAppError, Wanted};

/// The LTS lines by codename, as nvm names them (`lts/iron`).
const LTS: [(&str, u8); 11] = [
    ("argon", 4),
    ("boron", 6),
    ("carbon", 8),
    ("dubnium", 10),
    ("erbium", 12),
    ("fermium", 14),
    ("gallium", 16),
    ("hydrogen", 18),
    ("iron", 20),
    ("jod", 22),
    ("krypton", 24),
];

/// The exact release the project names (`v20.16.0`, `=20.16.0`), when it names one rather
/// than a major, an alias or a range.
pub fn release(w: &Wanted) -> Option<String> {
    let v = w
        .text
        .trim()
        .trim_start_matches('=')
        .trim_start_matches('v');
    let parts: Vec<&str> = v.split('.').collect();
    (parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then(|| v.to_owned())
}

/// The first Node version the project names, if any.
pub fn wanted(dir: &Path, package: &serde_json::Value) -> Option<Wanted> {
    let file = |name: &str| -> Option<Wanted> {
        let text = std::fs::read_to_string(dir.join(name)).ok()?;
        let line = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .find(|l| !l.is_empty())?;
        Some(Wanted {
            source: name.to_owned(),
            text: line.to_owned(),
        })
    };
    let tool_versions = || -> Option<Wanted> {
        let text = std::fs::read_to_string(dir.join(".tool-versions")).ok()?;
        text.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            matches!(words.next(), Some("nodejs" | "node")).then(|| Wanted {
                source: ".tool-versions".into(),
                text: words.next().unwrap_or("").to_owned(),
            })
        })
    };
    let field = |source: &str, value: &serde_json::Value| {
        value.as_str().map(|v| Wanted {
            source: source.to_owned(),
            text: v.trim().to_owned(),
        })
    };
    // `devEngines.runtime` is one object or a list of them, each with a `name`.
    let dev_engines = || {
        let runtime = &package["devEngines"]["runtime"];
        let all = runtime
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![runtime.clone()]);
        all.into_iter()
            .find(|r| r["name"].as_str() == Some("node"))
            .and_then(|r| field("devEngines.runtime", &r["version"]))
    };
    file(".nvmrc")
        .or_else(|| file(".node-version"))
        .or_else(tool_versions)
        .or_else(|| field("volta.node", &package["volta"]["node"]))
        .or_else(dev_engines)
        .or_else(|| field("engines.node", &package["engines"]["node"]))
}

/// The major `wanted` names, or why it names none.
pub fn major(dir: &Path, wanted: &Wanted) -> Result<u8, NodeAppError> {
    let text = wanted.text.trim().to_ascii_lowercase();
    let newest = NODE_MAJORS[NODE_MAJORS.len() - 1];
    let found = match text.as_str() {
        "node" | "latest" | "current" | "stable" => Some(newest),
        "lts/*" | "lts" => NODE_MAJORS.iter().rev().copied().find(|m| m % 2 == 0),
        t if t.starts_with("lts/") => LTS
            .iter()
            .find(|(name, _)| t == format!("lts/{name}"))
            .map(|(_, m)| *m),
        t => exact(t).or_else(|| range(t)),
    };
    found
        .filter(|m| node_majors().any(|n| n == *m))
        .ok_or_else(|| NodeAppError::Version {
            path: dir.join(&wanted.source),
            source_name: wanted.source.clone(),
            text: wanted.text.clone(),
        })
}

/// `v20.16.0`, `20`, `20.16`, `20.x`: the major.
fn exact(text: &str) -> Option<u8> {
    let t = text.trim_start_matches('v');
    let mut parts = t.split('.');
    let major = parts.next()?.parse::<u8>().ok()?;
    parts
        .all(|p| p == "x" || p == "*" || p.parse::<u32>().is_ok())
        .then_some(major)
}

/// A semver range: the newest family major it allows, else the newest other even (LTS) one,
/// else the newest odd one.
fn range(text: &str) -> Option<u8> {
    let family = NODE_MAJORS.iter().rev().copied();
    let other = || node_majors().rev().filter(|m| !NODE_MAJORS.contains(m));
    family
        .chain(other().filter(|m| m % 2 == 0))
        .chain(other().filter(|m| m % 2 == 1))
        .find(|&m| text.split("||").any(|part| allows(m, part.trim())))
}

/// Whether `part` (conditions separated by spaces) allows some release of major `m`.
fn allows(m: u8, part: &str) -> bool {
    let m = u32::from(m);
    let num = |s: &str| {
        s.trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
    };
    part.split_whitespace().all(|cond| {
        if let Some(v) = cond.strip_prefix(">=") {
            num(v).is_some_and(|v| m >= v)
        } else if let Some(v) = cond.strip_prefix('>') {
            // `>24` allows 24.1: a major above or equal.
            num(v).is_some_and(|v| m >= v)
        } else if let Some(v) = cond.strip_prefix("<=") {
            num(v).is_some_and(|v| m <= v)
        } else if let Some(v) = cond.strip_prefix('<') {
            num(v).is_some_and(|v| m < v)
        } else if let Some(v) = cond.strip_prefix('^').or_else(|| cond.strip_prefix('~')) {
            num(v).is_some_and(|v| m == v)
        } else if cond == "*" || cond == "x" {
            true
        } else {
            num(cond.trim_start_matches('=')).is_some_and(|v| m == v)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn major_of(text: &str) -> Option<u8> {
        let w = Wanted {
            source: ".nvmrc".into(),
            text: text.into(),
        };
        major(Path::new("/app"), &w).ok()
    }

    #[test]
    fn an_exact_release_is_a_pin() {
        let w = |t: &str| Wanted {
            source: ".nvmrc".into(),
            text: t.into(),
        };
        assert_eq!(release(&w("v20.16.0")).as_deref(), Some("20.16.0"));
        assert_eq!(release(&w("=22.1.0")).as_deref(), Some("22.1.0"));
        for not in [
            "v20",
            "20.16",
            "^20.16.0",
            ">=20.16.0",
            "lts/*",
            "20.16.0-rc.1",
        ] {
            assert_eq!(release(&w(not)), None, "{not}");
        }
    }

    #[test]
    fn versions_aliases_and_ranges() {
        assert_eq!(major_of("v20.16.0"), Some(20));
        assert_eq!(major_of("22"), Some(22));
        assert_eq!(major_of("22.x"), Some(22));
        assert_eq!(major_of("node"), Some(26));
        assert_eq!(major_of("lts/*"), Some(26));
        assert_eq!(major_of("lts/iron"), Some(20));
        assert_eq!(major_of(">=18"), Some(26));
        assert_eq!(major_of("^22"), Some(22));
        assert_eq!(major_of("~24.1.0"), Some(24));
        assert_eq!(major_of(">=20 <25"), Some(24));
        assert_eq!(major_of("^20 || ^22"), Some(22));
        assert_eq!(major_of("^20"), Some(20));
        assert_eq!(major_of("*"), Some(26));
        assert_eq!(major_of("16"), Some(16));
        assert_eq!(major_of("v4.9.1"), Some(4));
        assert_eq!(major_of("lts/gallium"), Some(16));
        assert_eq!(major_of("^25"), Some(25));
        assert_eq!(major_of(">=14 <22"), Some(20));
        assert_eq!(major_of(">=23 <24"), Some(23));
        assert_eq!(major_of("3"), None);
        assert_eq!(major_of("0.12"), None);
        assert_eq!(major_of("27"), None);
        assert_eq!(major_of("lts/nonesuch"), None);
        assert_eq!(major_of("banana"), None);
    }

    #[test]
    fn the_first_source_given_wins() {
        let d = tempfile::tempdir().unwrap();
        let package = serde_json::json!({
            "engines": {"node": ">=18"},
            "devEngines": {"runtime": [{"name": "bun"}, {"name": "node", "version": "^24"}]},
        });
        let got = |p: &serde_json::Value| wanted(d.path(), p).map(|w| (w.source, w.text));
        assert_eq!(
            got(&package),
            Some(("devEngines.runtime".into(), "^24".into()))
        );
        let volta = serde_json::json!({"volta": {"node": "22.1.0"}, "engines": {"node": "26"}});
        assert_eq!(got(&volta), Some(("volta.node".into(), "22.1.0".into())));
        std::fs::write(
            d.path().join(".tool-versions"),
            "python 3.13\nnodejs 20.11.1\n",
        )
        .unwrap();
        assert_eq!(
            got(&package),
            Some((".tool-versions".into(), "20.11.1".into()))
        );
        std::fs::write(d.path().join(".node-version"), "22\n").unwrap();
        assert_eq!(got(&package), Some((".node-version".into(), "22".into())));
        std::fs::write(d.path().join(".nvmrc"), "# pinned\nv20.16.0 # the LTS\n").unwrap();
        assert_eq!(got(&package), Some((".nvmrc".into(), "v20.16.0".into())));
    }
}
