//! Python bytecode, compiled at build time by the image's own interpreter.
//!
//! A `.pyc` is valid for one Python version only, and the host's Python is rarely the
//! image's. distill therefore runs the image's interpreter itself: the image's packages for
//! the host's architecture are written to a scratch root, and its `python3.X` is started
//! through that root's own dynamic loader with `--library-path`, so neither the host's libc
//! nor an emulator is involved. Bytecode does not depend on the architecture, so the same
//! compile serves every platform. `compileall` runs with `--invalidation-mode checked-hash`:
//! no timestamps, so the bytes are reproducible, and a changed source is still noticed.

use std::path::{Path, PathBuf};
use std::process::Command;

use distill_oci::{Entry, EntryKind, FileSource};

#[derive(Debug, thiserror::Error)]
pub enum BytecodeError {
    #[error("Cannot prepare the image's Python in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Compiling bytecode with the image's Python failed:\n{output}")]
    Compile { output: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BytecodeError + '_ {
    move |source| BytecodeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `entries` (a root filesystem) under `root`.
pub fn materialize(entries: &[Entry], root: &Path) -> Result<(), BytecodeError> {
    for e in entries {
        let path = root.join(&e.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        match &e.kind {
            EntryKind::Dir => std::fs::create_dir_all(&path).map_err(io(&path))?,
            EntryKind::Symlink { target } => {
                let _ = std::fs::remove_file(&path);
                std::os::unix::fs::symlink(target, &path).map_err(io(&path))?;
            }
            EntryKind::File(src) => {
                let bytes = match src {
                    FileSource::Bytes(b) => b.clone(),
                    FileSource::Path { path: p, .. } => std::fs::read(p).map_err(io(p))?,
                    FileSource::Slice {
                        path: p,
                        offset,
                        size,
                    } => {
                        use std::io::{Read, Seek};
                        let mut f = std::fs::File::open(p).map_err(io(p))?;
                        f.seek(std::io::SeekFrom::Start(*offset)).map_err(io(p))?;
                        let mut b = Vec::with_capacity(*size as usize);
                        f.take(*size).read_to_end(&mut b).map_err(io(p))?;
                        b
                    }
                };
                std::fs::write(&path, bytes).map_err(io(&path))?;
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::Permissions::from_mode(e.mode & 0o755);
                std::fs::set_permissions(&path, mode).map_err(io(&path))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The image's Python, materialized under a root, ready to run on this host.
pub struct Interpreter {
    root: PathBuf,
    /// `python3.13`.
    name: String,
    triplet: &'static str,
}

impl Interpreter {
    pub fn new(root: &Path, python: (u32, u32)) -> Self {
        Self {
            root: root.to_path_buf(),
            name: format!("python{}.{}", python.0, python.1),
            triplet: distill_apt::contents::triplet(crate::init::arch()),
        }
    }

    fn loader(&self) -> PathBuf {
        let name = if self.triplet.starts_with("aarch64") {
            "ld-linux-aarch64.so.1"
        } else {
            "ld-linux-x86-64.so.2"
        };
        self.root.join("usr/lib").join(self.triplet).join(name)
    }

    /// Compiles every `.py` under `dir` into `__pycache__` beside it, recording `shown` (the
    /// directory's path in the image) as the source path in the bytecode.
    pub fn compile(&self, dir: &Path, shown: &str) -> Result<(), BytecodeError> {
        let o = Command::new(self.loader())
            .arg("--library-path")
            .arg(self.root.join("usr/lib").join(self.triplet))
            .arg(self.root.join("usr/bin").join(&self.name))
            // One process: workers would start `python3.X` without our loader.
            .args(["-I", "-m", "compileall", "-q", "-d", shown])
            .args(["--invalidation-mode", "checked-hash"])
            .arg(dir)
            .env_clear()
            .env("PYTHONHOME", self.root.join("usr"))
            .env("LC_ALL", "C.UTF-8")
            .output()
            .map_err(io(dir))?;
        // compileall exits 1 when a file does not compile; a syntax error in a dependency's
        // test or py2-only file must not stop the build, as pip's own compile does not.
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if !said.trim().is_empty() {
            tracing::warn!("compiling {shown}: {}", said.trim());
        }
        if !o.status.success() && o.status.code() != Some(1) {
            return Err(BytecodeError::Compile {
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ),
            });
        }
        Ok(())
    }
}
