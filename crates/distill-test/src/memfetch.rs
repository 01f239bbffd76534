//! A [`Fetcher`] that serves a directory tree from memory, with no network and no server:
//! the in-process twin of [`crate::http::FileServer`], for tests that stand below the CLI.
//!
//! Files are read once, when the fetcher is made, and served under `base` (such as
//! `http://repo.test`). A missing file answers 404, as a mirror would; a request with an
//! offset answers with the rest of the file (206).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use distill_apt::fetch::{Body, FetchError, Fetcher};

pub struct MemFetcher {
    base: String,
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Every URL asked for, in order.
    pub requests: Mutex<Vec<String>>,
}

impl MemFetcher {
    /// Every file under `root`, served as `BASE/relative/path`.
    pub fn of_dir(root: &Path, base: &str) -> Self {
        let mut files = BTreeMap::new();
        for e in walkdir(root) {
            let rel = e.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            files.insert(rel, std::fs::read(&e).unwrap());
        }
        Self {
            base: base.trim_end_matches('/').to_owned(),
            files: Mutex::new(files),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Replaces (or adds) the file at `path`, relative to the root.
    pub fn put(&self, path: &str, bytes: Vec<u8>) {
        self.files.lock().unwrap().insert(path.to_owned(), bytes);
    }

    /// Removes the file at `path`, relative to the root.
    pub fn remove(&self, path: &str) {
        self.files.lock().unwrap().remove(path);
    }

    /// The file at `path`, relative to the root.
    pub fn get_file(&self, path: &str) -> Option<Vec<u8>> {
        self.files.lock().unwrap().get(path).cloned()
    }
}

fn walkdir(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

impl Fetcher for MemFetcher {
    fn get(&self, url: &str, offset: u64) -> Result<(Body, Box<dyn Read + Send>), FetchError> {
        self.requests.lock().unwrap().push(url.to_owned());
        let missing = || FetchError::Status {
            url: url.to_owned(),
            status: 404,
            retry_after: None,
        };
        let rel = url
            .strip_prefix(&self.base)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(missing)?;
        let bytes = self.get_file(rel).ok_or_else(missing)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if offset > 0 && start <= bytes.len() {
            let rest = bytes[start..].to_vec();
            return Ok((Body::Partial, Box::new(std::io::Cursor::new(rest))));
        }
        Ok((Body::Full, Box::new(std::io::Cursor::new(bytes))))
    }
}
