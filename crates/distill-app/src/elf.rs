//! What an ELF binary needs from the image it runs in: its program interpreter, its
//! `DT_NEEDED` libraries and `DT_RUNPATH`, and the newest glibc symbol version it
//! references (System V gABI, and the GNU symbol-versioning extension).
//!
//! Parsing is goblin's; a file that is not ELF, or is malformed, is an error naming it.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ElfError {
    #[error("Cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid ELF binary: {why}", path.display())]
    #[diagnostic(help(
        "pass an ELF executable built for Linux, or a directory with a distill.toml"
    ))]
    Parse { path: PathBuf, why: String },
}

/// What native code needs from the image: sonames that must come from packages, and the
/// newest glibc it references. `binary` names it in messages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NativeNeeds {
    pub binary: String,
    pub needed: Vec<String>,
    pub glibc: Option<(u32, u32)>,
}

impl NativeNeeds {
    /// Both needs together, for several platforms or trees.
    pub fn merge(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(mut a), Some(b)) => {
                for lib in b.needed {
                    if !a.needed.contains(&lib) {
                        a.needed.push(lib);
                    }
                }
                a.glibc = a.glibc.max(b.glibc);
                Some(a)
            }
            (a, b) => a.or(b),
        }
    }
}

/// The run-time needs of one ELF file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfNeeds {
    /// `PT_INTERP`, such as `/lib64/ld-linux-x86-64.so.2`; `None` for a static binary.
    pub interpreter: Option<String>,
    /// `DT_NEEDED` sonames, in file order.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` (or the older `DT_RPATH`) entries.
    pub runpath: Vec<String>,
    /// The newest `GLIBC_x.y` version referenced, as `(x, y)`.
    pub glibc: Option<(u32, u32)>,
    /// `e_machine`: 62 for x86-64, 183 for AArch64.
    pub machine: u16,
}

impl ElfNeeds {
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }
}

/// Reads the needs of the ELF file at `path`.
pub fn read(path: &Path) -> Result<ElfNeeds, ElfError> {
    let read = |source| ElfError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let len = file.metadata().map_err(read)?.len();
    let parsed = if len <= SPARSE_OVER {
        let bytes = std::fs::read(path).map_err(read)?;
        parse(&bytes)
    } else {
        parse_sparse(&file, len)
    };
    parsed.map_err(|why| ElfError::Parse {
        path: path.to_path_buf(),
        why,
    })
}

/// Binaries larger than this are read in the parts that say what they need, not whole
/// (Node's is over 100 MiB).
const SPARSE_OVER: u64 = 16 << 20;

/// The newest `GLIBC_x.y` among the version needs.
fn newest_glibc(
    verneed: Option<&goblin::elf::symver::VerneedSection>,
    strtab: &goblin::strtab::Strtab,
) -> Option<(u32, u32)> {
    let mut glibc = None;
    for need in verneed.iter().flat_map(|v| v.iter()) {
        for aux in need.iter() {
            glibc = glibc.max(glibc_version(strtab.get_at(aux.vna_name).unwrap_or("")));
        }
    }
    glibc
}

/// A file's bytes, read only where asked: the buffer is the file's size but zeroed, and
/// untouched zero pages are never resident.
struct Sparse<'a> {
    file: &'a std::fs::File,
    len: u64,
    buf: Vec<u8>,
}

impl Sparse<'_> {
    /// Reads `n` bytes at `offset` into place.
    fn fill(&mut self, offset: u64, n: u64) -> Result<(), String> {
        use std::os::unix::fs::FileExt;
        let end = offset
            .checked_add(n)
            .filter(|e| *e <= self.len)
            .ok_or_else(|| format!("a part at {offset:#x} of {n:#x} bytes is past the end"))?;
        self.file
            .read_exact_at(&mut self.buf[offset as usize..end as usize], offset)
            .map_err(|e| e.to_string())
    }

    /// Reads a table of `count` entries of `size` bytes at `offset` into place.
    fn table(&mut self, offset: u64, count: u16, size: u16) -> Result<usize, String> {
        self.fill(offset, u64::from(count) * u64::from(size))?;
        Ok(usize::from(count))
    }
}

/// [`parse`]'s answer from the headers, the dynamic section, its string table and the
/// version needs alone: what a binary needs, without reading all of a large one.
fn parse_sparse(file: &std::fs::File, len: u64) -> Result<ElfNeeds, String> {
    use goblin::container::Ctx;
    use goblin::elf::{Dynamic, ProgramHeader, SectionHeader, program_header};
    let err = |e: goblin::error::Error| e.to_string();
    let mut f = Sparse {
        file,
        len,
        buf: vec![0u8; usize::try_from(len).map_err(|e| e.to_string())?],
    };
    f.fill(0, 64.min(len))?;
    let header = goblin::elf::Elf::parse_header(&f.buf).map_err(err)?;
    let ctx = Ctx::new(
        header.container().map_err(err)?,
        header.endianness().map_err(err)?,
    );
    let n = f.table(header.e_phoff, header.e_phnum, header.e_phentsize)?;
    let phdrs = ProgramHeader::parse(&f.buf, header.e_phoff as usize, n, ctx).map_err(err)?;
    let mut interpreter = None;
    for ph in &phdrs {
        if matches!(
            ph.p_type,
            program_header::PT_DYNAMIC | program_header::PT_INTERP
        ) {
            f.fill(ph.p_offset, ph.p_filesz)?;
        }
        if ph.p_type == program_header::PT_INTERP && ph.p_filesz > 0 {
            let at = ph.p_offset as usize..(ph.p_offset + ph.p_filesz - 1) as usize;
            interpreter = std::str::from_utf8(&f.buf[at]).ok().map(str::to_owned);
        }
    }
    let n = f.table(header.e_shoff, header.e_shnum, header.e_shentsize)?;
    let shdrs = SectionHeader::parse(&f.buf, header.e_shoff as usize, n, ctx).map_err(err)?;
    if let Some(v) = shdrs
        .iter()
        .find(|s| s.sh_type == goblin::elf::section_header::SHT_GNU_VERNEED)
    {
        f.fill(v.sh_offset, v.sh_size)?;
    }
    let dynamic = Dynamic::parse(&f.buf, &phdrs, ctx).map_err(err)?;
    if let Some(d) = &dynamic {
        f.fill(d.info.strtab as u64, d.info.strsz as u64)?;
    }
    let buf = f.buf;
    let strtab = match &dynamic {
        Some(d) => {
            goblin::strtab::Strtab::parse(&buf, d.info.strtab, d.info.strsz, 0).map_err(err)?
        }
        None => goblin::strtab::Strtab::default(),
    };
    let verneed = goblin::elf::symver::VerneedSection::parse(&buf, &shdrs, ctx).map_err(err)?;
    let glibc = newest_glibc(verneed.as_ref(), &strtab);
    let (mut needed, mut runpath) = (Vec::new(), Vec::new());
    if let Some(d) = &dynamic {
        needed = d
            .get_libraries(&strtab)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for e in &d.dyns {
            if matches!(
                e.d_tag,
                goblin::elf::dynamic::DT_RUNPATH | goblin::elf::dynamic::DT_RPATH
            ) {
                let paths = strtab.get_at(e.d_val as usize).unwrap_or("");
                runpath.extend(
                    paths
                        .split(':')
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned),
                );
            }
        }
    }
    Ok(ElfNeeds {
        interpreter,
        needed,
        runpath,
        glibc,
        machine: header.e_machine,
    })
}

/// The needs of an ELF image in memory.
pub fn parse(bytes: &[u8]) -> Result<ElfNeeds, String> {
    let elf = goblin::elf::Elf::parse(bytes).map_err(|e| e.to_string())?;
    let glibc = newest_glibc(elf.verneed.as_ref(), &elf.dynstrtab);
    let runpath = elf
        .runpaths
        .iter()
        .chain(elf.rpaths.iter())
        .flat_map(|r| r.split(':'))
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(ElfNeeds {
        interpreter: elf.interpreter.map(str::to_owned),
        needed: elf.libraries.iter().map(|s| (*s).to_owned()).collect(),
        runpath,
        glibc,
        machine: elf.header.e_machine,
    })
}

/// `GLIBC_2.34` → `(2, 34)`; `GLIBC_PRIVATE` and other names → `None`.
fn glibc_version(name: &str) -> Option<(u32, u32)> {
    let v = name.strip_prefix("GLIBC_")?;
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// What the ELF files under `dir` whose names end in one of `suffixes` need from outside the
/// tree: sonames that no file of the tree provides (wheels and addons bundle some of their
/// libraries, found through `$ORIGIN` run paths), and the newest glibc any references.
/// Files that are not ELF are skipped.
pub(crate) fn needs_of_tree(dir: &Path, suffixes: &[&str]) -> Result<TreeNeeds, ElfError> {
    let mut needed = std::collections::BTreeSet::new();
    let mut provided = std::collections::BTreeSet::new();
    let mut glibc = None;
    let mut checked = 0;
    for e in walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .flatten()
    {
        if !e.file_type().is_file() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        provided.insert(name.clone());
        let is_lib = name.contains(".so");
        if !is_lib && !suffixes.iter().any(|s| name.ends_with(s)) {
            continue;
        }
        let bytes = std::fs::read(e.path()).map_err(|source| ElfError::Read {
            path: e.path().to_path_buf(),
            source,
        })?;
        if !bytes.starts_with(b"\x7fELF") {
            continue;
        }
        let n = parse(&bytes).map_err(|why| ElfError::Parse {
            path: e.path().to_path_buf(),
            why,
        })?;
        checked += 1;
        glibc = glibc.max(n.glibc);
        needed.extend(n.needed);
    }
    Ok(TreeNeeds {
        needed: needed
            .into_iter()
            .filter(|n| !provided.contains(n))
            .collect(),
        glibc,
        checked,
    })
}

/// What a tree of native files needs from the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeNeeds {
    pub needed: Vec<String>,
    pub glibc: Option<(u32, u32)>,
    /// How many ELF files were read.
    pub checked: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts read of a large binary say what the whole says, on the machine's own
    /// binaries: executables and libraries, with version needs, a loader and a RUNPATH.
    #[test]
    fn a_sparse_read_gives_what_the_whole_file_gives() {
        let exe = std::env::current_exe().unwrap();
        let mut seen = 0;
        for path in [
            exe.as_path(),
            Path::new("/usr/bin/python3"),
            Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6"),
            Path::new("/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
        ] {
            let Ok(file) = std::fs::File::open(path) else {
                continue;
            };
            let len = file.metadata().unwrap().len();
            let whole = parse(&std::fs::read(path).unwrap()).unwrap();
            assert_eq!(
                parse_sparse(&file, len).unwrap(),
                whole,
                "{}",
                path.display()
            );
            assert!(whole.glibc.is_some(), "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 2, "too few binaries to compare on this machine");
        let tiny = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tiny.path(), b"\x7fELF\x02\x01\x01").unwrap();
        let f = std::fs::File::open(tiny.path()).unwrap();
        assert!(parse_sparse(&f, 7).is_err());
    }

    #[test]
    fn glibc_versions_parse() {
        assert_eq!(glibc_version("GLIBC_2.34"), Some((2, 34)));
        assert_eq!(glibc_version("GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version("GLIBC_PRIVATE"), None);
        assert_eq!(glibc_version("GCC_3.0"), None);
    }

    #[test]
    fn a_dynamic_host_binary_and_garbage() {
        // The test binary itself is a dynamic glibc program.
        let me = std::env::current_exe().unwrap();
        let needs = read(&me).unwrap();
        assert!(needs.interpreter.is_some());
        assert!(needs.needed.iter().any(|n| n == "libc.so.6"), "{needs:?}");
        assert!(needs.glibc.unwrap() >= (2, 2));
        assert!(!needs.is_static());
        assert!(parse(b"\x7fELF\x02\x01\x01garbage").is_err());
        assert!(parse(b"#!/bin/sh\n").is_err());
    }
}
