//! Reading `.deb` files (deb(5)): an `ar` archive holding `debian-binary`, `control.tar.*`
//! and `data.tar.*`.
//!
//! The `ar` reader is our own: the `ar` crate panics on malformed input, and a `.deb` is
//! hostile input until proven otherwise. Extraction never writes the package's tree to disk:
//! file contents go, one after another, into a single staging file and the tree exists only
//! as layer [`Entry`]s, so no crafted path or symlink can make us write outside the staging
//! directory.
//!
//! Each entry is checked and normalized:
//! - `..` components, absolute names, device nodes and FIFOs are refused, naming the package;
//! - a relative symlink whose target climbs above the root is refused;
//! - a hard link must point at a regular file seen earlier in the same package;
//! - `bin`, `sbin`, `lib*` move under `usr/` (merged /usr), so no layer replaces the
//!   top-level symlinks with directories;
//! - setuid and setgid bits are dropped: images carry none; so is o+w, with a warning, on
//!   anything but a sticky directory such as `/tmp`;
//! - each tar stream is bounded ([`crate::limits`]): decompressed bytes (by the package's
//!   `Installed-Size`), entries, declared sizes, extension headers, and path length.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use distill_oci::layer::{Entry, EntryKind, FileSource, LayerError, normalize_path};

use crate::limits::{self, Crossed, Guarded, Limit};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DebError {
    #[error("{package}: not a Debian package ({why})")]
    #[diagnostic(help("the download is not a .deb and was removed from the cache; build again"))]
    NotADeb { package: String, why: String },
    #[error("{package}: unsafe entry `{path}`: {why}")]
    #[diagnostic(help(
        "the package is malformed or malicious and was not installed; drop {package} from the packages, or report it to its repository"
    ))]
    Unsafe {
        package: String,
        path: String,
        why: &'static str,
    },
    #[error("{package}: {member} is refused: {limit}")]
    #[diagnostic(help(
        "the package is malformed or malicious (an archive bomb) and was not installed; drop {package} from the packages, or report it to its repository"
    ))]
    Limit {
        package: String,
        member: String,
        limit: Limit,
    },
    #[error("{package}: cannot read {member}: {source}")]
    Read {
        package: String,
        member: String,
        source: io::Error,
    },
    #[error("{package}: cannot stage files in {dir}: {source}")]
    #[diagnostic(help("set TMPDIR to a writable directory with room for the packages"))]
    Stage {
        package: String,
        dir: PathBuf,
        source: io::Error,
    },
}

/// One member of an `ar` archive: its name and where its bytes are.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    offset: u64,
    size: u64,
}

fn read_members(file: &mut File, package: &str) -> Result<Vec<Member>, DebError> {
    let bad = |why: String| DebError::NotADeb {
        package: package.to_owned(),
        why,
    };
    let total = file.metadata().map_err(|e| bad(e.to_string()))?.len();
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic)
        .map_err(|_| bad("too short".into()))?;
    if &magic != b"!<arch>\n" {
        return Err(bad("no ar magic".into()));
    }
    let mut pos = 8u64;
    let mut out = Vec::new();
    while pos < total {
        let mut h = [0u8; 60];
        file.seek(SeekFrom::Start(pos))
            .map_err(|e| bad(e.to_string()))?;
        file.read_exact(&mut h)
            .map_err(|_| bad("truncated member header".into()))?;
        if &h[58..60] != b"`\n" {
            return Err(bad("bad member header".into()));
        }
        let name = std::str::from_utf8(&h[..16]).map_err(|_| bad("bad member name".into()))?;
        let name = name.trim_end().trim_end_matches('/').to_owned();
        let size: u64 = std::str::from_utf8(&h[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| bad("bad member size".into()))?;
        let offset = pos + 60;
        if offset.checked_add(size).is_none_or(|end| end > total) {
            return Err(bad(format!("member {name} runs past the end of the file")));
        }
        out.push(Member { name, offset, size });
        pos = offset + size + (size % 2);
        if out.len() > 16 {
            return Err(bad("too many members".into()));
        }
    }
    if out.first().map(|m| m.name.as_str()) != Some("debian-binary") {
        return Err(bad("first member is not debian-binary".into()));
    }
    Ok(out)
}

fn decompressor<'a>(name: &str, r: impl Read + 'a) -> Option<Box<dyn Read + 'a>> {
    Some(match name.rsplit_once('.').map(|(_, e)| e) {
        Some("tar") => Box::new(r),
        Some("gz") => Box::new(flate2::read::GzDecoder::new(r)),
        Some("xz") => Box::new(liblzma::read::XzDecoder::new(r)),
        Some("zst") => Box::new(zstd::Decoder::new(r).ok()?),
        Some("bz2") => Box::new(bzip2::read::BzDecoder::new(r)),
        _ => return None,
    })
}

/// What a `.deb` holds, ready to become part of a layer.
#[derive(Debug)]
pub struct Extracted {
    pub entries: Vec<Entry>,
    /// `control` from control.tar, verbatim.
    pub control: String,
    /// `md5sums` from control.tar, if the package has one.
    pub md5sums: Option<String>,
    /// The absolute paths `conffiles` in control.tar lists: the files md5sums omits.
    pub conffiles: Vec<String>,
}

/// Top-level directories that merged /usr moves under `usr/`.
const MERGED: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Normalizes a tar path: no `.`, no leading `./`, merged /usr applied. `None` for the root.
fn normalize(raw: &str, package: &str) -> Result<Option<String>, DebError> {
    let unsafe_ = |why| DebError::Unsafe {
        package: package.to_owned(),
        path: raw.to_owned(),
        why,
    };
    // Package paths are relative (`./usr/...`); an absolute one is not a mistake to fix.
    if raw.starts_with('/') {
        return Err(unsafe_("absolute path"));
    }
    if raw.split('/').all(|p| p.is_empty() || p == ".") {
        return Ok(None);
    }
    let path = normalize_path(raw).map_err(|e| match e {
        LayerError::BadPath { why, .. } => unsafe_(why),
        _ => unsafe_("invalid path"),
    })?;
    let top = path.split('/').next().unwrap_or_default();
    Ok(Some(if MERGED.contains(&top) {
        format!("usr/{path}")
    } else {
        path
    }))
}

/// Resolves `target` lexically from the directory of `link` (both relative to the root);
/// `None` if it climbs above the root.
fn resolve(link: &str, target: &str) -> Option<Vec<String>> {
    let mut parts: Vec<String> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut p: Vec<String> = link
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_owned)
            .collect();
        p.pop();
        p
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c.to_owned()),
        }
    }
    Some(parts)
}

/// The target to record for a symlink found at `raw` and stored at `path` (merged /usr may
/// have moved it). A relative target is kept when it still reaches the same file after the
/// move, and made absolute otherwise. `None` when the original target escapes the root.
fn relocate_link(raw: &str, path: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return Some(target.to_owned());
    }
    let mut want = resolve(raw, target)?;
    if want.first().is_some_and(|c| MERGED.contains(&c.as_str())) {
        want.insert(0, "usr".to_owned());
    }
    if resolve(path, target).as_ref() == Some(&want) {
        Some(target.to_owned())
    } else {
        Some(format!("/{}", want.join("/")))
    }
}

/// One `.deb` being read: its path, its package's name (for messages), and its members.
struct Deb<'a> {
    path: &'a Path,
    package: &'a str,
    members: Vec<Member>,
}

impl Deb<'_> {
    fn read_err(&self, member: &str) -> impl Fn(io::Error) -> DebError {
        let (package, member) = (self.package.to_owned(), member.to_owned());
        move |source| DebError::Read {
            package: package.clone(),
            member: member.clone(),
            source,
        }
    }

    fn not_deb(&self, why: &str) -> DebError {
        DebError::NotADeb {
            package: self.package.to_owned(),
            why: why.to_owned(),
        }
    }

    fn stage_err(&self, dir: &Path) -> impl Fn(io::Error) -> DebError {
        let (package, dir) = (self.package.to_owned(), dir.to_path_buf());
        move |source| DebError::Stage {
            package: package.clone(),
            dir: dir.clone(),
            source,
        }
    }

    fn member(&self, prefix: &str) -> Result<Member, DebError> {
        self.members
            .iter()
            .find(|m| m.name.starts_with(prefix))
            .cloned()
            .ok_or_else(|| self.not_deb(&format!("no {prefix} member")))
    }

    /// The decompressed bytes of a member, read within `limits`, and the cell that says
    /// which limit the stream crossed, if it did.
    fn section(
        &self,
        m: &Member,
        limits: limits::Limits,
    ) -> Result<(Guarded<Box<dyn Read>>, Crossed), DebError> {
        let mut f = File::open(self.path).map_err(self.read_err(&m.name))?;
        f.seek(SeekFrom::Start(m.offset))
            .map_err(self.read_err(&m.name))?;
        let r = decompressor(&m.name, BufReader::new(f).take(m.size))
            .ok_or_else(|| self.not_deb(&format!("unknown compression of {}", m.name)))?;
        Ok(Guarded::new(r, limits))
    }

    /// A read error of `member`, or the limit its stream crossed, which is the real cause.
    fn stream_err(&self, member: &str, crossed: &Crossed) -> impl Fn(io::Error) -> DebError {
        let (read, crossed) = (self.read_err(member), crossed.clone());
        let (package, member) = (self.package.to_owned(), member.to_owned());
        move |e| match crossed.get() {
            Some(limit) => DebError::Limit {
                package: package.clone(),
                member: member.clone(),
                limit,
            },
            None => read(e),
        }
    }

    /// `control`, `md5sums` and `conffiles` from control.tar: small, read with a bound.
    fn control(&self) -> Result<(String, Option<String>, Vec<String>), DebError> {
        let m = self.member("control.tar")?;
        let (stream, crossed) = self.section(&m, limits::package(limits::MAX_CONTROL))?;
        let err = self.stream_err(&m.name, &crossed);
        let (mut control, mut md5sums, mut conffiles) = (None, None, None);
        let mut ar = tar::Archive::new(stream);
        for e in ar.entries().map_err(&err)? {
            let mut e = e.map_err(&err)?;
            let name = e.path().map_err(&err)?.to_string_lossy().into_owned();
            let slot = match name.trim_start_matches("./") {
                "control" => &mut control,
                "md5sums" => &mut md5sums,
                "conffiles" => &mut conffiles,
                _ => continue,
            };
            let mut s = String::new();
            e.by_ref()
                .take(4 << 20)
                .read_to_string(&mut s)
                .map_err(&err)?;
            *slot = Some(s);
        }
        Ok((
            control.ok_or_else(|| self.not_deb("no control file"))?,
            md5sums,
            conffiles
                .unwrap_or_default()
                .lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| l.starts_with('/'))
                .collect(),
        ))
    }

    /// data.tar's entries, with every file's bytes one after the other in `stage/contents`;
    /// read within `limits`.
    fn data(&self, stage: &Path, limits: limits::Limits) -> Result<Vec<Entry>, DebError> {
        let m = self.member("data.tar")?;
        let (stream, crossed) = self.section(&m, limits)?;
        let err = self.stream_err(&m.name, &crossed);
        std::fs::create_dir_all(stage).map_err(self.stage_err(stage))?;
        let staged_path = stage.join("contents");
        let mut staged =
            io::BufWriter::new(File::create(&staged_path).map_err(self.stage_err(stage))?);
        let mut staged_len = 0u64;
        let mut entries: Vec<Entry> = Vec::new();
        let mut files: HashSet<String> = HashSet::new();
        let mut ar = tar::Archive::new(stream);
        for e in ar.entries().map_err(&err)? {
            let mut e = e.map_err(&err)?;
            let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let target_len = e.link_name_bytes().map_or(0, |t| t.len());
            if raw.len() > limits::MAX_PATH || target_len > limits::MAX_PATH {
                return Err(DebError::Unsafe {
                    package: self.package.to_owned(),
                    path: format!("{}…", raw.chars().take(80).collect::<String>()),
                    why: "a path or link target longer than 4096 bytes",
                });
            }
            let Some(path) = normalize(&raw, self.package)? else {
                continue;
            };
            // `/bin`, `/lib`... themselves: the image's merged-/usr symlinks stand there
            // (trixie's base-files ships them too, and moved under usr/ they would point at
            // themselves).
            if MERGED
                .iter()
                .any(|m| raw.trim_start_matches("./").trim_end_matches('/') == *m)
            {
                continue;
            }
            let h = e.header();
            let mode = h.mode().map_err(&err)? & 0o1777;
            let (uid, gid) = (h.uid().map_err(&err)?, h.gid().map_err(&err)?);
            let kind = match h.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let offset = staged_len;
                    let size = io::copy(&mut e, &mut staged).map_err(&err)?;
                    staged_len += size;
                    files.insert(path.clone());
                    EntryKind::File(FileSource::Slice {
                        path: staged_path.clone(),
                        offset,
                        size,
                    })
                }
                _ => self.special(&e, &raw, &path, &files)?,
            };
            let mode = match kind {
                EntryKind::Symlink { .. } => 0o777,
                // A shared directory with the sticky bit (/tmp, /run/lock) stays as it is.
                EntryKind::Dir if mode & 0o1000 != 0 => mode,
                _ if mode & 0o002 != 0 => {
                    tracing::warn!(
                        "{}: /{path} is world-writable ({mode:o}); it goes into the image without o+w",
                        self.package
                    );
                    mode & !0o002
                }
                _ => mode,
            };
            entries.push(Entry {
                path,
                kind,
                mode,
                uid,
                gid,
            });
        }
        staged.flush().map_err(self.stage_err(stage))?;
        Ok(entries)
    }

    /// Every entry kind but a regular file: directories and links are checked, the rest
    /// refused.
    fn special(
        &self,
        e: &tar::Entry<'_, impl Read>,
        raw: &str,
        path: &str,
        files: &HashSet<String>,
    ) -> Result<EntryKind, DebError> {
        let unsafe_ = |why| DebError::Unsafe {
            package: self.package.to_owned(),
            path: raw.to_owned(),
            why,
        };
        let link_target = || -> Result<String, DebError> {
            e.link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .ok_or_else(|| unsafe_("link without a target"))
        };
        Ok(match e.header().entry_type() {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => {
                let raw_target = link_target()?;
                let target = relocate_link(raw, path, &raw_target)
                    .ok_or_else(|| unsafe_("symlink target escapes the image root"))?;
                EntryKind::Symlink { target }
            }
            tar::EntryType::Link => {
                let target = normalize(&link_target()?, self.package)?
                    .ok_or_else(|| unsafe_("hard link to the root"))?;
                if !files.contains(&target) {
                    return Err(unsafe_("hard link to a file the package does not hold"));
                }
                EntryKind::Hardlink { target }
            }
            tar::EntryType::Block | tar::EntryType::Char => return Err(unsafe_("device node")),
            tar::EntryType::Fifo => return Err(unsafe_("FIFO")),
            _ => return Err(unsafe_("unsupported tar entry type")),
        })
    }
}

/// Extracts `deb` (package `package`); file contents go to `stage`.
pub fn extract(deb: &Path, package: &str, stage: &Path) -> Result<Extracted, DebError> {
    let mut file = File::open(deb).map_err(|source| DebError::Read {
        package: package.to_owned(),
        member: deb.display().to_string(),
        source,
    })?;
    let d = Deb {
        path: deb,
        package,
        members: read_members(&mut file, package)?,
    };
    // Both members must be there before anything is staged.
    d.member("control.tar")?;
    d.member("data.tar")?;
    let (control, md5sums, conffiles) = d.control()?;
    let installed_kib = control.lines().find_map(|l| {
        l.strip_prefix("Installed-Size:")
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    Ok(Extracted {
        entries: d.data(stage, limits::package(limits::data_budget(installed_kib)))?,
        control,
        md5sums,
        conffiles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_applies_merged_usr_and_refuses_traversal() {
        assert_eq!(normalize("./bin/sh", "p").unwrap().unwrap(), "usr/bin/sh");
        assert_eq!(
            normalize("./lib/x86_64-linux-gnu/libc.so.6", "p")
                .unwrap()
                .unwrap(),
            "usr/lib/x86_64-linux-gnu/libc.so.6"
        );
        assert_eq!(normalize("./usr/bin/x", "p").unwrap().unwrap(), "usr/bin/x");
        assert_eq!(normalize("./", "p").unwrap(), None);
        assert!(normalize("./usr/../../etc/passwd", "p").is_err());
        assert!(normalize("/etc/passwd", "p").is_err());
    }

    #[test]
    fn symlink_escape_is_detected_lexically() {
        assert!(resolve("usr/lib/x", "../share/y").is_some());
        assert!(resolve("usr/lib/x", "/etc/alternatives/x").is_some());
        assert!(resolve("usr/lib/x", "../../../etc/shadow").is_none());
        assert!(resolve("x", "../y").is_none());
    }

    #[test]
    fn relocated_links_still_reach_their_targets() {
        // Same directory: moves along with the link.
        assert_eq!(
            relocate_link(
                "./lib/x86_64-linux-gnu/libz.so.1",
                "usr/lib/x86_64-linux-gnu/libz.so.1",
                "libz.so.1.2.13"
            )
            .unwrap(),
            "libz.so.1.2.13"
        );
        // From a moved tree into /usr: still right after the move.
        assert_eq!(
            relocate_link("./bin/x", "usr/bin/x", "../usr/share/x").unwrap(),
            "/usr/share/x"
        );
        // Unmoved link into a moved tree.
        assert_eq!(
            relocate_link("./usr/bin/y", "usr/bin/y", "../../bin/z").unwrap(),
            "/usr/bin/z"
        );
        assert_eq!(
            relocate_link("./usr/lib/a", "usr/lib/a", "../../../etc/shadow"),
            None
        );
    }

    #[test]
    fn garbage_is_not_a_deb() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x.deb");
        std::fs::write(
            &f,
            b"!<arch>\ndebian-binary   0           0     0     100644  999       `\n",
        )
        .unwrap();
        let err = extract(&f, "x", &d.path().join("s")).unwrap_err();
        assert!(matches!(err, DebError::NotADeb { .. }), "{err}");
        std::fs::write(&f, b"PK\x03\x04").unwrap();
        assert!(matches!(
            extract(&f, "x", &d.path().join("s")),
            Err(DebError::NotADeb { .. })
        ));
    }
}
