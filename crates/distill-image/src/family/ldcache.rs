//! `/etc/ld.so.cache`, written natively: no `ldconfig` runs at build time, so foreign
//! architectures need no emulator.
//!
//! The format is glibc's "new" cache (`glibc-ld.so.cache1.1`, elf/cache.c and
//! sysdeps/generic/dl-cache.h): a 48-byte header, 24-byte entries, then the strings, with
//! string offsets counted from the start of the file. Entries are sorted in descending
//! `_dl_cache_libcmp` order (digits compare as numbers), the order the dynamic loader's
//! binary search expects. Keys are the library names found in the library directories;
//! `ctypes.util.find_library` reads them through `ldconfig -p`.

use std::cmp::Ordering;

use distill_core::Arch;
use distill_oci::layer::{Entry, EntryKind};

const MAGIC: &[u8; 20] = b"glibc-ld.so.cache1.1";
/// `FLAG_ELF_LIBC6`.
const ELF_LIBC6: i32 = 0x0003;
/// `FLAG_X8664_LIB64` and `FLAG_AARCH64_LIB64`.
const X8664: i32 = 0x0300;
const AARCH64: i32 = 0x0a00;
/// `cache_file_new_flags_endian_little`.
const LITTLE_ENDIAN: u8 = 2;

/// glibc's `_dl_cache_libcmp`: like strcmp, but runs of digits compare as numbers.
///
/// glibc adds the digits up in an `int`, which overflows on a run of ten or more; here a run
/// is compared by its length without leading zeros and then digit by digit, which is the same
/// order for every number an `int` holds and a total order beyond (issue #11: the `u64` sum
/// this replaced panicked on a library name with a run of 20 digits).
pub(crate) fn libcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let run = |s: &[u8], mut k: usize| {
        while s.get(k) == Some(&b'0') {
            k += 1;
        }
        let start = k;
        while s.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
        (start, k)
    };
    while i < a.len() {
        if a[i].is_ascii_digit() {
            if !b.get(j).is_some_and(u8::is_ascii_digit) {
                return Ordering::Greater;
            }
            let ((x0, x1), (y0, y1)) = (run(a, i), run(b, j));
            let o = (x1 - x0)
                .cmp(&(y1 - y0))
                .then_with(|| a[x0..x1].cmp(&b[y0..y1]));
            if o.is_ne() {
                return o;
            }
            (i, j) = (x1, y1);
        } else if b.get(j).is_some_and(u8::is_ascii_digit) {
            return Ordering::Less;
        } else if b.get(j) != Some(&a[i]) {
            return a[i].cmp(b.get(j).unwrap_or(&0));
        } else {
            i += 1;
            j += 1;
        }
    }
    0u8.cmp(b.get(j).unwrap_or(&0))
}

/// The cache does not fit glibc's 32-bit offsets.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("The ld.so.cache for {libraries} libraries would exceed 4 GiB")]
pub struct TooLarge {
    pub libraries: usize,
}

/// The cache for the libraries among `entries`, for `arch`.
pub fn build(entries: &[Entry], arch: Arch) -> Result<Vec<u8>, TooLarge> {
    let triplet = arch.triplet();
    let flags = match arch {
        Arch::Arm64 => ELF_LIBC6 | AARCH64,
        Arch::Amd64 => ELF_LIBC6 | X8664,
    };
    let dirs = [format!("usr/lib/{triplet}"), "usr/lib".to_owned()];
    // A fully versioned file behind a soname link (libz.so.1.2.13 behind libz.so.1) is
    // reached through the link; ldconfig lists the link only.
    let linked: std::collections::HashSet<String> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Symlink { target } if !target.contains('/') => Some(format!(
                "{}/{target}",
                e.path.rsplit_once('/').map_or("", |(p, _)| p)
            )),
            _ => None,
        })
        .collect();
    let mut libs: Vec<(String, String)> = Vec::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for dir in &dirs {
        for e in entries {
            let Some((parent, name)) = e.path.rsplit_once('/') else {
                continue;
            };
            let is_lib =
                name.starts_with("lib") && (name.ends_with(".so") || name.contains(".so."));
            if parent != dir
                || !is_lib
                || linked.contains(&e.path)
                || !matches!(e.kind, EntryKind::File(_) | EntryKind::Symlink { .. })
            {
                continue;
            }
            if seen.insert(name) {
                libs.push((name.to_owned(), format!("/{}", e.path)));
            }
        }
    }
    libs.sort_by(|a, b| libcmp(&b.0, &a.0));

    let too_large = || TooLarge {
        libraries: libs.len(),
    };
    let count = u32::try_from(libs.len()).map_err(|_| too_large())?;
    let strings_start = count
        .checked_mul(24)
        .and_then(|n| n.checked_add(48))
        .ok_or_else(too_large)?;
    let offset = |strings: &Vec<u8>| {
        u32::try_from(strings.len())
            .ok()
            .and_then(|n| n.checked_add(strings_start))
            .ok_or_else(too_large)
    };
    let mut strings: Vec<u8> = Vec::new();
    let mut table = Vec::with_capacity(libs.len() * 24);
    for (name, path) in &libs {
        let key = offset(&strings)?;
        strings.extend_from_slice(name.as_bytes());
        strings.push(0);
        let value = offset(&strings)?;
        strings.extend_from_slice(path.as_bytes());
        strings.push(0);
        table.extend_from_slice(&flags.to_le_bytes());
        table.extend_from_slice(&key.to_le_bytes());
        table.extend_from_slice(&value.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes()); // osversion, unused
        table.extend_from_slice(&0u64.to_le_bytes()); // hwcap
    }
    let strings_len = offset(&strings)? - strings_start;
    let mut out = Vec::with_capacity(table.len() + strings.len() + 48);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&strings_len.to_le_bytes());
    out.push(LITTLE_ENDIAN);
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&0u32.to_le_bytes()); // no extensions
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&table);
    out.extend_from_slice(&strings);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use distill_oci::layer::FileSource;

    #[test]
    fn libcmp_compares_digit_runs_as_numbers() {
        assert_eq!(libcmp("libz.so.10", "libz.so.9"), Ordering::Greater);
        assert_eq!(libcmp("libz3.so.4", "libz3.so"), Ordering::Greater);
        assert_eq!(libcmp("liba.so", "libb.so"), Ordering::Less);
        assert_eq!(libcmp("libc.so.6", "libc.so.6"), Ordering::Equal);
        assert_eq!(libcmp("libz.so.01", "libz.so.1"), Ordering::Equal);
    }

    /// Issue #11: a run of 20+ digits overflowed the sum and panicked.
    #[test]
    fn libcmp_takes_digit_runs_of_any_length() {
        let long = format!("libx.so.{}", "9".repeat(40));
        let longer = format!("libx.so.1{}", "0".repeat(40));
        assert_eq!(libcmp(&long, &longer), Ordering::Less);
        assert_eq!(libcmp(&longer, &long), Ordering::Greater);
        assert_eq!(libcmp(&long, &long), Ordering::Equal);
        assert_eq!(
            libcmp(&format!("libx.so.{}", "0".repeat(30)), "libx.so.0"),
            Ordering::Equal
        );
        let entries: Vec<Entry> = [long.as_str(), longer.as_str(), "libc.so.6"]
            .iter()
            .map(|n| Entry {
                path: format!("usr/lib/x86_64-linux-gnu/{n}"),
                kind: EntryKind::File(FileSource::Bytes(Vec::new())),
                mode: 0o644,
                uid: 0,
                gid: 0,
            })
            .collect();
        let cache = build(&entries, Arch::Amd64).unwrap();
        assert_eq!(u32::from_le_bytes(cache[20..24].try_into().unwrap()), 3);
    }

    /// The host's `ldconfig -p -C FILE` reads what we write: the format is glibc's.
    #[test]
    fn host_ldconfig_reads_the_cache() {
        let lib = |name: &str| Entry {
            path: format!("usr/lib/x86_64-linux-gnu/{name}"),
            kind: EntryKind::File(FileSource::Bytes(Vec::new())),
            mode: 0o644,
            uid: 0,
            gid: 0,
        };
        let mut entries = vec![
            lib("libssl.so.3"),
            lib("libz.so.1.2.13"),
            lib("libc.so.6"),
            lib("libm.so.6.1"),
            lib("README"),
        ];
        entries.push(Entry {
            kind: EntryKind::Symlink {
                target: "libz.so.1.2.13".into(),
            },
            ..lib("libz.so.1")
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ld.so.cache");
        std::fs::write(&path, build(&entries, Arch::Amd64).unwrap()).unwrap();
        let out = std::process::Command::new("ldconfig")
            .arg("-p")
            .arg("-C")
            .arg(&path)
            .output()
            .expect("ldconfig (libc-bin) is on every Debian host");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("4 libs found in cache"), "{text}");
        assert!(
            text.contains("libssl.so.3 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libssl.so.3"),
            "{text}"
        );
        let order: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        // libz.so.1.2.13 hides behind its soname link; libm.so.6.1, with no link, is listed.
        assert_eq!(
            order,
            ["libz.so.1", "libssl.so.3", "libm.so.6.1", "libc.so.6"]
        );
    }
}
