//! Where Python distributions come from: uv's own settings, else the host's pip settings.
//!
//! uv reads its environment (`UV_DEFAULT_INDEX`, `UV_INDEX_URL`, `UV_INDEX`,
//! `UV_EXTRA_INDEX_URL`), its `uv.toml` and `~/.netrc` itself. A machine set up for pip
//! instead (`PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`, or `index-url` and `extra-index-url` in
//! the `[global]` section of pip's configuration files) would otherwise be ignored, and uv
//! would go to its default index, which such a machine may not reach or trust. So when uv's
//! environment names no index, pip's are given to uv. Credentials in an index URL
//! (`https://user:token@host/simple`) stay with that URL: uv sends them to that index only.
//!
//! pip's files, in the order pip reads them (a later one wins): `/etc/xdg/pip/pip.conf`,
//! `/etc/pip.conf`, `~/.pip/pip.conf`, `~/.config/pip/pip.conf`, then `PIP_CONFIG_FILE`.
//! The environment wins over the files, as in pip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `uv`, with pip's indexes in its environment when uv's own names none.
pub fn command(uv: &Path) -> Command {
    let mut c = Command::new(uv);
    for (k, v) in settings(&|k| std::env::var(k).ok(), &config_texts()) {
        c.env(k, v);
    }
    c
}

/// The `--extra-index-url`s the host's settings add, in order, for finding what uv found.
pub fn extra_indexes() -> Vec<String> {
    settings(&|k| std::env::var(k).ok(), &config_texts())
        .into_iter()
        .chain(
            std::env::var("UV_EXTRA_INDEX_URL")
                .ok()
                .map(|v| ("UV_EXTRA_INDEX_URL", v)),
        )
        .filter(|(k, _)| *k == "UV_EXTRA_INDEX_URL")
        .flat_map(|(_, v)| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .fold(Vec::new(), |mut out, u| {
            if !out.contains(&u) {
                out.push(u);
            }
            out
        })
}

/// The texts of pip's configuration files that exist, in pip's order.
fn config_texts() -> Vec<String> {
    let mut files: Vec<PathBuf> = vec!["/etc/xdg/pip/pip.conf".into(), "/etc/pip.conf".into()];
    if let Some(home) = dirs::home_dir() {
        files.push(home.join(".pip/pip.conf"));
        files.push(home.join(".config/pip/pip.conf"));
    }
    if let Some(f) = std::env::var_os("PIP_CONFIG_FILE") {
        files.push(f.into());
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect()
}

/// uv's environment from pip's settings: `env` looks a variable up, `files` are pip's
/// configuration texts in order. Nothing when uv's environment names an index.
fn settings(env: &dyn Fn(&str) -> Option<String>, files: &[String]) -> Vec<(&'static str, String)> {
    let uv_set = ["UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_INDEX"]
        .iter()
        .any(|k| env(k).is_some_and(|v| !v.trim().is_empty()));
    if uv_set {
        return Vec::new();
    }
    let from_files = |key: &str| files.iter().rev().find_map(|t| global(t, key));
    let mut out = Vec::new();
    if let Some(index) = env("PIP_INDEX_URL").or_else(|| from_files("index-url")) {
        out.push(("UV_DEFAULT_INDEX", index.trim().to_owned()));
    }
    let extra = env("PIP_EXTRA_INDEX_URL").or_else(|| from_files("extra-index-url"));
    if let Some(extra) = extra.filter(|_| env("UV_EXTRA_INDEX_URL").is_none()) {
        let list: Vec<&str> = extra.split_whitespace().collect();
        if !list.is_empty() {
            out.push(("UV_EXTRA_INDEX_URL", list.join(" ")));
        }
    }
    out
}

/// `key` of the `[global]` section of a pip configuration text; a value may continue on
/// indented lines (pip's `extra-index-url` lists).
fn global(text: &str, key: &str) -> Option<String> {
    let mut section = String::new();
    let mut value: Option<String> = None;
    let mut continuing = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            section = name.trim().to_owned();
            continuing = false;
            continue;
        }
        if continuing && line.starts_with([' ', '\t']) && !t.is_empty() {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(t);
            }
            continue;
        }
        continuing = false;
        if section != "global" {
            continue;
        }
        let Some((k, v)) = t.split_once('=').or_else(|| t.split_once(':')) else {
            continue;
        };
        let k = k.trim().replace('_', "-");
        if k == key {
            value = Some(v.trim().to_owned());
            continuing = true;
        }
    }
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn pips_indexes_go_to_uv_unless_uv_has_its_own() {
        let site = "[global]\nindex-url = http://127.0.0.1:1/site\ncert = /x.pem\n".to_owned();
        let user = "[install]\nindex-url = http://127.0.0.1:9/not-global\n\
                    [global]\nextra-index-url =\n    http://127.0.0.1:2/a\n    http://127.0.0.1:3/b\n"
            .to_owned();
        let files = [site, user];
        assert_eq!(
            settings(&env(&[]), &files),
            [
                ("UV_DEFAULT_INDEX", "http://127.0.0.1:1/site".to_owned()),
                (
                    "UV_EXTRA_INDEX_URL",
                    "http://127.0.0.1:2/a http://127.0.0.1:3/b".to_owned()
                ),
            ]
        );
        // The environment wins over the files.
        let e = env(&[("PIP_INDEX_URL", "http://u:t@127.0.0.1:4/env")]);
        assert_eq!(
            settings(&e, &files)[0],
            ("UV_DEFAULT_INDEX", "http://u:t@127.0.0.1:4/env".to_owned())
        );
        // uv's own setting wins over pip's, entirely.
        let e = env(&[("UV_DEFAULT_INDEX", "http://127.0.0.1:5/uv")]);
        assert!(settings(&e, &files).is_empty());
        assert!(settings(&env(&[]), &[]).is_empty());
    }
}
