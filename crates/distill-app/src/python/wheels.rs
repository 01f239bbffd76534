//! Wheels: which tags fit the image (PEP 425, PEP 600 manylinux), what an installed
//! distribution is (its `.dist-info`, PEP 427 `WHEEL` and core metadata), and which file of a
//! PEP 751 `pylock.toml` it was installed from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use distill_core::{Arch, Component, Release};

use super::types::PythonError;

/// The image's interpreter and platform, as an installer must target them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tags {
    /// `(3, 13)`.
    pub python: (u32, u32),
    /// The image's glibc, `(2, 41)`.
    pub glibc: (u32, u32),
    pub arch: Arch,
}

impl Tags {
    pub fn new(release: Release, arch: Arch) -> Self {
        Self {
            python: release.python(),
            glibc: release.glibc(),
            arch,
        }
    }

    /// uv's `--python-platform`: uv knows manylinux levels up to 2.40.
    pub(crate) fn uv_platform(&self) -> String {
        format!(
            "{}-manylinux_2_{}",
            self.arch.machine(),
            self.glibc.1.min(40)
        )
    }

    pub(crate) fn python_text(&self) -> String {
        format!("{}.{}", self.python.0, self.python.1)
    }

    /// Whether a wheel tag (`cp313-cp313-manylinux_2_17_x86_64`) fits.
    pub fn accepts(&self, tag: &str) -> bool {
        let mut parts = tag.split('-');
        let (Some(py), Some(abi), Some(plat)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let cp = format!("cp{}{}", self.python.0, self.python.1);
        let py_ok = py.split('.').any(|p| {
            p == "py3"
                || p == format!("py{}{}", self.python.0, self.python.1)
                || p == cp
                || (p.starts_with("cp3") && abi == "abi3")
        });
        let abi_ok = abi
            .split('.')
            .any(|a| a == "none" || a == "abi3" || a == cp);
        let machine = self.arch.machine();
        let plat_ok = plat.split('.').any(|p| {
            if p == "any" {
                return true;
            }
            let Some(rest) = p.strip_suffix(&format!("_{machine}")) else {
                return false;
            };
            match rest {
                "manylinux1" | "manylinux2010" | "manylinux2014" => true,
                r => r
                    .strip_prefix("manylinux_")
                    .and_then(|v| v.split_once('_'))
                    .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
                    .is_some_and(|v| v <= self.glibc),
            }
        });
        py_ok && abi_ok && plat_ok
    }
}

/// An installed distribution, from its `.dist-info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    pub name: String,
    pub version: String,
    /// `WHEEL`'s `Tag:` lines; empty for a distribution installed without one.
    pub tags: BTreeSet<String>,
    pub info: PathBuf,
}

fn read(path: &Path) -> Result<String, PythonError> {
    std::fs::read_to_string(path).map_err(|source| PythonError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every distribution installed in `site`, by name.
pub fn installed(site: &Path) -> Result<Vec<Dist>, PythonError> {
    let mut infos: Vec<PathBuf> = std::fs::read_dir(site)
        .map_err(|source| PythonError::Read {
            path: site.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dist-info"))
        .collect();
    infos.sort();
    let mut out = Vec::new();
    for info in infos {
        let metadata = read(&info.join("METADATA"))?;
        let field = |k: &str| {
            metadata
                .lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let wheel = info.join("WHEEL");
        let tags = if wheel.is_file() {
            read(&wheel)?
                .lines()
                .filter_map(|l| l.strip_prefix("Tag:"))
                .map(|t| t.trim().to_owned())
                .collect()
        } else {
            BTreeSet::new()
        };
        out.push(Dist {
            name: field("Name:"),
            version: field("Version:"),
            tags,
            info,
        });
    }
    Ok(out)
}

/// Every installed distribution's `WHEEL` tags must fit the image. The distributions
/// distill `built` from source in the image release's own root may carry the plain
/// `linux_MACHINE` tag of this machine's build: they were compiled against the image's
/// Python and glibc.
pub fn check(site: &Path, tags: &Tags, built: &[String]) -> Result<(), PythonError> {
    let local = format!("linux_{}", tags.arch.machine());
    for dist in installed(site)? {
        let ours = built.iter().any(|b| normalize(b) == normalize(&dist.name));
        let fits = |t: &String| {
            tags.accepts(t)
                || (ours && {
                    let cp = format!("cp{}{}", tags.python.0, tags.python.1);
                    let mut parts = t.split('-');
                    parts.next() == Some(cp.as_str())
                        && matches!(parts.next(), Some(a) if a == cp || a == "abi3")
                        && parts.next() == Some(local.as_str())
                })
        };
        if !dist.tags.is_empty() && !dist.tags.iter().any(fits) {
            return Err(PythonError::NeedsCompiler {
                dist: format!("{}-{}", dist.name, dist.version),
                python: tags.python_text(),
                platform: tags.uv_platform(),
                tag: dist.tags.into_iter().collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(())
}

use distill_core::inventory::python_name as normalize;

/// The tags a wheel's file name stands for: `py2.py3-none-any` is two.
fn filename_tags(file: &str) -> BTreeSet<String> {
    let stem = file.strip_suffix(".whl").unwrap_or(file);
    let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
    let [plat, abi, py, ..] = parts.as_slice() else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for p in py.split('.') {
        for a in abi.split('.') {
            for pl in plat.split('.') {
                out.insert(format!("{p}-{a}-{pl}"));
            }
        }
    }
    out
}

/// The file a distribution was installed from, among those `pylock` lists for it: the wheel
/// whose tags are the installed `WHEEL`'s, else the source distribution.
pub fn components(dists: &[Dist], pylock: &str) -> Result<Vec<Component>, PythonError> {
    let lock: toml::Table = toml::from_str(pylock).map_err(|e| PythonError::Pyproject {
        path: "pylock.toml".into(),
        why: e.message().to_owned(),
    })?;
    let packages = lock
        .get("packages")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    let file_of = |v: &toml::Value| -> Option<(String, String)> {
        let url = v.get("url")?.as_str()?;
        let name = url.rsplit('/').next()?.split(['#', '?']).next()?.to_owned();
        let sha = v.get("hashes")?.get("sha256")?.as_str()?.to_owned();
        Some((name, sha))
    };
    let mut out = Vec::new();
    for dist in dists {
        let pkg = packages.iter().find(|p| {
            p.get("name")
                .and_then(|n| n.as_str())
                .is_some_and(|n| normalize(n) == normalize(&dist.name))
        });
        let version = pkg
            .and_then(|p| p.get("version"))
            .and_then(|v| v.as_str())
            .unwrap_or("none");
        let Some(pkg) = pkg.filter(|_| version == dist.version) else {
            return Err(PythonError::Inventory {
                dist: dist.name.clone(),
                version: dist.version.clone(),
                found: version.to_owned(),
            });
        };
        let wheels: Vec<(String, String)> = pkg
            .get("wheels")
            .and_then(|w| w.as_array())
            .map(|w| w.iter().filter_map(file_of).collect())
            .unwrap_or_default();
        let chosen = wheels
            .into_iter()
            .find(|(name, _)| !dist.tags.is_empty() && filename_tags(name) == dist.tags)
            .or_else(|| pkg.get("sdist").and_then(file_of));
        let Some((file, sha256)) = chosen else {
            return Err(PythonError::Inventory {
                dist: dist.name.clone(),
                version: dist.version.clone(),
                found: "no file of that version for these tags".into(),
            });
        };
        out.push(Component::Python {
            name: dist.name.clone(),
            version: dist.version.clone(),
            file,
            sha256,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t313() -> Tags {
        Tags::new(Release::Trixie, Arch::Amd64)
    }

    #[test]
    fn wheel_tags() {
        let t = t313();
        for ok in [
            "py3-none-any",
            "py2.py3-none-any",
            "cp313-cp313-manylinux_2_17_x86_64",
            "cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64",
            "cp39-abi3-manylinux_2_28_x86_64",
            "cp313-cp313-manylinux_2_41_x86_64",
        ] {
            assert!(t.accepts(ok), "{ok}");
        }
        for bad in [
            "cp311-cp311-linux_x86_64",
            "cp313-cp313-linux_x86_64",
            "cp311-cp311-manylinux_2_17_x86_64",
            "cp313-cp313-manylinux_2_42_x86_64",
            "cp313-cp313-manylinux_2_17_aarch64",
            "cp313-cp313-musllinux_1_2_x86_64",
            "cp313-cp313-win_amd64",
            "garbage",
        ] {
            assert!(!t.accepts(bad), "{bad}");
        }
        let arm = Tags::new(Release::Trixie, Arch::Arm64);
        assert!(arm.accepts("cp313-cp313-manylinux_2_17_aarch64"));
        assert_eq!(arm.uv_platform(), "aarch64-manylinux_2_40");
        assert_eq!(
            Tags::new(Release::Bookworm, Arch::Amd64).python_text(),
            "3.11"
        );
    }

    #[test]
    fn the_installed_wheel_is_found_in_the_pylock() {
        let site = tempfile::tempdir().unwrap();
        let info = site.path().join("MarkupSafe-3.0.2.dist-info");
        std::fs::create_dir(&info).unwrap();
        std::fs::write(
            info.join("METADATA"),
            "Metadata-Version: 2.1\nName: MarkupSafe\nVersion: 3.0.2\n\nBody: x\n",
        )
        .unwrap();
        std::fs::write(
            info.join("WHEEL"),
            "Wheel-Version: 1.0\nTag: cp313-cp313-manylinux_2_17_x86_64\nTag: cp313-cp313-manylinux2014_x86_64\n",
        )
        .unwrap();
        let dists = installed(site.path()).unwrap();
        assert_eq!(
            (dists[0].name.as_str(), dists[0].version.as_str()),
            ("MarkupSafe", "3.0.2")
        );
        let lock = r#"
lock-version = "1.0"
[[packages]]
name = "markupsafe"
version = "3.0.2"
sdist = { url = "https://files.example/markupsafe-3.0.2.tar.gz", hashes = { sha256 = "aa" } }
wheels = [
  { url = "https://files.example/MarkupSafe-3.0.2-cp313-cp313-musllinux_1_2_x86_64.whl", hashes = { sha256 = "bb" } },
  { url = "https://files.example/MarkupSafe-3.0.2-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", hashes = { sha256 = "cc" } },
]
"#;
        assert_eq!(
            components(&dists, lock).unwrap(),
            [Component::Python {
                name: "MarkupSafe".into(),
                version: "3.0.2".into(),
                file: "MarkupSafe-3.0.2-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
                    .into(),
                sha256: "cc".into(),
            }]
        );
        let other = lock.replace("version = \"3.0.2\"", "version = \"3.0.3\"");
        assert!(matches!(
            components(&dists, &other),
            Err(PythonError::Inventory { .. })
        ));
    }
}
