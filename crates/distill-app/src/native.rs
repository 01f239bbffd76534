//! A native binary as the build context: what it needs from the image, read from its ELF,
//! and which member of the family it goes onto.
//!
//! A static binary goes onto `static`. A dynamic one goes onto the smallest member that
//! already carries its most common libraries (libstdc++/libgcc_s → `cc`, OpenSSL → `base`,
//! else `base-nossl`), so that it shares those layers; every other library is found through
//! the Contents index when packages are resolved, and a library in an `--include-lib`
//! directory is copied in instead.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use distill_core::{Arch, FamilyMember};

use crate::elf::{ElfError, ElfNeeds};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum NativeError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Elf(#[from] ElfError),
    #[error(
        "{} is for machine {machine}; distill builds linux/amd64 and linux/arm64 images",
        path.display()
    )]
    #[diagnostic(help("build the binary for x86_64 or aarch64 Linux"))]
    Machine { path: PathBuf, machine: u16 },
    #[error(
        "{} is linked against musl ({interpreter}), which no Debian image provides",
        path.display()
    )]
    #[diagnostic(help("link it statically (it then goes onto `static`), or against glibc"))]
    Musl { path: PathBuf, interpreter: String },
    #[error("Cannot read --include-lib directory {}: {source}", path.display())]
    #[diagnostic(help("pass --include-lib a directory of .so files"))]
    IncludeLib {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A binary and what it needs.
#[derive(Debug, Clone)]
pub struct Native {
    pub path: PathBuf,
    /// Its file name, which it keeps in the image.
    pub name: String,
    pub needs: ElfNeeds,
    /// The architecture it was built for.
    pub arch: Arch,
    /// Libraries found in `--include-lib` directories: `(soname, file)`.
    pub bundled: Vec<(String, PathBuf)>,
}

/// Reads `path`, and takes the libraries it needs from `include_lib` directories when they
/// are there (with what those libraries need in turn).
pub fn inspect(path: &Path, include_lib: &[PathBuf]) -> Result<Native, NativeError> {
    let needs = crate::elf::read(path)?;
    let arch = Arch::from_elf_machine(needs.machine).ok_or_else(|| NativeError::Machine {
        path: path.to_path_buf(),
        machine: needs.machine,
    })?;
    if let Some(interp) = needs.interpreter.as_ref().filter(|i| i.contains("musl")) {
        return Err(NativeError::Musl {
            path: path.to_path_buf(),
            interpreter: interp.clone(),
        });
    }
    let mut available = Vec::new();
    for dir in include_lib {
        let entries = std::fs::read_dir(dir).map_err(|source| NativeError::IncludeLib {
            path: dir.clone(),
            source,
        })?;
        for e in entries.flatten() {
            if e.path().is_file() {
                available.push((e.file_name().to_string_lossy().into_owned(), e.path()));
            }
        }
    }
    available.sort();
    let mut needs = needs;
    let mut bundled: Vec<(String, PathBuf)> = Vec::new();
    let mut queue: Vec<String> = needs.needed.clone();
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    while let Some(lib) = queue.pop() {
        let Some((_, file)) = available.iter().find(|(n, _)| *n == lib) else {
            continue;
        };
        let inner = crate::elf::read(file)?;
        needs.glibc = needs.glibc.max(inner.glibc);
        for n in inner.needed {
            if seen.insert(n.clone()) {
                needs.needed.push(n.clone());
                queue.push(n);
            }
        }
        bundled.push((lib, file.clone()));
    }
    bundled.sort();
    needs
        .needed
        .retain(|n| !bundled.iter().any(|(b, _)| b == n));
    Ok(Native {
        name: path
            .file_name()
            .map_or("app".into(), |n| n.to_string_lossy().into_owned()),
        path: path.to_path_buf(),
        needs,
        arch,
        bundled,
    })
}

impl Native {
    /// The family member the binary goes onto.
    pub fn member(&self) -> FamilyMember {
        let needs = |prefixes: &[&str]| {
            self.needs
                .needed
                .iter()
                .any(|n| prefixes.iter().any(|p| n.starts_with(p)))
        };
        if self.needs.is_static() && self.bundled.is_empty() {
            FamilyMember::Static
        } else if needs(&["libstdc++.so", "libgcc_s.so", "libgomp.so"]) {
            FamilyMember::Cc
        } else if needs(&["libssl.so", "libcrypto.so"]) {
            FamilyMember::Base
        } else {
            FamilyMember::BaseNossl
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(needed: &[&str], interpreter: Option<&str>) -> Native {
        Native {
            path: "x".into(),
            name: "x".into(),
            needs: ElfNeeds {
                interpreter: interpreter.map(str::to_owned),
                needed: needed.iter().map(|s| (*s).to_owned()).collect(),
                ..Default::default()
            },
            arch: Arch::Amd64,
            bundled: Vec::new(),
        }
    }

    #[test]
    fn members_by_needs() {
        let ld = Some("/lib64/ld-linux-x86-64.so.2");
        assert_eq!(native(&[], None).member(), FamilyMember::Static);
        assert_eq!(native(&["libc.so.6"], ld).member(), FamilyMember::BaseNossl);
        assert_eq!(
            native(&["libssl.so.3", "libc.so.6"], ld).member(),
            FamilyMember::Base
        );
        assert_eq!(
            native(&["libgcc_s.so.1", "libc.so.6"], ld).member(),
            FamilyMember::Cc
        );
        assert_eq!(
            native(&["libz.so.1", "libc.so.6"], ld).member(),
            FamilyMember::BaseNossl
        );
    }

    #[test]
    fn the_test_binary_itself_and_a_non_elf() {
        let me = std::env::current_exe().unwrap();
        let n = inspect(&me, &[]).unwrap();
        assert_eq!(Some(n.arch), Arch::host());
        assert_ne!(n.member(), FamilyMember::Static);
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert!(matches!(inspect(&script, &[]), Err(NativeError::Elf(_))));
    }
}
