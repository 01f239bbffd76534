//! What an image's own files say it holds: the package databases and manifests scanners
//! read, and the licences they declare.
//!
//! - Debian packages: `var/lib/dpkg/status.d/*` (distroless, one file per package) and
//!   `var/lib/dpkg/status` (a regular Debian image, installed entries only); their licences
//!   from `usr/share/doc/PKG/copyright`.
//! - Python distributions: `*.dist-info/METADATA` (core metadata 2.x: `Name`, `Version`,
//!   `License-Expression`, `License`, `Classifier`).
//! - npm packages: `node_modules/NAME/package.json` and `node_modules/@SCOPE/NAME/package.json`;
//!   other `package.json` files inside a package are not packages.
//! - The Node runtime: the `pkg:generic/node` package of the SBOM distill writes into the
//!   image ([`IN_IMAGE_PATH`]), the one record with its integrity hash.
//!
//! The same [`Metadata`] is filled from a built layer's entries (`build --sbom`) and from an
//! image's layer tars ([`crate::scan`]), so both read licences the same way.

use std::collections::BTreeMap;

use base64::Engine as _;
use distill_core::Component;
use serde_json::Value;

use crate::license::{self, Licence};

/// Where distill writes the image's SPDX SBOM: the directory Wolfi and Chainguard images
/// use, with the suffix scanners look for (`*.spdx.json`).
pub const IN_IMAGE_PATH: &str = "var/lib/db/sbom/distill.spdx.json";

/// The largest metadata file read; larger ones are skipped, so a hostile image cannot make
/// a scan hold more than this per file.
pub const MAX_FILE: u64 = 16 << 20;

/// Whether a path (relative, no leading `/`) is a file [`Metadata`] reads.
pub fn is_notable(path: &str) -> bool {
    if [
        "var/lib/dpkg/status",
        IN_IMAGE_PATH,
        "etc/os-release",
        "usr/lib/os-release",
    ]
    .contains(&path)
    {
        return true;
    }
    if let Some(name) = path.strip_prefix("var/lib/dpkg/status.d/") {
        return !name.contains('/') && !name.ends_with(".md5sums");
    }
    if let Some(rest) = path.strip_prefix("usr/share/doc/") {
        return rest.split('/').nth(1) == Some("copyright") && rest.matches('/').count() == 1;
    }
    if let Some(dir) = path.strip_suffix("/METADATA") {
        return dir.ends_with(".dist-info");
    }
    if let Some((dir, name)) = path.rsplit_once('/') {
        let dir = dir.strip_suffix("/licenses").unwrap_or(dir);
        let upper = name.to_ascii_uppercase();
        if dir.ends_with(".dist-info") && ["LICEN", "COPYING"].iter().any(|p| upper.starts_with(p))
        {
            return true;
        }
    }
    npm_package_dir(path).is_some()
}

/// `node_modules/@s/n` for `…/node_modules/@s/n/package.json`: the directory of a package's
/// own manifest.
fn npm_package_dir(path: &str) -> Option<&str> {
    let dir = path.strip_suffix("/package.json")?;
    let (parent, name) = dir.rsplit_once('/')?;
    let ok = if parent.ends_with("node_modules") {
        !name.starts_with('@') && !name.starts_with('.')
    } else {
        let (grand, scope) = parent.rsplit_once('/')?;
        scope.starts_with('@') && grand.ends_with("node_modules")
    };
    ok.then_some(dir)
}

/// The notable files of an image: path → (index of the layer it comes from, bytes).
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    files: BTreeMap<String, (usize, Vec<u8>)>,
    /// `usr/share/doc/PKG` directories that are symlinks (to another package's), as many
    /// Debian packages of one source ship them: where their copyright file is.
    doc_links: BTreeMap<String, String>,
}

/// The `VERSION_ID` of an os-release(5) text that names Debian (`ID=debian`).
pub fn debian_version(os_release: &str) -> Option<String> {
    let field = |key: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_owned())
    };
    (field("ID").as_deref() == Some("debian"))
        .then(|| field("VERSION_ID"))
        .flatten()
}

/// Whether a symlink at `path` is one [`Metadata::insert_link`] records.
pub fn is_doc_link(path: &str) -> bool {
    path.strip_prefix("usr/share/doc/")
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

impl Metadata {
    pub fn insert_link(&mut self, path: &str, target: &str) {
        self.doc_links.insert(path.to_owned(), target.to_owned());
    }

    /// Adds `other`'s files as layer `layer`'s.
    pub fn merge(&mut self, other: &Metadata, layer: usize) {
        for (p, (_, b)) in &other.files {
            self.insert(layer, p, b.clone());
        }
        self.doc_links.extend(other.doc_links.clone());
    }

    /// A package's copyright file, through a symlinked doc directory.
    fn copyright(&self, package: &str) -> Option<&str> {
        let dir = format!("usr/share/doc/{package}");
        self.text(&format!("{dir}/copyright")).or_else(|| {
            let target = self.doc_links.get(&dir)?;
            let target = target.trim_end_matches('/');
            let other = match target.strip_prefix('/') {
                Some(abs) => abs.to_owned(),
                None => format!("usr/share/doc/{target}"),
            };
            self.text(&format!("{other}/copyright"))
        })
    }
    /// Every file with its bytes, in path order (layer indexes left out).
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files
            .iter()
            .map(|(p, (_, b))| (p.as_str(), b.as_slice()))
    }

    /// Every symlinked doc directory with its target, in path order.
    pub fn doc_links(&self) -> impl Iterator<Item = (&str, &str)> {
        self.doc_links.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    pub fn insert(&mut self, layer: usize, path: &str, bytes: Vec<u8>) {
        self.files.insert(path.to_owned(), (layer, bytes));
    }

    /// Forgets `path` and everything under it (a whiteout).
    pub fn remove(&mut self, path: &str) {
        let under = format!("{path}/");
        self.files
            .retain(|p, _| p != path && !p.starts_with(&under));
    }

    /// Forgets what earlier layers put under `dir` (an opaque whiteout in layer `layer`).
    pub fn clear_under(&mut self, dir: &str, layer: usize) {
        let under = format!("{dir}/");
        self.files
            .retain(|p, (l, _)| *l >= layer || !p.starts_with(&under));
    }

    fn text(&self, path: &str) -> Option<&str> {
        self.files
            .get(path)
            .and_then(|(_, b)| std::str::from_utf8(b).ok())
    }

    /// The Debian release the image's os-release names (`VERSION_ID`), `etc/` before
    /// `usr/lib/` as os-release(5) says.
    pub fn debian(&self) -> Option<String> {
        debian_version(
            self.text("etc/os-release")
                .or_else(|| self.text("usr/lib/os-release"))?,
        )
    }

    /// What the files say the image holds, each with the index of its layer, in path order.
    pub fn components(&self) -> Vec<(usize, Component)> {
        let mut out = Vec::new();
        for (path, (layer, bytes)) in &self.files {
            let text = String::from_utf8_lossy(bytes);
            let found: Vec<Component> = if path == "var/lib/dpkg/status" {
                debs(&text, true)
            } else if path.starts_with("var/lib/dpkg/status.d/") {
                debs(&text, false)
            } else if path.ends_with(".dist-info/METADATA") {
                python(&text).into_iter().collect()
            } else if path == IN_IMAGE_PATH {
                node_runtime(bytes).into_iter().collect()
            } else if let Some(dir) = npm_package_dir(path) {
                npm(bytes, dir).into_iter().collect()
            } else {
                Vec::new()
            };
            out.extend(found.into_iter().map(|c| (*layer, c)));
        }
        out
    }

    /// The licence the image's files declare for `component`.
    pub fn licence(&self, component: &Component) -> Licence {
        match component {
            Component::Deb { name, source, .. } => self
                .copyright(name)
                .map(|text| {
                    license::gcc_runtime(name, source, text)
                        .unwrap_or_else(|| license::from_copyright(text))
                })
                .unwrap_or_default(),
            Component::Python { name, version, .. } => self
                .files
                .iter()
                .filter(|(p, _)| p.ends_with(".dist-info/METADATA"))
                .filter_map(|(p, (_, b))| Some((p, std::str::from_utf8(b).ok()?)))
                .find(|(_, t)| python(t).is_some_and(|c| same_dist(&c, name, version)))
                .map(|(p, t)| self.python_licence(p, t))
                .unwrap_or_default(),
            // By name and version: the build records where a package sits in the app, not
            // in the image.
            Component::Npm { name, version, .. } => self
                .files
                .iter()
                .filter(|(p, _)| npm_package_dir(p).is_some())
                .filter_map(|(_, (_, b))| serde_json::from_slice::<Value>(b).ok())
                .find(|v| v["name"] == name.as_str() && v["version"] == version.as_str())
                .map(|v| npm_licence(&v))
                .unwrap_or_default(),
            Component::NodeRuntime { .. } => license::from_declared("MIT"),
            _ => Licence::default(),
        }
    }
}

fn same_dist(c: &Component, name: &str, version: &str) -> bool {
    matches!(c, Component::Python { name: n, version: v, .. }
        if distill_core::inventory::python_name(n) == distill_core::inventory::python_name(name)
            && v == version)
}

/// The packages of a dpkg database file; `installed_only` for `status`, whose entries may be
/// removed but not purged.
fn debs(text: &str, installed_only: bool) -> Vec<Component> {
    license::paragraphs(text)
        .iter()
        .filter(|p| {
            !installed_only
                || license::field(p, "Status").is_some_and(|s| s.ends_with(" installed"))
        })
        .filter_map(|p| {
            let name = license::field(p, "Package")?.to_owned();
            let version = license::field(p, "Version")?.to_owned();
            let arch = license::field(p, "Architecture")?.to_owned();
            // `Source: src (1.2-3)` names a source version that differs from the binary's.
            let source = license::field(p, "Source")
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or(&name)
                .to_owned();
            Some(Component::Deb {
                name,
                version,
                arch,
                source,
                sha256: String::new(),
                repository: String::new(),
                suite: String::new(),
            })
        })
        .collect()
}

/// The header of a core-metadata file: the lines before the first empty one.
fn headers(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
}

fn python(text: &str) -> Option<Component> {
    let get = |key: &str| {
        headers(text)
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.to_owned())
    };
    Some(Component::Python {
        name: get("Name")?,
        version: get("Version")?,
        file: String::new(),
        sha256: String::new(),
    })
}

impl Metadata {
    /// A distribution's declared licence, else the text of its `License-File`.
    fn python_licence(&self, metadata_path: &str, text: &str) -> Licence {
        let declared = python_licence(text);
        if declared.expression.is_some() {
            return declared;
        }
        let dir = metadata_path.trim_end_matches("/METADATA");
        headers(text)
            .filter(|(k, _)| k.eq_ignore_ascii_case("License-File"))
            .filter_map(|(_, name)| {
                self.text(&format!("{dir}/licenses/{name}"))
                    .or_else(|| self.text(&format!("{dir}/{name}")))
            })
            .map(license::from_text)
            .find(|l| l.expression.is_some())
            // Older metadata names no License-File; the licence files are still there.
            .or_else(|| {
                let under = format!("{dir}/");
                self.files
                    .iter()
                    .filter(|(p, _)| p.starts_with(&under) && !p.ends_with("/METADATA"))
                    .filter_map(|(_, (_, b))| std::str::from_utf8(b).ok())
                    .map(license::from_text)
                    .find(|l| l.expression.is_some())
            })
            .unwrap_or_default()
    }
}

fn python_licence(text: &str) -> Licence {
    let get = |key: &str| {
        headers(text)
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    };
    if let Some(l) = get("License-Expression")
        .map(license::from_declared)
        .filter(|l| l.expression.is_some())
    {
        return l;
    }
    if let Some(l) = get("License")
        .map(license::from_declared)
        .filter(|l| l.expression.is_some())
    {
        return l;
    }
    license::from_classifiers(
        headers(text)
            .filter(|(k, _)| k.eq_ignore_ascii_case("Classifier"))
            .map(|(_, v)| v)
            .filter(|v| v.starts_with("License ::")),
    )
}

fn npm(bytes: &[u8], dir: &str) -> Option<Component> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    Some(Component::Npm {
        name: v["name"].as_str()?.to_owned(),
        version: v["version"].as_str()?.to_owned(),
        integrity: None,
        path: dir.to_owned(),
    })
}

fn npm_licence(v: &Value) -> Licence {
    let declared = match &v["license"] {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o.get("type").and_then(Value::as_str),
        _ => None,
    };
    declared.map(license::from_declared).unwrap_or_default()
}

/// The Node runtime of distill's in-image SPDX document: its `pkg:generic/node` package.
fn node_runtime(bytes: &[u8]) -> Option<Component> {
    let doc: Value = serde_json::from_slice(bytes).ok()?;
    let locator = doc["packages"]
        .as_array()?
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().into_iter().flatten())
        .filter(|r| r["referenceType"] == "purl")
        .filter_map(|r| r["referenceLocator"].as_str())
        .find(|l| l.starts_with("pkg:generic/node@"))?;
    let (version, query) = locator["pkg:generic/node@".len()..].split_once('?')?;
    let hex = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("checksum=sha512%3A"))?;
    let raw = hex::decode(hex).ok()?;
    Some(Component::NodeRuntime {
        version: version.to_owned(),
        integrity: format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ),
        origin: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notable_paths() {
        for p in [
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/libc6",
            "usr/share/doc/libc6/copyright",
            "usr/lib/python3/dist-packages/flask-3.1.0.dist-info/METADATA",
            "app/node_modules/express/package.json",
            "app/node_modules/@types/node/package.json",
            "app/node_modules/a/node_modules/b/package.json",
            "x-1.dist-info/licenses/LICENSE.txt",
            "x-1.dist-info/COPYING",
        ] {
            assert!(is_notable(p), "{p}");
        }
        for p in [
            "var/lib/dpkg/status.d/libc6.md5sums",
            "usr/share/doc/libc6/changelog.gz",
            "usr/share/doc/libc6/x/copyright",
            "app/package.json",
            "app/node_modules/express/lib/package.json",
            "app/node_modules/@types/package.json",
            "app/node_modules/.bin/package.json",
            "x.dist-info/RECORD",
            "x.dist-info/licenses/sub/LICENSE",
        ] {
            assert!(!is_notable(p), "{p}");
        }
    }

    #[test]
    fn a_wheel_without_a_declared_licence_is_read_from_its_licence_file() {
        let mut m = Metadata::default();
        let dir = "usr/local/lib/python3.13/dist-packages/itsdangerous-2.2.0.dist-info";
        let meta = "Metadata-Version: 2.1\nName: itsdangerous\nVersion: 2.2.0\nClassifier: License :: OSI Approved :: BSD License\n";
        let text = "Redistribution and use in source and binary forms, with or without\nmodification, are permitted ... 3. Neither the name of the copyright holder";
        for (p, b) in [("METADATA", meta), ("LICENSE.txt", text)] {
            let path = format!("{dir}/{p}");
            assert!(is_notable(&path));
            m.insert(0, &path, b.as_bytes().to_vec());
        }
        let c = &m.components()[0].1;
        assert_eq!(m.licence(c).expression.as_deref(), Some("BSD-3-Clause"));
    }

    #[test]
    fn gcc_runtime_libraries_carry_the_runtime_exception() {
        // The host's own GCC copyright file (scripts/install-deps installs gcc).
        let text = std::fs::read_dir("/usr/share/doc")
            .unwrap()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("gcc-") && n.ends_with("-base")
            })
            .find_map(|e| std::fs::read_to_string(e.path().join("copyright")).ok())
            .expect("a gcc-N-base copyright file on this machine: apt-get install gcc");
        let l = license::gcc_runtime("libstdc++6", "gcc-12", &text).unwrap();
        assert_eq!(
            l.expression.as_deref(),
            Some("GPL-3.0-or-later WITH GCC-exception-3.1")
        );
        assert!(license::gcc_runtime("cpp-12", "gcc-12", &text).is_none());
    }

    #[test]
    fn dpkg_status_keeps_installed_entries_and_source_names() {
        let text = "Package: a\nStatus: install ok installed\nVersion: 1:2.0-1\nArchitecture: amd64\nSource: asrc (2.0-0)\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\nArchitecture: all\n";
        let c = debs(text, true);
        assert_eq!(c.len(), 1);
        assert!(
            matches!(&c[0], Component::Deb { name, version, source, .. } if name == "a" && version == "1:2.0-1" && source == "asrc")
        );
    }

    #[test]
    fn python_and_npm_licences() {
        let meta = "Metadata-Version: 2.1\nName: Flask\nVersion: 3.1.0\nClassifier: License :: OSI Approved :: BSD License\nLicense-Expression: BSD-3-Clause\n\nbody: x\n";
        assert_eq!(
            python_licence(meta).expression.as_deref(),
            Some("BSD-3-Clause")
        );
        let old = "Name: x\nVersion: 1\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n";
        assert_eq!(python_licence(old).expression.as_deref(), Some("MIT"));
        let v = serde_json::json!({"license": "(MIT OR Apache-2.0)"});
        assert_eq!(
            npm_licence(&v).expression.as_deref(),
            Some("MIT OR Apache-2.0")
        );
        let v = serde_json::json!({"license": {"type": "ISC"}});
        assert_eq!(npm_licence(&v).expression.as_deref(), Some("ISC"));
    }
}
