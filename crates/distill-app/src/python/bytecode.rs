//! Python bytecode, compiled at build time by the image's own interpreter.
//!
//! A `.pyc` is valid for one Python version only, and the host's Python is rarely the
//! image's. distill therefore runs the image's interpreter itself, from the image's packages
//! for the host's architecture written to a scratch root ([`crate::sysroot`]), through that
//! root's own dynamic loader, so neither the host's libc nor an emulator is involved.
//! Bytecode does not depend on the architecture, so the same compile serves every platform.
//! `compileall` runs with `--invalidation-mode checked-hash`: no timestamps, so the bytes are
//! reproducible, and a changed source is still noticed.

use std::path::Path;

use super::types::PythonError;
use crate::sysroot::Sysroot;

/// The image's Python, ready to compile.
pub struct Compiler<'a> {
    root: &'a Sysroot,
    /// `/usr/bin/python3.13`.
    program: String,
}

impl<'a> Compiler<'a> {
    pub fn new(root: &'a Sysroot, python: (u32, u32)) -> Self {
        Self {
            root,
            program: format!("/usr/bin/python{}.{}", python.0, python.1),
        }
    }

    /// Compiles every `.py` under `dir` into `__pycache__` beside it, recording `shown` (the
    /// directory's path in the image) as the source path in the bytecode.
    pub fn compile(&self, dir: &Path, shown: &str) -> Result<(), PythonError> {
        let o = self
            .root
            .command(&self.program)
            // One process: workers would start `python3.X` without our loader. No `-B`: the
            // interpreter's own imports leave their bytecode in the root, which the cache
            // keeps, so the next build's interpreter starts from bytecode, not from source
            // (Debian's packages ship none; compiling the standard library it imports was
            // most of an app rebuild). Nothing of the root goes into the image.
            .args(["-I", "-m", "compileall", "-q", "-d", shown])
            .args(["--invalidation-mode", "checked-hash"])
            .arg(dir)
            .env("PYTHONHOME", self.root.root().join("usr"))
            .env("LC_ALL", "C.UTF-8")
            .output()
            .map_err(|source| PythonError::Read {
                path: dir.to_path_buf(),
                source,
            })?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if !said.trim().is_empty() {
            tracing::warn!("compiling {shown}: {}", said.trim());
        }
        // compileall exits 1 when a file does not compile; a syntax error in a dependency's
        // test or py2-only file must not stop the build, as pip's own compile does not.
        if !o.status.success() && o.status.code() != Some(1) {
            return Err(PythonError::Compile { output: said });
        }
        Ok(())
    }
}
