//! Executes a [`BuildPlan`]: layers into a staging blob store, then the image, then every
//! output, written atomically.
//!
//! Outputs are opened before any layer is written, so an unwritable destination costs no
//! work; the staging store is a temporary directory removed on every exit path.

use distill_app::FilesError;
use distill_oci::image::{ImageLayer, finish, write_image};
use distill_oci::layer::write_layer;
use distill_oci::{
    BlobStore, BlobStoreError, Built, Digest, ImageError, ImageSpec, LayerError, Outputs, SinkError,
};

pub use distill_apt::install::Progress;

use crate::base;
use crate::packages::{self, PackagesError, Sources};
use crate::plan::{Base, BuildPlan};

/// The base pinned in `lock`, which must be the config's base repository.
fn pinned_base(
    lock: &distill_apt::lock::Lockfile,
    want: &distill_oci::registry::Reference,
    path: &std::path::Path,
) -> Result<distill_oci::registry::Reference, BuildError> {
    let mismatch = || BuildError::LockWithoutBase {
        path: path.to_path_buf(),
        base: want.to_string(),
    };
    let pinned: distill_oci::registry::Reference = lock
        .base
        .as_deref()
        .and_then(|b| b.strip_prefix("docker://"))
        .and_then(|b| b.parse().ok())
        .ok_or_else(mismatch)?;
    let same = pinned.host == want.host
        && pinned.repository == want.repository
        && want
            .digest
            .as_ref()
            .is_none_or(|d| pinned.digest.as_ref() == Some(d));
    if same && pinned.digest.is_some() {
        Ok(pinned)
    } else {
        Err(mismatch())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Blob(#[from] BlobStoreError),
    #[error(transparent)]
    Packages(#[from] PackagesError),
    #[error(transparent)]
    Base(#[from] crate::base::BaseError),
    #[error(transparent)]
    Node(#[from] crate::family::node::NodeError),
    #[error(transparent)]
    App(#[from] crate::app::AppError),
    #[error(transparent)]
    Bytecode(#[from] crate::bytecode::BytecodeError),
    #[error(transparent)]
    Elf(#[from] distill_app::elf::ElfError),
    #[error(
        "distill-init is built into this distill for {} only, not for {platform}",
        crate::init::arch()
    )]
    InitArch { platform: String },
    #[error("{binary} needs {needed}, but Debian {release} has glibc {have}")]
    GlibcTooNew {
        binary: String,
        needed: String,
        release: String,
        have: String,
    },
    #[error("{binary} needs {library}, which no package of the image provides")]
    MissingLibrary { binary: String, library: String },
    #[error("distill.lock {path} pins no base image, but the config builds on {base}")]
    LockWithoutBase {
        path: std::path::PathBuf,
        base: String,
    },
    #[error("Cannot write {path}: {source}")]
    WriteLock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("Cannot read CA certificate {path}: {source}")]
    CaCert {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("Cannot read the certificates of the ca-certificates package in {dir}: {source}")]
    PackagedCerts {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    LdCache(#[from] crate::family::ldcache::TooLarge),
    #[error("Cannot create a staging directory in {dir}: {source}")]
    Staging {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl BuildError {
    pub fn hint(&self) -> Option<String> {
        match self {
            BuildError::Files(e) => e.hint(),
            BuildError::Sink(e) => e.hint(),
            BuildError::Packages(e) => e.hint(),
            BuildError::Base(e) => e.hint(),
            BuildError::Node(e) => e.hint(),
            BuildError::App(e) => e.hint(),
            BuildError::MissingLibrary { .. } => {
                Some("add the Debian package that ships it to [packages] include".into())
            }
            BuildError::GlibcTooNew { .. } => Some(format!(
                "glibc by Debian release: {}. Build on a newer release (debian = \"13\"), or compile the binary against an older glibc (on the release you ship, or in its container)",
                GLIBC
                    .iter()
                    .map(|(d, g)| format!("Debian {d} has {g}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            BuildError::CaCert { .. } => {
                Some("list PEM certificate files in [certificates] extra".into())
            }
            BuildError::LockWithoutBase { .. } => {
                Some("run `distill lock` to pin the base image".into())
            }
            BuildError::Staging { .. } => Some("set TMPDIR to a writable directory".into()),
            BuildError::PackagedCerts { .. } => {
                Some("the staging directory changed under the build; run the build again".into())
            }
            _ => None,
        }
    }
}

/// What a finished build reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub built: Built,
    pub files: usize,
    /// Debian packages installed, per platform.
    pub packages: usize,
    /// Packages that `[packages] exclude` (or the family) kept out, with what only they
    /// pulled in; empty when the packages came from distill.lock.
    pub excluded: Vec<String>,
    /// What each registry output's push did.
    pub pushed: Vec<distill_oci::registry::PushReport>,
}

impl Report {
    pub fn digest(&self) -> &Digest {
        self.built.digest()
    }
}

/// Builds the plan's image and writes it to every output.
pub fn build(
    plan: &BuildPlan,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<Report, BuildError> {
    let outputs = Outputs::open(&plan.outputs, &plan.registry)?;
    if let Some(r) = &plan.runtime {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if r.is_past(now) {
            tracing::warn!(
                "{} {} reached its upstream end of life in {}: this image ships an unsupported runtime",
                r.name,
                r.version,
                r.eol_text()
            );
        }
    }

    let tmp = std::env::temp_dir();
    let staging = tempfile::Builder::new()
        .prefix("distill-build-")
        .tempdir_in(&tmp)
        .map_err(|source| BuildError::Staging { dir: tmp, source })?;
    let _cleanup = distill_oci::cleanup::Registered::new(staging.path());
    let store = BlobStore::create(staging.path().join("layout"))?;

    // Local files first: a missing one fails the build before any network work.
    progress.start("collecting files", 0);
    let entries = distill_app::collect(&plan.files)?;
    let files = entries.len();
    let mut files_layer = if entries.is_empty() {
        None
    } else {
        let layer = write_layer(&store, plan.compression, plan.epoch, entries)?;
        tracing::info!(digest = %layer.digest, size = layer.size, "files layer");
        Some(ImageLayer {
            layer,
            created_by: "distill: [[files]]".into(),
        })
    };
    progress.finish();

    let init_layer = match plan.init {
        Some(_) => {
            let entry = distill_oci::Entry {
                path: crate::init::PATH.trim_start_matches('/').to_owned(),
                kind: distill_oci::EntryKind::File(distill_oci::FileSource::Bytes(
                    crate::init::BINARY.to_vec(),
                )),
                mode: 0o755,
                uid: 0,
                gid: 0,
            };
            let layer = write_layer(&store, plan.compression, plan.epoch, vec![entry])?;
            Some(ImageLayer {
                layer,
                created_by: "distill: distill-init".into(),
            })
        }
        None => None,
    };

    // An app's dependencies, per platform, before packages are resolved: their native code
    // may need libraries that become packages.
    let app_plan;
    let mut deps = Vec::new();
    let work = staging.path().join("app");
    let plan = match &plan.app {
        None => plan,
        Some(app) => {
            let (installed, needs) = app_dependencies(plan, app, &work, sources, progress)?;
            deps = installed;
            let mut p = plan.clone();
            p.debian.native = needs;
            app_plan = p;
            &app_plan
        }
    };

    let needs_lock = !plan.debian.include.is_empty() || matches!(plan.base, Base::Registry(_));
    let lock = if needs_lock {
        Some(packages::packages_for(
            &plan.debian,
            &plan.platforms,
            sources,
            progress,
        )?)
    } else {
        None
    };

    if let (Some(crate::app::App::Python(_)), Some(lock)) = (&plan.app, &lock)
        && let Some(layer) = compile_python(plan, lock, &deps, &work, &store, sources, progress)?
    {
        files_layer = Some(layer);
    }
    let mut deps_layers = Vec::new();
    for d in &deps {
        let entries = d.entries()?;
        deps_layers.push(if entries.is_empty() {
            None
        } else {
            let layer = write_layer(&store, plan.compression, plan.epoch, entries)?;
            Some(ImageLayer {
                layer,
                created_by: format!("distill: {}", d.what),
            })
        });
    }

    let base = match &plan.base {
        Base::Scratch | Base::Family(_) => None,
        Base::Registry(r) => {
            let pinned = match lock.as_ref().filter(|_| plan.debian.locked) {
                Some(l) => pinned_base(l, r, &plan.debian.lockfile)?,
                None => base::pin(r, &plan.registry)?,
            };
            progress.start(&format!("pulling base {pinned}"), 0);
            let built = base::pull(&pinned, &store, &plan.registry)?;
            progress.finish();
            Some((pinned, built))
        }
    };

    let mut images = Vec::new();
    let mut package_count = 0;
    for (i, p) in plan.platforms.iter().enumerate() {
        let mut layers = Vec::new();
        let mut spec = ImageSpec {
            platform: Some(p.clone()),
            ..plan.image.clone()
        };
        if let Some((reference, built)) = &base {
            let img = base::for_platform(built, p, reference)?;
            layers.extend(base::layers(&store, img, reference)?);
            spec = base::merge(&spec, &store, img, reference, plan.explicit_user)?;
        }
        if let Some(lock) = lock.as_ref().filter(|_| !plan.debian.include.is_empty()) {
            let pinned = lock
                .platform(&p.to_string())
                .expect("the lock covers every platform: checked when it was read");
            if let Some(native) = &plan.debian.native {
                check_glibc(native, &pinned.packages, plan.debian.release)?;
            }
            let stage = staging.path().join(format!("stage-{i}"));
            let (package_layers, count) = package_layers(
                plan,
                pinned,
                &p.architecture,
                &stage,
                &store,
                sources,
                progress,
            )?;
            package_count = count;
            let _ = std::fs::remove_dir_all(&stage);
            layers.extend(package_layers);
        }
        if plan.init.is_some() {
            if p.architecture != crate::init::arch() {
                return Err(BuildError::InitArch {
                    platform: p.to_string(),
                });
            }
            layers.extend(init_layer.clone());
        }
        if let Some(deps) = deps_layers.get(i) {
            layers.extend(deps.clone());
        }
        layers.extend(files_layer.clone());
        images.push(write_image(&store, &spec, &layers)?);
    }
    let built = finish(&store, images)?;

    progress.start("writing outputs", 0);
    let pushed = outputs.finish(&store, &built, plan.epoch)?;
    progress.finish();
    let excluded = lock
        .as_ref()
        .and_then(|l| l.platforms.first())
        .map(|p| p.excluded.clone())
        .unwrap_or_default();
    Ok(Report {
        built,
        files,
        excluded,
        packages: package_count,
        pushed,
    })
}

/// An app's dependencies for every platform of the plan, and what their native code needs
/// from the image, all platforms together.
fn app_dependencies(
    plan: &BuildPlan,
    app: &crate::app::App,
    work: &std::path::Path,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<
    (
        Vec<crate::app::Dependencies>,
        Option<crate::plan::NativeNeeds>,
    ),
    BuildError,
> {
    let mut deps = Vec::new();
    let mut needs: Option<crate::plan::NativeNeeds> = None;
    for p in &plan.platforms {
        progress.start(&format!("installing dependencies for {p}"), 0);
        let d = crate::app::dependencies(
            app,
            plan.debian.release,
            &p.architecture,
            work,
            sources.cache.root(),
        )?;
        progress.finish();
        if let Some(n) = &d.native {
            match &mut needs {
                None => needs = Some(n.clone()),
                Some(merged) => {
                    for lib in &n.needed {
                        if !merged.needed.contains(lib) {
                            merged.needed.push(lib.clone());
                        }
                    }
                    merged.glibc = merged.glibc.max(n.glibc);
                }
            }
        }
        deps.push(d);
    }
    Ok((deps, needs))
}

/// Compiles a Python app's bytecode with the image's interpreter: every platform's
/// dependencies in place, and the app in a copy, whose files layer is returned.
fn compile_python(
    plan: &BuildPlan,
    lock: &distill_apt::lock::Lockfile,
    deps: &[crate::app::Dependencies],
    work: &std::path::Path,
    store: &BlobStore,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<Option<ImageLayer>, BuildError> {
    let arch = crate::init::arch();
    let Some(host) = plan.platforms.iter().find(|p| p.architecture == arch) else {
        tracing::warn!(
            "this build has no {arch} platform, whose Python distill could run: bytecode is left to the first import"
        );
        return Ok(None);
    };
    let pinned = lock
        .platform(&host.to_string())
        .expect("the lock covers every platform");
    progress.start("compiling bytecode", 0);
    let (entries, _) = packages::entries(
        &pinned.packages,
        arch,
        &work.join("python-stage"),
        sources,
        progress,
    )?;
    let root = work.join("python-root");
    crate::bytecode::materialize(&entries, &root)?;
    let python =
        crate::bytecode::Interpreter::new(&root, crate::app::python_of(plan.debian.release).0);
    for d in deps.iter().filter(|d| d.dir.is_dir()) {
        python.compile(&d.dir, &d.dst)?;
    }
    let mut files = plan.files.clone();
    let mut copied = false;
    for spec in files
        .iter_mut()
        .filter(|f| f.dst == crate::app::APP_DIR && f.src.is_dir())
    {
        let copy = work.join("app-src");
        crate::app::copy_tree(&spec.src, &copy, &spec.exclude)?;
        python.compile(&copy, crate::app::APP_DIR)?;
        spec.src = copy;
        // The user's own caches stayed out of the copy; these are ours.
        spec.exclude.retain(|x| x != "__pycache__");
        copied = true;
    }
    let _ = std::fs::remove_dir_all(&root);
    progress.finish();
    if !copied {
        return Ok(None);
    }
    let layer = write_layer(
        store,
        plan.compression,
        plan.epoch,
        distill_app::collect(&files)?,
    )?;
    Ok(Some(ImageLayer {
        layer,
        created_by: "distill: [[files]]".into(),
    }))
}

/// A library the image lacks is a failed build here, not a crash at the binary's first start.
fn check_libraries(
    binary: &str,
    needed: &[String],
    libraries: &[distill_oci::Entry],
) -> Result<(), BuildError> {
    for lib in needed {
        if !libraries
            .iter()
            .any(|e| e.path.rsplit('/').next() == Some(lib.as_str()))
        {
            return Err(BuildError::MissingLibrary {
                binary: binary.to_owned(),
                library: lib.clone(),
            });
        }
    }
    Ok(())
}

/// The glibc of each Debian release, for messages.
const GLIBC: [(&str, &str); 2] = [("12", "2.36"), ("13", "2.41")];

/// A binary that needs a newer glibc than the image's fails here, not at its first start.
fn check_glibc(
    native: &crate::plan::NativeNeeds,
    pinned: &[distill_apt::lock::LockedPackage],
    release: distill_apt::debian::Release,
) -> Result<(), BuildError> {
    let Some(needed) = native.glibc else {
        return Ok(());
    };
    let have = pinned.iter().find(|p| p.name == "libc6").and_then(|p| {
        let upstream = p.version.split(':').next_back()?.split('-').next()?;
        let mut it = upstream.split('.').map(|n| n.parse::<u32>().ok());
        Some((it.next()??, it.next()??))
    });
    match have {
        Some(have) if have >= needed => Ok(()),
        _ => Err(BuildError::GlibcTooNew {
            binary: native.binary.clone(),
            needed: format!("GLIBC_{}.{}", needed.0, needed.1),
            release: release.number().into(),
            have: have.map_or("none".into(), |h| format!("{}.{}", h.0, h.1)),
        }),
    }
}

fn symlink(path: &str, target: &str) -> distill_oci::Entry {
    distill_oci::Entry {
        path: path.to_owned(),
        kind: distill_oci::EntryKind::Symlink {
            target: target.to_owned(),
        },
        mode: 0o777,
        uid: 0,
        gid: 0,
    }
}

/// The CA certificates of a family image: the ca-certificates package's, then the config's
/// extras, each of which must hold a PEM certificate.
fn ca_certificates(
    plan: &BuildPlan,
    entries: &[distill_oci::Entry],
    stage: &std::path::Path,
) -> Result<crate::family::packages::CaCerts, BuildError> {
    let extra = plan
        .ca_extra
        .iter()
        .map(|path| {
            let err = |source| BuildError::CaCert {
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
    crate::family::packages::CaCerts::read(entries, extra).map_err(|source| {
        BuildError::PackagedCerts {
            dir: stage.to_path_buf(),
            source,
        }
    })
}

/// The package layers of one platform. Packages go into layers by the `layer` the lock gave
/// them: for the family, one per member tier, so that `cc` starts with `base`'s layers byte
/// for byte. The family's own files follow the first tier (they depend only on it: accounts,
/// os-release, the CA bundle); the `ld.so.cache`, which depends on every library, comes
/// next, and the official Node build, for the `nodejs` members, last.
fn package_layers(
    plan: &BuildPlan,
    pinned: &distill_apt::lock::PlatformLock,
    arch: &str,
    stage: &std::path::Path,
    store: &BlobStore,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<(Vec<ImageLayer>, usize), BuildError> {
    let family = match plan.base {
        Base::Family(name) => Some(name),
        _ => None,
    };
    let mut groups: std::collections::BTreeMap<u32, Vec<distill_apt::lock::LockedPackage>> =
        Default::default();
    for p in &pinned.packages {
        groups.entry(p.layer).or_default().push(p.clone());
    }
    let family_files = if family.is_some() {
        crate::family::files::entries(plan.debian.release, &[])
    } else {
        Vec::new()
    };
    let mut layers = Vec::new();
    let mut libraries = Vec::new();
    let mut count = 0;
    let mut certs = None;
    for (n, (tier, pkgs)) in groups.iter().enumerate() {
        let (mut entries, installed) =
            packages::entries(pkgs, arch, &stage.join(tier.to_string()), sources, progress)?;
        count += installed.len();
        let mut ca = None;
        if family.is_some() {
            if installed
                .iter()
                .any(|i| i.package.name == "ca-certificates")
            {
                let found = ca_certificates(plan, &entries, stage)?;
                ca = Some(found.bundle());
                certs = Some(found);
            } else if n == 0 && !plan.ca_extra.is_empty() {
                // ca-certificates excluded: the bundle is the extras alone.
                let found = ca_certificates(plan, &[], stage)?;
                ca = Some(found.bundle());
                certs = Some(found);
            }
            entries = crate::family::packages::finish(entries, &installed);
            if plan.debug {
                crate::family::files::busybox(&mut entries);
            }
            // The family's files replace the packages' (trixie's base-files makes
            // /usr/lib/os-release a symlink): a lower layer must not hold a link that a
            // runtime would follow when the upper layer writes the file.
            entries.retain(|e| {
                !family_files
                    .iter()
                    .any(|f| f.path == e.path && f.kind != distill_oci::EntryKind::Dir)
            });
            // The cache needs names and kinds only.
            libraries.extend(entries.iter().filter(|e| e.path.contains("lib")).map(|e| {
                let kind = match &e.kind {
                    distill_oci::EntryKind::File(_) => {
                        distill_oci::EntryKind::File(distill_oci::FileSource::Bytes(Vec::new()))
                    }
                    k => k.clone(),
                };
                distill_oci::Entry { kind, ..e.clone() }
            }));
        }
        progress.start(&format!("writing package layer {}", n + 1), 0);
        let layer = write_layer(store, plan.compression, plan.epoch, entries)?;
        progress.finish();
        let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
        layers.push(ImageLayer {
            layer,
            created_by: format!("distill: debian packages {}", names.join(" ")),
        });
        if family.is_some() && n == 0 {
            let mut files = family_files.clone();
            if let Some(b) = ca.take() {
                for f in &mut files {
                    if f.path == "etc/ssl/certs/ca-certificates.crt" {
                        f.kind =
                            distill_oci::EntryKind::File(distill_oci::FileSource::Bytes(b.clone()));
                    }
                }
            }
            let layer = write_layer(store, plan.compression, plan.epoch, files)?;
            layers.push(ImageLayer {
                layer,
                created_by: "distill: distroless accounts, os-release, CA bundle".into(),
            });
        }
    }
    // The member's own top layer: its links (python3's /usr/bin/python), and the
    // ld.so.cache, which depends on every library below, when there is a C library whose
    // loader reads it.
    let mut top: Vec<distill_oci::Entry> = plan
        .family_symlinks
        .iter()
        .map(|(p, t)| symlink(p, &t.replace(crate::family::ARCH, arch)))
        .collect();
    if family == Some(crate::family::Name::Java) {
        // With no CA at all, still a valid (empty) store: Java refuses a malformed one.
        let store = certs.clone().unwrap_or_default().java_keystore(plan.epoch);
        top.push(distill_oci::Entry {
            path: crate::family::cacerts::PATH.into(),
            kind: distill_oci::EntryKind::File(distill_oci::FileSource::Bytes(store)),
            mode: 0o644,
            uid: 0,
            gid: 0,
        });
    }
    if family.is_some() && libraries.iter().any(|e| e.path.ends_with("/libc.so.6")) {
        top.push(distill_oci::Entry {
            path: "etc/ld.so.cache".into(),
            kind: distill_oci::EntryKind::File(distill_oci::FileSource::Bytes(
                crate::family::ldcache::build(&libraries, arch)?,
            )),
            mode: 0o644,
            uid: 0,
            gid: 0,
        });
    }
    if !top.is_empty() {
        let layer = write_layer(store, plan.compression, plan.epoch, top)?;
        layers.push(ImageLayer {
            layer,
            created_by: "distill: ld.so.cache, links and trust stores".into(),
        });
    }
    if let Some(native) = &plan.debian.native {
        check_libraries(&native.binary, &native.needed, &libraries)?;
    }
    if let Some(node) = &pinned.node {
        let registry = crate::family::node::registry()?;
        progress.start(&format!("fetching node {}", node.version), 0);
        let tarball = crate::family::node::fetch(
            sources.cache.root(),
            sources.fetcher,
            &registry,
            arch,
            node,
        )?;
        let entries = crate::family::node::entries(&tarball, &stage.join("node"))?;
        progress.finish();
        let needs = distill_app::elf::read(&stage.join("node").join("node"))?;
        check_libraries(&format!("node {}", node.version), &needs.needed, &libraries)?;
        progress.start("writing the node layer", 0);
        let layer = write_layer(store, plan.compression, plan.epoch, entries)?;
        progress.finish();
        layers.push(ImageLayer {
            layer,
            created_by: format!("distill: node {} (official build)", node.version),
        });
    }
    Ok((layers, count))
}

/// Resolves the plan's packages and writes `distill.lock` atomically beside the config.
pub fn write_lock(
    plan: &BuildPlan,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<std::path::PathBuf, BuildError> {
    let mut lock = packages::lock(&plan.debian, &plan.platforms, sources, progress)?;
    if let Base::Registry(r) = &plan.base {
        lock.base = Some(format!("docker://{}", base::pin(r, &plan.registry)?));
    }
    let path = plan.debian.lockfile.clone();
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let err = |source| BuildError::WriteLock {
        path: path.clone(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".distill.lock.")
        .tempfile_in(dir)
        .map_err(err)?;
    std::io::Write::write_all(&mut tmp, lock.to_toml().as_bytes()).map_err(err)?;
    tmp.persist(&path).map_err(|e| err(e.error))?;
    Ok(path)
}
