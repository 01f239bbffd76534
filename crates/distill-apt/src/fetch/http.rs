//! The real network: reqwest (rustls with ring), with a stall timeout and a deadline.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use distill_oci::net::error_chain;

use super::{Body, FetchError, Fetcher, retry_after_secs};

/// The real network, through reqwest with rustls (ring).
pub struct HttpFetcher {
    client: reqwest::blocking::Client,
    deadline: Duration,
}

impl HttpFetcher {
    /// With the stall timeout and deadline of the environment (see the module docs).
    pub fn new() -> Self {
        Self::with_timeouts(
            distill_oci::net::secs_from_env("DISTILL_HTTP_STALL_SECS", 60),
            distill_oci::net::secs_from_env("DISTILL_HTTP_DEADLINE_SECS", 1800),
        )
    }

    /// An attempt fails when no byte arrives for `stall`, or after `deadline` in all.
    pub fn with_timeouts(stall: Duration, deadline: Duration) -> Self {
        // Idempotent; fails only when another provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .redirect(distill_oci::net::redirect_policy())
            .connect_timeout(Duration::from_secs(20))
            // The blocking client applies this to each read, so it is the stall timeout.
            .timeout(stall)
            .user_agent(concat!("distill/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client builds");
        Self { client, deadline }
    }
}

/// A body that fails once its deadline has passed (each read is bounded by the stall
/// timeout, so the deadline is overrun by at most that).
struct Deadline<R> {
    inner: R,
    until: Instant,
    total: Duration,
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if Instant::now() > self.until {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("not complete after {} s", self.total.as_secs()),
            ));
        }
        self.inner.read(buf)
    }
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetcher for HttpFetcher {
    fn get(&self, url: &str, offset: u64) -> Result<(Body, Box<dyn Read + Send>), FetchError> {
        let started = Instant::now();
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
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after_secs);
                return Err(FetchError::Status {
                    url: url.to_owned(),
                    status,
                    retry_after,
                });
            }
        };
        Ok((
            body,
            Box::new(Deadline {
                inner: resp,
                until: started + self.deadline,
                total: self.deadline,
            }),
        ))
    }
}
