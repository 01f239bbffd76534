//! Limits on tar streams from anyone (a `.deb`, an image layer, an archive), enforced on
//! the bytes as they pass, before the tar crate parses them. The tar crate reads a GNU long
//! name, long link or pax header whole into memory however large it says it is, and counts
//! nothing; an archive bomb is a few KiB. So each stream is bounded in bytes, entries,
//! declared file sizes and extension headers, and the first limit crossed is kept for the
//! error to name.
//!
//! The framing followed is POSIX ustar with GNU and pax extensions (pax's `size` record
//! overrides the next entry's size, as the tar crate applies it). GNU sparse files are
//! refused: neither packages nor image layers hold them.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// The longest path or link target (Linux's PATH_MAX).
pub const MAX_PATH: usize = 4096;
/// The largest long-name, long-link or pax header.
pub const MAX_EXTENSION: u64 = 64 << 10;

/// What one stream may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the (decompressed) stream.
    pub bytes: u64,
    /// Entries, not counting extension headers.
    pub entries: u64,
    /// The size any one entry may declare.
    pub file: u64,
}

impl Limits {
    /// For an image layer or archive: only extension headers are bounded (by
    /// [`MAX_EXTENSION`]); such streams may be as large as the images they carry.
    pub const fn unbounded() -> Self {
        Self {
            bytes: u64::MAX,
            entries: u64::MAX,
            file: u64::MAX,
        }
    }
}

/// Where a [`Guarded`] stream records the limit it crossed, for the error to name.
pub type Crossed = Rc<Cell<Option<Limit>>>;

/// The first limit a stream crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Limit {
    #[error("an entry declares {size} bytes, above the {max} a file may have", size = .0, max = human(.1))]
    File(u64, u64),
    #[error(
        "it decompresses to more than {}, more than its Installed-Size allows (or than any package may hold)",
        human(.0)
    )]
    Total(u64),
    #[error("it holds more than {0} entries")]
    Entries(u64),
    #[error(
        "a {kind} header declares {size} bytes, above the {} allowed",
        human(&MAX_EXTENSION)
    )]
    Extension { kind: &'static str, size: u64 },
    #[error("it holds a sparse file")]
    Sparse,
    #[error("a tar header has no valid size")]
    Header,
}

/// `n` bytes in the largest binary unit that divides them well (`64 MiB`, `4 GiB`).
fn human(n: &u64) -> String {
    let n = *n;
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n => format!("{:.1} KiB", n as f64 / 1024.0),
    }
}

/// A reader of a tar stream that fails, and records why, once the stream crosses a limit.
pub struct Guarded<R> {
    inner: R,
    limits: Limits,
    read: u64,
    header: Box<[u8; 512]>,
    filled: usize,
    /// Bytes of the current entry's data (and padding) still to pass.
    remaining: u64,
    /// A pax header's data, while it passes, and how much of it there is.
    pax: Option<(Vec<u8>, u64)>,
    /// The size the last pax header gave the next entry.
    pax_size: Option<u64>,
    entries: u64,
    crossed: Crossed,
}

impl<R: Read> Guarded<R> {
    /// `inner`, within `limits`; the returned cell holds the limit crossed, if any.
    pub fn new(inner: R, limits: Limits) -> (Self, Crossed) {
        let crossed = Rc::new(Cell::new(None));
        let g = Self {
            inner,
            limits,
            read: 0,
            header: Box::new([0; 512]),
            filled: 0,
            remaining: 0,
            pax: None,
            pax_size: None,
            entries: 0,
            crossed: crossed.clone(),
        };
        (g, crossed)
    }

    fn check(&mut self, bytes: &[u8]) -> Result<(), Limit> {
        self.read += bytes.len() as u64;
        if self.read > self.limits.bytes {
            return Err(Limit::Total(self.limits.bytes));
        }
        let mut i = 0;
        while i < bytes.len() {
            if self.remaining > 0 {
                let k = (self.remaining.min((bytes.len() - i) as u64)) as usize;
                if let Some((data, want)) = &mut self.pax {
                    let room = (*want as usize).saturating_sub(data.len()).min(k);
                    data.extend_from_slice(&bytes[i..i + room]);
                }
                self.remaining -= k as u64;
                i += k;
                if self.remaining == 0
                    && let Some((data, _)) = self.pax.take()
                {
                    self.pax_size = pax_size(&data).or(self.pax_size);
                }
                continue;
            }
            let k = (512 - self.filled).min(bytes.len() - i);
            self.header[self.filled..self.filled + k].copy_from_slice(&bytes[i..i + k]);
            self.filled += k;
            i += k;
            if self.filled == 512 {
                self.filled = 0;
                self.on_header()?;
            }
        }
        Ok(())
    }

    fn on_header(&mut self) -> Result<(), Limit> {
        let h = &*self.header;
        if h.iter().all(|b| *b == 0) {
            return Ok(());
        }
        let mut size = header_size(&h[124..136]).ok_or(Limit::Header)?;
        let extension = |kind| {
            if size > MAX_EXTENSION {
                Err(Limit::Extension { kind, size })
            } else {
                Ok(())
            }
        };
        match h[156] {
            b'L' => extension("long name")?,
            b'K' => extension("long link")?,
            b'g' => extension("pax global")?,
            b'x' => {
                extension("pax")?;
                self.pax = Some((Vec::with_capacity(size as usize), size));
            }
            b'S' => return Err(Limit::Sparse),
            _ => {
                self.entries += 1;
                if self.entries > self.limits.entries {
                    return Err(Limit::Entries(self.limits.entries));
                }
                if let Some(s) = self.pax_size.take() {
                    size = s;
                }
                if size > self.limits.file {
                    return Err(Limit::File(size, self.limits.file));
                }
            }
        }
        self.remaining = size.div_ceil(512) * 512;
        if self.remaining == 0
            && let Some((data, _)) = self.pax.take()
        {
            self.pax_size = pax_size(&data).or(self.pax_size);
        }
        Ok(())
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(l) = self.crossed.get() {
            return Err(io::Error::other(l));
        }
        let n = self.inner.read(buf)?;
        if let Err(l) = self.check(&buf[..n]) {
            self.crossed.set(Some(l));
            return Err(io::Error::other(l));
        }
        Ok(n)
    }
}

/// A tar size field: octal digits (padded with spaces or NULs), or GNU base-256 when the
/// first byte's high bit is set.
fn header_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(*b))?;
        }
        return Some(n);
    }
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// The `size` record of pax extended-header data (`LEN key=value\n` records).
fn pax_size(mut data: &[u8]) -> Option<u64> {
    let mut found = None;
    while !data.is_empty() {
        let space = data.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&data[..space]).ok()?.parse().ok()?;
        if len <= space || len > data.len() {
            return found;
        }
        let record = &data[space + 1..len];
        if let Some(v) = record.strip_prefix(b"size=") {
            found = std::str::from_utf8(v).ok()?.trim_end().parse().ok();
        }
        data = &data[len..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, ty: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(ty);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h
    }

    fn drain(bytes: Vec<u8>, budget: u64) -> Option<Limit> {
        let limits = Limits {
            bytes: budget,
            entries: 10,
            file: 1 << 30,
        };
        let (g, crossed) = Guarded::new(std::io::Cursor::new(bytes), limits);
        let mut ar = tar::Archive::new(g);
        if let Ok(entries) = ar.entries() {
            for e in entries {
                let Ok(mut e) = e else { break };
                if std::io::copy(&mut e, &mut std::io::sink()).is_err() {
                    break;
                }
            }
        }
        crossed.get()
    }

    #[test]
    fn an_ordinary_archive_with_pax_and_long_names_passes() {
        let mut b = tar::Builder::new(Vec::new());
        let long = format!("./usr/share/{}", "d/".repeat(120));
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"hello"[..]).unwrap();
        b.append_pax_extensions([("size", &b"3"[..])]).unwrap();
        b.append(&header("./x", tar::EntryType::Regular, 0), &b"abc"[..])
            .unwrap();
        b.append(&header("./y", tar::EntryType::Regular, 2), &b"hi"[..])
            .unwrap();
        let bytes = b.into_inner().unwrap();
        assert_eq!(drain(bytes.clone(), 1 << 20), None);
        assert_eq!(drain(bytes, 1024), Some(Limit::Total(1024)));
    }

    #[test]
    fn declared_sizes_are_refused_before_their_bytes_arrive() {
        let h = header("./big", tar::EntryType::Regular, 16 << 30);
        assert_eq!(
            drain(h.as_bytes().to_vec(), 1 << 20),
            Some(Limit::File(16 << 30, 1 << 30))
        );
        let h = header("././@LongLink", tar::EntryType::GNULongName, 8 << 30);
        assert_eq!(
            drain(h.as_bytes().to_vec(), 1 << 20),
            Some(Limit::Extension {
                kind: "long name",
                size: 8 << 30
            })
        );
        let h = header("./s", tar::EntryType::GNUSparse, 0);
        assert_eq!(drain(h.as_bytes().to_vec(), 1 << 20), Some(Limit::Sparse));
    }

    #[test]
    fn pax_records_are_read_for_their_size() {
        assert_eq!(pax_size(b"12 path=abc\n11 size=42\n"), Some(42));
        assert_eq!(pax_size(b"12 path=abc\n"), None);
        assert_eq!(pax_size(b"99 size=1\n"), None);
        assert_eq!(header_size(b"00000000012\0"), Some(10));
        assert_eq!(
            header_size(&[0x80, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]),
            Some(1 << 34)
        );
    }
}
