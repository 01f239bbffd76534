//! Freeze and rollback protection, as apt-secure(8) describes it: a validly signed but
//! older `Release` must not replace a newer one, or whoever serves the mirror could hold
//! an image back at package versions with published holes, signature and all.
//!
//! The cache keeps, per repository and suite, the newest `Date` it has seen
//! (`releases/<sha256 of "URI SUITE">`: the seconds, then the URI and suite for people). An
//! older Release is refused unless the cache was opened with `--allow-downgrade`; the
//! record only ever moves forward, under a lock, so concurrent builds cannot roll it back.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use crate::fetch::Cache;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReplayError {
    #[error("{url} is dated {date}, older than the {seen} this cache has already seen")]
    #[diagnostic(help(
        "the mirror, or something between it and you, is serving an old Release, which would roll packages back; use an up-to-date mirror (--mirror URL), or pass --allow-downgrade if going back is intended"
    ))]
    Older {
        url: String,
        date: String,
        seen: String,
    },
    #[error("Cache {path}: {source}")]
    #[diagnostic(help("check that {} is writable, or set DISTILL_CACHE to a writable directory", path.display()))]
    Io { path: PathBuf, source: io::Error },
}

fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

impl Cache {
    /// Checks `date`, the `Date` of the Release of `suite` at `uri` (fetched from `url`),
    /// against the newest seen, and records it when it is newer.
    pub fn check_release_date(
        &self,
        uri: &str,
        suite: &str,
        date: u64,
        url: &str,
    ) -> Result<(), ReplayError> {
        let dir = self.root().join("releases");
        let io = |path: &PathBuf| {
            let path = path.clone();
            move |source| ReplayError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let key = hex::encode(Sha256::digest(format!("{uri} {suite}")));
        let record = dir.join(&key);
        let lock_path = dir.join(format!("{key}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        let seen = fs::read_to_string(&record)
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse::<u64>().ok());
        match seen {
            Some(seen) if date < seen && !self.allows_downgrade() => {
                return Err(ReplayError::Older {
                    url: url.to_owned(),
                    date: http_date(date),
                    seen: http_date(seen),
                });
            }
            Some(seen) if date <= seen => return Ok(()),
            _ => {}
        }
        let mut tmp = self.temp_file().map_err(io(&dir))?;
        io::Write::write_all(&mut tmp, format!("{date}\n{uri} {suite}\n").as_bytes())
            .map_err(io(&record))?;
        tmp.as_file().sync_all().map_err(io(&record))?;
        tmp.persist(&record).map_err(|e| io(&record)(e.error))?;
        distill_oci::durable::sync_parent(&record).map_err(io(&record))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_release_is_refused_after_a_newer_one_and_allowed_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let (uri, url) = (
            "http://m/debian",
            "http://m/debian/dists/bookworm/InRelease",
        );
        cache
            .check_release_date(uri, "bookworm", 1000, url)
            .unwrap();
        cache
            .check_release_date(uri, "bookworm", 2000, url)
            .unwrap();
        cache
            .check_release_date(uri, "bookworm", 2000, url)
            .unwrap();
        let err = cache
            .check_release_date(uri, "bookworm", 1500, url)
            .unwrap_err();
        assert!(matches!(err, ReplayError::Older { .. }), "{err}");
        assert!(err.to_string().contains(url), "{err}");
        // Other suites and other mirrors have their own clocks.
        cache
            .check_release_date(uri, "bookworm-updates", 10, url)
            .unwrap();
        cache
            .check_release_date("http://n/debian", "bookworm", 10, url)
            .unwrap();
        // Allowed, the older one is used, and the record stays at the newest.
        let allowing = Cache::new(dir.path()).allow_downgrade(true);
        allowing
            .check_release_date(uri, "bookworm", 1500, url)
            .unwrap();
        assert!(
            cache
                .check_release_date(uri, "bookworm", 1999, url)
                .is_err()
        );
    }
}
