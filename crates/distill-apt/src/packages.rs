//! `Packages` indexes: one paragraph per binary package (Debian Policy §5.3, apt's
//! repository format).
//!
//! Only verified text reaches this parser (see [`crate::repo`]). Fields the resolver and the
//! downloader need are kept; dependency fields stay as text and are parsed when a package
//! is actually considered, which keeps loading a 60,000-package index fast.

use crate::relation::{self, Group, Relation, RelationError};
use crate::version::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Required,
    Important,
    Standard,
    Optional,
    Extra,
}

impl Priority {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("required") => Priority::Required,
            Some("important") => Priority::Important,
            Some("standard") => Priority::Standard,
            Some("extra") => Priority::Extra,
            _ => Priority::Optional,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiArch {
    No,
    Same,
    Foreign,
    Allowed,
}

/// One binary package of an index.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: Version,
    pub architecture: String,
    pub multi_arch: MultiArch,
    pub essential: bool,
    pub priority: Priority,
    pub pre_depends: String,
    pub depends: String,
    pub provides: Vec<Relation>,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    pub source: Option<String>,
    /// Index of the repository (suite) this package came from, in the universe's list.
    pub repo: usize,
}

impl Package {
    /// `Pre-Depends` then `Depends`, in that order, as apt reads them.
    pub fn dependencies(&self, arch: &str) -> Result<Vec<Group>, RelationError> {
        let mut groups = relation::parse_field(&self.pre_depends, arch)?;
        groups.extend(relation::parse_field(&self.depends, arch)?);
        Ok(groups)
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PackagesError {
    #[error("Malformed Packages index {index}: {why}")]
    Malformed { index: String, why: String },
    #[error("Malformed entry for {package} in {index}: {why}")]
    BadEntry {
        index: String,
        package: String,
        why: String,
    },
}

/// What [`parse_reader`] stops on.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    Parse(PackagesError),
}

/// Parses a `Packages` file read from `r` a megabyte or so at a time, cut at paragraph
/// ends, so that memory holds the packages and not the whole text (tens of MB for Debian's
/// main); every byte read is written to `tee` too.
pub fn parse_reader(
    r: &mut dyn std::io::Read,
    tee: &mut dyn std::io::Write,
    repo: usize,
    index: &str,
) -> Result<Vec<Package>, ReadError> {
    const CHUNK: usize = 1 << 20;
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut block = vec![0u8; CHUNK];
    let parse = |bytes: &[u8], out: &mut Vec<Package>| -> Result<(), ReadError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            ReadError::Parse(PackagesError::Malformed {
                index: index.to_owned(),
                why: format!("not UTF-8: {e}"),
            })
        })?;
        out.extend(parse(text, repo, index).map_err(ReadError::Parse)?);
        Ok(())
    };
    loop {
        let n = r.read(&mut block).map_err(ReadError::Io)?;
        if n == 0 {
            break;
        }
        tee.write_all(&block[..n]).map_err(ReadError::Io)?;
        buf.extend_from_slice(&block[..n]);
        // A blank line ends a paragraph: no line inside one is empty (deb822).
        if buf.len() >= CHUNK
            && let Some(end) = buf.windows(2).rposition(|w| w == b"\n\n")
        {
            parse(&buf[..end + 2], &mut out)?;
            buf.drain(..end + 2);
        }
    }
    parse(&buf, &mut out)?;
    Ok(out)
}

/// Parses a whole `Packages` file.
pub fn parse(text: &str, repo: usize, index: &str) -> Result<Vec<Package>, PackagesError> {
    let mut out = Vec::new();
    for para in deb822_fast::borrowed::iter_paragraphs_borrowed(text) {
        let para = para.map_err(|e| PackagesError::Malformed {
            index: index.to_owned(),
            why: e.to_string(),
        })?;
        let single = |f: &str| para.get_single(f);
        let name = single("Package").ok_or_else(|| PackagesError::Malformed {
            index: index.to_owned(),
            why: "a paragraph without Package".into(),
        })?;
        let bad = |why: String| PackagesError::BadEntry {
            index: index.to_owned(),
            package: name.to_owned(),
            why,
        };
        let version = single("Version")
            .ok_or_else(|| bad("no Version".into()))?
            .parse::<Version>()
            .map_err(|e| bad(format!("invalid Version: {e}")))?;
        let architecture = single("Architecture").ok_or_else(|| bad("no Architecture".into()))?;
        let filename = single("Filename").ok_or_else(|| bad("no Filename".into()))?;
        let size = single("Size")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no valid Size".into()))?;
        let sha256 = single("SHA256")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad("no valid SHA256".into()))?;
        let provides = relation::parse_field(single("Provides").unwrap_or(""), architecture)
            .map_err(|e| bad(e.to_string()))?
            .into_iter()
            .flatten()
            .collect();
        let multi_arch = match single("Multi-Arch") {
            Some("same") => MultiArch::Same,
            Some("foreign") => MultiArch::Foreign,
            Some("allowed") => MultiArch::Allowed,
            _ => MultiArch::No,
        };
        out.push(Package {
            name: name.to_owned(),
            version,
            architecture: architecture.to_owned(),
            multi_arch,
            essential: single("Essential") == Some("yes"),
            priority: Priority::parse(single("Priority")),
            pre_depends: single("Pre-Depends").unwrap_or("").to_owned(),
            depends: single("Depends").unwrap_or("").to_owned(),
            provides,
            filename: filename.to_owned(),
            size,
            sha256: sha256.to_ascii_lowercase(),
            source: single("Source").map(str::to_owned),
            repo,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads at most 7 bytes at a time, so chunks end anywhere.
    struct Trickle<'a>(&'a [u8]);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_index_read_in_chunks_parses_as_the_whole_text_and_is_passed_on_whole() {
        let mut text = String::new();
        for i in 0..12_000 {
            text += &TEXT.replace("Package: a\n", &format!("Package: a{i}\n"));
            text += "\n";
        }
        assert!(text.len() > 3 << 20);
        let whole = parse(&text, 0, "t").unwrap();
        let mut tee = Vec::new();
        let chunked = parse_reader(&mut text.as_bytes(), &mut tee, 0, "t").unwrap();
        let names = |p: &[Package]| p.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&chunked), names(&whole));
        assert_eq!(chunked.len(), 24_000);
        assert_eq!(tee, text.as_bytes());
        let small = parse_reader(&mut Trickle(TEXT.as_bytes()), &mut std::io::sink(), 0, "t");
        assert_eq!(names(&small.unwrap()), ["a", "b"]);
        // A paragraph cut by a chunk is still one paragraph: none is lost or split.
        let bad = format!("{text}Package: broken\n");
        assert!(matches!(
            parse_reader(&mut bad.as_bytes(), &mut std::io::sink(), 0, "t"),
            Err(ReadError::Parse(PackagesError::BadEntry { .. }))
        ));
    }

    const TEXT: &str = "Package: a\nVersion: 1:2.0-1\nArchitecture: amd64\nPriority: required\nEssential: yes\n\
Depends: b (>= 1), c | d\nPre-Depends: e\nProvides: v (= 3), w\nFilename: pool/main/a/a_2.0-1_amd64.deb\nSize: 10\n\
SHA256: 0000000000000000000000000000000000000000000000000000000000000000\nDescription: x\n more\n\n\
Package: b\nVersion: 1.5\nArchitecture: all\nMulti-Arch: foreign\nFilename: pool/main/b/b_1.5_all.deb\nSize: 3\n\
SHA256: 1111111111111111111111111111111111111111111111111111111111111111\n";

    #[test]
    fn parses_fields_the_resolver_needs() {
        let p = parse(TEXT, 0, "test").unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[0].essential);
        assert_eq!(p[0].priority, Priority::Required);
        let deps = p[0].dependencies("amd64").unwrap();
        let names: Vec<Vec<&str>> = deps
            .iter()
            .map(|g| g.iter().map(|r| r.name.as_str()).collect())
            .collect();
        assert_eq!(names, vec![vec!["e"], vec!["b"], vec!["c", "d"]]);
        assert_eq!(p[0].provides.len(), 2);
        assert_eq!(p[1].multi_arch, MultiArch::Foreign);
    }

    #[test]
    fn bad_entries_name_the_package() {
        let err = parse("Package: z\nVersion: 1\nArchitecture: amd64\n", 0, "idx").unwrap_err();
        assert!(err.to_string().contains("z") && err.to_string().contains("idx"));
    }
}
