//! Temporary paths to remove if the process is interrupted.
//!
//! A `SIGINT` or `SIGTERM` ends the process without running destructors, which would leave
//! half-written outputs beside their destinations. Every temporary that distill creates for
//! an output or a staging store is registered here while it exists; the binary's signal
//! handler calls [`remove_all`] before it exits.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static PATHS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn paths() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PATHS.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn register(path: &Path) {
    paths().push(path.to_path_buf());
}

pub(crate) fn unregister(path: &Path) {
    paths().retain(|p| p != path);
}

/// Removes every registered path (files and directory trees), best effort.
pub fn remove_all() {
    for p in paths().drain(..) {
        let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
    }
}

/// Registers `path` for as long as the guard lives.
pub struct Registered(PathBuf);

impl Registered {
    pub fn new(path: &Path) -> Self {
        register(path);
        Self(path.to_path_buf())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        unregister(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_all_deletes_registered_files_and_trees_only() {
        let d = tempfile::tempdir().unwrap();
        let (f, t, kept) = (d.path().join("f"), d.path().join("t"), d.path().join("k"));
        std::fs::write(&f, "").unwrap();
        std::fs::create_dir_all(t.join("x")).unwrap();
        std::fs::write(&kept, "").unwrap();
        register(&f);
        register(&t);
        let unregistered = Registered::new(&kept);
        drop(unregistered);
        remove_all();
        assert!(!f.exists() && !t.exists() && kept.exists());
    }
}
