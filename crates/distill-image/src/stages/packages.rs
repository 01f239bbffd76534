//! Where Debian packages become layers: the platform's pins, grouped by the layer the lock
//! gave them (for the family, one per member tier, so that `cc` starts with `base`'s layers
//! byte for byte), downloaded and verified, extracted, treated as the family treats them,
//! and written.
//!
//! What the later stages need from the packages is kept in [`Packages`]: the libraries (for
//! `ld.so.cache` and the checks that native code finds what it needs), the CA certificates,
//! and the packages installed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use distill_apt::install::{self, Installed};
use distill_apt::pin::Pin;
use distill_core::{Component, Platform, Release};
use distill_oci::{Entry, EntryKind, FileSource};

use super::{Context, StageError, StageLayer};
use crate::family::treatment::{self, CaCerts};
use crate::lock::{LockedPackage, PlatformLock};

/// One platform's packages, as the stages after this one need them.
pub struct Packages<'a> {
    pub platform: Platform,
    pub pinned: &'a PlatformLock,
    groups: Vec<(u32, Vec<LockedPackage>)>,
    stage: PathBuf,
    /// Every library entry, by name and kind only (for the loader's cache).
    pub libraries: Vec<Entry>,
    /// The image's CA certificates, once the tier holding ca-certificates is in.
    pub certs: Option<CaCerts>,
    /// The first tier's CA bundle, for the family files that follow it.
    pub first_bundle: Option<Vec<u8>>,
    /// How many packages went in.
    pub count: usize,
}

impl<'a> Packages<'a> {
    pub fn new(cx: &Context, platform: Platform, pinned: &'a PlatformLock, index: usize) -> Self {
        let mut groups: BTreeMap<u32, Vec<LockedPackage>> = BTreeMap::new();
        for p in &pinned.packages {
            groups.entry(p.layer).or_default().push(p.clone());
        }
        Self {
            platform,
            pinned,
            groups: groups.into_iter().collect(),
            stage: cx.staging.join(format!("stage-{index}")),
            libraries: Vec::new(),
            certs: None,
            first_bundle: None,
            count: 0,
        }
    }

    /// How many package layers there are.
    pub fn tiers(&self) -> usize {
        self.groups.len()
    }
}

impl Drop for Packages<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.stage);
    }
}

/// Downloads, verifies and extracts `pins` for the platform; contents go under `stage`.
pub fn extract(
    cx: &Context,
    pins: &[Pin],
    platform: Platform,
    stage: &std::path::Path,
) -> Result<(Vec<Entry>, Vec<Installed>), StageError> {
    let debs = install::download(pins, cx.sources.cache, cx.sources.fetcher, cx.progress, 4)?;
    cx.progress.start("extracting packages", 0);
    let out = install::extract(pins, &debs, stage, platform.arch)?;
    cx.progress.finish();
    Ok(out)
}

/// The packages layer of tier `n`, treated as the family treats packages when the image is
/// a family member.
pub(crate) fn tier(cx: &Context, p: &mut Packages, n: usize) -> Result<StageLayer, StageError> {
    let Some((tier, pkgs)) = p.groups.get(n).cloned() else {
        unreachable!("tier {n} of {} asked for", p.groups.len())
    };
    let pins: Vec<Pin> = pkgs.iter().map(LockedPackage::pin).collect();
    let stage = p.stage.join(tier.to_string());
    let (mut entries, installed) = extract(cx, &pins, p.platform, &stage)?;
    p.count += installed.len();
    if cx.plan.family().is_some() {
        let has_ca = installed
            .iter()
            .any(|i| i.package.name == "ca-certificates");
        if has_ca || (n == 0 && !cx.plan.ca_extra.is_empty()) {
            // Without the package (kept out), the bundle is the extras alone.
            let packaged = if has_ca { entries.as_slice() } else { &[] };
            let certs = ca_certificates(cx, packaged, &stage)?;
            if n == 0 {
                p.first_bundle = Some(certs.bundle());
            }
            p.certs = Some(certs);
        }
        entries = treatment::finish(entries, &installed);
        if cx.plan.variant.debug {
            crate::family::files::busybox(&mut entries);
        }
        // The family's files replace the packages' (trixie's base-files makes
        // /usr/lib/os-release a symlink): a lower layer must not hold a link that a runtime
        // would follow when the upper layer writes the file.
        let family_files = crate::family::files::entries(cx.plan.debian.release, &[]);
        entries.retain(|e| {
            !family_files
                .iter()
                .any(|f| f.path == e.path && f.kind != EntryKind::Dir)
        });
        // The loader's cache needs names and kinds only.
        p.libraries
            .extend(entries.iter().filter(|e| e.path.contains("lib")).map(|e| {
                let kind = match &e.kind {
                    EntryKind::File(_) => EntryKind::File(FileSource::Bytes(Vec::new())),
                    k => k.clone(),
                };
                Entry { kind, ..e.clone() }
            }));
    } else {
        entries = treatment::records(entries, &installed);
    }
    cx.progress
        .start(&format!("writing package layer {}", n + 1), 0);
    let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
    let components = installed
        .iter()
        .map(|i| Component::Deb {
            name: i.package.name.clone(),
            version: i.package.version.clone(),
            arch: i.package.architecture.clone(),
            source: i.source(),
            sha256: i.package.sha256.clone(),
            repository: i.package.repository.clone(),
            suite: i.package.suite.clone(),
        })
        .collect();
    let layer = cx.layer(
        entries,
        format!("distill: debian packages {}", names.join(" ")),
        components,
    )?;
    cx.progress.finish();
    Ok(layer)
}

/// The CA certificates of a family image: the ca-certificates package's among `entries`,
/// then the config's extras, each of which must hold a PEM certificate.
fn ca_certificates(
    cx: &Context,
    entries: &[Entry],
    stage: &std::path::Path,
) -> Result<CaCerts, StageError> {
    let extra = cx
        .plan
        .ca_extra
        .iter()
        .map(|path| {
            let err = |source| StageError::CaCert {
                path: path.clone(),
                source,
            };
            let pem = std::fs::read(path).map_err(err)?;
            if crate::family::cacerts::der_certificates(&pem).is_empty() {
                return Err(err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                )));
            }
            let name = path
                .file_name()
                .map_or("extra".into(), |n| n.to_string_lossy().into_owned());
            Ok((name, pem))
        })
        .collect::<Result<Vec<_>, _>>()?;
    CaCerts::read(entries, extra).map_err(|source| StageError::PackagedCerts {
        dir: stage.to_path_buf(),
        source,
    })
}

/// A library the image lacks is a failed build here, not a crash at the binary's first start.
pub(crate) fn check_libraries(
    binary: &str,
    needed: &[String],
    libraries: &[Entry],
) -> Result<(), StageError> {
    for lib in needed {
        if !libraries
            .iter()
            .any(|e| e.path.rsplit('/').next() == Some(lib.as_str()))
        {
            return Err(StageError::MissingLibrary {
                binary: binary.to_owned(),
                library: lib.clone(),
            });
        }
    }
    Ok(())
}

/// Native code that needs a newer glibc than the image's fails here, not at its first start.
pub(crate) fn check_glibc(
    native: &distill_app::elf::NativeNeeds,
    pinned: &[LockedPackage],
    release: Release,
) -> Result<(), StageError> {
    let Some(needed) = native.glibc else {
        return Ok(());
    };
    let have = pinned.iter().find(|p| p.name == "libc6").and_then(|p| {
        let v: distill_apt::version::Version = p.version.parse().ok()?;
        let mut it = v.upstream().split('.').map(|n| n.parse::<u32>().ok());
        Some((it.next()??, it.next()??))
    });
    match have {
        Some(have) if have >= needed => Ok(()),
        _ => Err(StageError::GlibcTooNew {
            binary: native.binary.clone(),
            needed: format!("GLIBC_{}.{}", needed.0, needed.1),
            release: release.number().into(),
            have: have.map_or("none".into(), |h| format!("{}.{}", h.0, h.1)),
        }),
    }
}
