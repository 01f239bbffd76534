//! A detected app's dependencies: installed for every platform before packages are
//! resolved (their native code may need libraries that become packages), finished with the
//! image's own programs once the packages are known (Python's bytecode), then one layer per
//! platform. Which app it is does not matter here: every kind goes through
//! [`distill_app::App`].

use std::path::PathBuf;

use distill_app::elf::NativeNeeds;
use distill_app::sysroot::Sysroot;
use distill_app::{APP_DIR, App, FileSpec, Installed, Target};
use distill_core::Platform;

use super::{Context, StageError, StageLayer};
use crate::lock::Lockfile;

/// An app's dependencies, one entry per platform of the plan, in its order.
pub struct Deps {
    pub installed: Vec<Installed>,
    /// What their native code needs, all platforms together.
    pub native: Option<NativeNeeds>,
}

fn work(cx: &Context) -> PathBuf {
    cx.staging.join("app")
}

/// Installs the dependencies of `app` for every platform.
pub fn install(cx: &Context, app: &dyn App) -> Result<Deps, StageError> {
    let mut installed = Vec::new();
    let mut native = None;
    for platform in &cx.plan.platforms {
        cx.progress
            .start(&format!("installing dependencies for {platform}"), 0);
        let target = Target {
            release: cx.plan.debian.release,
            platform: *platform,
        };
        let d = app.install(&target, &work(cx), cx.sources.cache.root())?;
        cx.progress.finish();
        native = NativeNeeds::merge(native, d.native.clone());
        installed.push(d);
    }
    Ok(Deps { installed, native })
}

/// Runs the app's finishing step with the image's programs; returns the files to put in the
/// image instead of the plan's when the app wrote into a copy of its tree.
pub fn finish(
    cx: &Context,
    app: &dyn App,
    deps: &Deps,
    lock: &Lockfile,
) -> Result<Option<Vec<FileSpec>>, StageError> {
    let Some(host) = crate::init::arch()
        .map(Platform::linux)
        .filter(|h| cx.plan.platforms.contains(h))
    else {
        tracing::warn!(
            "this build has no platform this machine runs: the image's programs cannot finish the app (Python's bytecode is left to the first import)"
        );
        return Ok(None);
    };
    if !app.finishes_with_image() {
        return Ok(None);
    }
    let Some(pinned) = lock.platform(&host.to_string()) else {
        return Ok(None);
    };
    cx.progress
        .start("finishing the app with the image's programs", 0);
    let mut files = cx.plan.files.clone();
    let mut copy = None;
    for spec in files
        .iter_mut()
        .filter(|f| f.dst == APP_DIR && f.src.is_dir())
    {
        let to = work(cx).join("app-src");
        distill_app::kind::copy_tree(&spec.src, &to, &spec.exclude)?;
        spec.src = to.clone();
        // The user's own caches stayed out of the copy; what the image wrote stays in.
        spec.exclude.retain(|x| x != "__pycache__");
        copy = Some(to);
    }
    let pins: Vec<_> = pinned.packages.iter().map(|p| p.pin()).collect();
    let (entries, _) = super::packages::extract(cx, &pins, host, &work(cx).join("image-stage"))?;
    let root = work(cx).join("image-root");
    let image =
        Sysroot::materialize(&entries, &root, host.arch).map_err(distill_app::AppError::from)?;
    app.finish(&deps.installed, copy.as_deref(), &image)?;
    let _ = std::fs::remove_dir_all(&root);
    cx.progress.finish();
    Ok(copy.map(|_| files))
}

/// One layer per platform of the installed dependencies (`None` where there are none).
pub fn layers(cx: &Context, deps: &Deps) -> Result<Vec<Option<StageLayer>>, StageError> {
    let mut out = Vec::new();
    for d in &deps.installed {
        if !d.dir.is_dir() {
            out.push(None);
            continue;
        }
        let entries = distill_app::collect(&[FileSpec {
            src: d.dir.clone(),
            dst: d.dst.clone(),
            mode: None,
            uid: 0,
            gid: 0,
            origin: d.what.clone(),
            exclude: Vec::new(),
        }])?;
        if entries.is_empty() {
            out.push(None);
            continue;
        }
        out.push(Some(cx.layer(
            entries,
            format!("distill: {}", d.what),
            d.components.clone(),
        )?));
    }
    Ok(out)
}
