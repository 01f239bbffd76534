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

use distill_apt::install::{self, Installed, Progress};
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

/// Downloads, verifies and extracts `pins` for the platform, four at a time, each as soon
/// as it is in; contents go under `stage`.
pub fn extract(
    cx: &Context,
    pins: &[Pin],
    platform: Platform,
    stage: &std::path::Path,
) -> Result<(Vec<Entry>, Vec<Installed>), StageError> {
    Ok(install::install(
        pins,
        cx.sources.cache,
        cx.sources.fetcher,
        cx.progress,
        stage,
        platform.arch,
        4,
    )?)
}

/// What a package tier tells the later stages, kept with its layer in the layer cache.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct TierSide {
    installed: usize,
    /// The tier's library entries, by name and kind only (for the loader's cache).
    libraries: Vec<Library>,
    certs: Option<CaCerts>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Library {
    path: String,
    /// `d`, `f`, `l` or `h`.
    kind: char,
    target: Option<String>,
    mode: u32,
    uid: u64,
    gid: u64,
}

impl Library {
    fn of(e: &Entry) -> Self {
        let (kind, target) = match &e.kind {
            EntryKind::Dir => ('d', None),
            EntryKind::File(_) => ('f', None),
            EntryKind::Symlink { target } => ('l', Some(target.clone())),
            EntryKind::Hardlink { target } => ('h', Some(target.clone())),
        };
        Self {
            path: e.path.clone(),
            kind,
            target,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
        }
    }

    fn entry(self) -> Entry {
        let target = self.target.unwrap_or_default();
        let kind = match self.kind {
            'd' => EntryKind::Dir,
            'l' => EntryKind::Symlink { target },
            'h' => EntryKind::Hardlink { target },
            _ => EntryKind::File(FileSource::Bytes(Vec::new())),
        };
        Entry {
            path: self.path,
            kind,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
        }
    }
}

/// Progress that only counts: for work done in parallel under one bar.
struct Counting<'a>(&'a dyn Progress);

impl Progress for Counting<'_> {
    fn advance(&self, units: u64) {
        self.0.advance(units);
    }
}

/// Every packages layer, one per tier, in order: made in parallel (each tier's packages
/// downloaded and extracted, its layer compressed, at once with the others'), or taken from
/// the layer cache. Each is treated as the family treats packages when the image is a
/// family member. A tier's key is what it is made from: the pinned `.deb`s (by sha256),
/// the platform, the family's treatment and the config's extra CAs.
pub(crate) fn tiers(cx: &Context, p: &mut Packages) -> Result<Vec<StageLayer>, StageError> {
    let extra: Vec<(String, String)> = cx
        .plan
        .ca_extra
        .iter()
        .map(|path| {
            let digest = std::fs::read(path).map_or("unreadable".into(), |b| {
                distill_oci::Digest::of(&b).to_string()
            });
            (path.display().to_string(), digest)
        })
        .collect();
    let key = |n: usize, tier: u32, pkgs: &[LockedPackage]| {
        cx.key(
            "debian-packages",
            &serde_json::json!({
                "platform": p.platform.to_string(),
                "tier": tier,
                "first": n == 0,
                "packages": pkgs,
                // Any member treats its tiers alike: cc starts with base's layers byte
                // for byte, so each member reuses the tiers of the members below it.
                "family": cx.plan.family().is_some(),
                "debug": cx.plan.variant.debug,
                "release": cx.plan.debian.release.codename(),
                "ca_extra": extra,
            }),
        )
    };
    let total = p.groups.iter().flat_map(|(_, g)| g).map(|l| l.size).sum();
    cx.progress
        .start("downloading, extracting and writing packages", total);
    let counting = Counting(cx.progress);
    let quiet = Context {
        progress: &counting,
        ..*cx
    };
    let platform = p.platform;
    let made: Vec<Result<(StageLayer, TierSide), StageError>> = std::thread::scope(|s| {
        let handles: Vec<_> = p
            .groups
            .iter()
            .enumerate()
            .map(|(n, (tier, pkgs))| {
                let (quiet, key) = (&quiet, key(n, *tier, pkgs));
                let stage = p.stage.join(tier.to_string());
                s.spawn(move || quiet.cached(key, || make_tier(quiet, platform, n, pkgs, &stage)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    cx.progress.finish();
    let mut out = Vec::new();
    for (n, r) in made.into_iter().enumerate() {
        let (layer, side) = r?;
        p.count += side.installed;
        if let Some(certs) = side.certs {
            if n == 0 {
                p.first_bundle = Some(certs.bundle());
            }
            p.certs = Some(certs);
        }
        p.libraries
            .extend(side.libraries.into_iter().map(Library::entry));
        out.push(layer);
    }
    Ok(out)
}

/// Tier `n`'s layer made anew: its packages downloaded, verified, extracted and treated.
fn make_tier(
    cx: &Context,
    platform: Platform,
    n: usize,
    pkgs: &[LockedPackage],
    stage: &std::path::Path,
) -> Result<(StageLayer, TierSide), StageError> {
    let pins: Vec<Pin> = pkgs.iter().map(LockedPackage::pin).collect();
    let (mut entries, installed) = extract(cx, &pins, platform, stage)?;
    let mut side = TierSide {
        installed: installed.len(),
        ..TierSide::default()
    };
    if cx.plan.family().is_some() {
        let has_ca = installed
            .iter()
            .any(|i| i.package.name == "ca-certificates");
        if has_ca || (n == 0 && !cx.plan.ca_extra.is_empty()) {
            // Without the package (kept out), the bundle is the extras alone.
            let packaged = if has_ca { entries.as_slice() } else { &[] };
            side.certs = Some(ca_certificates(cx, packaged, stage)?);
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
        side.libraries = entries
            .iter()
            .filter(|e| e.path.contains("lib"))
            .map(Library::of)
            .collect();
    } else {
        entries = treatment::records(entries, &installed);
    }
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
    let layer = cx.write(
        entries,
        format!("distill: debian packages {}", names.join(" ")),
        components,
    )?;
    Ok((layer, side))
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
