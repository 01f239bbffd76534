//! Which package each path of an image comes from, read from the image's own records:
//!
//! - Debian packages: `var/lib/dpkg/status.d/NAME` with `NAME.md5sums` (distroless, files
//!   only), or `var/lib/dpkg/status` with `info/NAME.list` (every path a package ships,
//!   directories and symlinks too) and `info/NAME.md5sums`; conffiles from the status
//!   `Conffiles:` field (md5sums lists omit them); the records themselves belong to their
//!   package.
//! - Python distributions: the paths of `*.dist-info/RECORD`, relative to the directory
//!   holding the `.dist-info`.
//! - npm packages: everything under `node_modules/NAME/` (or `@SCOPE/NAME`), but for the
//!   packages nested in it.
//! - The official Node build distill installs: everything under `/nodejs/`, when the SBOM
//!   in the image names it (`pkg:generic/node`).
//!
//! What no record names: a symlink belongs to the package of its target, a directory to
//! the one package owning everything under it; the rest is "not from any package".

use std::collections::BTreeMap;

use distill_sbom::license::{field, paragraphs};

use crate::walk::{Kind, Walk, join, normalize};

/// A package found in the image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// `deb`, `python` or `npm`.
    pub kind: &'static str,
    pub name: String,
    pub version: String,
}

impl Package {
    /// `deb:libc6`: one key per package, whatever its version.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    One(usize),
    Shared,
}

/// Packages and who owns which path.
#[derive(Debug, Default)]
pub struct Owners {
    pub packages: Vec<Package>,
    by_path: BTreeMap<String, Claim>,
}

impl Owners {
    /// The package owning `path`, if exactly one does.
    pub fn of(&self, path: &str) -> Option<usize> {
        match self.by_path.get(path) {
            Some(Claim::One(i)) => Some(*i),
            _ => None,
        }
    }

    fn add(&mut self, p: Package) -> usize {
        if let Some(i) = self.packages.iter().position(|q| q == &p) {
            return i;
        }
        self.packages.push(p);
        self.packages.len() - 1
    }

    fn claim(&mut self, path: String, owner: usize) {
        let claim = self.by_path.entry(path).or_insert(Claim::One(owner));
        if *claim != Claim::One(owner) {
            *claim = Claim::Shared;
        }
    }

    /// Reads every record of `walk`'s final tree.
    pub fn read(walk: &Walk) -> Self {
        let mut owners = Owners::default();
        owners.debian(walk);
        owners.dpkg_info(walk);
        owners.python(walk);
        owners.npm(walk);
        owners.node_runtime(walk);
        owners.bytecode(walk);
        owners.links_and_dirs(walk);
        owners
    }

    fn debian(&mut self, walk: &Walk) {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut status = |owners: &mut Self, text: &str, record: Option<&str>, installed: bool| {
            for p in paragraphs(text) {
                if installed && !field(&p, "Status").is_some_and(|s| s.ends_with(" installed")) {
                    continue;
                }
                let (Some(name), Some(version)) = (field(&p, "Package"), field(&p, "Version"))
                else {
                    continue;
                };
                let i = owners.add(Package {
                    kind: "deb",
                    name: name.to_owned(),
                    version: version.to_owned(),
                });
                names.insert(name.to_owned(), i);
                if let Some(r) = record {
                    owners.claim(r.to_owned(), i);
                }
                for line in field(&p, "Conffiles").unwrap_or_default().lines() {
                    if let Some(path) = line.split_whitespace().next() {
                        owners.claim(normalize(path), i);
                    }
                }
            }
        };
        for (path, bytes) in &walk.meta {
            let text = String::from_utf8_lossy(bytes);
            if path == "var/lib/dpkg/status" {
                status(self, &text, None, true);
            } else if let Some(name) = path.strip_prefix("var/lib/dpkg/status.d/")
                && !LISTS.iter().any(|l| name.ends_with(&format!(".{l}")))
            {
                status(self, &text, Some(path), false);
            }
        }
        for (path, bytes) in &walk.meta {
            let Some(file) = path
                .strip_prefix("var/lib/dpkg/info/")
                .or_else(|| path.strip_prefix("var/lib/dpkg/status.d/"))
            else {
                continue;
            };
            let Some((stem, ext)) = file.rsplit_once('.').filter(|(_, e)| LISTS.contains(e)) else {
                continue;
            };
            // `libc6:amd64.list` for a Multi-Arch: same package.
            let name = stem.split(':').next().unwrap_or(stem);
            let Some(&i) = names.get(name) else {
                continue;
            };
            self.claim(path.clone(), i);
            let text = String::from_utf8_lossy(bytes);
            for line in text.lines() {
                let listed = match ext {
                    "md5sums" => line.split_once("  ").map(|(_, p)| p),
                    "list" | "conffiles" => Some(line),
                    _ => None,
                };
                if let Some(p) = listed.map(normalize).filter(|p| !p.is_empty() && p != ".") {
                    self.claim(canonical(walk, p), i);
                }
            }
        }
    }

    /// dpkg's own files of a package, `info/NAME.postinst` and the like, are the package's.
    fn dpkg_info(&mut self, walk: &Walk) {
        let names: BTreeMap<String, usize> = self
            .packages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.kind == "deb")
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        let info = "var/lib/dpkg/info";
        let found: Vec<(String, usize)> = walk
            .under(info)
            .filter_map(|(k, _)| {
                let (stem, _) = k[info.len() + 1..].rsplit_once('.')?;
                let name = stem.split(':').next().unwrap_or(stem);
                Some((k.clone(), *names.get(name)?))
            })
            .collect();
        for (path, i) in found {
            self.by_path.entry(path).or_insert(Claim::One(i));
        }
    }

    fn python(&mut self, walk: &Walk) {
        for (path, bytes) in &walk.meta {
            let Some(dist_info) = path.strip_suffix("/RECORD") else {
                continue;
            };
            let Some(meta) = walk.text(&format!("{dist_info}/METADATA")) else {
                continue;
            };
            let header = |key: &str| {
                meta.lines()
                    .take_while(|l| !l.is_empty())
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                    .map(|v| v.trim().to_owned())
            };
            let (Some(name), Some(version)) = (header("Name"), header("Version")) else {
                continue;
            };
            let i = self.add(Package {
                kind: "python",
                name,
                version,
            });
            let base = dist_info.rsplit_once('/').map_or("", |(d, _)| d);
            for line in String::from_utf8_lossy(bytes).lines() {
                if let Some(p) = record_path(line).and_then(|p| resolve(base, &p)) {
                    self.claim(canonical(walk, p), i);
                }
            }
        }
    }

    fn npm(&mut self, walk: &Walk) {
        let mut dirs: BTreeMap<String, usize> = BTreeMap::new();
        for (path, bytes) in &walk.meta {
            let Some(dir) = path.strip_suffix("/package.json") else {
                continue;
            };
            if npm_dir(path).as_deref() != Some(dir) {
                continue;
            }
            let json: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
            let (Some(name), Some(version)) = (json["name"].as_str(), json["version"].as_str())
            else {
                continue;
            };
            let i = self.add(Package {
                kind: "npm",
                name: name.to_owned(),
                version: version.to_owned(),
            });
            dirs.insert(dir.to_owned(), i);
        }
        if dirs.is_empty() {
            return;
        }
        for path in walk.tree.keys() {
            if self.by_path.contains_key(path) {
                continue;
            }
            if let Some(&i) = npm_dir(path).and_then(|d| dirs.get(&d)) {
                self.claim(path.clone(), i);
            }
        }
    }

    fn node_runtime(&mut self, walk: &Walk) {
        use distill_sbom::metadata::{IN_IMAGE_PATH, Metadata};
        let Some(bytes) = walk.meta.get(IN_IMAGE_PATH) else {
            return;
        };
        let mut meta = Metadata::default();
        meta.insert(0, IN_IMAGE_PATH, bytes.clone());
        let Some(version) = meta.components().into_iter().find_map(|(_, c)| match c {
            distill_core::Component::NodeRuntime { version, .. } => Some(version),
            _ => None,
        }) else {
            return;
        };
        let i = self.add(Package {
            kind: "node",
            name: "node".to_owned(),
            version,
        });
        let root = distill_core::NODE_BINARY
            .trim_start_matches('/')
            .trim_end_matches("/bin/node");
        let found: Vec<String> = walk
            .under(root)
            .map(|(k, _)| k.clone())
            .filter(|k| !self.by_path.contains_key(k))
            .collect();
        for p in found {
            self.claim(p, i);
        }
    }

    /// Bytecode compiled after installation (`D/__pycache__/m.cpython-313.pyc`, which no
    /// RECORD or md5sums lists) belongs to the owner of its source, `D/m.py`.
    fn bytecode(&mut self, walk: &Walk) {
        let found: Vec<(String, usize)> = walk
            .tree
            .keys()
            .filter(|p| p.ends_with(".pyc") && !self.by_path.contains_key(*p))
            .filter_map(|p| {
                let (dir, file) = p.rsplit_once("/__pycache__/")?;
                let module = file.split('.').next()?;
                Some((p.clone(), self.of(&format!("{dir}/{module}.py"))?))
            })
            .collect();
        for (p, i) in found {
            self.claim(p, i);
        }
    }

    /// Links, then directories, then links again: a link may lead to a directory that
    /// holds only links.
    fn links_and_dirs(&mut self, walk: &Walk) {
        self.links(walk);
        let mut dirs: BTreeMap<String, Claim> = BTreeMap::new();
        for (path, n) in &walk.tree {
            if n.kind == Kind::Dir {
                continue;
            }
            let Some(i) = self.of(path) else { continue };
            let mut at = path.as_str();
            while let Some((parent, _)) = at.rsplit_once('/') {
                let c = dirs.entry(parent.to_owned()).or_insert(Claim::One(i));
                if *c != Claim::One(i) {
                    *c = Claim::Shared;
                }
                at = parent;
            }
        }
        for (dir, c) in dirs {
            if let (Claim::One(i), true) = (c, walk.tree.contains_key(&dir)) {
                self.by_path.entry(dir).or_insert(Claim::One(i));
            }
        }
        self.links(walk);
    }

    fn links(&mut self, walk: &Walk) {
        let links: Vec<String> = walk
            .tree
            .iter()
            .filter(|(p, n)| n.kind == Kind::Symlink && !self.by_path.contains_key(*p))
            .map(|(p, _)| p.clone())
            .collect();
        for p in links {
            if let Some(i) = follow(walk, &p).and_then(|t| self.of(&t)) {
                self.claim(p, i);
            }
        }
    }
}

/// The dpkg records that list a package's paths.
const LISTS: [&str; 3] = ["list", "md5sums", "conffiles"];

/// `path` as the image has it: a package that ships `lib/x/libc.so.6` puts it at
/// `usr/lib/x/libc.so.6` in an image whose `/lib` links to `usr/lib` (merged /usr). Links
/// on the way are followed; the last component is kept as it is.
fn canonical(walk: &Walk, path: String) -> String {
    if walk.tree.contains_key(&path) {
        return path;
    }
    let mut at = String::new();
    let mut parts = path.split('/').peekable();
    while let Some(seg) = parts.next() {
        let mut next = join(&at, seg);
        if parts.peek().is_some() {
            for _ in 0..16 {
                let Some(n) = walk.tree.get(&next).filter(|n| n.kind == Kind::Symlink) else {
                    break;
                };
                match n.link.as_deref().and_then(|t| resolve(&at, t)) {
                    Some(t) => next = t,
                    None => return path,
                }
            }
        }
        at = next;
    }
    at
}

/// The first field of a RECORD line (CSV, maybe quoted).
fn record_path(line: &str) -> Option<String> {
    let line = line.trim_end();
    if let Some(rest) = line.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('"', Some('"')) => {
                    out.push('"');
                    chars.next();
                }
                ('"', _) => return Some(out),
                _ => out.push(c),
            }
        }
        return None;
    }
    line.split(',')
        .next()
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}

/// `rel` from `base`, `..` resolved; `None` when it climbs out of the root.
pub fn resolve(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = if rel.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|s| !s.is_empty()).collect()
    };
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Where a symlink leads within the image, through at most 16 links.
fn follow(walk: &Walk, path: &str) -> Option<String> {
    let mut at = path.to_owned();
    for _ in 0..16 {
        let n = walk.tree.get(&at)?;
        let Some(target) = n.link.as_deref().filter(|_| n.kind == Kind::Symlink) else {
            return Some(at);
        };
        let dir = at.rsplit_once('/').map_or("", |(d, _)| d);
        at = canonical(walk, resolve(dir, target)?);
    }
    None
}

/// The npm package directory a path lies in: the deepest `node_modules/NAME` (or
/// `node_modules/@SCOPE/NAME`) on the way to it.
fn npm_dir(path: &str) -> Option<String> {
    let at = path
        .rfind("/node_modules/")
        .map(|i| i + 1)
        .or_else(|| path.starts_with("node_modules/").then_some(0))?;
    let rest = &path[at + "node_modules/".len()..];
    let mut segs = rest.split('/');
    let first = segs
        .next()
        .filter(|s| !s.is_empty() && !s.starts_with('.'))?;
    let name = if first.starts_with('@') {
        join(first, segs.next()?)
    } else {
        first.to_owned()
    };
    Some(format!("{}node_modules/{name}", &path[..at]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_and_relative_paths() {
        assert_eq!(
            record_path("flask/app.py,sha256=x,12").unwrap(),
            "flask/app.py"
        );
        assert_eq!(record_path("\"a,b.py\",,").unwrap(), "a,b.py");
        assert_eq!(
            resolve("usr/lib/python3/dist-packages", "../../../bin/flask").unwrap(),
            "usr/bin/flask"
        );
        assert_eq!(resolve("a", "../../x"), None);
        assert_eq!(resolve("usr/lib", "/etc/x").unwrap(), "etc/x");
    }

    #[test]
    fn npm_directories_are_the_deepest_package() {
        assert_eq!(
            npm_dir("app/node_modules/a/node_modules/@s/b/lib/x.js").unwrap(),
            "app/node_modules/a/node_modules/@s/b"
        );
        assert_eq!(
            npm_dir("node_modules/a/index.js").unwrap(),
            "node_modules/a"
        );
        assert_eq!(npm_dir("app/index.js"), None);
        assert_eq!(npm_dir("app/node_modules/.bin/x"), None);
    }
}
