//! Package URLs, as purl-spec defines them and scanners match them:
//! `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`.
//!
//! Every part is percent-encoded except the unreserved characters (`A-Z a-z 0-9 . - _ ~`),
//! as packageurl-go does: an epoch's colon becomes `%3A`, a `+` becomes `%2B`. Qualifiers
//! are sorted by key and empty ones dropped, so one component always has one purl.

use base64::Engine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use distill_core::Component;
use distill_core::inventory::python_name;

const PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, PART).to_string()
}

/// A package URL from its parts; `qualifiers` need not be sorted.
pub fn purl(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, String)],
) -> String {
    let mut out = format!("pkg:{kind}/");
    if let Some(ns) = namespace {
        out.push_str(&enc(ns));
        out.push('/');
    }
    out.push_str(&enc(name));
    if !version.is_empty() {
        out.push('@');
        out.push_str(&enc(version));
    }
    let mut q: Vec<&(&str, String)> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort_by_key(|(k, _)| *k);
    for (i, (k, v)) in q.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&enc(v));
    }
    out
}

/// `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-N&upstream=SOURCE`; `upstream` only
/// when the source package has another name, as syft writes it.
pub fn deb(name: &str, version: &str, arch: &str, source: &str, debian: &str) -> String {
    let upstream = if source == name { "" } else { source };
    purl(
        "deb",
        Some("debian"),
        name,
        version,
        &[
            ("arch", arch.to_owned()),
            (
                "distro",
                if debian.is_empty() {
                    String::new()
                } else {
                    format!("debian-{debian}")
                },
            ),
            ("upstream", upstream.to_owned()),
        ],
    )
}

/// `pkg:pypi/NAME@VERSION`, the name normalized as PEP 503 says and purl-spec requires:
/// lower case, runs of `-`, `_` and `.` as one `-`.
pub fn pypi(name: &str, version: &str) -> String {
    purl("pypi", None, &python_name(name), version, &[])
}

/// `pkg:npm/NAME@VERSION`, or `pkg:npm/%40SCOPE/NAME@VERSION` for a scoped package.
pub fn npm(name: &str, version: &str) -> String {
    match name.split_once('/') {
        Some((scope, rest)) if scope.starts_with('@') => {
            purl("npm", Some(scope), rest, version, &[])
        }
        _ => purl("npm", None, name, version, &[]),
    }
}

/// `pkg:generic/node@VERSION?checksum=sha512:HEX`, from the build's SRI integrity.
pub fn node_runtime(version: &str, integrity: &str) -> String {
    let checksum = integrity
        .strip_prefix("sha512-")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|raw| format!("sha512:{}", hex::encode(raw)))
        .unwrap_or_default();
    purl("generic", None, "node", version, &[("checksum", checksum)])
}

/// The purl of a component, for the kinds that are packages; `debian` is the release's
/// number (`12`).
pub fn of(component: &Component, debian: &str) -> Option<String> {
    Some(match component {
        Component::Deb {
            name,
            version,
            arch,
            source,
            ..
        } => deb(name, version, arch, source, debian),
        Component::Python { name, version, .. } => pypi(name, version),
        Component::Npm { name, version, .. } => npm(name, version),
        Component::NodeRuntime {
            version, integrity, ..
        } => node_runtime(version, integrity),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_purls_encode_epochs_and_plus() {
        assert_eq!(
            deb("libc6", "2.36-9+deb12u10", "amd64", "glibc", "12"),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(
            deb("tzdata", "1:2025a-0+deb12u1", "all", "tzdata", "12"),
            "pkg:deb/debian/tzdata@1%3A2025a-0%2Bdeb12u1?arch=all&distro=debian-12"
        );
        assert_eq!(
            deb("libstdc++6", "12.2.0-14", "arm64", "gcc-12", "13"),
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=arm64&distro=debian-13&upstream=gcc-12"
        );
    }

    #[test]
    fn pypi_names_are_normalized() {
        assert_eq!(pypi("MarkupSafe", "3.0.2"), "pkg:pypi/markupsafe@3.0.2");
        assert_eq!(
            pypi("typing_extensions", "4.12.2"),
            "pkg:pypi/typing-extensions@4.12.2"
        );
        assert_eq!(pypi("zope.interface", "7.2"), "pkg:pypi/zope-interface@7.2");
        assert_eq!(pypi("a__b", "1.0+local"), "pkg:pypi/a-b@1.0%2Blocal");
    }

    #[test]
    fn npm_scopes_are_namespaces() {
        assert_eq!(npm("express", "5.1.0"), "pkg:npm/express@5.1.0");
        assert_eq!(npm("@types/node", "22.0.0"), "pkg:npm/%40types/node@22.0.0");
    }

    #[test]
    fn node_runtime_carries_its_checksum_in_hex() {
        // sha512 of the empty string, as SRI.
        let sri = "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";
        assert_eq!(
            node_runtime("24.11.1", sri),
            "pkg:generic/node@24.11.1?checksum=sha512%3Acf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        );
        assert_eq!(node_runtime("24.11.1", "bad"), "pkg:generic/node@24.11.1");
    }
}
