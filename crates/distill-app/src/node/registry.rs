//! The host's npm registry: the one address every Node download and package manager uses.
//!
//! It is the host's npm configuration, never a built-in address: `npm_config_registry` in
//! the environment, else `registry=` in `~/.npmrc` or `/etc/npmrc`, else what
//! `npm config get registry` answers.

use std::path::{Path, PathBuf};

use sha2::Digest;

/// The host's npm registry, without a trailing slash: from the environment, `~/.npmrc` or
/// `/etc/npmrc`, else from npm itself. Asking npm starts a Node, which costs a warm build
/// more than everything else it does, so its answer is kept in `cache` (distill's cache
/// root) under a key of everything npm reads it from: which npm, its `npm_config_*`
/// environment, and the `.npmrc` of the working directory.
pub fn registry(cache: &Path) -> Option<String> {
    static REGISTRY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| find_registry(cache)).clone()
}

fn find_registry(cache: &Path) -> Option<String> {
    let from_env = ["npm_config_registry", "NPM_CONFIG_REGISTRY"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()));
    let from_files = || {
        let home = dirs::home_dir().map(|h| h.join(".npmrc"));
        home.into_iter()
            .chain([PathBuf::from("/etc/npmrc")])
            .find_map(|p| npmrc_registry(&std::fs::read_to_string(p).ok()?))
    };
    from_env
        .or_else(from_files)
        .or_else(|| from_npm(cache))
        .map(|r| r.trim().trim_end_matches('/').to_owned())
}

/// `npm config get registry`, kept under a key of what npm reads it from.
fn from_npm(cache: &Path) -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let npm = std::env::split_paths(&path)
        .map(|d| d.join("npm"))
        .find(|p| p.is_file())?;
    let real = std::fs::canonicalize(&npm).unwrap_or(npm);
    let meta = std::fs::metadata(&real).ok()?;
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("npm_config_"))
        .collect();
    env.sort();
    let key = sha2::Sha256::digest(
        serde_json::json!({
            "npm": real,
            "size": meta.len(),
            "mtime": meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos()),
            "env": env,
            "npmrc": std::fs::read_to_string(".npmrc").ok(),
            "home": dirs::home_dir(),
        })
        .to_string()
        .as_bytes(),
    );
    let record = cache.join("npm-registry").join(hex::encode(key));
    if let Some(r) = std::fs::read_to_string(&record)
        .ok()
        .filter(|r| r.starts_with("http"))
    {
        return Some(r.trim().to_owned());
    }
    let o = std::process::Command::new(&real)
        .args(["config", "get", "registry"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(o.stdout).ok()?;
    let s = s.trim();
    if !(o.status.success() && s.starts_with("http")) {
        return None;
    }
    // Best effort, written whole: a reader sees the old answer, the new one, or none.
    let _ = std::fs::create_dir_all(record.parent().unwrap_or(cache)).and_then(|()| {
        let mut tmp = tempfile::NamedTempFile::new_in(record.parent().unwrap_or(cache))?;
        std::io::Write::write_all(&mut tmp, s.as_bytes())?;
        tmp.persist(&record).map(|_| ()).map_err(|e| e.error)
    });
    Some(s.to_owned())
}

fn npmrc_registry(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "registry").then(|| v.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npmrc_registry_line() {
        assert_eq!(
            npmrc_registry("fund=false\n registry = http://127.0.0.1:4873/ \n"),
            Some("http://127.0.0.1:4873/".into())
        );
        assert_eq!(npmrc_registry("fund=false\n"), None);
    }
}
