//! Two images compared, however they are stored: packages added, removed or changed in
//! version; files added, removed or changed (content, size, mode, owner, mtime, link
//! target, kind); config fields; and, when nothing of those differs but the digests do,
//! the layers. The first line of a difference is the first thing that differs: for two
//! builds of one config, what broke reproducibility.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::report::Inspection;
use crate::walk::Node;

/// A file's change: its path (with `/`), its owner, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub owner: Option<String>,
    /// `+`, `-` or `~`.
    pub sign: char,
    /// For `~`: `content`, `mode 0644 → 0755`, …
    pub what: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Diff {
    pub identical: bool,
    /// `+ deb:x 1`, `- deb:y 2`, `~ deb:z 1 → 2`.
    pub packages: Vec<String>,
    pub files: Vec<FileChange>,
    pub config: Vec<String>,
    pub layers: Vec<String>,
}

/// How `b` differs from `a`.
pub fn diff(a: &Inspection, b: &Inspection) -> Diff {
    if a.manifest == b.manifest {
        return Diff {
            identical: true,
            ..Diff::default()
        };
    }
    let mut d = Diff {
        packages: packages(a, b),
        files: files(a, b),
        config: config(&a.config, &b.config),
        ..Diff::default()
    };
    if d.packages.is_empty() && d.files.is_empty() && d.config.is_empty() {
        d.layers = layers(a, b);
    }
    d
}

fn packages(a: &Inspection, b: &Inspection) -> Vec<String> {
    let index = |i: &Inspection| -> BTreeMap<String, String> {
        i.owners
            .packages
            .iter()
            .map(|p| (p.key(), p.version.clone()))
            .collect()
    };
    let (pa, pb) = (index(a), index(b));
    let mut out = Vec::new();
    for (k, va) in &pa {
        match pb.get(k) {
            None => out.push(format!("- {k} {va}")),
            Some(vb) if vb != va => out.push(format!("~ {k} {va} → {vb}")),
            _ => {}
        }
    }
    for (k, vb) in &pb {
        if !pa.contains_key(k) {
            out.push(format!("+ {k} {vb}"));
        }
    }
    out
}

fn owner(i: &Inspection, path: &str) -> Option<String> {
    i.owners.of(path).map(|o| i.owners.packages[o].key())
}

fn files(a: &Inspection, b: &Inspection) -> Vec<FileChange> {
    let (ta, tb) = (&a.walk.tree, &b.walk.tree);
    let mut out = Vec::new();
    for (path, na) in ta {
        match tb.get(path) {
            None => out.push(FileChange {
                path: format!("/{path}"),
                owner: owner(a, path),
                sign: '-',
                what: Vec::new(),
            }),
            Some(nb) => {
                let what = changes(na, nb);
                if !what.is_empty() {
                    out.push(FileChange {
                        path: format!("/{path}"),
                        owner: owner(b, path).or_else(|| owner(a, path)),
                        sign: '~',
                        what,
                    });
                }
            }
        }
    }
    for path in tb.keys().filter(|p| !ta.contains_key(*p)) {
        out.push(FileChange {
            path: format!("/{path}"),
            owner: owner(b, path),
            sign: '+',
            what: Vec::new(),
        });
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    out
}

fn changes(a: &Node, b: &Node) -> Vec<String> {
    let mut w = Vec::new();
    if a.kind != b.kind {
        w.push(format!("kind {} → {}", a.kind.name(), b.kind.name()));
    }
    if a.digest != b.digest && a.digest.is_some() && b.digest.is_some() {
        w.push("content".to_owned());
    }
    if a.size != b.size {
        w.push(format!("size {} → {}", a.size, b.size));
    }
    if a.mode != b.mode {
        w.push(format!("mode {:04o} → {:04o}", a.mode, b.mode));
    }
    if (a.uid, a.gid) != (b.uid, b.gid) {
        w.push(format!("owner {}:{} → {}:{}", a.uid, a.gid, b.uid, b.gid));
    }
    if a.link != b.link {
        let show = |l: &Option<String>| l.clone().unwrap_or_else(|| "(none)".to_owned());
        w.push(format!("link {} → {}", show(&a.link), show(&b.link)));
    }
    if a.mtime != b.mtime {
        w.push(format!("mtime {} → {}", a.mtime, b.mtime));
    }
    w
}

/// The config fields that differ: the runtime config's, and the image's own
/// (`created`, `architecture`, `os`, …); `rootfs` is the layers, compared as files.
fn config(a: &Value, b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut fields = |prefix: &str, x: &Value, y: &Value, skip: &[&str]| {
        let keys: std::collections::BTreeSet<&String> = x
            .as_object()
            .into_iter()
            .chain(y.as_object())
            .flat_map(|m| m.keys())
            .collect();
        for k in keys {
            if skip.contains(&k.as_str()) || x[k] == y[k] {
                continue;
            }
            out.push(format!("~ {prefix}{k}: {} → {}", x[k], y[k]));
        }
    };
    fields("", a, b, &["config", "rootfs", "history"]);
    fields("config.", &a["config"], &b["config"], &[]);
    if a["history"] != b["history"] {
        out.push("~ history: the build steps recorded differ".to_owned());
    }
    out
}

fn layers(a: &Inspection, b: &Inspection) -> Vec<String> {
    let mut out = Vec::new();
    let n = a.layers.len().max(b.layers.len());
    for i in 0..n {
        match (a.layers.get(i), b.layers.get(i)) {
            (Some(x), Some(y)) if x.digest != y.digest => out.push(format!(
                "~ layer {}: {} → {} (the same files: its compression or tar headers differ)",
                i + 1,
                x.digest,
                y.digest
            )),
            (Some(x), None) => out.push(format!("- layer {}: {}", i + 1, x.digest)),
            (None, Some(y)) => out.push(format!("+ layer {}: {}", i + 1, y.digest)),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push(format!(
            "~ manifest: {} → {} (the same config and layers: its annotations or media types differ)",
            a.manifest, b.manifest
        ));
    }
    out
}

impl FileChange {
    fn line(&self) -> String {
        let owner = self
            .owner
            .as_deref()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default();
        if self.what.is_empty() {
            format!("{} {}{owner}", self.sign, self.path)
        } else {
            format!(
                "{} {}{owner}: {}",
                self.sign,
                self.path,
                self.what.join(", ")
            )
        }
    }
}

impl Diff {
    /// The first thing that differs, in the order packages, files, config, layers.
    pub fn first(&self) -> Option<String> {
        self.packages
            .first()
            .map(|p| format!("package {p}"))
            .or_else(|| self.files.first().map(|f| format!("file {}", f.line())))
            .or_else(|| self.config.first().map(|c| format!("config {c}")))
            .or_else(|| self.layers.first().cloned())
    }

    pub fn to_text(&self, a: &Inspection, b: &Inspection) -> String {
        if self.identical {
            return format!("identical: {}\n", a.manifest);
        }
        let mut o = format!(
            "first difference: {}\n{} → {}\n",
            self.first().unwrap_or_default(),
            a.manifest,
            b.manifest
        );
        let mut section = |name: &str, lines: Vec<String>| {
            if !lines.is_empty() {
                o += &format!("\n{name} ({})\n", lines.len());
                for l in lines {
                    o += &format!("  {l}\n");
                }
            }
        };
        section("packages", self.packages.clone());
        section("files", self.files.iter().map(FileChange::line).collect());
        section("config", self.config.clone());
        section("layers", self.layers.clone());
        o
    }

    pub fn to_json(&self, a: &Inspection, b: &Inspection) -> Value {
        json!({
            "schema": "distill.diff/v1",
            "a": a.manifest,
            "b": b.manifest,
            "identical": self.identical,
            "first_difference": self.first(),
            "packages": self.packages,
            "files": self.files.iter().map(|f| json!({
                "path": f.path, "change": f.sign.to_string(), "package": f.owner, "what": f.what,
            })).collect::<Vec<_>>(),
            "config": self.config,
            "layers": self.layers,
        })
    }
}
