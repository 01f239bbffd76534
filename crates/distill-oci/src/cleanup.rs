//! Temporary paths to remove if the process is interrupted, or after it was killed.
//!
//! A `SIGINT` or `SIGTERM` ends the process without running destructors, which would leave
//! half-written outputs beside their destinations. Every temporary that distill creates for
//! an output or a staging store is registered here while it exists; the binary's signal
//! handler calls [`remove_all`] before it exits.
//!
//! A SIGKILL (an OOM kill, a CI runner's timeout) runs nothing, so every such temporary is
//! named with its process's PID ([`owned_prefix`]), and the next run removes those whose
//! process is gone ([`sweep`]) before it makes its own. In a directory that processes of
//! other PID namespaces may share (the download cache), temporaries are held locked
//! instead, and only unlocked ones are removed ([`sweep_unlocked`]).

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

/// The name prefix of a temporary this process makes: `BASE<pid>-`.
pub fn owned_prefix(base: &str) -> String {
    format!("{base}{}-", std::process::id())
}

/// Removes what killed distill processes left in `dir`: entries named `BASE<pid>-…`
/// ([`owned_prefix`]) whose process no longer runs. Live processes' temporaries, and any
/// other name, are left alone.
pub fn sweep(dir: &Path, base: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(base))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || distill_core::crash::alive(pid) {
            continue;
        }
        let path = e.path();
        tracing::info!("removing {}, left by a killed run", path.display());
        let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
    }
}

/// Removes the files named `BASE…` in `dir` that no process holds a lock on: for a
/// directory shared between machines' or containers' processes (a CI cache volume), where
/// a PID says nothing. Each such file is created locked ([`std::fs::File::lock`]) and stays
/// locked until its writer closes it or dies.
pub fn sweep_unlocked(dir: &Path, base: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_str().is_some_and(|n| n.starts_with(base)) {
            continue;
        }
        let path = e.path();
        let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() {
            tracing::info!("removing {}, left by a killed run", path.display());
            let _ = std::fs::remove_file(&path);
        }
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

    #[test]
    fn sweep_unlocked_keeps_held_files_and_removes_abandoned_ones() {
        let d = tempfile::tempdir().unwrap();
        let held = std::fs::File::create(d.path().join(".t-held")).unwrap();
        held.lock().unwrap();
        std::fs::write(d.path().join(".t-abandoned"), "x").unwrap();
        std::fs::write(d.path().join("other"), "x").unwrap();
        sweep_unlocked(d.path(), ".t-");
        assert!(d.path().join(".t-held").exists());
        assert!(!d.path().join(".t-abandoned").exists());
        assert!(d.path().join("other").exists());
        drop(held);
        // A process another test spawns holds a copy of every descriptor between its fork
        // and its exec, and with it the lock; that copy goes at the exec.
        for _ in 0..100 {
            sweep_unlocked(d.path(), ".t-");
            if !d.path().join(".t-held").exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(!d.path().join(".t-held").exists());
    }

    #[test]
    fn sweep_removes_what_dead_processes_left_only() {
        let d = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let mine = owned_prefix(".x.distill-");
        let kept = vec![
            ".x.distill-notapid-abc".to_owned(),
            format!("{mine}def"),
            "x".to_owned(),
        ];
        for name in kept.iter().chain([&format!(".x.distill-{dead}-abc")]) {
            std::fs::create_dir_all(d.path().join(name).join("blobs")).unwrap();
        }
        sweep(d.path(), ".x.distill-");
        let mut left: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut want = kept;
        want.sort();
        assert_eq!(left, want);
    }
}
