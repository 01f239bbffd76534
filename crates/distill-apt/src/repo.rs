//! A repository suite, loaded the way apt-secure(8) says: `InRelease` (or `Release` plus
//! `Release.gpg`) verified first, then every index checked against the SHA-256 the verified
//! Release lists, fetched through `by-hash` paths when the suite offers them.
//!
//! Decompressed indexes are kept in the cache under the SHA-256 that Release gives for the
//! uncompressed file, so a warm load reads, verifies and parses, with no decompression.

use std::io::Read;
use std::sync::Arc;

use crate::fetch::{Cache, Expected, FetchError, Fetcher, MAX_RELEASE, get_bytes};
use crate::packages::{self, Package, PackagesError};
use crate::release::{ReleaseError, ReleaseFile};
use crate::trust::{Keyring, TrustError};

/// One suite of one repository.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Base URI, without a trailing slash.
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
    pub keyring: Arc<Keyring>,
    /// `false` only when the user explicitly opted out of signature checks.
    pub signed: bool,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RepoError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Packages(#[from] PackagesError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Replay(#[from] crate::replay::ReplayError),
    #[error("Cannot decompress {url}: {why}")]
    #[diagnostic(help("the mirror served a damaged index; retry later, or pass --mirror URL"))]
    Decompress { url: String, why: String },
    #[error("Suite {suite} at {uri} has no Packages index for {component}/{arch}")]
    #[diagnostic(help("check the suite, the components and the architecture"))]
    NoIndex {
        uri: String,
        suite: String,
        component: String,
        arch: String,
    },
}

impl Suite {
    fn dists(&self) -> String {
        format!("{}/dists/{}", self.uri, self.suite)
    }

    /// Fetches and verifies the suite's Release, and refuses one older than `cache` has seen.
    pub fn release(
        &self,
        fetcher: &dyn Fetcher,
        cache: &Cache,
        now: u64,
    ) -> Result<ReleaseFile, RepoError> {
        let inrelease = format!("{}/InRelease", self.dists());
        let text = match get_bytes(fetcher, &inrelease, MAX_RELEASE) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if self.signed {
                    self.verify_inline(cache, &text, &inrelease, now)?
                } else {
                    tracing::warn!("{inrelease}: signature NOT checked (signed = false)");
                    strip_clearsign(&text)
                }
            }
            Err(e) if e.is_not_found() => {
                let url = format!("{}/Release", self.dists());
                let release = get_bytes(fetcher, &url, MAX_RELEASE)?;
                if self.signed {
                    let sig_url = format!("{url}.gpg");
                    let sig = match get_bytes(fetcher, &sig_url, MAX_RELEASE) {
                        Err(e) if e.is_not_found() => {
                            return Err(TrustError::Unsigned { url: self.dists() }.into());
                        }
                        r => r?,
                    };
                    self.keyring.verify_detached(&release, &sig, &url, now)?
                } else {
                    tracing::warn!("{url}: signature NOT checked (signed = false)");
                    String::from_utf8_lossy(&release).into_owned()
                }
            }
            Err(e) => return Err(e.into()),
        };
        let release = ReleaseFile::parse(&text, &inrelease)?;
        release.check(&self.suite, &inrelease, now)?;
        if let Some(date) = release.date {
            cache.check_release_date(&self.uri, &self.suite, date, &inrelease)?;
        }
        Ok(release)
    }

    /// The signed text of an `InRelease`, verified. A warm build fetches the same bytes it
    /// verified before, and the signature check is most of what it computes; so an
    /// InRelease verified with this keyring today is remembered by the sha256 of its bytes,
    /// with the sha256 of its signed text, which is then read by the same rules the
    /// verifier uses (and must match). A new day, a changed keyring or other bytes verify
    /// anew.
    fn verify_inline(
        &self,
        cache: &Cache,
        text: &str,
        url: &str,
        now: u64,
    ) -> Result<String, RepoError> {
        use sha2::{Digest as _, Sha256};
        let key = hex::encode(Sha256::digest(format!(
            "{}\n{}\n{}\n{text}",
            now / 86_400,
            url,
            self.keyring.identity()
        )));
        let record = cache.root().join("verified").join(&key);
        let signed = strip_clearsign(text);
        let digest = hex::encode(Sha256::digest(signed.as_bytes()));
        // The record: the signed text's sha256, then the keyring that verified it.
        let kept = std::fs::read_to_string(&record).unwrap_or_default();
        let mut lines = kept.lines();
        if lines.next() == Some(digest.as_str())
            && let Some(ring) = lines.next()
        {
            tracing::info!("{url}: verified with {ring} (these bytes, earlier today)");
            return Ok(signed);
        }
        let (verified, ring) = self.keyring.verify_inline_by(text, url, now)?;
        let digest = hex::encode(Sha256::digest(verified.as_bytes()));
        if verified == signed {
            // Best effort: a cache that cannot be written verifies again next time.
            let _ = std::fs::create_dir_all(record.parent().unwrap_or(cache.root()))
                .and_then(|()| cache.temp_file())
                .and_then(|mut tmp| {
                    std::io::Write::write_all(&mut tmp, format!("{digest}\n{ring}\n").as_bytes())?;
                    tmp.persist(&record).map_err(|e| e.error)?;
                    Ok(())
                });
        }
        Ok(verified)
    }

    /// Loads every component's `Packages` for `arch`; `repo` tags the packages.
    pub fn packages(
        &self,
        release: &ReleaseFile,
        arch: distill_core::Arch,
        repo: usize,
        cache: &Cache,
        fetcher: &dyn Fetcher,
    ) -> Result<Vec<Package>, RepoError> {
        let arch = arch.debian();
        let mut out = Vec::new();
        for comp in &self.components {
            let base = format!("{comp}/binary-{arch}/Packages");
            let label = format!("{}/{base}", self.dists());
            let plain = release.sha256.get(&base).map(|(size, sha)| Expected {
                size: *size,
                sha256: sha.clone(),
            });
            // Warm path: the decompressed index, verified against the signed Release.
            if let Some(p) = plain.as_ref().and_then(|e| cache.get(e)) {
                let mut file = std::fs::File::open(&p).map_err(|e| RepoError::Decompress {
                    url: label.clone(),
                    why: e.to_string(),
                })?;
                out.extend(read_index(&mut file, &mut std::io::sink(), repo, &label)?);
                continue;
            }
            let (ext, (size, sha)) = [".xz", ".gz", ""]
                .iter()
                .find_map(|ext| {
                    release
                        .sha256
                        .get(&format!("{base}{ext}"))
                        .map(|e| (*ext, e.clone()))
                })
                .ok_or_else(|| RepoError::NoIndex {
                    uri: self.uri.clone(),
                    suite: self.suite.clone(),
                    component: comp.clone(),
                    arch: arch.to_owned(),
                })?;
            let url = if release.acquire_by_hash {
                format!("{}/{comp}/binary-{arch}/by-hash/SHA256/{sha}", self.dists())
            } else {
                format!("{}/{base}{ext}", self.dists())
            };
            let expected = Expected { size, sha256: sha };
            let path = cache.fetch(fetcher, &url, &expected, false)?;
            let file = std::fs::File::open(&path).map_err(|e| RepoError::Decompress {
                url: url.clone(),
                why: e.to_string(),
            })?;
            let mut reader: Box<dyn Read> = match ext {
                ".xz" => Box::new(liblzma::read::XzDecoder::new(file)),
                ".gz" => Box::new(flate2::read::GzDecoder::new(file)),
                _ => Box::new(file),
            };
            out.extend(self.decompressed(cache, reader.as_mut(), plain.as_ref(), repo, &url)?);
        }
        Ok(out)
    }
}

/// A `Packages` index read from `r` (see [`packages::parse_reader`]), written to `tee`.
fn read_index(
    r: &mut dyn Read,
    tee: &mut dyn std::io::Write,
    repo: usize,
    label: &str,
) -> Result<Vec<Package>, RepoError> {
    packages::parse_reader(r, tee, repo, label).map_err(|e| match e {
        packages::ReadError::Io(e) => RepoError::Decompress {
            url: label.to_owned(),
            why: e.to_string(),
        },
        packages::ReadError::Parse(e) => e.into(),
    })
}

impl Suite {
    /// The packages of a downloaded, decompressing index; when the Release names the
    /// decompressed index too (`plain`), the text is checked against it and kept in the
    /// cache, streamed there as it is parsed.
    fn decompressed(
        &self,
        cache: &Cache,
        reader: &mut dyn Read,
        plain: Option<&Expected>,
        repo: usize,
        url: &str,
    ) -> Result<Vec<Package>, RepoError> {
        let Some(plain) = plain else {
            return read_index(reader, &mut std::io::sink(), repo, url);
        };
        let mut result = None;
        let stored = cache.put_with(plain, &mut |w| {
            let mut tee = HashingTee {
                inner: w,
                hash: <sha2::Sha256 as sha2::Digest>::new(),
            };
            let r = read_index(reader, &mut tee, repo, url);
            let actual = hex::encode(sha2::Digest::finalize(tee.hash));
            let r = r.and_then(|p| {
                if actual == plain.sha256 {
                    Ok(p)
                } else {
                    Err(FetchError::HashMismatch {
                        url: format!("{url} (decompressed)"),
                        expected: plain.sha256.clone(),
                        actual,
                    }
                    .into())
                }
            });
            let failed = r.is_err();
            result = Some(r);
            if failed {
                return Err(std::io::Error::other("the index did not verify"));
            }
            Ok(())
        });
        match (result, stored) {
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(e.into()),
            (Some(Ok(p)), Ok(_)) => Ok(p),
            (None, Ok(_)) => unreachable!("put_with ran the writer"),
        }
    }
}

/// A writer that hashes what it passes on.
struct HashingTee<'a> {
    inner: &'a mut dyn std::io::Write,
    hash: sha2::Sha256,
}

impl std::io::Write for HashingTee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hash, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The text of a clearsigned message without verifying it (the explicit opt-out only).
fn strip_clearsign(text: &str) -> String {
    let Some(start) = text.find("\n\n") else {
        return text.to_owned();
    };
    let body = &text[start + 2..];
    let end = body
        .find("-----BEGIN PGP SIGNATURE-----")
        .unwrap_or(body.len());
    body[..end]
        .lines()
        .map(|l| l.strip_prefix("- ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
