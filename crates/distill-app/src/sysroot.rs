//! The image's packages written under a scratch root, and run on this host through the
//! root's own dynamic loader, so that neither the host's libc nor an emulator is involved.
//!
//! The tree comes from packages, which are hostile input: a package may ship
//! `usr/share/x -> /home/u` and then `usr/share/x/f`. Writing the second entry with the
//! usual `create_dir_all` + `write` would follow the first and write outside the root (issue
//! #12). So no entry is written through a symlink: every ancestor of an entry is checked
//! with `symlink_metadata` and created one component at a time, an entry whose parent is a
//! symlink is refused, and files are created with `create_new`, which does not follow a
//! symlink at the last component either. A hand-written check rather than `cap-std`: the
//! rule is "refuse", which std does in these few lines, and only this module writes there.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use distill_core::Arch;
use distill_oci::{Entry, EntryKind, FileSource};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SysrootError {
    #[error("Cannot write the image's files under {}: {source}", path.display())]
    #[diagnostic(help("set TMPDIR to a writable directory with room for the image's packages"))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "Refusing `/{path}` from the image's packages: `/{through}` is a symlink, and writing through it could leave the scratch root"
    )]
    #[diagnostic(help(
        "a package ships a file under a symlinked directory; drop that package from [packages] include, or report it to its repository"
    ))]
    ThroughSymlink { path: String, through: String },
    #[error("Refusing `{path}` from the image's packages: it is not a plain path inside the image")]
    #[diagnostic(help(
        "drop that package from [packages] include, or report it to its repository"
    ))]
    BadPath { path: String },
}

/// A root filesystem on disk, whose programs run through its own loader.
#[derive(Debug)]
pub struct Sysroot {
    root: PathBuf,
    arch: Arch,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SysrootError + '_ {
    move |source| SysrootError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Sysroot {
    /// Writes `entries` (a root filesystem for `arch`) under `root`, which must be empty.
    pub fn materialize(entries: &[Entry], root: &Path, arch: Arch) -> Result<Self, SysrootError> {
        fs::create_dir_all(root).map_err(io(root))?;
        for e in entries {
            write_entry(root, e)?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            arch,
        })
    }

    /// A root [`Sysroot::materialize`] wrote before.
    pub fn open(root: &Path, arch: Arch) -> Self {
        Self {
            root: root.to_path_buf(),
            arch,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn libdir(&self) -> PathBuf {
        self.root.join("usr/lib").join(self.arch.triplet())
    }

    /// A command that runs the root's `program` (a path inside the image, such as
    /// `/usr/bin/python3.13`) through the root's loader, with the root's libraries, and an
    /// empty environment.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.libdir().join(self.arch.loader()));
        c.arg("--library-path")
            .arg(self.libdir())
            .arg(self.root.join(program.trim_start_matches('/')))
            .env_clear();
        c
    }
}

/// The relative path of an entry, checked to be plain: no `..`, no root, no `.`.
fn plain(path: &str) -> Result<&Path, SysrootError> {
    let p = Path::new(path);
    if path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(SysrootError::BadPath {
            path: path.to_owned(),
        });
    }
    Ok(p)
}

/// Creates each missing ancestor of `rel` as a directory; refuses one that is a symlink.
fn ancestors(root: &Path, rel: &Path, entry: &str) -> Result<(), SysrootError> {
    let mut at = root.to_path_buf();
    let mut shown = PathBuf::new();
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    for c in parent.components() {
        at.push(c);
        shown.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(SysrootError::ThroughSymlink {
                    path: entry.to_owned(),
                    through: shown.display().to_string(),
                });
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(SysrootError::Io {
                    path: at,
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotADirectory,
                        "a file stands where a directory is needed",
                    ),
                });
            }
            Err(_) => fs::create_dir(&at).map_err(io(&at))?,
        }
    }
    Ok(())
}

fn write_entry(root: &Path, e: &Entry) -> Result<(), SysrootError> {
    let rel = plain(&e.path)?;
    ancestors(root, rel, &e.path)?;
    let path = root.join(rel);
    match &e.kind {
        EntryKind::Dir => match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(SysrootError::ThroughSymlink {
                path: e.path.clone(),
                through: e.path.clone(),
            }),
            Err(_) => fs::create_dir(&path).map_err(io(&path)),
        },
        EntryKind::Symlink { target } => {
            std::os::unix::fs::symlink(target, &path).map_err(io(&path))
        }
        EntryKind::File(src) => {
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(e.mode & 0o755)
                .open(&path)
                .map_err(io(&path))?;
            copy_source(src, &mut out).map_err(io(&path))?;
            out.set_permissions(fs::Permissions::from_mode(e.mode & 0o755))
                .map_err(io(&path))
        }
        _ => Ok(()),
    }
}

fn copy_source(src: &FileSource, out: &mut fs::File) -> std::io::Result<()> {
    match src {
        FileSource::Bytes(b) => out.write_all(b),
        FileSource::Path { path, .. } => std::io::copy(&mut fs::File::open(path)?, out).map(drop),
        FileSource::Slice { path, offset, size } => {
            let mut f = fs::File::open(path)?;
            f.seek(SeekFrom::Start(*offset))?;
            std::io::copy(&mut f.take(*size), out).map(drop)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, body: &str) -> Entry {
        Entry::bytes(path, body.as_bytes().to_vec(), 0o644)
    }

    fn link(path: &str, target: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::Symlink {
                target: target.into(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
        }
    }

    #[test]
    fn writes_a_tree_and_refuses_to_write_through_a_symlink() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let ok = [file("usr/bin/tool", "x"), link("usr/lib/l", "../bin/tool")];
        Sysroot::materialize(&ok, &root, Arch::Amd64).unwrap();
        assert_eq!(fs::read(root.join("usr/lib/l")).unwrap(), b"x");

        let root = dir.path().join("evil");
        let target = outside.path().display().to_string();
        let evil = [link("usr/share/x", &target), file("usr/share/x/f", "pwned")];
        let err = Sysroot::materialize(&evil, &root, Arch::Amd64).unwrap_err();
        assert!(matches!(err, SysrootError::ThroughSymlink { .. }), "{err}");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
        // A link at the file's own place is not followed either.
        let root = dir.path().join("evil2");
        let f = outside.path().join("f");
        let evil = [
            link("etc/passwd", &f.display().to_string()),
            file("etc/passwd", "pwned"),
        ];
        assert!(Sysroot::materialize(&evil, &root, Arch::Amd64).is_err());
        assert!(!f.exists());
        assert!(
            Sysroot::materialize(&[file("../x", "")], &dir.path().join("r3"), Arch::Amd64).is_err()
        );
    }

    /// Issue #12: a package built here ships `usr/share/x -> OUTSIDE` and then
    /// `usr/share/x/f`. The old materializer followed the link and wrote OUTSIDE/f, and the
    /// image's interpreter then ran on the host; now the entry is refused and nothing is
    /// written outside the root.
    #[test]
    fn a_package_writing_through_its_own_symlink_is_refused() {
        use distill_test::aptrepo::{DebEntry, DebSpec};
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let deb = dir.path().join("evil.deb");
        let spec = DebSpec::new("evil", "1")
            .entry(DebEntry::Symlink {
                path: "usr/share/x".into(),
                target: outside.path().display().to_string(),
            })
            .file("usr/share/x/f", "pwned\n");
        std::fs::write(&deb, spec.build()).unwrap();
        let x = distill_apt::deb::extract(&deb, "evil", &dir.path().join("stage")).unwrap();
        assert!(
            x.entries.iter().any(|e| e.path == "usr/share/x/f"),
            "{:?}",
            x.entries
        );
        let err =
            Sysroot::materialize(&x.entries, &dir.path().join("root"), Arch::Amd64).unwrap_err();
        assert!(
            matches!(&err, SysrootError::ThroughSymlink { path, through } if path == "usr/share/x/f" && through == "usr/share/x"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
