//! What the family does to the packages layer (a build without a family base gets the
//! records alone, [`records`]):
//! - docs, man pages and info pages are dropped; `/usr/share/doc/<pkg>/copyright` stays;
//! - `/var/lib/dpkg/status.d/<pkg>` and `<pkg>.md5sums` record every package, where
//!   scanners (Trivy, Grype) look for them in distroless images; the record carries the
//!   package's conffiles in a `Conffiles:` field with their MD5s, as dpkg's status
//!   database does, since md5sums omits them (so `distill inspect` can attribute them);
//! - the CA bundle is built as `update-ca-certificates` builds it: every certificate under
//!   `/usr/share/ca-certificates`, in name order, then the extra CAs of the config.

use std::io::Read;

use distill_apt::install::Installed;
use distill_oci::layer::{Entry, EntryKind, FileSource};

/// Whether the family drops `path` from a package's files.
fn pruned(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("usr/share/doc/") {
        // Keep `usr/share/doc/<pkg>/` and its copyright file.
        let parts: Vec<&str> = rest.split('/').collect();
        return !(parts.len() == 1 || (parts.len() == 2 && parts[1] == "copyright"));
    }
    ["usr/share/man/", "usr/share/info/", "usr/share/lintian/"]
        .iter()
        .any(|p| path.starts_with(p))
        || matches!(
            path,
            "usr/share/man" | "usr/share/info" | "usr/share/lintian"
        )
}

/// Drops docs, man and info pages, and adds the status.d records.
pub fn finish(entries: Vec<Entry>, installed: &[Installed]) -> Vec<Entry> {
    let out: Vec<Entry> = entries.into_iter().filter(|e| !pruned(&e.path)).collect();
    records(out, installed)
}

/// Adds the status.d records of `installed` to their files: what every image with Debian
/// packages carries, family or not, so that scanners and `distill inspect` see them.
pub fn records(mut out: Vec<Entry>, installed: &[Installed]) -> Vec<Entry> {
    for dir in ["var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status.d"] {
        if !out.iter().any(|e| e.path == dir) {
            out.push(Entry {
                path: dir.into(),
                kind: EntryKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
            });
        }
    }
    for i in installed {
        let mut control = i.control.clone();
        if !control.ends_with('\n') {
            control.push('\n');
        }
        control.push_str(&conffiles_field(&out, &i.conffiles));
        let mut add = |name: String, body: String| {
            out.retain(|e| e.path != name);
            out.push(Entry {
                path: name,
                kind: EntryKind::File(FileSource::Bytes(body.into_bytes())),
                mode: 0o644,
                uid: 0,
                gid: 0,
            });
        };
        add(format!("var/lib/dpkg/status.d/{}", i.package.name), control);
        if let Some(m) = &i.md5sums {
            add(
                format!("var/lib/dpkg/status.d/{}.md5sums", i.package.name),
                m.clone(),
            );
        }
    }
    out
}

/// `Conffiles:` with each conffile the layer holds and its MD5, dpkg's format; empty when
/// the package has none.
fn conffiles_field(entries: &[Entry], conffiles: &[String]) -> String {
    use md5::Digest as _;
    let mut lines = String::new();
    for path in conffiles {
        let rel = path.trim_start_matches('/');
        let Some(EntryKind::File(src)) = entries.iter().find(|e| e.path == rel).map(|e| &e.kind)
        else {
            continue;
        };
        let mut md5 = md5::Md5::new();
        let mut bytes = Vec::new();
        if src
            .reader()
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .is_err()
        {
            continue;
        }
        md5.update(&bytes);
        lines.push_str(&format!(" {path} {}\n", hex::encode(md5.finalize())));
    }
    if lines.is_empty() {
        lines
    } else {
        format!("Conffiles:\n{lines}")
    }
}

/// A family image's CA certificates, `(file name, PEM)` each: the ca-certificates
/// package's, in name order, then the config's extras, the order `update-ca-certificates`
/// gives the bundle. Either part may be empty (`exclude = ["ca-certificates"]` with extras).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct CaCerts {
    #[serde(with = "crate::layercache::named_bytes")]
    pub packaged: Vec<(String, Vec<u8>)>,
    #[serde(with = "crate::layercache::named_bytes")]
    pub extra: Vec<(String, Vec<u8>)>,
}

impl CaCerts {
    /// Every certificate the ca-certificates package ships among `entries`, then `extra`.
    pub fn read(entries: &[Entry], extra: Vec<(String, Vec<u8>)>) -> std::io::Result<Self> {
        let mut certs: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                e.path.starts_with("usr/share/ca-certificates/") && e.path.ends_with(".crt")
            })
            .collect();
        certs.sort_by(|a, b| a.path.cmp(&b.path));
        let mut packaged = Vec::new();
        for e in certs {
            let mut pem = Vec::new();
            match &e.kind {
                EntryKind::File(FileSource::Bytes(b)) => pem.extend_from_slice(b),
                EntryKind::File(FileSource::Path { path, .. }) => {
                    std::fs::File::open(path)?.read_to_end(&mut pem)?;
                }
                EntryKind::File(FileSource::Slice { path, offset, size }) => {
                    let mut f = std::fs::File::open(path)?;
                    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(*offset))?;
                    f.take(*size).read_to_end(&mut pem)?;
                }
                _ => continue,
            }
            let name = e.path.rsplit('/').next().unwrap_or(&e.path).to_owned();
            packaged.push((name, pem));
        }
        Ok(Self { packaged, extra })
    }

    /// The PEM bundle, each certificate ending in a newline.
    pub fn bundle(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (_, pem) in self.packaged.iter().chain(&self.extra) {
            out.extend_from_slice(pem);
            if !pem.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        out
    }

    /// Java's trust store: Debian's aliases (`debian:FILE.pem`) for the packaged
    /// certificates, `distill:FILE` for the extras.
    pub(crate) fn java_keystore(&self, epoch: u64) -> Vec<u8> {
        let mut entries = Vec::new();
        let parts = [
            ("debian:", ".pem", &self.packaged),
            ("distill:", "", &self.extra),
        ];
        for (prefix, suffix, certs) in parts {
            for (name, pem) in certs {
                let ders = super::cacerts::der_certificates(pem);
                let n = ders.len();
                let stem = name.strip_suffix(".crt").unwrap_or(name);
                for (k, der) in ders.into_iter().enumerate() {
                    let alias = if n > 1 {
                        format!("{prefix}{stem}-{k}{suffix}")
                    } else {
                        format!("{prefix}{stem}{suffix}")
                    };
                    entries.push((alias, der));
                }
            }
        }
        super::cacerts::keystore(&entries, epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, body: &str) -> Entry {
        Entry::bytes(path, body.as_bytes().to_vec(), 0o644)
    }

    #[test]
    fn docs_go_copyright_stays() {
        assert!(pruned("usr/share/doc/libc6/changelog.Debian.gz"));
        assert!(!pruned("usr/share/doc/libc6/copyright"));
        assert!(!pruned("usr/share/doc/libc6"));
        assert!(pruned("usr/share/man/man1/ls.1.gz"));
        assert!(pruned("usr/share/info"));
        assert!(!pruned("usr/share/zoneinfo/UTC"));
    }

    #[test]
    fn bundle_is_every_certificate_in_name_order_then_the_extras() {
        let entries = vec![
            f("usr/share/ca-certificates/mozilla/B.crt", "B\n"),
            f("usr/share/ca-certificates/mozilla/A.crt", "A"),
            f("usr/share/doc/x/README", "no"),
        ];
        let certs = CaCerts::read(&entries, vec![("x.pem".into(), b"EXTRA\n".to_vec())]).unwrap();
        let names: Vec<&str> = certs.packaged.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["A.crt", "B.crt"]);
        assert_eq!(String::from_utf8(certs.bundle()).unwrap(), "A\nB\nEXTRA\n");
    }

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";

    /// The number of entries of a JKS keystore (magic, version, count).
    fn jks_count(ks: &[u8]) -> u32 {
        assert_eq!(ks[..4], [0xfe, 0xed, 0xfe, 0xed]);
        u32::from_be_bytes(ks[8..12].try_into().unwrap())
    }

    /// Issue #11: java with `[certificates] extra` and no ca-certificates package computed
    /// `packaged = certs - extras` and underflowed. The extras alone make the store now.
    #[test]
    fn java_store_of_extras_alone() {
        let certs = CaCerts::read(&[], vec![("corp.crt".into(), PEM.as_bytes().to_vec())]).unwrap();
        assert!(certs.packaged.is_empty());
        assert_eq!(jks_count(&certs.java_keystore(0)), 1);
        assert_eq!(certs.bundle(), PEM.as_bytes());
        assert_eq!(jks_count(&CaCerts::default().java_keystore(0)), 0);
        let both = CaCerts {
            packaged: vec![("a.crt".into(), PEM.repeat(2).into_bytes())],
            ..certs
        };
        assert_eq!(jks_count(&both.java_keystore(0)), 3);
    }
}
