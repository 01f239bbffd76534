//! The family's own files, as two layers: the accounts, os-release and CA bundle right
//! after the first tier of packages (they depend only on it), and the member's top layer
//! after every tier: its links (python3's `/usr/bin/python`), Java's trust store, and the
//! `ld.so.cache`, which depends on every library below.

use distill_oci::{Entry, EntryKind};

use super::packages::Packages;
use super::{Context, StageError, StageLayer, file_components, symlink};
use crate::family::{ARCH, Extra, cacerts, files, ldcache};

/// Accounts, home directories, `/tmp`, os-release, nsswitch.conf and the CA bundle.
pub(crate) fn files_layer(cx: &Context, p: &Packages) -> Result<StageLayer, StageError> {
    let mut entries = files::entries(cx.plan.debian.release, &[]);
    if let Some(bundle) = &p.first_bundle {
        for f in &mut entries {
            if f.path == "etc/ssl/certs/ca-certificates.crt" {
                f.kind = EntryKind::File(distill_oci::FileSource::Bytes(bundle.clone()));
            }
        }
    }
    let components = file_components(&entries, true)?;
    cx.layer(
        entries,
        "distill: distroless accounts, os-release, CA bundle".into(),
        components,
    )
}

/// The member's links, Java's trust store and the loader's cache, when it has any of them.
pub(crate) fn top_layer(cx: &Context, p: &Packages) -> Result<Option<StageLayer>, StageError> {
    let arch = p.platform.arch;
    let mut top: Vec<distill_oci::Entry> = cx
        .plan
        .family_links
        .iter()
        .map(|(path, target)| symlink(path, &target.replace(ARCH, arch.debian())))
        .collect();
    if cx.plan.family_extra.contains(&Extra::JavaTrustStore) {
        // With no CA at all, still a valid (empty) store: Java refuses a malformed one.
        let store = p
            .certs
            .clone()
            .unwrap_or_default()
            .java_keystore(cx.plan.epoch);
        top.push(Entry::bytes(cacerts::PATH, store, 0o644));
    }
    if p.libraries.iter().any(|e| e.path.ends_with("/libc.so.6")) {
        top.push(Entry::bytes(
            "etc/ld.so.cache",
            ldcache::build(&p.libraries, arch)?,
            0o644,
        ));
    }
    if top.is_empty() {
        return Ok(None);
    }
    let components = file_components(&top, true)?;
    cx.layer(
        top,
        "distill: ld.so.cache, links and trust stores".into(),
        components,
    )
    .map(Some)
}

/// The CA set a member's Java store is made of, for tests.
#[cfg(test)]
fn java_store(certs: Option<crate::family::treatment::CaCerts>) -> Vec<u8> {
    certs.unwrap_or_default().java_keystore(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #11: java with `[certificates] extra` and no ca-certificates package made the
    /// store from `certs - extras` and underflowed; no certificates at all must still give
    /// a store Java reads.
    #[test]
    fn a_java_store_without_any_certificate_is_a_valid_empty_store() {
        let ks = java_store(None);
        assert_eq!(ks[..4], [0xfe, 0xed, 0xfe, 0xed]);
        assert_eq!(u32::from_be_bytes(ks[8..12].try_into().unwrap()), 0);
    }
}
