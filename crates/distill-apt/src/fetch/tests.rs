//! The cache and the retry policy against fake servers.

use super::*;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// Serves one body; records the offsets asked for; can answer 200 to ranges, fail once,
/// or cut the body short once.
struct Fake {
    body: Vec<u8>,
    honour_range: bool,
    cut_first: Mutex<bool>,
    fail_first: Mutex<bool>,
    /// Answer 429 with this `Retry-After` first.
    busy_first: Mutex<Option<u64>>,
    /// Answer 503 every time.
    down: bool,
    offsets: Mutex<Vec<u64>>,
}

impl Fake {
    fn new(body: &[u8]) -> Self {
        Self {
            body: body.to_vec(),
            honour_range: true,
            cut_first: Mutex::new(false),
            fail_first: Mutex::new(false),
            busy_first: Mutex::new(None),
            down: false,
            offsets: Mutex::new(Vec::new()),
        }
    }
}

impl Fetcher for Fake {
    fn get(&self, url: &str, offset: u64) -> Result<(Body, Box<dyn Read + Send>), FetchError> {
        self.offsets.lock().unwrap().push(offset);
        if let Some(secs) = self.busy_first.lock().unwrap().take() {
            return Err(FetchError::Status {
                url: url.into(),
                status: 429,
                retry_after: Some(secs),
            });
        }
        if self.down || std::mem::take(&mut *self.fail_first.lock().unwrap()) {
            return Err(FetchError::Status {
                url: url.into(),
                status: 503,
                retry_after: None,
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
fn a_retry_after_is_waited_out() {
    let body = b"index".to_vec();
    let dir = tempfile::tempdir().unwrap();
    let f = Fake::new(&body);
    *f.busy_first.lock().unwrap() = Some(2);
    let start = Instant::now();
    Cache::new(dir.path())
        .fetch(&f, "http://x/i", &expected(&body), false)
        .unwrap();
    // A lower bound only: the backoff alone would have waited 200 ms.
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(f.offsets.lock().unwrap().len(), 2);
    assert_eq!(retry_after_secs("7"), Some(7));
    assert_eq!(retry_after_secs("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
    assert_eq!(retry_after_secs("soon"), None);
}

#[test]
fn a_resumed_download_that_does_not_verify_is_fetched_whole_once() {
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let e = expected(&body);
    // Kept from an earlier version of the file: the right length, other bytes.
    seed_partial(dir.path(), &e, &[7u8; 40_000]);
    let f = Fake::new(&body);
    let p = Cache::new(dir.path())
        .fetch(&f, "http://x/a.deb", &e, true)
        .unwrap();
    assert_eq!(std::fs::read(p).unwrap(), body);
    assert_eq!(*f.offsets.lock().unwrap(), vec![40_000, 0]);
}

#[test]
fn the_last_failure_names_the_url_and_the_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fake::new(b"x");
    f.down = true;
    let err = Cache::new(dir.path())
        .fetch(&f, "http://x/gone.deb", &expected(b"x"), true)
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::GaveUp { attempts: 6, last, .. }
            if matches!(**last, FetchError::Status { status: 503, .. })),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("http://x/gone.deb") && text.contains("6 attempts") && text.contains("503"),
        "{text}"
    );
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
