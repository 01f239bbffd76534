//! Issue #3, acceptance 2: the resolved set equals apt's own answer on bookworm and trixie.
//! apt runs in a private directory, against the same mirror, with an empty dpkg status:
//! `apt-get -s install --no-install-recommends PKG`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use distill_apt::debian::Release;

/// An apt configuration of its own for `release` (amd64, main, base + updates + security).
struct Apt {
    dir: tempfile::TempDir,
}

impl Apt {
    fn new(release: Release) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["lists/partial", "cache/archives/partial", "parts", "prefs"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("status"), "").unwrap();
        let m = crate::common::mirrors();
        let c = release.codename();
        let key = "/usr/share/keyrings/debian-archive-keyring.gpg";
        std::fs::write(
            d.join("sources.list"),
            format!(
                "deb [arch=amd64 signed-by={key}] {0} {c} main\ndeb [arch=amd64 signed-by={key}] {0} {c}-updates main\ndeb [arch=amd64 signed-by={key}] {1} {c}-security main\n",
                m.debian, m.security
            ),
        )
        .unwrap();
        let apt = Self { dir };
        let out = apt.cmd("apt-get").arg("update").output().unwrap();
        assert!(
            out.status.success(),
            "apt-get update: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        apt
    }

    fn cmd(&self, tool: &str) -> Command {
        let d: &Path = self.dir.path();
        let mut c = Command::new(tool);
        for (k, v) in [
            ("Dir::Etc::SourceList", d.join("sources.list")),
            ("Dir::Etc::SourceParts", d.join("parts")),
            ("Dir::Etc::Preferences", d.join("prefs/none")),
            ("Dir::Etc::PreferencesParts", d.join("prefs")),
            ("Dir::State::Lists", d.join("lists")),
            ("Dir::State::status", d.join("status")),
            ("Dir::Cache", d.join("cache")),
        ] {
            c.arg("-o").arg(format!("{k}={}", v.display()));
        }
        c.args([
            "-o",
            "APT::Architecture=amd64",
            "-o",
            "APT::Architectures=amd64",
            "-o",
            "Acquire::Languages=none",
            "-o",
            "Debug::NoLocking=1",
            "-qq",
        ]);
        c
    }

    /// `name version` of every package apt would install for `pkg`.
    fn install_set(&self, pkg: &str) -> BTreeSet<String> {
        let out = self
            .cmd("apt-get")
            .args(["-s", "install", "--no-install-recommends", pkg])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "apt-get -s install {pkg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("Inst "))
            .map(|l| {
                let mut w = l.split_whitespace();
                let name = w.next().unwrap();
                let version = w.next().unwrap().trim_start_matches('(');
                format!("{name} {version}")
            })
            .collect()
    }
}

fn check(release: Release, packages: &[&str]) {
    let apt = Apt::new(release);
    let universe = crate::common::universe(release, distill_core::Arch::Amd64);
    let mut failures = Vec::new();
    for pkg in packages {
        let want = apt.install_set(pkg);
        let got: BTreeSet<String> = universe
            .resolve(&[pkg.to_string()])
            .unwrap()
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        assert!(!want.is_empty(), "apt installs nothing for {pkg}");
        if got != want {
            failures.push(format!(
                "{pkg}: only distill {:?}, only apt {:?}",
                got.difference(&want).collect::<Vec<_>>(),
                want.difference(&got).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        release.codename(),
        failures.join("\n")
    );
}

#[test]
fn resolution_equals_apt_on_bookworm() {
    check(
        Release::Bookworm,
        &[
            "python3",
            "nodejs",
            "openjdk-17-jre-headless",
            "curl",
            "git",
            "libpq5",
            "ca-certificates",
            "tzdata",
            "libssl3",
            "busybox-static",
        ],
    );
}

#[test]
fn resolution_equals_apt_on_trixie() {
    check(
        Release::Trixie,
        &[
            "python3",
            "nodejs",
            "openjdk-21-jre-headless",
            "curl",
            "git",
            "libpq5",
            "ca-certificates",
            "tzdata",
            "libssl3t64",
            "busybox-static",
        ],
    );
}
