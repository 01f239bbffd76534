//! The layer cache's entries in a cache repository (`--cache-repo docker://HOST/REPO`,
//! [`distill_oci::registry::cache`]): an entry the local cache lacks is pulled from it,
//! verified, into the local cache; an entry made or found locally is pushed to it when it
//! lacks it. A cache repository that fails is a warning, once, and the build goes on
//! without it: it makes builds faster, never different.

use std::sync::atomic::{AtomicBool, Ordering};

use distill_apt::fetch::{Cache, Expected};
use distill_oci::registry::cache::{self, EntryBlob};
use distill_oci::registry::{Client, RegistryError};

/// A connected cache repository.
pub struct Remote {
    client: Client,
    failed: AtomicBool,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Remote({})", self.client.reference())
    }
}

impl Remote {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            failed: AtomicBool::new(false),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `r`'s value, or `None` after a warning that turns the repository off for the build.
    fn ok<T>(&self, r: Result<T, RegistryError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                if !self.failed.swap(true, Ordering::SeqCst) {
                    tracing::warn!(
                        "cache repository {}: {e}; building without it",
                        self.client.reference()
                    );
                }
                None
            }
        }
    }

    fn on(&self) -> bool {
        !self.failed.load(Ordering::SeqCst)
    }

    /// The record of entry `kind`/`key`, its blob (if any) now verified in `cache`.
    pub fn pull(&self, cache: &Cache, kind: &str, key: &str) -> Option<Vec<u8>> {
        if !self.on() {
            return None;
        }
        let entry = self.ok(cache::get(&self.client, kind, key))??;
        if let Some(b) = &entry.blob {
            let expected = Expected {
                size: b.size,
                sha256: b.digest.hex().to_owned(),
            };
            if cache.get(&expected).is_none() {
                let put = cache.put_with(&expected, &mut |w| {
                    cache::get_blob(&self.client, b, w)
                        .map(|_| ())
                        .map_err(std::io::Error::other)
                });
                if let Err(e) = put {
                    tracing::warn!("cache repository: blob {}: {e}", b.digest);
                    return None;
                }
            }
        }
        Some(entry.record)
    }

    /// Pushes entry `kind`/`key` unless the repository holds it.
    pub fn offer(
        &self,
        kind: &str,
        key: &str,
        record: &[u8],
        blob: Option<(&EntryBlob, &std::path::Path)>,
    ) {
        if !self.on() || self.ok(cache::has(&self.client, kind, key)) != Some(false) {
            return;
        }
        self.ok(cache::put(&self.client, kind, key, record, blob));
    }
}
