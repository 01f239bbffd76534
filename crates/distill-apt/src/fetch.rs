//! HTTP downloads behind a [`Fetcher`] trait, with retries, resume, and a verified cache.
//!
//! - [`Fetcher`] is the one boundary with the network, so tests can put a fixture behind it.
//! - [`Cache`] is content-addressed (`sha256/<hex>`) and verifies every entry when it is read:
//!   a corrupt entry is deleted and fetched again. Downloads land in `partial/` and move into
//!   the cache only once their size and SHA-256 match, so no bad bytes are ever served.
//! - `.deb` downloads resume with `Range`; a server that answers 200 instead of 206 restarts
//!   the file from zero, never appending to it (index files on Debian mirrors do that).
//! - Connection errors, timeouts and 5xx answers are retried with jittered exponential
//!   backoff. No redirect goes from https to http.
//! - No body is read past what is known of it: a cached download stops one byte after the
//!   size its signed index gives, and [`get_bytes`] takes a cap (see [`MAX_RELEASE`]), so
//!   an endless answer costs neither memory nor disk.
//! - One download per entry at a time: processes (and threads) sharing a cache take an
//!   exclusive lock on `locks/<sha256>.lock` first, so two never append to one partial file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};

use std::path::{Path, PathBuf};
use std::time::Duration;

use backon::BlockingRetryable;
use distill_oci::net::{backoff, error_chain};
use sha2::{Digest as _, Sha256};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FetchError {
    #[error("{url} answered HTTP {status}")]
    #[diagnostic(help("{}", status_hint(*status)))]
    Status { url: String, status: u16 },
    #[error("Cannot download {url}: {why}")]
    #[diagnostic(help("check the network and the mirror's URL, or pass --mirror URL"))]
    Transport { url: String, why: String },
    #[error("{url} has SHA-256 {actual}, expected {expected} (from the signed index)")]
    #[diagnostic(help(
        "the mirror served a file that differs from what its signed index promises, and it was discarded; retry later, or pass --mirror URL for another mirror"
    ))]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("{url} has {actual} bytes, expected {expected} (from the signed index)")]
    #[diagnostic(help(
        "the mirror served a file that differs from what its signed index promises, and it was discarded; retry later, or pass --mirror URL for another mirror"
    ))]
    SizeMismatch {
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("{url} sent more than {max} bytes")]
    #[diagnostic(help(
        "the server sent more than such a file can hold and it was discarded; retry later, or pass --mirror URL for another mirror"
    ))]
    TooLarge { url: String, max: u64 },
    #[error("Cache {path}: {source}")]
    #[diagnostic(help("check that {} is writable, or set DISTILL_CACHE to a writable directory", path.display()))]
    Cache { path: PathBuf, source: io::Error },
}

fn status_hint(status: u16) -> &'static str {
    match status {
        404 | 410 => {
            "the mirror does not have it; if distill.lock pins it, run `distill lock` to move to the current versions"
        }
        _ => "check the network and the mirror's URL, or pass --mirror URL",
    }
}

impl FetchError {
    fn transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            FetchError::Transport { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn is_not_found(&self) -> bool {
        matches!(
            self,
            FetchError::Status {
                status: 404 | 410,
                ..
            }
        )
    }
}

/// The outcome of one GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The whole resource was written.
    Full,
    /// Only the bytes from the requested offset were written (HTTP 206).
    Partial,
}

/// One HTTP GET. `offset > 0` asks for the bytes from there on; the answer says whether
/// the body starts there ([`Body::Partial`]) or at zero ([`Body::Full`]).
pub trait Fetcher: Send + Sync {
    fn get(&self, url: &str, offset: u64) -> Result<(Body, Box<dyn Read + Send>), FetchError>;
}

/// The real network, through reqwest with rustls (ring).
pub struct HttpFetcher {
    client: reqwest::blocking::Client,
}

impl HttpFetcher {
    pub fn new() -> Self {
        // Idempotent; fails only when another provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .redirect(distill_oci::net::redirect_policy())
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(600))
            .user_agent(concat!("distill/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client builds");
        Self { client }
    }
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetcher for HttpFetcher {
    fn get(&self, url: &str, offset: u64) -> Result<(Body, Box<dyn Read + Send>), FetchError> {
        let mut req = self.client.get(url);
        if offset > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={offset}-"));
        }
        let resp = req.send().map_err(|e| FetchError::Transport {
            url: url.to_owned(),
            why: error_chain(&e),
        })?;
        let status = resp.status().as_u16();
        let body = match status {
            200 => Body::Full,
            206 if offset > 0 => Body::Partial,
            _ => {
                return Err(FetchError::Status {
                    url: url.to_owned(),
                    status,
                });
            }
        };
        Ok((body, Box::new(resp)))
    }
}

/// The largest `InRelease`, `Release` or `Release.gpg` read: Debian's are about 150 KiB.
pub const MAX_RELEASE: u64 = 16 << 20;

/// Reads a whole small resource (a Release or signature) into memory; more than `max`
/// bytes is an error, found after reading `max + 1`.
pub fn get_bytes(fetcher: &dyn Fetcher, url: &str, max: u64) -> Result<Vec<u8>, FetchError> {
    let attempt = || {
        let (_, r) = fetcher.get(url, 0)?;
        let mut buf = Vec::new();
        r.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| FetchError::Transport {
                url: url.to_owned(),
                why: e.to_string(),
            })?;
        if buf.len() as u64 > max {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                max,
            });
        }
        Ok(buf)
    };
    attempt
        .retry(backoff())
        .when(FetchError::transient)
        .notify(|e, d| tracing::warn!("retrying in {d:?}: {e}"))
        .call()
}

/// What a download must turn out to be.
#[derive(Debug, Clone)]
pub struct Expected {
    pub size: u64,
    pub sha256: String,
}

/// A content-addressed download cache.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    /// `--allow-downgrade`: a Release older than one seen before is used (see [`crate::replay`]).
    allow_downgrade: bool,
}

fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 17];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            allow_downgrade: false,
        }
    }

    /// Whether a Release older than one seen before may be used.
    pub fn allow_downgrade(mut self, allow: bool) -> Self {
        self.allow_downgrade = allow;
        self
    }

    pub(crate) fn allows_downgrade(&self) -> bool {
        self.allow_downgrade
    }

    /// `$DISTILL_CACHE`, else the user's cache directory (`~/.cache/distill`).
    pub fn default_root() -> PathBuf {
        std::env::var_os("DISTILL_CACHE")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("distill")))
            .unwrap_or_else(|| std::env::temp_dir().join("distill-cache"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn entry(&self, sha256: &str) -> PathBuf {
        self.root.join("sha256").join(sha256)
    }

    fn io(&self, path: &Path) -> impl FnOnce(io::Error) -> FetchError {
        let path = path.to_path_buf();
        move |source| FetchError::Cache { path, source }
    }

    /// The cached file for `expected`, verified now; a corrupt entry is removed.
    pub fn get(&self, expected: &Expected) -> Option<PathBuf> {
        let path = self.entry(&expected.sha256);
        match hash_file(&path) {
            Ok((h, n)) if h == expected.sha256 && n == expected.size => Some(path),
            Ok(_) => {
                tracing::warn!("discarding corrupt cache entry {}", path.display());
                let _ = fs::remove_file(&path);
                None
            }
            Err(_) => None,
        }
    }

    /// Stores `bytes` (already known to hash to `expected`) and returns the entry.
    pub(crate) fn put_bytes(
        &self,
        expected: &Expected,
        bytes: &[u8],
    ) -> Result<PathBuf, FetchError> {
        let dir = self.root.join("sha256");
        fs::create_dir_all(&dir).map_err(self.io(&dir))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(self.io(&dir))?;
        tmp.write_all(bytes).map_err(self.io(&dir))?;
        let path = self.entry(&expected.sha256);
        tmp.persist(&path).map_err(|e| self.io(&path)(e.error))?;
        Ok(path)
    }

    /// The cached file for `expected`, downloading it from `url` if needed.
    pub fn fetch(
        &self,
        fetcher: &dyn Fetcher,
        url: &str,
        expected: &Expected,
        resumable: bool,
    ) -> Result<PathBuf, FetchError> {
        if let Some(p) = self.get(expected) {
            return Ok(p);
        }
        let partial_dir = self.root.join("partial");
        fs::create_dir_all(&partial_dir).map_err(self.io(&partial_dir))?;
        fs::create_dir_all(self.root.join("sha256")).map_err(self.io(&self.root))?;
        // One download per entry at a time, across processes sharing the cache (CI runners,
        // parallel builds): the lock is held until this download ends, and whoever waited
        // for it finds the entry in place. Lock files stay (in `locks/`, apart from the data):
        // removing one while another process waits on it would let a third take a new one.
        let locks = self.root.join("locks");
        fs::create_dir_all(&locks).map_err(self.io(&locks))?;
        let lock_path = locks.join(format!("{}.lock", expected.sha256));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(self.io(&lock_path))?;
        lock.lock().map_err(self.io(&lock_path))?;
        if let Some(p) = self.get(expected) {
            return Ok(p);
        }
        let part = partial_dir.join(format!("{}.part", expected.sha256));
        let attempt = || self.try_download(fetcher, url, expected, &part, resumable);
        let result = attempt
            .retry(backoff())
            .when(FetchError::transient)
            .notify(|e, d| tracing::warn!("retrying in {d:?}: {e}"))
            .call();
        match result {
            Ok(()) => {
                let dest = self.entry(&expected.sha256);
                fs::rename(&part, &dest).map_err(self.io(&dest))?;
                Ok(dest)
            }
            Err(e) => {
                // Keep a partial file only when it can be resumed and is not known bad.
                if !resumable || !e.transient() {
                    let _ = fs::remove_file(&part);
                }
                Err(e)
            }
        }
    }

    fn try_download(
        &self,
        fetcher: &dyn Fetcher,
        url: &str,
        expected: &Expected,
        part: &Path,
        resumable: bool,
    ) -> Result<(), FetchError> {
        let have = if resumable {
            fs::metadata(part).map(|m| m.len()).unwrap_or(0)
        } else {
            0
        };
        let have = if have >= expected.size { 0 } else { have };
        let (body, reader) = fetcher.get(url, have)?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(part)
            .map_err(self.io(part))?;
        let start = match body {
            Body::Full => {
                file.set_len(0).map_err(self.io(part))?;
                0
            }
            Body::Partial => have,
        };
        // One byte more than the index promises is enough to know the answer is wrong.
        let room = (expected.size - start).saturating_add(1);
        io::copy(&mut reader.take(room), &mut file).map_err(|e| FetchError::Transport {
            url: url.to_owned(),
            why: e.to_string(),
        })?;
        file.sync_all().map_err(self.io(part))?;
        let (actual, size) = hash_file(part).map_err(self.io(part))?;
        if size != expected.size {
            let _ = fs::remove_file(part);
            return Err(FetchError::SizeMismatch {
                url: url.to_owned(),
                expected: expected.size,
                actual: size,
            });
        }
        if actual != expected.sha256 {
            let _ = fs::remove_file(part);
            return Err(FetchError::HashMismatch {
                url: url.to_owned(),
                expected: expected.sha256.clone(),
                actual,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Serves one body; records the offsets asked for; can answer 200 to ranges, fail once,
    /// or cut the body short once.
    struct Fake {
        body: Vec<u8>,
        honour_range: bool,
        cut_first: Mutex<bool>,
        fail_first: Mutex<bool>,
        offsets: Mutex<Vec<u64>>,
    }

    impl Fake {
        fn new(body: &[u8]) -> Self {
            Self {
                body: body.to_vec(),
                honour_range: true,
                cut_first: Mutex::new(false),
                fail_first: Mutex::new(false),
                offsets: Mutex::new(Vec::new()),
            }
        }
    }

    impl Fetcher for Fake {
        fn get(&self, url: &str, offset: u64) -> Result<(Body, Box<dyn Read + Send>), FetchError> {
            self.offsets.lock().unwrap().push(offset);
            if std::mem::take(&mut *self.fail_first.lock().unwrap()) {
                return Err(FetchError::Status {
                    url: url.into(),
                    status: 503,
                });
            }
            let (kind, start) = if offset > 0 && self.honour_range {
                (Body::Partial, offset as usize)
            } else {
                (Body::Full, 0)
            };
            let mut data = self.body[start..].to_vec();
            if std::mem::take(&mut *self.cut_first.lock().unwrap()) {
                // A connection that drops mid-body: half the bytes, then an error.
                data.truncate(data.len() / 2);
                return Ok((
                    kind,
                    Box::new(std::io::Cursor::new(data).chain(FailingReader)),
                ));
            }
            Ok((kind, Box::new(std::io::Cursor::new(data))))
        }
    }

    struct FailingReader;
    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"))
        }
    }

    fn expected(body: &[u8]) -> Expected {
        Expected {
            size: body.len() as u64,
            sha256: hex::encode(Sha256::digest(body)),
        }
    }

    /// Leaves `bytes` as an interrupted download of `e` in the cache at `root`.
    fn seed_partial(root: &Path, e: &Expected, bytes: &[u8]) {
        std::fs::create_dir_all(root.join("partial")).unwrap();
        std::fs::write(
            root.join("partial").join(format!("{}.part", e.sha256)),
            bytes,
        )
        .unwrap();
    }

    /// Serves `body` slowly, a kilobyte at a time, so that two downloads overlap.
    struct Slow(Vec<u8>);

    impl Fetcher for Slow {
        fn get(&self, _: &str, offset: u64) -> Result<(Body, Box<dyn Read + Send>), FetchError> {
            struct Trickle(std::io::Cursor<Vec<u8>>);
            impl Read for Trickle {
                fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    let n = buf.len().min(1024);
                    self.0.read(&mut buf[..n])
                }
            }
            let kind = if offset > 0 {
                Body::Partial
            } else {
                Body::Full
            };
            let data = self.0[offset as usize..].to_vec();
            Ok((kind, Box::new(Trickle(std::io::Cursor::new(data)))))
        }
    }

    #[test]
    fn two_caches_on_one_directory_download_one_entry_at_the_same_time() {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let e = expected(&body);
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let cache = Cache::new(dir.path());
                        cache.fetch(&Slow(body.clone()), "http://x/a.deb", &e, true)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in results {
            let p = r.expect("both downloads succeed");
            assert_eq!(std::fs::read(p).unwrap(), body);
        }
    }

    #[test]
    fn partial_download_resumes_with_a_range_request() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let e = expected(&body);
        seed_partial(dir.path(), &e, &body[..40_000]);
        let f = Fake::new(&body);
        let p = cache.fetch(&f, "http://x/a.deb", &e, true).unwrap();
        assert_eq!(std::fs::read(p).unwrap(), body);
        assert_eq!(*f.offsets.lock().unwrap(), vec![40_000]);
    }

    #[test]
    fn a_200_answer_to_a_range_request_restarts_the_file() {
        let body = b"0123456789".repeat(1000);
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let e = expected(&body);
        seed_partial(dir.path(), &e, &body[..3000]);
        let mut f = Fake::new(&body);
        f.honour_range = false;
        let p = cache.fetch(&f, "http://x/a.deb", &e, true).unwrap();
        assert_eq!(std::fs::read(p).unwrap(), body);
    }

    #[test]
    fn a_5xx_is_retried_and_a_mismatch_leaves_nothing() {
        let body = b"hello".to_vec();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let f = Fake::new(&body);
        *f.fail_first.lock().unwrap() = true;
        cache
            .fetch(&f, "http://x/i", &expected(&body), false)
            .unwrap();
        assert_eq!(f.offsets.lock().unwrap().len(), 2);

        let wrong = Expected {
            size: 5,
            sha256: "0".repeat(64),
        };
        let err = cache
            .fetch(&Fake::new(&body), "http://x/j", &wrong, true)
            .unwrap_err();
        assert!(matches!(err, FetchError::HashMismatch { .. }), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("partial"))
                .unwrap()
                .count(),
            0
        );
        assert!(!dir.path().join("sha256").join("0".repeat(64)).exists());
    }

    #[test]
    fn a_corrupt_cache_entry_is_discarded_and_fetched_again() {
        let body = b"package bytes".to_vec();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let e = expected(&body);
        let f = Fake::new(&body);
        let p = cache.fetch(&f, "http://x/a", &e, true).unwrap();
        std::fs::write(&p, b"package byteZ").unwrap();
        assert!(cache.get(&e).is_none(), "corrupt entry served");
        let p = cache.fetch(&f, "http://x/a", &e, true).unwrap();
        assert_eq!(std::fs::read(p).unwrap(), body);
        assert_eq!(f.offsets.lock().unwrap().len(), 2);
    }

    /// A server that never stops sending.
    struct Endless;

    impl Fetcher for Endless {
        fn get(&self, _: &str, _: u64) -> Result<(Body, Box<dyn Read + Send>), FetchError> {
            Ok((Body::Full, Box::new(io::repeat(b'x'))))
        }
    }

    #[test]
    fn an_endless_body_is_cut_at_what_is_known_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let e = expected(&[b'x'; 1000]);
        let err = cache
            .fetch(&Endless, "http://x/Packages.xz", &e, true)
            .unwrap_err();
        // Exactly one byte past the index's size was taken, then refused and removed.
        assert!(
            matches!(err, FetchError::SizeMismatch { actual: 1001, .. }),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("partial"))
                .unwrap()
                .count(),
            0
        );
        let err = get_bytes(&Endless, "http://x/InRelease", MAX_RELEASE).unwrap_err();
        assert!(
            matches!(
                err,
                FetchError::TooLarge {
                    max: MAX_RELEASE,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("http://x/InRelease"), "{err}");
    }

    #[test]
    fn a_connection_dropped_mid_body_is_resumed() {
        let body: Vec<u8> = (0..50_000u32).map(|i| (i % 13) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let f = Fake::new(&body);
        *f.cut_first.lock().unwrap() = true;
        let p = cache
            .fetch(&f, "http://x/a.deb", &expected(&body), true)
            .unwrap();
        assert_eq!(std::fs::read(p).unwrap(), body);
        // The retry asked only for the bytes it did not have.
        assert_eq!(*f.offsets.lock().unwrap(), vec![0, 25_000]);
    }
}
