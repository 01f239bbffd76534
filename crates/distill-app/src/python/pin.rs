//! `distill lock` for a Python app whose own files pin nothing: a `requirements.txt`
//! without hashes, or a `pyproject.toml` with no lock. uv resolves it for the target (the
//! image's Python, glibc and architecture, as the install does) into a requirement set with
//! every version pinned `==` and every file's sha256 (`uv pip compile --generate-hashes`),
//! which distill.lock keeps per platform. A `--locked` build installs exactly that set with
//! `--require-hashes`, and refuses to resolve anew.
//!
//! The set is checked when read back: only `NAME==VERSION` lines (with a marker), their
//! `--hash=sha256:` lines and comments, so a tampered lock cannot add an index, a path or
//! an option.

use std::path::Path;

use super::types::{PythonApp, PythonError};
use super::uv;
use super::wheels::Tags;
use crate::kind::Target;

/// The dependencies of `app` for `target`, resolved and pinned with hashes; `None` when
/// the project's files pin them already.
pub fn pin(
    app: &PythonApp,
    target: &Target,
    work: &Path,
    cache: &Path,
) -> Result<Option<String>, PythonError> {
    let Some(deps) = &app.deps else {
        return Ok(None);
    };
    if deps.unpinned()?.is_none() {
        return Ok(None);
    }
    let tags = Tags::new(target.release, target.platform.arch);
    let uv_bin = uv::uv(cache)?;
    let free = Target {
        locked: false,
        pins: None,
        ..target.clone()
    };
    let reqs = uv::requirements(app, deps, &uv_bin, work, &tags, &free)?;
    let out = work.join(format!("pinned.{}.txt", tags.arch));
    let mut cmd = uv::uv_pip("compile", app, &uv_bin, &tags, &cache.join("uv"), None);
    cmd.args(["--generate-hashes", "--no-header", "--no-annotate", "-o"])
        .arg(&out)
        .arg(&reqs.path);
    let o = uv::run(&mut cmd, "uv pip compile")?;
    if !o.status.success() {
        let output = String::from_utf8_lossy(&o.stderr).trim().to_owned();
        return Err(uv::install_failed(
            uv::refused_sources(app, &output),
            output,
            &tags,
        ));
    }
    let text = std::fs::read_to_string(&out).map_err(|source| PythonError::Read {
        path: out.clone(),
        source,
    })?;
    check(&text).map_err(|line| PythonError::Install {
        python: tags.python_text(),
        platform: tags.uv_platform(),
        output: format!("uv pip compile wrote a line distill does not keep: {line}"),
    })?;
    Ok(Some(text))
}

/// Checks a pinned set: `Err` with the first line that is not a pin, a hash or a comment.
pub fn check(text: &str) -> Result<(), String> {
    for line in text.lines() {
        let t = line.trim().trim_end_matches('\\').trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(hex) = t.strip_prefix("--hash=sha256:") {
            if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            return Err(line.to_owned());
        }
        let req = t.split(';').next().unwrap_or("").trim();
        let pinned = req.split_once("==").is_some_and(|(name, version)| {
            let name = name.split('[').next().unwrap_or("");
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                && !version.is_empty()
                && version.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'!' | b'-' | b'_')
                })
        });
        if !pinned {
            return Err(line.to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pins_hashes_and_comments() {
        let h = "a".repeat(64);
        let good = format!(
            "# via flask\nflask==3.1.3 \\\n    --hash=sha256:{h}\nmarkupsafe[x]==3.0.3 ; python_version >= '3.9' \\\n    --hash=sha256:{h}\n"
        );
        check(&good).unwrap();
        for bad in [
            "--index-url http://127.0.0.1:1/simple".to_owned(),
            "-e ../lib".to_owned(),
            "flask>=3".to_owned(),
            "../x.whl".to_owned(),
            format!("flask==3 \\\n    --hash=sha256:{}", "z".repeat(64)),
            "flask==3 @ file:///etc".to_owned(),
        ] {
            assert!(check(&bad).is_err(), "{bad}");
        }
    }
}
