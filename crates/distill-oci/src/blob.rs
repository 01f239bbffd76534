//! A content-addressed blob store laid out as an OCI image layout's `blobs/sha256/`.
//!
//! Every blob lands under its own digest by rename from a temporary file in the same
//! directory, so a reader never sees a half-written blob and an interrupted write leaves
//! only a temporary file that is not addressable.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::digest::{Digest, HashingWriter};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BlobStoreError {
    #[error("Cannot create blob directory {path}: {source}")]
    #[diagnostic(help("check that {} is writable and its disk has room", path.display()))]
    Create { path: PathBuf, source: io::Error },
    #[error("Cannot write blob in {dir}: {source}")]
    #[diagnostic(help("check that {} is writable and its disk has room", dir.display()))]
    Write { dir: PathBuf, source: io::Error },
    #[error("Cannot read blob {digest} from {path}: {source}")]
    #[diagnostic(help("the image is incomplete: copy or pull it again"))]
    Read {
        digest: Digest,
        path: PathBuf,
        source: io::Error,
    },
}

/// Blobs under `<root>/blobs/sha256/<hex>`.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self, BlobStoreError> {
        let store = Self { root: root.into() };
        let dir = store.dir();
        fs::create_dir_all(&dir).map_err(|source| BlobStoreError::Create { path: dir, source })?;
        Ok(store)
    }

    /// The layout root this store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    /// Where the blob with `digest` is (or would be) stored.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir().join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Stores `bytes`, returning their digest.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, BlobStoreError> {
        let mut w = self.writer()?;
        w.write_all(bytes).map_err(|e| self.write_err(e))?;
        Ok(w.commit()?.0)
    }

    /// A streaming writer; the blob appears under its digest on [`BlobWriter::commit`].
    pub fn writer(&self) -> Result<BlobWriter, BlobStoreError> {
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(self.dir())
            .map_err(|e| self.write_err(e))?;
        let file = tmp.reopen().map_err(|e| self.write_err(e))?;
        Ok(BlobWriter {
            store: self.clone(),
            tmp,
            inner: HashingWriter::new(BufWriter::with_capacity(1 << 17, file)),
        })
    }

    pub fn open(&self, digest: &Digest) -> Result<File, BlobStoreError> {
        let path = self.path(digest);
        File::open(&path).map_err(|source| BlobStoreError::Read {
            digest: digest.clone(),
            path,
            source,
        })
    }

    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, BlobStoreError> {
        let path = self.path(digest);
        fs::read(&path).map_err(|source| BlobStoreError::Read {
            digest: digest.clone(),
            path,
            source,
        })
    }

    fn write_err(&self, source: io::Error) -> BlobStoreError {
        BlobStoreError::Write {
            dir: self.dir(),
            source,
        }
    }
}

/// A blob being written; see [`BlobStore::writer`].
pub struct BlobWriter {
    store: BlobStore,
    tmp: NamedTempFile,
    inner: HashingWriter<BufWriter<File>>,
}

impl BlobWriter {
    /// Flushes and moves the blob to its address. Returns its digest and size. No fsync:
    /// blob stores are staging areas, and outputs are made durable when committed.
    pub fn commit(self) -> Result<(Digest, u64), BlobStoreError> {
        let (buf, digest, size) = self.inner.finish();
        let file = buf
            .into_inner()
            .map_err(|e| self.store.write_err(e.into_error()))?;
        // Temporary files start as 0600; a blob is public content, readable like any file.
        file.set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| self.store.write_err(e))?;
        let dest = self.store.path(&digest);
        self.tmp
            .persist(&dest)
            .map_err(|e| self.store.write_err(e.error))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_stores_under_digest_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::create(dir.path()).unwrap();
        let d = store.put(b"abc").unwrap();
        assert_eq!(d, Digest::of(b"abc"));
        assert_eq!(store.read(&d).unwrap(), b"abc");
        let names: Vec<_> = fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(d.hex())]);
    }

    #[test]
    fn dropped_writer_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::create(dir.path()).unwrap();
        let mut w = store.writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert_eq!(
            fs::read_dir(dir.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            0
        );
    }
}
