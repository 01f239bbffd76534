//! `[[files]]`: local files and directories copied into the image.
//!
//! Rules, as documented in docs/config.md:
//! - a file `src` lands at `dst`, or at `dst/<name>` when `dst` ends with `/`;
//! - a directory `src` has its contents copied under `dst`;
//! - symlinks inside a directory are kept as symlinks; the top-level `src` is followed;
//! - sockets, FIFOs and device nodes are refused.
//!
//! Modes come from the config, or are normalized to `0755` (directories and files with any
//! execute bit) or `0644` (other files). The source file's own mode is never copied as is:
//! it depends on the umask of whoever created it, and copying it would make the digest
//! depend on that umask; it could also carry setuid bits into the image.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use distill_oci::layer::{Entry, EntryKind, FileSource, LayerError, normalize_path};

/// One `[[files]]` item, with `src` already made absolute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSpec {
    pub src: PathBuf,
    pub dst: String,
    /// Mode for regular files; `None` normalizes as described in the module docs.
    pub mode: Option<u32>,
    pub uid: u64,
    pub gid: u64,
    /// Where the item was written, such as `distill.toml:12`, for error messages.
    pub origin: String,
    /// Names left out wherever they appear in a directory `src` (`.git`, `__pycache__`...),
    /// and, when one holds a `/`, that path under `src` (`packages/web`, `./web`).
    pub exclude: Vec<String>,
    /// Mode for directories (`None`: `0755`), as Docker's `--chmod` sets both.
    pub dir_mode: Option<u32>,
    /// The context's ignore patterns (`[context] ignore`, a `.dockerignore`).
    pub ignore: Option<std::sync::Arc<crate::ignore::Ignore>>,
    /// No source: `dst` is an empty directory (a Dockerfile's `WORKDIR`).
    pub empty_dir: bool,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FilesError {
    #[error("{origin}: source {} does not exist", path.display())]
    #[diagnostic(help(
        "`src` is relative to the build context (the CONTEXT argument of distill build); check the path"
    ))]
    MissingSource { origin: String, path: PathBuf },
    #[error("{origin}: cannot read {}: {source}", path.display())]
    Read {
        origin: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{origin}: {} is a {kind}, which cannot go into an image", path.display())]
    #[diagnostic(help("remove it from the source tree"))]
    Unsupported {
        origin: String,
        path: PathBuf,
        kind: &'static str,
    },
    #[error("{origin}: invalid destination: {source}")]
    BadDestination {
        origin: String,
        #[source]
        #[diagnostic_source]
        source: LayerError,
    },
    #[error("/{path} is written by both {first} and {second}")]
    #[diagnostic(help("give each [[files]] item its own `dst`, or drop one of them"))]
    Conflict {
        path: String,
        first: String,
        second: String,
    },
    #[error("{origin}: source {} is left out by the context's ignore patterns", path.display())]
    #[diagnostic(help(
        "remove the pattern that matches it from .dockerignore ([context] ignore), or add an exception `!PATH`"
    ))]
    Ignored { origin: String, path: PathBuf },
    #[error("{origin}: {} is not valid UTF-8; image paths must be", path.display())]
    #[diagnostic(help("rename the file to a UTF-8 name"))]
    NotUtf8 { origin: String, path: PathBuf },
}

/// Lists the entries for `specs`, with each path written once, sorted by path.
pub fn collect(specs: &[FileSpec]) -> Result<Vec<Entry>, FilesError> {
    let mut out: BTreeMap<String, (Entry, &str)> = BTreeMap::new();
    for spec in specs {
        for entry in collect_one(spec)? {
            match out.get(&entry.path) {
                // Two items may both create the same directory; the first one's owner wins.
                Some((prev, _)) if prev.kind == EntryKind::Dir && entry.kind == EntryKind::Dir => {}
                Some((_, first)) => {
                    return Err(FilesError::Conflict {
                        path: entry.path,
                        first: (*first).to_owned(),
                        second: spec.origin.clone(),
                    });
                }
                None => {
                    out.insert(entry.path.clone(), (entry, &spec.origin));
                }
            }
        }
    }
    Ok(out.into_values().map(|(e, _)| e).collect())
}

/// The error for `path` of item `origin` that cannot be read.
fn unreadable(origin: &str, path: &Path) -> impl FnOnce(io::Error) -> FilesError + use<> {
    let (origin, path) = (origin.to_owned(), path.to_path_buf());
    move |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            FilesError::MissingSource { origin, path }
        } else {
            FilesError::Read {
                origin,
                path,
                source,
            }
        }
    }
}

/// Drops the `hollow` directories (left out, walked into for exceptions) that hold nothing
/// kept. The walk is depth first, so what is under a directory follows it; judged from the
/// end, a hollow directory inside another is settled before its parent.
fn prune_hollow(entries: &mut Vec<Entry>, hollow: &std::collections::BTreeSet<String>) {
    let mut kept = vec![true; entries.len()];
    for i in (0..entries.len()).rev() {
        let as_dir = format!("{}/", entries[i].path);
        if hollow.contains(&as_dir) {
            kept[i] = (i + 1..entries.len())
                .find(|&j| kept[j])
                .is_some_and(|j| entries[j].path.starts_with(&as_dir));
        }
    }
    let mut keep = kept.into_iter();
    entries.retain(|_| keep.next().unwrap_or(true));
}

fn collect_one(spec: &FileSpec) -> Result<Vec<Entry>, FilesError> {
    let origin = &spec.origin;
    let read_err = |path: &Path| unreadable(origin, path);
    let bad_dst = |source| FilesError::BadDestination {
        origin: origin.clone(),
        source,
    };
    let dir_mode = spec.dir_mode.unwrap_or(0o755);
    if spec.empty_dir {
        let root = normalize_path(&spec.dst).map_err(bad_dst)?;
        return Ok(vec![entry(&root, EntryKind::Dir, dir_mode, spec)]);
    }
    let ignored = |p: &Path| spec.ignore.as_ref().is_some_and(|i| i.excludes(p));
    if ignored(&spec.src) {
        return Err(FilesError::Ignored {
            origin: origin.clone(),
            path: spec.src.clone(),
        });
    }
    let meta = fs::metadata(&spec.src).map_err(read_err(&spec.src))?;
    if !meta.is_dir() {
        let dst = if spec.dst.ends_with('/') {
            let name = spec.src.file_name().unwrap_or_default();
            format!("{}{}", spec.dst, utf8(name.as_ref(), origin)?)
        } else {
            spec.dst.clone()
        };
        let path = normalize_path(&dst).map_err(bad_dst)?;
        return Ok(vec![file_entry(spec, path, &spec.src, &meta)?]);
    }

    // A directory copied to `/` (Docker's `COPY dir /`) lands at the top, with no entry for
    // the root itself.
    let at_root = spec.dst.trim_matches('/').is_empty();
    let root = match at_root {
        true => String::new(),
        false => normalize_path(&spec.dst).map_err(bad_dst)?,
    };
    let mut entries = match at_root {
        true => Vec::new(),
        false => vec![entry(&root, EntryKind::Dir, dir_mode, spec)],
    };
    let descend = spec.ignore.as_ref().is_some_and(|i| i.has_exceptions());
    let mut hollow = std::collections::BTreeSet::new();
    let walk = walkdir::WalkDir::new(&spec.src)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if ignored(e.path()) && !(descend && e.file_type().is_dir()) {
                return false;
            }
            let rel = e.path().strip_prefix(&spec.src).ok();
            !spec.exclude.iter().any(|x| {
                if x.contains('/') {
                    rel.is_some_and(|r| r == Path::new(x.trim_start_matches("./")))
                } else {
                    e.file_name().to_str() == Some(x.as_str())
                }
            })
        });
    for item in walk {
        let item = item.map_err(|e| {
            let path = e.path().unwrap_or(&spec.src).to_path_buf();
            read_err(&path)(e.into())
        })?;
        let rel = item.path().strip_prefix(&spec.src).unwrap_or(item.path());
        let path = match at_root {
            true => utf8(rel, origin)?.to_owned(),
            false => format!("{root}/{}", utf8(rel, origin)?),
        };
        let ft = item.file_type();
        if ft.is_dir() && ignored(item.path()) {
            // Walked into only for the exceptions below it: kept if one of them is there.
            hollow.insert(format!("{path}/"));
        }
        if ft.is_dir() {
            entries.push(entry(&path, EntryKind::Dir, dir_mode, spec));
        } else if ft.is_symlink() {
            let target = fs::read_link(item.path()).map_err(read_err(item.path()))?;
            let target = utf8(&target, origin)?.to_owned();
            entries.push(entry(&path, EntryKind::Symlink { target }, 0o777, spec));
        } else {
            let meta = item
                .metadata()
                .map_err(|e| read_err(item.path())(e.into()))?;
            entries.push(file_entry(spec, path, item.path(), &meta)?);
        }
    }
    prune_hollow(&mut entries, &hollow);
    Ok(entries)
}

fn entry(path: &str, kind: EntryKind, mode: u32, spec: &FileSpec) -> Entry {
    Entry {
        path: path.to_owned(),
        kind,
        mode,
        uid: spec.uid,
        gid: spec.gid,
    }
}

fn file_entry(
    spec: &FileSpec,
    path: String,
    src: &Path,
    meta: &fs::Metadata,
) -> Result<Entry, FilesError> {
    let ft = meta.file_type();
    let kind = if ft.is_socket() {
        Some("socket")
    } else if ft.is_fifo() {
        Some("FIFO")
    } else if ft.is_block_device() || ft.is_char_device() {
        Some("device node")
    } else {
        None
    };
    if let Some(kind) = kind {
        return Err(FilesError::Unsupported {
            origin: spec.origin.clone(),
            path: src.to_path_buf(),
            kind,
        });
    }
    let executable = meta.permissions().mode() & 0o111 != 0;
    let mode = spec.mode.unwrap_or(if executable { 0o755 } else { 0o644 });
    let source = FileSource::Path {
        path: src.to_path_buf(),
        size: meta.len(),
    };
    Ok(entry(&path, EntryKind::File(source), mode, spec))
}

fn utf8<'a>(p: &'a Path, origin: &str) -> Result<&'a str, FilesError> {
    p.to_str().ok_or_else(|| FilesError::NotUtf8 {
        origin: origin.to_owned(),
        path: p.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn spec(src: &Path, dst: &str) -> FileSpec {
        FileSpec {
            src: src.to_path_buf(),
            dst: dst.into(),
            mode: None,
            uid: 0,
            gid: 0,
            origin: "distill.toml:1".into(),
            ..FileSpec::default()
        }
    }

    fn summary(entries: &[Entry]) -> Vec<(String, u32)> {
        entries.iter().map(|e| (e.path.clone(), e.mode)).collect()
    }

    #[test]
    fn file_lands_at_dst_or_inside_a_slash_dst() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("app.bin");
        fs::write(&f, b"x").unwrap();
        assert_eq!(
            summary(&collect(&[spec(&f, "/usr/bin/app")]).unwrap()),
            [("usr/bin/app".into(), 0o644)]
        );
        assert_eq!(
            summary(&collect(&[spec(&f, "/opt/")]).unwrap()),
            [("opt/app.bin".into(), 0o644)]
        );
    }

    #[test]
    fn excludes_are_names_anywhere_or_paths_under_src() {
        let d = tempfile::tempdir().unwrap();
        for dir in ["web", "api/web", "packages/web", "packages/api", "api/.git"] {
            fs::create_dir_all(d.path().join(dir)).unwrap();
            fs::write(d.path().join(dir).join("f"), b"x").unwrap();
        }
        let mut s = spec(d.path(), "/app");
        s.exclude = vec![".git".into(), "./web".into(), "packages/web".into()];
        let got: Vec<String> = collect(&[s])
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .filter(|p| p.ends_with("/f"))
            .collect();
        assert_eq!(got, ["app/api/web/f", "app/packages/api/f"]);
    }

    #[test]
    fn directory_contents_are_copied_with_normalized_modes_and_symlinks_kept() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("conf");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("a.txt"), b"a").unwrap();
        fs::write(src.join("sub/run"), b"#!").unwrap();
        fs::set_permissions(src.join("sub/run"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(src.join("a.txt"), fs::Permissions::from_mode(0o600)).unwrap();
        symlink("a.txt", src.join("link")).unwrap();
        let got = collect(&[spec(&src, "/etc/app/")]).unwrap();
        assert_eq!(
            summary(&got),
            [
                ("etc/app".into(), 0o755),
                ("etc/app/a.txt".into(), 0o644),
                ("etc/app/link".into(), 0o777),
                ("etc/app/sub".into(), 0o755),
                ("etc/app/sub/run".into(), 0o755),
            ]
        );
        assert_eq!(
            got[2].kind,
            EntryKind::Symlink {
                target: "a.txt".into()
            }
        );
    }

    #[test]
    fn explicit_mode_and_owner_apply() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        fs::write(&f, b"x").unwrap();
        let mut s = spec(&f, "/x");
        s.mode = Some(0o600);
        s.uid = 65532;
        s.gid = 65532;
        let got = collect(&[s]).unwrap();
        assert_eq!((got[0].mode, got[0].uid, got[0].gid), (0o600, 65532, 65532));
    }

    #[test]
    fn missing_source_names_origin_and_path() {
        let err = collect(&[spec(Path::new("/nonexistent/zzz"), "/x")]).unwrap_err();
        assert!(matches!(err, FilesError::MissingSource { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("distill.toml:1") && msg.contains("/nonexistent/zzz"),
            "{msg}"
        );
    }

    #[test]
    fn two_items_writing_one_path_conflict_but_shared_dirs_do_not() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        fs::write(&f, b"x").unwrap();
        let mut second = spec(&f, "/etc/x");
        second.origin = "distill.toml:9".into();
        let err = collect(&[spec(&f, "/etc/x"), second]).unwrap_err();
        assert!(
            err.to_string().contains("distill.toml:1")
                && err.to_string().contains("distill.toml:9")
        );
        let dir = d.path().join("dir");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("y"), b"y").unwrap();
        assert_eq!(
            collect(&[spec(&dir, "/etc"), spec(&f, "/etc/x")])
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn fifo_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("p");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let err = collect(&[spec(d.path(), "/d")]).unwrap_err();
        assert!(
            matches!(err, FilesError::Unsupported { kind: "FIFO", .. }),
            "{err}"
        );
    }

    #[test]
    fn traversal_in_dst_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        fs::write(&f, b"x").unwrap();
        assert!(matches!(
            collect(&[spec(&f, "/../../etc/x")]),
            Err(FilesError::BadDestination { .. })
        ));
    }

    #[test]
    fn ignored_paths_stay_out_and_exceptions_bring_back_files_with_their_directories() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "a.log",
            "keep.txt",
            "conf/sub/app.ini",
            "conf/sub/local.ini",
            "cache/x",
        ] {
            fs::create_dir_all(d.path().join(f).parent().unwrap()).unwrap();
            fs::write(d.path().join(f), b"x").unwrap();
        }
        let patterns: Vec<String> = ["*.log", "conf/sub", "!conf/sub/app.ini", "cache"]
            .iter()
            .map(|p| (*p).to_owned())
            .collect();
        let ignore = crate::ignore::Ignore::new(d.path(), &patterns).unwrap();
        let mut s = spec(d.path(), "/app");
        s.ignore = Some(std::sync::Arc::new(ignore));
        s.uid = 7;
        let got = collect(std::slice::from_ref(&s)).unwrap();
        let paths: Vec<(&str, u64)> = got.iter().map(|e| (e.path.as_str(), e.uid)).collect();
        assert_eq!(
            paths,
            [
                ("app", 7),
                ("app/conf", 7),
                ("app/conf/sub", 7),
                ("app/conf/sub/app.ini", 7),
                ("app/keep.txt", 7)
            ]
        );
        s.src = d.path().join("a.log");
        assert!(matches!(collect(&[s]), Err(FilesError::Ignored { .. })));
    }
}
