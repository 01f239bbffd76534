//! What a reviewer of an image wants to know is wrong with it, and the `--fail-on` gates a
//! CI sets on it: a shell, a package manager, root, setuid and setgid files, world-writable
//! paths, private keys and `.env` files, and end-of-life runtimes and Debian releases (the
//! support table the build uses, [`distill_core::runtime`] and [`Release`]).

use std::str::FromStr;

use distill_core::Release;
use distill_core::runtime::{self, Runtime, YearMonth};

use crate::owners::Owners;
use crate::walk::{Kind, Walk};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    Root,
    Shell,
    PackageManager,
    Setuid,
    WorldWritable,
    Secrets,
    Eol,
}

impl Check {
    pub const ALL: [Check; 7] = [
        Check::Root,
        Check::Shell,
        Check::PackageManager,
        Check::Setuid,
        Check::WorldWritable,
        Check::Secrets,
        Check::Eol,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::Root => "root",
            Check::Shell => "shell",
            Check::PackageManager => "package-manager",
            Check::Setuid => "setuid",
            Check::WorldWritable => "world-writable",
            Check::Secrets => "secrets",
            Check::Eol => "eol",
        }
    }
}

/// One thing found, with the paths that show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub check: Check,
    pub message: String,
    pub paths: Vec<String>,
}

/// A `--fail-on` gate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gate {
    Finding(Check),
    /// Fails when the efficiency is below this.
    EfficiencyBelow(f64),
    /// Fails when the uncompressed size is above this many bytes.
    SizeAbove(u64),
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error(
    "Unknown --fail-on gate `{0}`: use root, shell, package-manager, setuid, world-writable, secrets, eol, efficiency<RATIO or size>SIZE"
)]
#[diagnostic(help(
    "use a comma-separated list of root, shell, package-manager, setuid, world-writable, secrets, eol, efficiency<0.9, size>100MB"
))]
pub struct BadGate(pub String);

impl FromStr for Gate {
    type Err = BadGate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadGate(s.to_owned());
        let t = s.trim();
        if let Some(v) = t.strip_prefix("efficiency<") {
            let f: f64 = v.trim().parse().map_err(|_| bad())?;
            return (0.0..=1.0)
                .contains(&f)
                .then_some(Gate::EfficiencyBelow(f))
                .ok_or_else(bad);
        }
        if let Some(v) = t.strip_prefix("size>") {
            return parse_size(v.trim()).map(Gate::SizeAbove).ok_or_else(bad);
        }
        Check::ALL
            .into_iter()
            .find(|c| c.name() == t)
            .map(Gate::Finding)
            .ok_or_else(bad)
    }
}

/// `100MB`, `1.5GiB`, `512kB`, `1000`: decimal and binary units, as `du` and docker write.
pub fn parse_size(s: &str) -> Option<u64> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1_048_576.0,
        "gib" => 1_073_741_824.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "busybox",
];
const MANAGERS: &[&str] = &[
    "dpkg", "apt", "apt-get", "pip", "pip3", "npm", "yarn", "pnpm", "apk", "rpm", "dnf", "yum",
    "microdnf",
];

/// The directories the FHS makes world-writable with the sticky bit, for everyone's
/// temporary files and locks.
const SHARED_DIRS: &[&str] = &["tmp", "var/tmp", "var/lock", "run/lock", "dev/shm"];

/// An executable's name when `path` is in a `bin` or `sbin` directory.
fn in_bin(path: &str) -> Option<&str> {
    let (dir, name) = path.rsplit_once('/')?;
    (dir == "bin" || dir == "sbin" || dir.ends_with("/bin") || dir.ends_with("/sbin"))
        .then_some(name)
}

/// Every finding about the image, in the order of [`Check`].
/// `annotations` are the manifest's, where distill names the runtime it installed.
pub fn find(
    walk: &Walk,
    owners: &Owners,
    config: &serde_json::Value,
    annotations: &serde_json::Value,
    now: u64,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let user = config["config"]["User"].as_str().unwrap_or_default();
    if runs_as_root(user, walk.text("etc/passwd")) {
        let shown = if user.is_empty() { "no user" } else { user };
        out.push(Finding {
            check: Check::Root,
            message: format!("runs as root ({shown} in the image config)"),
            paths: Vec::new(),
        });
    }
    let exe = |names: &[&str]| -> Vec<String> {
        walk.tree
            .iter()
            .filter(|(p, n)| n.kind != Kind::Dir && in_bin(p).is_some_and(|e| is_named(e, names)))
            .map(|(p, _)| format!("/{p}"))
            .collect()
    };
    push(&mut out, Check::Shell, "a shell", exe(SHELLS));
    let mut managers = exe(MANAGERS);
    managers.extend(
        owners
            .packages
            .iter()
            .filter(|p| {
                (p.kind == "python" && p.name == "pip") || (p.kind == "npm" && p.name == "npm")
            })
            .map(|p| format!("{} {} {}", p.kind, p.name, p.version)),
    );
    push(
        &mut out,
        Check::PackageManager,
        "a package manager",
        managers,
    );
    let setuid = walk
        .tree
        .iter()
        .filter(|(_, n)| n.kind == Kind::File && n.mode & 0o6000 != 0)
        .map(|(p, n)| format!("/{p} ({:04o})", n.mode))
        .collect();
    push(&mut out, Check::Setuid, "setuid or setgid files", setuid);
    let writable = walk
        .tree
        .iter()
        .filter(|(p, n)| {
            let sticky_tmp =
                n.kind == Kind::Dir && n.mode & 0o1000 != 0 && SHARED_DIRS.contains(&p.as_str());
            matches!(n.kind, Kind::File | Kind::Dir) && n.mode & 0o002 != 0 && !sticky_tmp
        })
        .map(|(p, n)| format!("/{p} ({:04o})", n.mode))
        .collect();
    push(
        &mut out,
        Check::WorldWritable,
        "world-writable paths",
        writable,
    );
    push(&mut out, Check::Secrets, "secrets", secrets(walk));
    out.extend(end_of_life(walk, owners, annotations, now));
    out
}

fn push(out: &mut Vec<Finding>, check: Check, what: &str, paths: Vec<String>) {
    if paths.is_empty() {
        return;
    }
    let shown: Vec<&str> = paths.iter().take(5).map(String::as_str).collect();
    let more = if paths.len() > 5 {
        format!(" and {} more", paths.len() - 5)
    } else {
        String::new()
    };
    out.push(Finding {
        check,
        message: format!("{what}: {}{more}", shown.join(", ")),
        paths,
    });
}

/// `sh`, or a versioned `pip3.11`.
fn is_named(exe: &str, names: &[&str]) -> bool {
    names.contains(&exe)
        || exe
            .strip_prefix("pip3.")
            .is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `user` (`NAME`, `UID`, `NAME:GROUP`, or empty) is root, by the image's passwd.
pub fn runs_as_root(user: &str, passwd: Option<&str>) -> bool {
    let name = user.split(':').next().unwrap_or_default();
    if name.is_empty() || name == "root" {
        return true;
    }
    if let Ok(uid) = name.parse::<u64>() {
        return uid == 0;
    }
    passwd.unwrap_or_default().lines().any(|l| {
        let mut f = l.split(':');
        f.next() == Some(name) && f.nth(1) == Some("0")
    })
}

/// Private keys in any layer (a key a later layer deletes is still in the image's bytes),
/// and `.env` files.
fn secrets(walk: &Walk) -> Vec<String> {
    let mut out = Vec::new();
    for s in &walk.secrets {
        let here = walk.tree.get(&s.path).is_some_and(|n| n.layer == s.layer);
        out.push(if here {
            format!("/{} (a private key)", s.path)
        } else {
            format!(
                "/{} (a private key, deleted later but still in layer {})",
                s.path,
                s.layer + 1
            )
        });
    }
    for (i, layer) in walk.layers.iter().enumerate() {
        for (path, _) in &layer.files {
            let name = path.rsplit('/').next().unwrap_or(path);
            let env = name == ".env"
                || name
                    .strip_prefix(".env.")
                    .is_some_and(|s| !["example", "sample", "template", "dist"].contains(&s));
            if env {
                let here = walk.tree.get(path).is_some_and(|n| n.layer == i);
                out.push(if here {
                    format!("/{path} (an environment file)")
                } else {
                    format!(
                        "/{path} (an environment file, deleted later but still in layer {})",
                        i + 1
                    )
                });
            }
        }
    }
    out
}

/// The runtimes an image ships, found from its files, packages and distill's annotation.
pub fn runtimes(walk: &Walk, owners: &Owners, annotations: &serde_json::Value) -> Vec<Runtime> {
    let mut found: Vec<Runtime> = Vec::new();
    let mut add = |r: Option<Runtime>| {
        if let Some(r) = r
            && !found.contains(&r)
        {
            found.push(r);
        }
    };
    if let Some(label) = annotations[runtime::ANNOTATION_RUNTIME].as_str()
        && let Some((name, version)) = label.split_once(' ')
    {
        add(runtime::find(name, version));
    }
    for (path, n) in &walk.tree {
        let name = in_bin(path).filter(|_| n.kind != Kind::Dir);
        if let Some(v) = name
            .and_then(|e| e.strip_prefix("python"))
            .filter(|v| v.contains('.'))
        {
            add(runtime::find("python", v));
        }
        if let Some(jdk) = path.strip_prefix("usr/lib/jvm/java-")
            && !jdk.contains('/')
            && let Some(v) = jdk.split('-').next()
        {
            add(runtime::find("java", v));
        }
    }
    for p in &owners.packages {
        if p.kind == "deb" && p.name == "nodejs" {
            let major = p
                .version
                .split([':', '.'])
                .find(|s| !s.is_empty() && s.len() < 4);
            add(major.and_then(|m| runtime::find("node", m)));
        }
    }
    for p in owners.packages.iter().filter(|p| p.kind == "node") {
        let major = p.version.trim_start_matches('v').split('.').next();
        add(major.and_then(|m| runtime::find("node", m)));
    }
    found
}

/// The Debian release the image's os-release names.
pub fn debian(walk: &Walk) -> Option<Release> {
    let text = walk
        .text("etc/os-release")
        .or_else(|| walk.text("usr/lib/os-release"))?;
    distill_sbom::metadata::debian_version(text)?.parse().ok()
}

fn end_of_life(
    walk: &Walk,
    owners: &Owners,
    annotations: &serde_json::Value,
    now: u64,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let eol = |message: String| Finding {
        check: Check::Eol,
        message,
        paths: Vec::new(),
    };
    if let Some(r) = debian(walk) {
        let (sec, lts): (YearMonth, YearMonth) = (r.security_until(), r.lts_until());
        if lts.is_past(now) {
            out.push(eol(format!("{r} reached its end of life in {lts}")));
        } else if sec.is_past(now) {
            out.push(eol(format!(
                "{r} is past Debian's security support since {sec}, in LTS until {lts}"
            )));
        }
    }
    for r in runtimes(walk, owners, annotations) {
        if r.eol.is_past(now) {
            out.push(eol(format!(
                "{} {} reached its upstream end of life in {}",
                r.name, r.version, r.eol
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_parse_and_bad_ones_are_named() {
        assert_eq!("root".parse::<Gate>().unwrap(), Gate::Finding(Check::Root));
        assert_eq!(
            "efficiency<0.9".parse::<Gate>().unwrap(),
            Gate::EfficiencyBelow(0.9)
        );
        assert_eq!(
            "size>100MB".parse::<Gate>().unwrap(),
            Gate::SizeAbove(100_000_000)
        );
        assert_eq!(parse_size("1.5GiB"), Some(1_610_612_736));
        assert!("efficiency<2".parse::<Gate>().is_err());
        assert!("size>10XB".parse::<Gate>().is_err());
        assert_eq!("rooot".parse::<Gate>().unwrap_err().0, "rooot");
    }

    #[test]
    fn root_is_read_through_the_image_passwd() {
        assert!(runs_as_root("", None));
        assert!(runs_as_root("0:0", None));
        assert!(!runs_as_root("65532", None));
        let passwd = "root:x:0:0::/root:/sbin/nologin\ntoor:x:0:0::/:/x\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n";
        assert!(runs_as_root("toor", Some(passwd)));
        assert!(!runs_as_root("nonroot:nonroot", Some(passwd)));
    }
}
