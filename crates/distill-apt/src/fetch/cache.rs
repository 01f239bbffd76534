//! The content-addressed download cache: verified on every read, written only from
//! verified bytes, one download per entry at a time (see the parent module).

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::{Body, Expected, FetchError, Fetcher, with_retries};

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

    /// Stores what `reader` gives, verified against `expected` on the way, and returns the
    /// entry; nothing is stored when the bytes do not match.
    pub fn put_reader(
        &self,
        expected: &Expected,
        reader: &mut dyn Read,
    ) -> Result<PathBuf, FetchError> {
        self.put_with(expected, &mut |w| io::copy(reader, w).map(|_| ()))
    }

    /// Stores what `write` writes, verified against `expected` on the way, and returns the
    /// entry; nothing is stored when the bytes do not match or `write` fails.
    pub fn put_with(
        &self,
        expected: &Expected,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<PathBuf, FetchError> {
        let dir = self.root.join("sha256");
        fs::create_dir_all(&dir).map_err(self.io(&dir))?;
        let tmp = self.temp_file().map_err(self.io(&dir))?;
        let mut w = distill_core::digest::HashingWriter::new(io::BufWriter::new(tmp));
        write(&mut w).map_err(self.io(&dir))?;
        let (buffered, digest, n) = w.finish();
        let actual = digest.hex().to_owned();
        let tmp = buffered
            .into_inner()
            .map_err(|e| self.io(&dir)(e.into_error()))?;
        if actual != expected.sha256 || n != expected.size {
            return Err(FetchError::Cache {
                path: self.entry(&expected.sha256),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the bytes to store are sha256:{actual} ({n} bytes), not the sha256:{} ({} bytes) they were stored as",
                        expected.sha256, expected.size
                    ),
                ),
            });
        }
        // Temporary files start as 0600; an entry is public content (a layout's blobs may
        // be hard links to it).
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(self.io(&dir))?;
        tmp.as_file().sync_all().map_err(self.io(&dir))?;
        distill_core::crash::point("cache-entry-synced");
        let path = self.entry(&expected.sha256);
        tmp.persist(&path).map_err(|e| self.io(&path)(e.error))?;
        distill_oci::durable::sync_parent(&path).map_err(self.io(&path))?;
        Ok(path)
    }

    /// The lock of entry `name`, held until the file is dropped: one writer per entry at a
    /// time across processes sharing the cache (CI runners, parallel builds). Lock files
    /// stay (in `locks/`, apart from the data): removing one while another process waits on
    /// it would let a third take a new one.
    pub fn lock(&self, name: &str) -> Result<File, FetchError> {
        let locks = self.root.join("locks");
        fs::create_dir_all(&locks).map_err(self.io(&locks))?;
        let lock_path = locks.join(format!("{name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(self.io(&lock_path))?;
        lock.lock().map_err(self.io(&lock_path))?;
        Ok(lock)
    }

    /// A temporary file for an entry being written, in `partial/` (the cache's own
    /// filesystem, so the rename into place is atomic). It is held locked while it is
    /// open, and a later run removes one that nobody holds: the writer was killed. (A PID
    /// would not do: caches are shared by CI runners in other PID namespaces.)
    pub fn temp_file(&self) -> std::io::Result<tempfile::NamedTempFile> {
        let dir = self.root.join("partial");
        fs::create_dir_all(&dir)?;
        distill_oci::cleanup::sweep_unlocked(&dir, ".distill-");
        // Made under a name the sweep ignores, locked, and only then given the name it
        // looks for: no sweeper can find it unlocked.
        let (file, path) = tempfile::Builder::new()
            .prefix(".creating-")
            .tempfile_in(&dir)?
            .into_parts();
        file.lock()?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(".creating-"))
            .map(|n| dir.join(format!(".distill-{n}")))
            .ok_or_else(|| std::io::Error::other("unexpected temporary name"))?;
        fs::rename(&path, &name)?;
        // The old path is gone; only the new one is to be removed if this is dropped.
        let _ = path.keep();
        Ok(tempfile::NamedTempFile::from_parts(
            file,
            tempfile::TempPath::try_from_path(name)?,
        ))
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
        // One download per entry at a time: whoever waited for the lock finds the entry
        // in place.
        let _lock = self.lock(&expected.sha256)?;
        if let Some(p) = self.get(expected) {
            return Ok(p);
        }
        let part = partial_dir.join(format!("{}.part", expected.sha256));
        let resumed = Cell::new(false);
        let mut result = with_retries(url, || {
            self.try_download(fetcher, url, expected, &part, resumable, &resumed)
        });
        if resumed.get() && result.as_ref().is_err_and(FetchError::is_mismatch) {
            // The bytes kept from before may be what was wrong (a file replaced on the
            // mirror between the two halves): once more, from zero.
            tracing::warn!("{url}: the resumed download did not verify; fetching it whole");
            let _ = fs::remove_file(&part);
            let never = Cell::new(false);
            result = with_retries(url, || {
                self.try_download(fetcher, url, expected, &part, false, &never)
            });
        }
        match result {
            Ok(()) => {
                let dest = self.entry(&expected.sha256);
                fs::rename(&part, &dest).map_err(self.io(&dest))?;
                distill_oci::durable::sync_parent(&dest).map_err(self.io(&dest))?;
                Ok(dest)
            }
            Err(e) => {
                // Keep a partial file only when it can be resumed and is not known bad.
                let cut_short = match &e {
                    FetchError::GaveUp { last, .. } => last.transient(),
                    e => e.transient(),
                };
                if !resumable || !cut_short {
                    let _ = fs::remove_file(&part);
                }
                Err(e)
            }
        }
    }

    /// One attempt; `resumed` is set when it continued earlier bytes.
    fn try_download(
        &self,
        fetcher: &dyn Fetcher,
        url: &str,
        expected: &Expected,
        part: &Path,
        resumable: bool,
        resumed: &Cell<bool>,
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
            Body::Partial => {
                resumed.set(true);
                have
            }
        };
        // One byte more than the index promises is enough to know the answer is wrong.
        let room = (expected.size - start).saturating_add(1);
        io::copy(&mut reader.take(room), &mut file).map_err(|e| FetchError::Transport {
            url: url.to_owned(),
            why: e.to_string(),
        })?;
        file.sync_all().map_err(self.io(part))?;
        distill_core::crash::point("download");
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
