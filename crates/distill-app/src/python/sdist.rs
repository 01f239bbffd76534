//! Finding an allowed source distribution before it is built ([`super::source`]): the
//! pins, `--find-links` directories and indexes of the requirements uv installs from, and
//! the sdist itself, found in a `--find-links` directory or on an index (each
//! `--extra-index-url` first, then the index, as uv ranks them; PEP 503 pages), and
//! checked against the requirement's `--hash` (or, unlocked, the index's) before use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::types::PythonError;

/// The largest sdist read (downloaded or unpacked).
pub(super) const MAX_SDIST: u64 = 256 << 20;

/// `NAME` normalized as PEP 503 says.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        let c = if matches!(c, '-' | '_' | '.') {
            '-'
        } else {
            c.to_ascii_lowercase()
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// What the requirements say about where distributions are and which are pinned.
#[derive(Debug, Default)]
pub(super) struct Reqs {
    find_links: Vec<String>,
    index: Option<String>,
    /// `--extra-index-url`, in order: uv looks in these before the index.
    extra_indexes: Vec<String>,
    /// normalized name -> (version, sha256 hashes)
    pub pins: BTreeMap<String, (String, Vec<String>)>,
}

pub(super) fn parse(text: &str) -> Reqs {
    let mut out = Reqs::default();
    // Continuation lines join first (`NAME==V \` then `--hash=...`).
    let joined = text.replace("\\\n", " ");
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or("").trim();
        // `--option=VALUE` is `--option VALUE`.
        let spaced = match line.split_once('=') {
            Some((opt, value)) if opt.starts_with("--") && !opt.contains(' ') => {
                format!("{opt} {value}")
            }
            _ => line.to_owned(),
        };
        let mut words = spaced.split_whitespace();
        match words.next() {
            Some("--find-links" | "-f") => out.find_links.extend(words.next().map(str::to_owned)),
            Some("--index-url" | "-i") => out.index = words.next().map(str::to_owned),
            Some("--extra-index-url") => out.extra_indexes.extend(words.next().map(str::to_owned)),
            Some(first) if first.contains("==") => {
                let (name, version) = first.split_once("==").unwrap_or_default();
                let version = version.split(';').next().unwrap_or("").to_owned();
                let hashes = words
                    .filter_map(|w| w.strip_prefix("--hash=sha256:"))
                    .map(str::to_owned)
                    .collect();
                let name = name.split('[').next().unwrap_or(name);
                out.pins.insert(normalize(name), (version, hashes));
            }
            _ => {}
        }
    }
    out
}

/// The checked sdist of `name` `version`, found locally or downloaded into `scratch`.
#[allow(clippy::too_many_arguments)]
pub(super) fn locate(
    name: &str,
    version: &str,
    want: &[String],
    reqs: &Reqs,
    app_dir: &Path,
    uv: &Path,
    scratch: &Path,
) -> Result<PathBuf, PythonError> {
    let fits = |file: &str| {
        file.strip_suffix(".tar.gz")
            .and_then(|stem| stem.rsplit_once('-'))
            .is_some_and(|(n, v)| normalize(n) == name && v == version)
    };
    let check = |path: &Path, listed: Option<&str>| -> Result<PathBuf, PythonError> {
        let got = sha256_file(path).map_err(|source| PythonError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let ok = if want.is_empty() {
            listed.is_none_or(|l| l == got)
        } else {
            want.contains(&got)
        };
        if !ok {
            return Err(PythonError::SourceHash {
                dist: format!("{name}=={version}"),
                path: path.to_path_buf(),
                got,
            });
        }
        Ok(path.to_path_buf())
    };
    for link in &reqs.find_links {
        let dir = app_dir.join(link.strip_prefix("file://").unwrap_or(link));
        let found = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| fits(&e.file_name().to_string_lossy()));
        if let Some(e) = found {
            return check(&e.path(), None);
        }
    }
    let index = match &reqs.index {
        Some(i) => i.clone(),
        None => default_index(uv, scratch)?,
    };
    let fetch_err = |url: &str, why: String| PythonError::SourceFetch {
        url: url.to_owned(),
        why,
    };
    let fetcher = distill_apt::fetch::HttpFetcher::new();
    // The requirements' extra indexes, then the host's (pip's or uv's settings), then the
    // index: the order uv looks in.
    let mut indexes = reqs.extra_indexes.clone();
    indexes.extend(super::index::extra_indexes());
    indexes.push(index);
    let (file_url, listed) = on_an_index(&fetcher, &indexes, name, &fits).map_err(|tried| {
        fetch_err(
            &tried.join(", "),
            format!("no index lists {name}-{version}.tar.gz"),
        )
    })?;
    let path = scratch.join("sdist.tar.gz");
    let mut f = std::fs::File::create(&path).map_err(|source| PythonError::Read {
        path: path.clone(),
        source,
    })?;
    distill_apt::fetch::get_to_file(&fetcher, &file_url, MAX_SDIST, &mut f)
        .map_err(|e| fetch_err(&file_url, e.to_string()))?;
    check(&path, listed.as_deref())
}

/// The URL of the first file `fits` lists on `name`'s page of the first of `indexes` that
/// lists one, with the sha256 the page gives; `Err` with what each index answered.
fn on_an_index(
    fetcher: &distill_apt::fetch::HttpFetcher,
    indexes: &[String],
    name: &str,
    fits: &dyn Fn(&str) -> bool,
) -> Result<(String, Option<String>), Vec<String>> {
    let mut tried = Vec::new();
    for index in indexes {
        let url = format!("{}/{name}/", index.trim_end_matches('/'));
        // An index without the project answers 404: the next one may have it.
        let page = match distill_apt::fetch::get_bytes(fetcher, &url, 64 << 20) {
            Ok(p) => p,
            Err(e) => {
                tried.push(format!("{url} ({e})"));
                continue;
            }
        };
        let page = String::from_utf8_lossy(&page);
        let found = anchors(&page)
            .into_iter()
            .find(|(_, text)| fits(text))
            .and_then(|(href, _)| {
                let mut u = url::Url::parse(&url).ok()?.join(&href).ok()?;
                let listed = u
                    .fragment()
                    .and_then(|f| f.strip_prefix("sha256="))
                    .map(str::to_owned);
                u.set_fragment(None);
                Some((u.to_string(), listed))
            });
        match found {
            Some(f) => return Ok(f),
            None => tried.push(format!("{url} (not listed)")),
        }
    }
    Err(tried)
}

/// `(href, text)` of each `<a>` of a PEP 503 simple page.
fn anchors(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(i) = rest.find("<a ") {
        rest = &rest[i + 3..];
        let Some(end) = rest.find("</a>") else { break };
        let tag = &rest[..end];
        let href = tag
            .split_once("href=\"")
            .and_then(|(_, h)| h.split_once('"'))
            .map(|(h, _)| h.replace("&amp;", "&"));
        let text = tag.rsplit_once('>').map(|(_, t)| t.trim().to_owned());
        if let (Some(h), Some(t)) = (href, text) {
            out.push((h, t));
        }
        rest = &rest[end..];
    }
    out
}

/// The index uv installs from when the requirements name none.
fn default_index(uv: &Path, scratch: &Path) -> Result<String, PythonError> {
    let empty = scratch.join("empty.txt");
    std::fs::write(&empty, "").map_err(|source| PythonError::Read {
        path: empty.clone(),
        source,
    })?;
    let o = super::index::command(uv)
        .args([
            "pip",
            "compile",
            "--quiet",
            "--no-header",
            "--emit-index-url",
        ])
        .arg(&empty)
        .env("UV_PYTHON_DOWNLOADS", "never")
        .output()
        .map_err(|e| PythonError::Tool {
            tool: "uv pip compile".into(),
            why: e.to_string(),
        })?;
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("--index-url ").map(|u| u.trim().to_owned()))
        .ok_or_else(|| PythonError::Tool {
            tool: "uv pip compile --emit-index-url".into(),
            why: String::from_utf8_lossy(&o.stderr).into_owned(),
        })
}

pub(super) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_pins_links_and_indexes() {
        let r = parse(
            "--find-links ./wheels\n-i http://127.0.0.1:1/simple\nSd_Only==0.1 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\nflask==3.1.0 ; python_version >= '3.9'\n",
        );
        assert_eq!(r.find_links, ["./wheels"]);
        assert_eq!(r.index.as_deref(), Some("http://127.0.0.1:1/simple"));
        let extra = parse(
            "--extra-index-url http://127.0.0.1:2/a\n--extra-index-url=http://127.0.0.1:3/b\n--index-url=http://127.0.0.1:1/simple\n",
        );
        assert_eq!(
            extra.extra_indexes,
            ["http://127.0.0.1:2/a", "http://127.0.0.1:3/b"]
        );
        assert_eq!(extra.index.as_deref(), Some("http://127.0.0.1:1/simple"));
        assert_eq!(
            r.pins["sd-only"],
            ("0.1".to_owned(), vec!["aa".to_owned(), "bb".to_owned()])
        );
        assert_eq!(r.pins["flask"].0, "3.1.0");
    }

    #[test]
    fn a_simple_page_lists_its_files() {
        let page = r#"<html><body><a href="../../files/sd_only-0.1.tar.gz#sha256=ab" data-requires-python="&gt;=3">sd_only-0.1.tar.gz</a>
<a href="/x/sd_only-0.2-py3-none-any.whl">sd_only-0.2-py3-none-any.whl</a></body></html>"#;
        assert_eq!(
            anchors(page),
            [
                (
                    "../../files/sd_only-0.1.tar.gz#sha256=ab".to_owned(),
                    "sd_only-0.1.tar.gz".to_owned()
                ),
                (
                    "/x/sd_only-0.2-py3-none-any.whl".to_owned(),
                    "sd_only-0.2-py3-none-any.whl".to_owned()
                ),
            ]
        );
    }
}
