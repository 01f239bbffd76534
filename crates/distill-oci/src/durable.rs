//! Making writes survive a crash: a file's bytes and a directory's entries reach the disk
//! (fsync) before a rename publishes them, and the parent directory after it, so a power
//! cut leaves either the old state or the new, never a renamed file without its bytes.

use std::fs::File;
use std::io;
use std::path::Path;

/// Flushes a file's bytes, or a directory's entries, to the disk.
pub fn sync(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Flushes every file and directory under `root`, and `root` itself.
pub fn sync_tree(root: &Path) -> io::Result<()> {
    for e in std::fs::read_dir(root)? {
        let e = e?;
        let kind = e.file_type()?;
        if kind.is_dir() {
            sync_tree(&e.path())?;
        } else if kind.is_file() {
            sync(&e.path())?;
        }
    }
    sync(root)
}

/// Flushes the directory holding `path`, after `path` was renamed into it.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    sync(path.parent().unwrap_or(Path::new(".")))
}

/// Puts directory `new` at `target`, where a directory already is, in one step: the two
/// trade places (renameat2's RENAME_EXCHANGE), so `target` is never missing, and `new` then
/// holds the old tree. `Ok(false)` when the filesystem cannot exchange; the caller falls
/// back to two renames.
pub fn exchange(new: &Path, target: &Path) -> io::Result<bool> {
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        new,
        rustix::fs::CWD,
        target,
        rustix::fs::RenameFlags::EXCHANGE,
    ) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_swaps_two_trees_in_place() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir_all(a.join("new")).unwrap();
        std::fs::create_dir_all(b.join("old")).unwrap();
        sync_tree(&a).unwrap();
        assert!(exchange(&a, &b).unwrap());
        assert!(b.join("new").is_dir() && a.join("old").is_dir());
        sync_parent(&b).unwrap();
    }
}
