//! Blobs over the distribution protocol: presence, cross-repository mounts, monolithic and
//! chunked uploads, and verified downloads.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::blocking::Response;
use reqwest::{Method, StatusCode};

use super::client::{Client, RegistryError};
use crate::digest::Digest;

impl Client {
    /// Whether the repository already has the blob.
    pub(crate) fn has_blob(&self, digest: &Digest) -> Result<bool, RegistryError> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(Method::HEAD, &url, &|rb| rb)?;
        Ok(resp.status().is_success())
    }

    /// Mounts a blob from another repository of the same registry; `false` if the registry
    /// declined (the caller then uploads).
    pub(crate) fn mount_blob(&self, digest: &Digest, from: &str) -> Result<bool, RegistryError> {
        let url = self.url("blobs/uploads/");
        let resp = self.send(Method::POST, &url, &|rb| {
            rb.query(&[("mount", digest.to_string().as_str()), ("from", from)])
                .header(reqwest::header::CONTENT_LENGTH, 0)
        })?;
        Ok(resp.status() == StatusCode::CREATED)
    }

    fn start_upload(&self) -> Result<String, RegistryError> {
        let url = self.url("blobs/uploads/");
        let resp = self.send(Method::POST, &url, &|rb| {
            rb.header(reqwest::header::CONTENT_LENGTH, 0)
        })?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(RegistryError::Protocol {
                url,
                why: format!("upload start answered {}", resp.status()),
            });
        }
        self.location(&resp, &url)
    }

    fn location(&self, resp: &Response, url: &str) -> Result<String, RegistryError> {
        resp.headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|l| self.absolute(l))
            .ok_or_else(|| RegistryError::Protocol {
                url: url.to_owned(),
                why: "no Location header".into(),
            })
    }

    /// Uploads a blob of `size` bytes, read from `open(offset)`: in one streamed PUT when it
    /// is at most `chunk` bytes, else in streamed PATCH chunks of `chunk` bytes and a
    /// closing PUT.
    pub(crate) fn upload_blob(
        &self,
        digest: &Digest,
        size: u64,
        chunk: u64,
        open: &dyn Fn(u64) -> std::io::Result<Box<dyn Read + Send>>,
    ) -> Result<(), RegistryError> {
        let local = |e: std::io::Error| RegistryError::Local {
            digest: digest.to_string(),
            why: e.to_string(),
        };
        let mut location = self.start_upload()?;
        let with_digest = |loc: &str| {
            let sep = if loc.contains('?') { '&' } else { '?' };
            format!("{loc}{sep}digest={digest}")
        };
        // A body can be sent once; `send` asks for it again only after an auth challenge,
        // which the upload start above has already answered.
        let body = |offset: u64, n: u64| -> Result<reqwest::blocking::Body, RegistryError> {
            let r = open(offset).map_err(local)?;
            Ok(reqwest::blocking::Body::sized(
                Counting::new(Box::new(r.take(n)), self.sent.clone()),
                n,
            ))
        };
        if size <= chunk {
            let url = with_digest(&location);
            let b = Mutex::new(Some(body(0, size)?));
            let resp = self.send(Method::PUT, &url, &|rb| {
                let rb = rb.header(reqwest::header::CONTENT_TYPE, "application/octet-stream");
                match b.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    Some(b) => rb.body(b),
                    None => rb.body(Vec::new()),
                }
            })?;
            return self.expect_created(resp, &url, digest, "blob");
        }
        let mut offset = 0u64;
        while offset < size {
            let n = chunk.min(size - offset);
            let url = location.clone();
            let b = Mutex::new(Some(body(offset, n)?));
            let resp = self.send(Method::PATCH, &url, &|rb| {
                let rb = rb
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .header(
                        reqwest::header::CONTENT_RANGE,
                        format!("{}-{}", offset, offset + n - 1),
                    );
                match b.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    Some(b) => rb.body(b),
                    None => rb.body(Vec::new()),
                }
            })?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(RegistryError::Protocol {
                    url,
                    why: format!("chunk upload answered {}", resp.status()),
                });
            }
            location = self.location(&resp, &location)?;
            offset += n;
        }
        let url = with_digest(&location);
        let resp = self.send(Method::PUT, &url, &|rb| {
            rb.header(reqwest::header::CONTENT_LENGTH, 0)
        })?;
        self.expect_created(resp, &url, digest, "blob")
    }

    /// Checks a finished upload: 201, and the digest the registry computed, if it says.
    pub(super) fn expect_created(
        &self,
        resp: Response,
        url: &str,
        digest: &Digest,
        what: &'static str,
    ) -> Result<(), RegistryError> {
        if resp.status() != StatusCode::CREATED {
            return Err(RegistryError::Protocol {
                url: url.to_owned(),
                why: format!("{what} upload answered {}", resp.status()),
            });
        }
        if let Some(d) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|h| h.to_str().ok())
            && d != digest.to_string()
        {
            return Err(RegistryError::DigestMismatch {
                what,
                url: url.to_owned(),
                expected: digest.to_string(),
                actual: d.to_owned(),
            });
        }
        Ok(())
    }

    /// Streams a blob of `size` bytes (as its descriptor says) into `out`, verifying its
    /// digest; one byte more than `size` is refused, so an endless answer ends there.
    pub(crate) fn get_blob(
        &self,
        digest: &Digest,
        size: u64,
        out: &mut dyn std::io::Write,
    ) -> Result<u64, RegistryError> {
        let url = self.url(&format!("blobs/{digest}"));
        let mut resp = self.send(Method::GET, &url, &|rb| rb)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::Status {
                method: "GET".into(),
                url,
                status: 404,
                why: "no such blob".into(),
            });
        }
        let mut w = crate::digest::HashingWriter::new(out);
        std::io::copy(&mut (&mut resp).take(size.saturating_add(1)), &mut w).map_err(|e| {
            RegistryError::Transport {
                url: url.clone(),
                why: e.to_string(),
            }
        })?;
        let (_, actual, n) = w.finish();
        if n != size {
            return Err(RegistryError::SizeMismatch {
                url,
                expected: size,
                actual: n,
            });
        }
        if &actual != digest {
            return Err(RegistryError::DigestMismatch {
                what: "blob",
                url,
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(n)
    }
}

/// Counts the bytes a request body hands to the network.
struct Counting {
    inner: Box<dyn Read + Send>,
    sent: Arc<AtomicU64>,
}

impl Counting {
    fn new(inner: Box<dyn Read + Send>, sent: Arc<AtomicU64>) -> Self {
        Self { inner, sent }
    }
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}
