//! The package managers distill runs for Yarn, pnpm and Bun projects, fetched from the npm
//! registry at the version [`super::manager`] chose, into distill's cache, never globally.
//!
//! Each is one npm package: `yarn` (Yarn 1), `@yarnpkg/cli-dist` (Yarn 2+), `pnpm`, and
//! Bun's build for the host (`@oven/bun-linux-x64-baseline`, which runs on every x86-64, or
//! `@oven/bun-linux-aarch64`). `npm pack` downloads the tarball from the host's registry
//! and checks it against the registry's integrity hash. When `packageManager` carries
//! Corepack's hash, the tarball or the tool's entry file must have it: Corepack hashes the
//! tarball for pnpm and Yarn 1, and the single `yarn.js` for Yarn 2+. The tarball is
//! unpacked by distill, refusing anything outside `package/` or other than files and
//! directories, into a directory renamed into place, so a second build never sees half.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::Digest;

use super::manager::{Chosen, Manager};
use super::types::NodeAppError;

/// The most a package manager's tarball unpacks to (Bun is about 100 MiB).
const MAX_UNPACKED: u64 = 512 << 20;

/// A package manager ready to run: `program` with `args` before its own arguments.
#[derive(Debug, Clone)]
pub struct Tool {
    pub program: PathBuf,
    pub args: Vec<PathBuf>,
    /// `pnpm@10.34.8`, for messages.
    pub spec: String,
}

impl Tool {
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        c
    }
}

/// The npm package and the entry file inside it, for `manager` on this host.
fn package(manager: Manager) -> (&'static str, &'static str) {
    match manager {
        Manager::Npm => ("npm", "bin/npm-cli.js"),
        Manager::Yarn1 => ("yarn", "bin/yarn.js"),
        Manager::Yarn => ("@yarnpkg/cli-dist", "bin/yarn.js"),
        Manager::Pnpm => ("pnpm", "bin/pnpm.cjs"),
        Manager::Bun if std::env::consts::ARCH == "aarch64" => {
            ("@oven/bun-linux-aarch64", "bin/bun")
        }
        Manager::Bun => ("@oven/bun-linux-x64-baseline", "bin/bun"),
    }
}

/// The chosen manager, from `cache` (distill's cache root) or fetched into it, run by
/// `node` (the host's when `None`).
pub fn get(chosen: &Chosen, cache: &Path, node: Option<&Path>) -> Result<Tool, NodeAppError> {
    let (pkg, entry) = package(chosen.manager);
    let spec = format!("{pkg}@{}", chosen.version);
    let root = cache.join("tools").join("node");
    let dir = root.join(format!(
        "{}-{}",
        pkg.replace(['@', '/'], "_"),
        chosen.version
    ));
    if !dir.join("package").join(entry).is_file() {
        fetch(&spec, &root, &dir)?;
    }
    if let Some((algo, expected)) = &chosen.hash {
        check_hash(&spec, algo, expected, &dir, entry)?;
    }
    let entry = dir.join("package").join(entry);
    Ok(match chosen.manager {
        Manager::Bun => Tool {
            program: entry,
            args: Vec::new(),
            spec,
        },
        _ => Tool {
            program: node.map_or_else(|| "node".into(), Path::to_path_buf),
            args: vec![entry],
            spec,
        },
    })
}

/// `npm pack` into a fresh directory under `root`, unpacked, then renamed to `dir`.
fn fetch(spec: &str, root: &Path, dir: &Path) -> Result<(), NodeAppError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NodeAppError::Read { path, source }
    };
    let tmp = root.join(format!(
        ".{}.{}",
        dir.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    tracing::info!("fetching {spec} from the npm registry");
    let o = Command::new("npm")
        .args([
            "pack",
            spec,
            "--json",
            "--ignore-scripts",
            "--pack-destination",
        ])
        .arg(&tmp)
        .current_dir(&tmp)
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NodeAppError::Npm { why: e.to_string() })?;
    let fail = |output: String| {
        let _ = std::fs::remove_dir_all(&tmp);
        NodeAppError::ToolFetch {
            spec: spec.to_owned(),
            output,
        }
    };
    if !o.status.success() {
        return Err(fail(String::from_utf8_lossy(&o.stderr).trim().to_owned()));
    }
    let said: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let Some(file) = said[0]["filename"].as_str().filter(|f| !f.contains('/')) else {
        return Err(fail(format!(
            "npm pack printed no tarball name: {}",
            String::from_utf8_lossy(&o.stdout).trim()
        )));
    };
    let tarball = tmp.join("package.tgz");
    std::fs::rename(tmp.join(file), &tarball).map_err(io(&tarball))?;
    if let Err(why) = unpack(&tarball, &tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(NodeAppError::ToolArchive {
            spec: spec.to_owned(),
            why,
        });
    }
    if std::fs::rename(&tmp, dir).is_err() {
        // Another build put it in place first.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}

/// Unpacks `package/…` of a registry tarball under `into`: files and directories only.
fn unpack(tarball: &Path, into: &Path) -> Result<(), String> {
    let f = std::fs::File::open(tarball).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut total = 0u64;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let mut parts = path.components();
        let safe = parts.next() == Some(std::path::Component::Normal("package".as_ref()))
            && parts.all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe {
            return Err(format!("entry {} is outside package/", path.display()));
        }
        let out = into.join(&path);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
            }
            tar::EntryType::Regular => {
                total += entry.size();
                if total > MAX_UNPACKED {
                    return Err(format!("it unpacks to more than {MAX_UNPACKED} bytes"));
                }
                if let Some(p) = out.parent() {
                    std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
                }
                let mode = entry.header().mode().unwrap_or(0o644);
                let mut w = std::fs::File::create(&out).map_err(|e| e.to_string())?;
                std::io::copy(&mut (&mut entry).take(MAX_UNPACKED), &mut w)
                    .map_err(|e| e.to_string())?;
                let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
                std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(mode))
                    .map_err(|e| e.to_string())?;
            }
            other => {
                return Err(format!("entry {} is a {other:?}", path.display()));
            }
        }
    }
    Ok(())
}

/// The hex digest of `path` under Corepack's algorithm name.
fn digest(algo: &str, path: &Path) -> std::io::Result<Option<String>> {
    fn of<D: Digest + std::io::Write>(mut d: D, path: &Path) -> std::io::Result<String> {
        std::io::copy(&mut std::fs::File::open(path)?, &mut d)?;
        Ok(hex::encode(d.finalize()))
    }
    Ok(Some(match algo {
        "sha512" => of(sha2::Sha512::new(), path)?,
        "sha384" => of(sha2::Sha384::new(), path)?,
        "sha256" => of(sha2::Sha256::new(), path)?,
        "sha224" => of(sha2::Sha224::new(), path)?,
        _ => return Ok(None),
    }))
}

fn check_hash(
    spec: &str,
    algo: &str,
    expected: &str,
    dir: &Path,
    entry: &str,
) -> Result<(), NodeAppError> {
    let read =
        |path: PathBuf| digest(algo, &path).map_err(|source| NodeAppError::Read { path, source });
    let Some(tarball) = read(dir.join("package.tgz"))? else {
        return Err(NodeAppError::HashAlgo {
            spec: spec.to_owned(),
            algo: algo.to_owned(),
        });
    };
    let file = read(dir.join("package").join(entry))?.unwrap_or_default();
    if tarball == expected || file == expected {
        return Ok(());
    }
    Err(NodeAppError::ToolHash {
        spec: spec.to_owned(),
        algo: algo.to_owned(),
        expected: expected.to_owned(),
        found: format!("the tarball hashes to {tarball} and its {entry} to {file}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(dir: &Path, entries: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("t.tgz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut b = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o755);
            h.set_cksum();
            // `append_data` would refuse `..`; a hostile tarball is written by hand.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
        path
    }

    #[test]
    fn only_package_files_are_unpacked() {
        let d = tempfile::tempdir().unwrap();
        let ok = tarball(d.path(), &[("package/bin/x.js", b"1")]);
        let into = d.path().join("ok");
        unpack(&ok, &into).unwrap();
        assert_eq!(std::fs::read(into.join("package/bin/x.js")).unwrap(), b"1");
        for bad in ["package/../../escape", "other/x", "/abs"] {
            let t = tarball(d.path(), &[(bad, b"1")]);
            let err = unpack(&t, &d.path().join("bad")).unwrap_err();
            assert!(err.contains("outside package/"), "{bad}: {err}");
        }
        assert!(!d.path().join("escape").exists());
    }

    #[test]
    fn corepack_hash_of_tarball_or_entry() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("package/bin")).unwrap();
        std::fs::write(d.path().join("package.tgz"), b"tar").unwrap();
        std::fs::write(d.path().join("package/bin/yarn.js"), b"js").unwrap();
        let tar = digest("sha512", &d.path().join("package.tgz"))
            .unwrap()
            .unwrap();
        let js = digest("sha224", &d.path().join("package/bin/yarn.js"))
            .unwrap()
            .unwrap();
        check_hash("t@1.0.0", "sha512", &tar, d.path(), "bin/yarn.js").unwrap();
        check_hash("t@1.0.0", "sha224", &js, d.path(), "bin/yarn.js").unwrap();
        let err = check_hash("t@1.0.0", "sha512", "00", d.path(), "bin/yarn.js").unwrap_err();
        assert!(err.to_string().contains(&tar), "{err}");
        assert!(matches!(
            check_hash("t@1.0.0", "md5", "00", d.path(), "bin/yarn.js"),
            Err(NodeAppError::HashAlgo { .. })
        ));
    }
}
