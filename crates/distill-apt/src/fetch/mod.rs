//! HTTP downloads behind a [`Fetcher`] trait, with retries, resume, and a verified cache.
//!
//! - [`Fetcher`] is the one boundary with the network, so tests can put a fixture behind it.
//! - [`Cache`] is content-addressed (`sha256/<hex>`) and verifies every entry when it is read:
//!   a corrupt entry is deleted and fetched again. Downloads land in `partial/` and move into
//!   the cache only once their size and SHA-256 match, so no bad bytes are ever served.
//! - `.deb` downloads resume with `Range`; a server that answers 200 instead of 206 restarts
//!   the file from zero, never appending to it (index files on Debian mirrors do that).
//! - Connection errors, timeouts, 429 and 5xx answers are retried with jittered exponential
//!   backoff, waiting out a `Retry-After` (up to a minute); the error after the last
//!   attempt says how many there were. No redirect goes from https to http.
//! - A download that stalls (no byte for `DISTILL_HTTP_STALL_SECS`, default 60) or runs past
//!   its deadline (`DISTILL_HTTP_DEADLINE_SECS`, default 1800) fails that attempt.
//! - A resumed download that does not verify is downloaded once more from the start.
//! - No body is read past what is known of it: a cached download stops one byte after the
//!   size its signed index gives, and [`get_bytes`] takes a cap (see [`MAX_RELEASE`]), so
//!   an endless answer costs neither memory nor disk.
//! - One download per entry at a time: processes (and threads) sharing a cache take an
//!   exclusive lock on `locks/<sha256>.lock` first, so two never append to one partial file.

use std::cell::Cell;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Duration;

use backon::BlockingRetryable;
use distill_oci::net::backoff;

mod cache;
mod http;
#[cfg(test)]
mod tests;

pub use cache::Cache;
pub use http::HttpFetcher;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FetchError {
    #[error("{url} answered HTTP {status}")]
    #[diagnostic(help("{}", status_hint(*status)))]
    Status {
        url: String,
        status: u16,
        /// `Retry-After`, in seconds, when the server said when to come back.
        retry_after: Option<u64>,
    },
    #[error("Gave up on {url} after {attempts} attempts; the last: {last}")]
    #[diagnostic(help(
        "the server kept failing; check the network and the mirror's URL, retry later, or pass --mirror URL"
    ))]
    GaveUp {
        url: String,
        attempts: usize,
        last: Box<FetchError>,
    },
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

    fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status {
                retry_after: Some(s),
                ..
            } => Some(Duration::from_secs(*s)),
            _ => None,
        }
    }

    fn is_mismatch(&self) -> bool {
        matches!(
            self,
            FetchError::HashMismatch { .. } | FetchError::SizeMismatch { .. }
        )
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

pub(crate) use distill_oci::net::retry_after_secs;

/// Runs `attempt` under the backoff policy: transient failures are tried again, after a
/// server's `Retry-After` when it gives one (at most a minute); the last failure of several
/// attempts says how many there were.
fn with_retries<T>(
    url: &str,
    mut attempt: impl FnMut() -> Result<T, FetchError>,
) -> Result<T, FetchError> {
    let attempts = Cell::new(0usize);
    let counted = || {
        attempts.set(attempts.get() + 1);
        attempt()
    };
    counted
        .retry(backoff())
        .when(FetchError::transient)
        .notify(|e, d| {
            tracing::warn!("retrying in {d:?}: {e}");
            distill_oci::net::wait_retry_after(e.retry_after(), d);
        })
        .call()
        .map_err(|e| match attempts.get() {
            n if n > 1 => FetchError::GaveUp {
                url: url.to_owned(),
                attempts: n,
                last: Box::new(e),
            },
            _ => e,
        })
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
    with_retries(url, attempt)
}

/// Downloads `url` into `file` (emptied first, on every attempt), at most `max` bytes:
/// [`get_bytes`] for what is too large to hold in memory. Returns the size.
pub fn get_to_file(
    fetcher: &dyn Fetcher,
    url: &str,
    max: u64,
    file: &mut std::fs::File,
) -> Result<u64, FetchError> {
    let attempt = || {
        let transport = |e: std::io::Error| FetchError::Transport {
            url: url.to_owned(),
            why: e.to_string(),
        };
        file.set_len(0).map_err(transport)?;
        std::io::Seek::rewind(file).map_err(transport)?;
        let (_, r) = fetcher.get(url, 0)?;
        let n = std::io::copy(&mut r.take(max + 1), file).map_err(transport)?;
        if n > max {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                max,
            });
        }
        Ok(n)
    };
    with_retries(url, attempt)
}

/// What a download must turn out to be.
#[derive(Debug, Clone)]
pub struct Expected {
    pub size: u64,
    pub sha256: String,
}
