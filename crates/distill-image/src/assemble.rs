//! The one orchestrator: a [`Plan`] in, an image written to every output out.
//!
//! It prepares what every platform shares (the outputs, opened before any work; the user's
//! files; distill-init; an app's dependencies; the packages, resolved or locked; a registry
//! base, pinned and pulled), then calls the [`stages`](crate::stages) in order for each
//! platform, writes each platform's config and manifest (and an index over several), and
//! commits the outputs. Every layer carries what it adds, so the [`Report`] it returns is
//! the build's exact inventory.

use std::sync::Arc;

use distill_app::elf::NativeNeeds;
use distill_apt::install::Progress;
use distill_oci::image::{finish, write_image};
use distill_oci::registry::attach::Attachment;
use distill_oci::{BlobStore, Built, BuiltImage, ImageSpec, Outputs, SinkError};
use distill_sbom::metadata::Metadata;

use crate::lock::Lockfile;
use crate::plan::{Base, Plan};
use crate::report::{Inputs, LayerInventory, Report};
use crate::resolve::{self, ResolveError};
use crate::sources::Sources;
use crate::stages::{self, Context, StageError, StageLayer, base::BaseError};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BuildError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Base(#[from] BaseError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Image(#[from] distill_oci::ImageError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Blob(#[from] distill_oci::BlobStoreError),
    #[error("Cannot create a staging directory in {}: {source}", dir.display())]
    #[diagnostic(help("set TMPDIR to a writable directory"))]
    Staging {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("Cannot write {}: {source}", path.display())]
    #[diagnostic(help("check that the directory of {} is writable", path.display()))]
    WriteLock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

fn warn_end_of_life(plan: &Plan) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if let Some(r) = plan.runtime.filter(|r| r.eol.is_past(now)) {
        tracing::warn!(
            "{} {} reached its upstream end of life in {}: this image ships an unsupported runtime",
            r.name,
            r.version,
            r.eol
        );
    }
}

/// What every platform shares, prepared before any platform's image.
struct Shared {
    /// The plan, with what an app's dependencies need from the image.
    plan: Plan,
    files_layer: Option<StageLayer>,
    files: usize,
    init_layer: Option<StageLayer>,
    /// One per platform, when there is an app.
    deps_layers: Vec<Option<StageLayer>>,
    lock: Option<Lockfile>,
    base: Option<(distill_oci::registry::Reference, Arc<Built>)>,
}

/// The user's files, distill-init, an app's dependencies, the packages and a registry base.
fn prepare(plan: &Plan, cx: &Context) -> Result<Shared, BuildError> {
    // Local files first: a missing one fails the build before any network work.
    let (mut files_layer, files) = stages::files::layer(cx, &plan.files)?;
    let init_layer = stages::init::layer(cx)?;
    let mut plan = plan.clone();
    // Native code an app's dependencies carry is resolved with the packages, so the
    // dependencies are installed first.
    let deps = match &plan.app {
        Some(app) => Some(stages::app::install(cx, app.as_ref())?),
        None => None,
    };
    if let Some(d) = &deps {
        plan.debian.native = NativeNeeds::merge(plan.debian.native.take(), d.native.clone());
    }
    let cx = Context { plan: &plan, ..*cx };
    let needs_lock = !plan.debian.include.is_empty() || matches!(plan.base, Base::Registry(_));
    let lock = needs_lock
        .then(|| resolve::packages_for(&plan.debian, &plan.platforms, cx.sources, cx.progress))
        .transpose()?;
    let mut deps_layers = Vec::new();
    if let (Some(app), Some(mut deps)) = (&plan.app, deps) {
        if let Some(lock) = &lock
            && let Some(copy) = stages::app::finish(&cx, app.as_ref(), &mut deps, lock)?
        {
            files_layer = stages::files::layer(&cx, &copy)?.0;
        }
        deps_layers = stages::app::layers(&cx, app.as_ref(), &mut deps)?;
    }
    let base = pull_base(&cx, lock.as_ref())?;
    Ok(Shared {
        files_layer,
        files,
        init_layer,
        deps_layers,
        lock,
        base,
        plan,
    })
}

/// Platform `i`'s image: every stage, in order, then its config and manifest.
fn platform_image(
    cx: &Context,
    shared: &Shared,
    i: usize,
    package_count: &mut usize,
) -> Result<(BuiltImage, Vec<LayerInventory>, Metadata), BuildError> {
    let plan = cx.plan;
    let platform = plan.platforms[i];
    let mut layers: Vec<StageLayer> = Vec::new();
    let mut spec = ImageSpec {
        platform: Some(platform),
        ..plan.image.clone()
    };
    if let Some((reference, built)) = &shared.base {
        let img = stages::base::for_platform(built, platform, reference)?;
        let base = stages::base::layers(cx.store, img, reference)?;
        layers.extend(match plan.allow_setuid {
            true => base,
            false => stages::setuid::clear(cx, base)?,
        });
        spec = stages::base::merge(&spec, cx.store, img, reference, plan.variant.explicit)?;
    }
    if let Some(lock) = shared
        .lock
        .as_ref()
        .filter(|_| !plan.debian.include.is_empty())
    {
        *package_count = packages(cx, lock, i, &mut layers)?;
    }
    stages::init::check_platform(cx, platform)?;
    layers.extend(shared.init_layer.clone());
    layers.extend(shared.deps_layers.get(i).cloned().flatten());
    layers.extend(shared.files_layer.clone());
    let mut meta = crate::sbom::metadata(cx.store, &layers).map_err(StageError::from)?;
    let sbom = crate::sbom::in_image_layer(cx, &layers, &meta)?;
    meta.merge(&sbom.notable, layers.len());
    layers.push(sbom);
    let image_layers: Vec<_> = layers.iter().map(|l| l.layer.clone()).collect();
    let image = write_image(cx.store, &spec, &image_layers)?;
    let inventory = layers
        .into_iter()
        .map(|l| LayerInventory {
            created_by: l.layer.created_by,
            components: l.components,
        })
        .collect();
    Ok((image, inventory, meta))
}

/// What a push attaches beside the image, made from the build's report for a registry's
/// repository: signatures and attestations.
pub type Attach<'a> = dyn Fn(&Report, &distill_core::Reference) -> Vec<Attachment> + 'a;

/// Builds the plan's image and writes it to every output.
pub fn assemble(
    plan: &Plan,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<Report, BuildError> {
    assemble_with(plan, sources, progress, &|_, _| Vec::new())
}

/// [`assemble`], pushing what `attach` makes beside the image to every registry output.
pub fn assemble_with(
    plan: &Plan,
    sources: &Sources,
    progress: &dyn Progress,
    attach: &Attach,
) -> Result<Report, BuildError> {
    let mut outputs = Outputs::open(&plan.outputs, &plan.registry)?;
    // Layers taken from a cache repository on the same registry are mounted, not sent.
    if let Some(remote) = sources.layers.remote() {
        outputs.mount_from(remote.client().reference());
    }
    warn_end_of_life(plan);
    let tmp = std::env::temp_dir();
    // Named with the PID, so a later run can remove what a killed one left.
    distill_oci::cleanup::sweep(&tmp, "distill-build-");
    let staging = tempfile::Builder::new()
        .prefix(&distill_oci::cleanup::owned_prefix("distill-build-"))
        .tempdir_in(&tmp)
        .map_err(|source| BuildError::Staging { dir: tmp, source })?;
    let _cleanup = distill_oci::cleanup::Registered::new(staging.path());
    let store = BlobStore::create(staging.path().join("layout"))?;
    let cx = Context {
        plan,
        sources,
        progress,
        store: &store,
        staging: staging.path(),
    };
    let shared = prepare(plan, &cx)?;
    let cx = Context {
        plan: &shared.plan,
        ..cx
    };
    let (mut images, mut inventory, mut metadata, mut package_count) =
        (Vec::new(), Vec::new(), Vec::new(), 0);
    for i in 0..shared.plan.platforms.len() {
        let (image, layers, meta) = platform_image(&cx, &shared, i, &mut package_count)?;
        images.push(image);
        inventory.push(layers);
        metadata.push(meta);
    }
    let built = finish(&store, images)?;
    let lock = shared.lock.as_ref();
    let mut report = Report {
        excluded: lock
            .and_then(|l| l.platforms.first())
            .map(|p| p.excluded.clone())
            .unwrap_or_default(),
        inputs: Inputs::of(&shared.plan, lock),
        inventory,
        metadata,
        name: crate::sbom::image_name(&shared.plan),
        plan: shared.plan.clone(),
        lock: shared.lock.clone(),
        built,
        files: shared.files,
        packages: package_count,
        pushed: Vec::new(),
    };
    outputs.attach(&mut |reference| attach(&report, reference));
    progress.start("writing outputs", 0);
    report.pushed = outputs.finish(&store, &report.built, plan.epoch)?;
    progress.finish();
    Ok(report)
}

/// The package stages of platform `i`, in layer order; returns how many packages went in.
fn packages(
    cx: &Context,
    lock: &Lockfile,
    i: usize,
    layers: &mut Vec<StageLayer>,
) -> Result<usize, BuildError> {
    let plan = cx.plan;
    let platform = plan.platforms[i];
    let pinned = lock.platform(&platform.to_string()).ok_or_else(|| {
        ResolveError::Lock(crate::lock::LockError::Mismatch {
            path: plan.debian.lockfile.display().to_string(),
            why: format!("it has no packages for {platform}"),
        })
    })?;
    if let Some(native) = &plan.debian.native {
        stages::packages::check_glibc(native, &pinned.packages, plan.debian.release)?;
    }
    let mut p = stages::packages::Packages::new(cx, platform, pinned, i);
    for (n, tier) in stages::packages::tiers(cx, &mut p)?.into_iter().enumerate() {
        layers.push(tier);
        if n == 0 && plan.family().is_some() {
            layers.push(stages::family::files_layer(cx, &p)?);
        }
    }
    if plan.family().is_some() {
        layers.extend(stages::family::top_layer(cx, &p)?);
    }
    if let Some(native) = &plan.debian.native {
        stages::packages::check_libraries(&native.binary, &native.needed, &p.libraries)?;
    }
    layers.extend(stages::runtime::node_layer(cx, &p)?);
    Ok(p.count)
}

/// A registry base, pinned (by the lock with `--locked`) and pulled into the store.
fn pull_base(
    cx: &Context,
    lock: Option<&Lockfile>,
) -> Result<Option<(distill_oci::registry::Reference, Arc<Built>)>, BuildError> {
    let plan = cx.plan;
    let Base::Registry(r) = &plan.base else {
        return Ok(None);
    };
    let pinned = match lock.filter(|_| plan.debian.locked) {
        Some(l) => stages::base::pinned(l, r, &plan.debian.lockfile)?,
        None => stages::base::pin(r, &plan.registry)?,
    };
    cx.progress.start(&format!("pulling base {pinned}"), 0);
    let built = stages::base::pull(&pinned, cx.store, &plan.registry)?;
    cx.progress.finish();
    Ok(Some((pinned, Arc::new(built))))
}

/// Resolves the plan's packages and writes `distill.lock` atomically beside the config.
/// The app's dependencies pinned into each platform's lock, when its files pin nothing.
fn pin_app(
    plan: &Plan,
    app: &dyn distill_app::App,
    lock: &mut crate::lock::Lockfile,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<(), BuildError> {
    let Some(inputs) = stages::app::inputs_digest(app) else {
        return Ok(());
    };
    let work = tempfile::Builder::new()
        .prefix("distill-lock-")
        .tempdir()
        .map_err(|source| BuildError::WriteLock {
            path: std::env::temp_dir(),
            source,
        })?;
    for platform in &plan.platforms {
        let Some(p) = lock
            .platforms
            .iter_mut()
            .find(|p| p.platform == platform.to_string())
        else {
            continue;
        };
        progress.start(&format!("pinning the app's dependencies for {platform}"), 0);
        let target = distill_app::Target::new(plan.debian.release, *platform);
        let pinned = app
            .pin(&target, work.path(), sources.cache.root())
            .map_err(stages::StageError::from)?;
        p.app = pinned.map(|requirements| crate::lock::LockedApp {
            inputs: inputs.clone(),
            requirements,
        });
        progress.finish();
    }
    Ok(())
}

pub fn write_lock(
    plan: &Plan,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<std::path::PathBuf, BuildError> {
    let mut lock = resolve::lock(&plan.debian, &plan.platforms, sources, progress)?;
    if let Some(app) = &plan.app {
        pin_app(plan, app.as_ref(), &mut lock, sources, progress)?;
    }
    if let Base::Registry(r) = &plan.base {
        lock.base = Some(format!(
            "docker://{}",
            stages::base::pin(r, &plan.registry)?
        ));
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
