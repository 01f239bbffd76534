//! A miniature Debian 12 with the packages of the family's lower members (`static`,
//! `base-nossl`, `base`, `cc`), made of small fake files with the real packages' names and
//! dependencies, so that the whole family pipeline (tiers, exclusions, status.d, the CA
//! bundle, `ld.so.cache`) runs against a signed repository with no network.
//!
//! The dependencies follow the real ones where they matter: ca-certificates needs openssl
//! and debconf, which the family keeps out; libc6 and libgcc-s1 need each other.

use crate::aptrepo::{DebEntry, DebSpec};

/// A certificate-shaped PEM block (the family concatenates the package's files in name
/// order; it does not parse them).
pub(crate) const TEST_CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHBfpegPjMCMA0GCSqGSIb3DQEBCwUAMBExDzANBgNVBAMMBnRl\nc3RjYTAeFw0yNjAxMDEwMDAwMDBaFw0zNjAxMDEwMDAwMDBaMBExDzANBgNVBAMM\n-----END CERTIFICATE-----\n";

fn lib(path: &str) -> DebEntry {
    DebEntry::File {
        path: path.into(),
        content: format!("ELF {path}\n").into_bytes(),
        mode: 0o644,
    }
}

/// The packages, for `AptRepo::bookworm`.
pub fn packages() -> Vec<DebSpec> {
    vec![
        DebSpec::new("base-files", "12.4+deb12u1")
            .file("etc/debian_version", "12.4\n")
            .file(
                "usr/lib/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12\"\n",
            )
            .file(
                "usr/share/doc/base-files/copyright",
                "base-files copyright\n",
            )
            .file("usr/share/doc/base-files/changelog.gz", "pruned\n"),
        DebSpec::new("netbase", "6.4")
            .file("etc/services", "http 80/tcp\n")
            .file("etc/protocols", "tcp 6 TCP\n"),
        DebSpec::new("tzdata", "2025b-0+deb12u1")
            .depends("debconf (>= 0.5) | debconf-2.0")
            .file("usr/share/zoneinfo/UTC", "TZif2\n"),
        DebSpec::new("media-types", "10.0.0").file("etc/mime.types", "text/plain txt\n"),
        DebSpec::new("ca-certificates", "20230311")
            .depends("openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0")
            .file("usr/share/ca-certificates/mozilla/Test_Root.crt", TEST_CA)
            .file("usr/share/man/man8/update-ca-certificates.8.gz", "pruned\n"),
        DebSpec::new("openssl", "3.0.17-1~deb12u2").depends("libssl3, libc6"),
        DebSpec::new("debconf", "1.5.82").file("usr/bin/debconf", "#!perl\n"),
        DebSpec::new("libc6", "2.36-9+deb12u10")
            .depends("libgcc-s1")
            .entry(lib("lib/x86_64-linux-gnu/libc.so.6"))
            .entry(lib("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"))
            .entry(lib("lib/x86_64-linux-gnu/libm.so.6")),
        DebSpec::new("libgcc-s1", "12.2.0-14+deb12u1")
            .depends("libc6 (>= 2.35)")
            .entry(lib("lib/x86_64-linux-gnu/libgcc_s.so.1")),
        DebSpec::new("libssl3", "3.0.17-1~deb12u2")
            .depends("libc6 (>= 2.34)")
            .entry(lib("usr/lib/x86_64-linux-gnu/libssl.so.3"))
            .entry(lib("usr/lib/x86_64-linux-gnu/libcrypto.so.3")),
        DebSpec::new("libstdc++6", "12.2.0-14+deb12u1")
            .depends("libc6, libgcc-s1")
            .entry(lib("usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30"))
            .entry(DebEntry::Symlink {
                path: "usr/lib/x86_64-linux-gnu/libstdc++.so.6".into(),
                target: "libstdc++.so.6.0.30".into(),
            }),
        DebSpec::new("libgomp1", "12.2.0-14+deb12u1")
            .depends("libc6")
            .entry(lib("usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0")),
    ]
}
