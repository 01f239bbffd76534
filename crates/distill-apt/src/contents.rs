//! `Contents-<arch>` indexes: which package ships a file, here used to find the package of
//! a shared library a binary needs (Debian Repository Format, "Contents indices").
//!
//! The index is fetched compressed, verified against the signed Release like every other
//! index, kept in the cache, and streamed: only the lines for the wanted library names in
//! the library directories are kept, so its 150 MB never sit in memory.
//!
//! Mirrors publish Contents apart from the other indexes and are seen serving one that no
//! longer matches the Release. The copy the Release names is fetched through `by-hash`
//! first, where the suite offers it. When no copy matches, the one served is used anyway,
//! with a warning, and kept apart from the verified cache (`contents-advisory/`, never read
//! as verified):
//! it only suggests package *names*. The caller then lets only verified bytes decide: a
//! suggested package is chosen only once its own `.deb`, verified through the signed
//! Packages index, is seen to ship the library, and the build checks again that each
//! needed library is really in the image.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use crate::fetch::{Cache, Expected, FetchError, Fetcher, get_bytes};
use crate::release::ReleaseFile;
use crate::repo::{RepoError, Suite};

impl Suite {
    /// The compressed `Contents-<arch>.gz` of the suite's first component, and whether it
    /// is verified: verified and cached, or, when no copy the mirror serves matches its
    /// Release, as served (see the module docs), and `false`.
    pub fn contents(
        &self,
        release: &ReleaseFile,
        arch: distill_core::Arch,
        cache: &Cache,
        fetcher: &dyn Fetcher,
    ) -> Result<(Vec<u8>, bool), RepoError> {
        let arch = arch.debian();
        let comp = self.components.first().map_or("main", String::as_str);
        let name = format!("{comp}/Contents-{arch}.gz");
        let (size, sha) = release
            .sha256
            .get(&name)
            .cloned()
            .ok_or_else(|| RepoError::NoIndex {
                uri: self.uri.clone(),
                suite: self.suite.clone(),
                component: comp.to_owned(),
                arch: format!("{arch} (Contents)"),
            })?;
        let url = format!("{}/dists/{}/{name}", self.uri, self.suite);
        let read = |p: PathBuf| {
            std::fs::read(&p)
                .map(|bytes| (bytes, true))
                .map_err(|source| RepoError::from(FetchError::Cache { path: p, source }))
        };
        // What was served instead of the file the Release names, kept apart from the
        // verified cache under the name it should have had, so it is fetched once per Release.
        let advisory = cache.root().join("contents-advisory").join(&sha);
        if let Ok(bytes) = std::fs::read(&advisory) {
            tracing::warn!(
                "{url} did not match its Release; using the copy served then, only to find package names"
            );
            return Ok((bytes, false));
        }
        let expected = Expected {
            size,
            sha256: sha.clone(),
        };
        // The by-hash copy is what the Release names, even while the plain name already
        // serves a newer (or older) file.
        if release.acquire_by_hash {
            let by_hash = format!(
                "{}/dists/{}/{comp}/by-hash/SHA256/{sha}",
                self.uri, self.suite
            );
            match cache.fetch(fetcher, &by_hash, &expected, true) {
                Ok(path) => return read(path),
                Err(e) => tracing::info!("{e}; trying {url}"),
            }
        }
        match cache.fetch(fetcher, &url, &expected, true) {
            Ok(path) => read(path),
            Err(e @ (FetchError::HashMismatch { .. } | FetchError::SizeMismatch { .. })) => {
                tracing::warn!("{e}; using it only to find package names");
                // A stale copy differs from the Release's size, but not by more than half again.
                let bytes = get_bytes(fetcher, &url, size + size / 2)?;
                if let Some(dir) = advisory.parent()
                    && std::fs::create_dir_all(dir).is_ok()
                    && let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir)
                    && std::io::Write::write_all(&mut tmp, &bytes).is_ok()
                {
                    let _ = tmp.persist(&advisory);
                }
                Ok((bytes, false))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// For each wanted file name, the packages that ship it in a library directory of `arch`,
/// read from a (decompressed) Contents stream. Lines are `PATH  section/pkg[,section/pkg]`.
pub fn libraries(
    contents: impl Read,
    wanted: &BTreeSet<String>,
    arch: distill_core::Arch,
) -> std::io::Result<BTreeMap<String, Vec<String>>> {
    let t = arch.triplet();
    let dirs = [
        format!("lib/{t}"),
        format!("usr/lib/{t}"),
        "lib".to_owned(),
        "usr/lib".to_owned(),
        "lib64".to_owned(),
        "usr/lib64".to_owned(),
    ];
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut line = String::new();
    let mut reader = BufReader::new(contents);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        // The path may hold spaces; the package list is the last field.
        let Some((path, pkgs)) = line.trim_end().rsplit_once(char::is_whitespace) else {
            continue;
        };
        let path = path.trim_end();
        let Some((dir, file)) = path.rsplit_once('/') else {
            continue;
        };
        if !wanted.contains(file) || !dirs.iter().any(|d| d == dir) {
            continue;
        }
        let entry = out.entry(file.to_owned()).or_default();
        for p in pkgs.split(',') {
            let name = p.rsplit('/').next().unwrap_or(p).to_owned();
            if !entry.contains(&name) {
                entry.push(name);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_libraries_in_library_directories_only() {
        let index = "\
usr/lib/x86_64-linux-gnu/libssl.so.3                    libs/libssl3
usr/lib/x86_64-linux-gnu/libz.so.1                      libs/zlib1g
lib/x86_64-linux-gnu/libz.so.1                          libs/zlib1g
usr/share/doc/libz.so.1                                 doc/confusing
usr/lib/aarch64-linux-gnu/libssl.so.3                   libs/libssl3
usr/lib/x86_64-linux-gnu/libfoo.so.1                    libs/libfoo1,oldlibs/libfoo1-compat
usr/lib/x86_64-linux-gnu/dir with space/libz.so.1       libs/nope
";
        let wanted: BTreeSet<String> = ["libssl.so.3", "libz.so.1", "libfoo.so.1", "libnone.so.9"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let found = libraries(index.as_bytes(), &wanted, distill_core::Arch::Amd64).unwrap();
        assert_eq!(found["libssl.so.3"], ["libssl3"]);
        assert_eq!(found["libz.so.1"], ["zlib1g"]);
        assert_eq!(found["libfoo.so.1"], ["libfoo1", "libfoo1-compat"]);
        assert!(!found.contains_key("libnone.so.9"));
        let arm = libraries(index.as_bytes(), &wanted, distill_core::Arch::Arm64).unwrap();
        assert_eq!(arm.keys().collect::<Vec<_>>(), ["libssl.so.3"]);
    }
}
