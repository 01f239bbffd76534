//! One image's inspection: bytes by layer and by package, the largest files, what the
//! image runs, its findings and its wasted bytes; written as text for people and as the
//! stable JSON of `docs/inspect.md` (`"schema": "distill.inspect/v1"`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::findings::{self, Finding, Gate};
use crate::owners::{Owners, Package};
use crate::walk::{Kind, Walk};

/// How many of the largest files a report lists.
pub const LARGEST: usize = 20;
/// How many paths of "not from any package" the JSON lists (its package share counts them
/// all): an image of a million loose files would otherwise make a report of gigabytes.
pub const UNOWNED_LISTED: usize = 10_000;

/// A package's share of the image.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// `None` for "not from any package".
    pub package: Option<Package>,
    pub bytes: u64,
    pub files: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayerReport {
    pub digest: String,
    pub compressed: u64,
    pub tar_bytes: u64,
    /// Tar entries, whiteouts included.
    pub entries: usize,
    /// Bytes of regular files in the layer.
    pub bytes: u64,
    pub created_by: String,
    /// Largest first; "not from any package" included.
    pub shares: Vec<Share>,
}

/// What `distill inspect` reports.
#[derive(Debug)]
pub struct Inspection {
    pub source: String,
    pub manifest: String,
    pub platform: String,
    /// The image config, as the image has it.
    pub config: Value,
    pub layers: Vec<LayerReport>,
    /// Of the final filesystem, largest first.
    pub packages: Vec<Share>,
    /// Files and symlinks of the final filesystem that no package owns, with their sizes.
    pub unowned: Vec<(String, u64)>,
    /// Path, size, owner.
    pub largest: Vec<(String, u64, Option<String>)>,
    pub findings: Vec<Finding>,
    pub wasted: u64,
    pub efficiency: f64,
    /// Paths whose bytes appear more than once, most wasted first.
    pub wasted_paths: Vec<(String, u64)>,
    /// Uncompressed size: the sum of the layer tars.
    pub size: u64,
    /// The final filesystem, kept for a diff.
    pub walk: Walk,
    pub owners: Owners,
}

impl Inspection {
    pub(crate) fn new(
        source: String,
        (manifest, platform): (String, String),
        config: Value,
        annotations: &Value,
        walk: Walk,
        now: u64,
    ) -> Self {
        let owners = Owners::read(&walk);
        let history = distill_sbom::scan::history(&config);
        let layers = walk
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| LayerReport {
                digest: l.digest.clone(),
                compressed: l.compressed,
                tar_bytes: l.tar_bytes,
                entries: l.entries,
                bytes: l.files.iter().map(|(_, s)| s).sum(),
                created_by: history.get(i).cloned().unwrap_or_default(),
                shares: shares(&owners, l.files.iter().map(|(p, s)| (p.as_str(), *s))),
            })
            .collect();
        let final_files = walk
            .tree
            .iter()
            .filter(|(_, n)| n.kind == Kind::File)
            .map(|(p, n)| (p.as_str(), n.size));
        let packages = shares(&owners, final_files);
        let unowned = walk
            .tree
            .iter()
            .filter(|(p, n)| n.kind != Kind::Dir && owners.of(p).is_none())
            .map(|(p, n)| (format!("/{p}"), n.size))
            .collect();
        let mut largest: Vec<(String, u64, Option<String>)> = walk
            .tree
            .iter()
            .filter(|(_, n)| n.kind == Kind::File)
            .map(|(p, n)| {
                let owner = owners.of(p).map(|i| owners.packages[i].key());
                (format!("/{p}"), n.size, owner)
            })
            .collect();
        largest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        largest.truncate(LARGEST);
        let (wasted, efficiency, wasted_paths) = efficiency(&walk);
        let findings = findings::find(&walk, &owners, &config, annotations, now);
        let size = walk.layers.iter().map(|l| l.tar_bytes).sum();
        Self {
            source,
            manifest,
            platform,
            config,
            layers,
            packages,
            unowned,
            largest,
            findings,
            wasted,
            efficiency,
            wasted_paths,
            size,
            walk,
            owners,
        }
    }

    /// The accounts of the image's `/etc/passwd`: name, uid, gid, home, shell.
    pub fn accounts(&self) -> Vec<[String; 5]> {
        self.walk
            .text("etc/passwd")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() == 7).then(|| [f[0], f[2], f[3], f[5], f[6]].map(str::to_owned))
            })
            .collect()
    }

    /// The user it runs as, with the account's name or uid from `/etc/passwd`:
    /// `65532 (nonroot)`, `(root)` when none is set.
    pub fn user(&self) -> String {
        let user = self.config["config"]["User"].as_str().unwrap_or_default();
        if user.is_empty() {
            return "(root)".to_owned();
        }
        let name = user.split(':').next().unwrap_or_default();
        self.accounts()
            .into_iter()
            .find(|a| a[0] == name || a[1] == name)
            .map(|a| {
                if a[1] == name {
                    format!("{user} ({})", a[0])
                } else {
                    format!("{user} (uid {})", a[1])
                }
            })
            .unwrap_or_else(|| user.to_owned())
    }

    /// The gates of `gates` that fail, one line each.
    pub fn failing(&self, gates: &[Gate]) -> Vec<String> {
        let mut out = Vec::new();
        for g in gates {
            match *g {
                Gate::Finding(c) => out.extend(
                    self.findings
                        .iter()
                        .filter(|f| f.check == c)
                        .map(|f| format!("{}: {}", c.name(), f.message)),
                ),
                Gate::EfficiencyBelow(min) if self.efficiency < min => out.push(format!(
                    "efficiency: {:.4} is below {min} ({} wasted)",
                    self.efficiency,
                    human(self.wasted)
                )),
                Gate::SizeAbove(max) if self.size > max => out.push(format!(
                    "size: {} is above {}",
                    human(self.size),
                    human(max)
                )),
                _ => {}
            }
        }
        out
    }
}

/// Bytes and file counts per owner of `files`, largest first.
fn shares<'a>(owners: &Owners, files: impl Iterator<Item = (&'a str, u64)>) -> Vec<Share> {
    let mut by: BTreeMap<Option<usize>, (u64, usize)> = BTreeMap::new();
    for (path, size) in files {
        let e = by.entry(owners.of(path)).or_default();
        e.0 += size;
        e.1 += 1;
    }
    let mut out: Vec<Share> = by
        .into_iter()
        .map(|(i, (bytes, files))| Share {
            package: i.map(|i| owners.packages[i].clone()),
            bytes,
            files,
        })
        .collect();
    out.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.package.cmp(&b.package))
    });
    out
}

/// dive's score: over paths, the smallest size a path has divided by the sum of its size
/// in every layer where it appears (a removal appears with size 0); wasted bytes are the
/// difference. An image without files is fully efficient.
fn efficiency(walk: &Walk) -> (u64, f64, Vec<(String, u64)>) {
    let (mut least, mut all) = (0u64, 0u64);
    let mut paths = Vec::new();
    for (path, sizes) in &walk.appearances {
        let min = sizes.iter().copied().min().unwrap_or(0);
        let sum: u64 = sizes.iter().sum();
        least += min;
        all += sum;
        if sizes.len() > 1 && sum > min {
            paths.push((format!("/{path}"), sum - min));
        }
    }
    paths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let eff = if all == 0 {
        1.0
    } else {
        least as f64 / all as f64
    };
    (all - least, eff, paths)
}

/// `12.3 MB`, decimal as registries and `docker images` show sizes.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn share_json(s: &Share) -> Value {
    match &s.package {
        Some(p) => json!({"package": p.key(), "kind": p.kind, "name": p.name,
            "version": p.version, "bytes": s.bytes, "files": s.files}),
        None => json!({"package": null, "bytes": s.bytes, "files": s.files}),
    }
}

impl Inspection {
    /// The stable JSON report (`docs/inspect.md`).
    pub fn to_json(&self) -> Value {
        let c = &self.config["config"];
        json!({
            "schema": "distill.inspect/v1",
            "source": self.source,
            "manifest": self.manifest,
            "platform": self.platform,
            "size": self.size,
            "compressed": self.layers.iter().map(|l| l.compressed).sum::<u64>(),
            "config": {
                "user": c["User"].as_str().unwrap_or_default(),
                "accounts": self.accounts().iter().map(|a| json!({"name": a[0],
                    "uid": a[1].parse::<u64>().ok(), "gid": a[2].parse::<u64>().ok(),
                    "home": a[3], "shell": a[4]})).collect::<Vec<_>>(),
                "entrypoint": c["Entrypoint"],
                "cmd": c["Cmd"],
                "env": c["Env"],
                "workdir": c["WorkingDir"].as_str().unwrap_or_default(),
                "ports": c["ExposedPorts"].as_object()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default(),
                "labels": c["Labels"],
                "created": self.config["created"],
            },
            "layers": self.layers.iter().map(|l| json!({
                "digest": l.digest, "compressed": l.compressed, "tar_bytes": l.tar_bytes, "entries": l.entries,
                "bytes": l.bytes, "created_by": l.created_by,
                "packages": l.shares.iter().map(share_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "packages": self.packages.iter().map(share_json).collect::<Vec<_>>(),
            "unowned": self.unowned.iter().take(UNOWNED_LISTED)
                .map(|(p, s)| json!({"path": p, "bytes": s})).collect::<Vec<_>>(),
            "unowned_truncated": self.unowned.len() > UNOWNED_LISTED,
            "largest": self.largest.iter()
                .map(|(p, s, o)| json!({"path": p, "bytes": s, "package": o}))
                .collect::<Vec<_>>(),
            "findings": self.findings.iter()
                .map(|f| json!({"check": f.check.name(), "message": f.message, "paths": f.paths}))
                .collect::<Vec<_>>(),
            "efficiency": self.efficiency,
            "wasted": self.wasted,
            "wasted_paths": self.wasted_paths.iter().take(LARGEST)
                .map(|(p, s)| json!({"path": p, "bytes": s})).collect::<Vec<_>>(),
        })
    }

    /// The report for a terminal.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let compressed: u64 = self.layers.iter().map(|l| l.compressed).sum();
        o += &format!(
            "{} {}\n  {} {}, {} layers, {} uncompressed, {} compressed\n",
            self.source,
            self.platform,
            self.manifest,
            self.config["created"].as_str().unwrap_or("(no date)"),
            self.layers.len(),
            human(self.size),
            human(compressed)
        );
        let c = &self.config["config"];
        o += &format!("\nruns\n  user        {}\n", self.user());
        for (k, name) in [("Entrypoint", "entrypoint"), ("Cmd", "cmd")] {
            o += &format!("  {name:<11} {}\n", compact(&c[k]));
        }
        o += &format!(
            "  workdir     {}\n",
            c["WorkingDir"].as_str().unwrap_or("/")
        );
        for e in c["Env"].as_array().into_iter().flatten() {
            o += &format!("  env         {}\n", e.as_str().unwrap_or_default());
        }
        for p in c["ExposedPorts"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
        {
            o += &format!("  port        {p}\n");
        }
        for (k, v) in c["Labels"].as_object().into_iter().flatten() {
            o += &format!("  label       {k}={}\n", v.as_str().unwrap_or_default());
        }
        let accounts: Vec<String> = self
            .accounts()
            .iter()
            .map(|a| format!("{}={}", a[0], a[1]))
            .collect();
        if !accounts.is_empty() {
            o += &format!("  accounts    {}\n", accounts.join(" "));
        }
        o += "\nlayers\n";
        for (i, l) in self.layers.iter().enumerate() {
            let short = l.digest.get(7..19).unwrap_or(&l.digest);
            let pkgs = l.shares.iter().filter(|s| s.package.is_some()).count();
            o += &format!(
                "  {:>2}  {short}  {:>9}  {pkgs:>4} packages  {}\n",
                i + 1,
                human(l.bytes),
                l.created_by
            );
        }
        o += &format!(
            "\npackages ({} in the image, largest first)\n",
            self.owners.packages.len()
        );
        for s in self.packages.iter().take(30) {
            let name = match &s.package {
                Some(p) => format!("{} {}", p.key(), p.version),
                None => "(not from any package)".to_owned(),
            };
            o += &format!("  {:>9}  {:>6} files  {name}\n", human(s.bytes), s.files);
        }
        if self.packages.len() > 30 {
            o += &format!("  … {} more with --json\n", self.packages.len() - 30);
        }
        o += "\nlargest files\n";
        for (p, s, owner) in &self.largest {
            o += &format!(
                "  {:>9}  {p}  {}\n",
                human(*s),
                owner.as_deref().unwrap_or("-")
            );
        }
        o += &format!(
            "\nefficiency {:.2} %, {} wasted\n",
            self.efficiency * 100.0,
            human(self.wasted)
        );
        o += "\nfindings\n";
        if self.findings.is_empty() {
            o += "  none\n";
        }
        for f in &self.findings {
            o += &format!("  {:<16} {}\n", f.check.name(), f.message);
        }
        o
    }
}

fn compact(v: &Value) -> String {
    if v.is_null() {
        "(none)".to_owned()
    } else {
        v.to_string()
    }
}
