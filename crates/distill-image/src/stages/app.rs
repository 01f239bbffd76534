//! A detected app's dependencies: installed for every platform before packages are
//! resolved (their native code may need libraries that become packages), finished with the
//! image's own programs once the packages are known (Python's bytecode), then one layer per
//! platform. Which app it is does not matter here: every kind goes through
//! [`distill_app::App`].
//!
//! Rebuilds are incremental. What an install gives (its inventory, its native needs) is
//! kept under the digest of the files that decide it ([`App::inputs`]) and the target, and
//! the finished dependency layer under that and the image's packages that finish it: a
//! rebuild with the same lock installs and compiles nothing, and writes only the layer of
//! the app's own files. The image root the app is finished in is kept too
//! ([`sysroot`]).

use std::path::PathBuf;

use distill_app::elf::NativeNeeds;
use distill_app::sysroot::Sysroot;
use distill_app::{APP_DIR, App, FileSpec, Installed, Target};
use distill_core::{Component, Platform};

use super::{Context, StageError, StageLayer};
use crate::family::node;
use crate::layercache::Key;
use crate::lock::{LockError, Lockfile};

/// An app's dependencies, one entry per platform of the plan, in its order.
pub struct Deps {
    pub installed: Vec<Installed>,
    /// What their native code needs, all platforms together.
    pub native: Option<NativeNeeds>,
    /// The key of each platform's install, when the app's inputs decide it.
    keys: Vec<Option<Key>>,
    /// Whether each platform's `installed.dir` holds this build's install (else its record
    /// came from the cache and nothing was installed yet).
    fresh: Vec<bool>,
    /// The digest of the image packages that finished the dependencies, when they were.
    finished_with: Option<String>,
    /// Each platform's dependency layer, when the cache had it.
    ready: Vec<Option<StageLayer>>,
}

/// An install as the cache keeps it: all of [`Installed`] but its directory.
#[derive(serde::Serialize, serde::Deserialize)]
struct InstallRecord {
    dst: String,
    what: String,
    native: Option<NativeNeeds>,
    components: Vec<Component>,
}

impl InstallRecord {
    fn of(d: &Installed) -> Self {
        Self {
            dst: d.dst.clone(),
            what: d.what.clone(),
            native: d.native.clone(),
            components: d.components.clone(),
        }
    }

    fn installed(self, dir: PathBuf) -> Installed {
        Installed {
            dir,
            dst: self.dst,
            what: self.what,
            native: self.native,
            components: self.components,
        }
    }
}

fn work(cx: &Context) -> PathBuf {
    cx.staging.join("app")
}

fn target(cx: &Context, app: &dyn App, platform: Platform) -> Result<Target, StageError> {
    Ok(Target {
        locked: cx.plan.debian.locked,
        pins: pins(cx, app, platform)?,
        ..Target::new(cx.plan.debian.release, platform)
    })
}

/// With `--locked`, what distill.lock pins for the app on `platform`: refused when it was
/// resolved from other inputs.
fn pins(cx: &Context, app: &dyn App, platform: Platform) -> Result<Option<String>, StageError> {
    if !cx.plan.debian.locked {
        return Ok(None);
    }
    let path = cx.plan.debian.lockfile.display().to_string();
    let text =
        std::fs::read_to_string(&cx.plan.debian.lockfile).map_err(|source| LockError::Read {
            path: path.clone(),
            source,
        })?;
    let lock = Lockfile::parse(&text, &path)?;
    let Some(pinned) = lock
        .platforms
        .iter()
        .find(|p| p.platform == platform.to_string())
        .and_then(|p| p.app.as_ref())
    else {
        return Ok(None);
    };
    if Some(&pinned.inputs) != inputs_digest(app).as_ref() {
        return Err(LockError::Mismatch {
            path,
            why: format!("its {platform} app dependencies were resolved from other requirements"),
        }
        .into());
    }
    Ok(Some(pinned.requirements.clone()))
}

/// The digest of `app`'s inputs' contents and settings, by their paths in the app's
/// directory: the same wherever the project is checked out.
pub(crate) fn inputs_digest(app: &dyn App) -> Option<String> {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    for path in app.inputs()? {
        let name = path.strip_prefix(app.dir()).unwrap_or(&path);
        // An absent file (no package-lock.json) is an input too: its absence.
        match std::fs::read(&path) {
            Ok(bytes) => {
                h.update(format!("{} {}\n", name.display(), bytes.len()));
                h.update(bytes);
            }
            Err(_) => h.update(format!("{} absent\n", name.display())),
        }
    }
    h.update(app.settings());
    Some(hex::encode(h.finalize()))
}

/// The key of `app`'s install for `target`: the digest of its inputs, and the pins.
fn install_key(cx: &Context, app: &dyn App, target: &Target) -> Option<Key> {
    use sha2::{Digest as _, Sha256};
    cx.key(
        "app-install",
        &serde_json::json!({
            "inputs": inputs_digest(app)?,
            "pins": target.pins.as_ref().map(|p| hex::encode(Sha256::digest(p))),
            "platform": target.platform.to_string(),
            "release": cx.plan.debian.release.codename(),
        }),
    )
}

/// Installs the dependencies of `app` for every platform, or takes what an install of the
/// same inputs gave from the cache (installing nothing until a layer needs it).
pub fn install(cx: &Context, app: &dyn App) -> Result<Deps, StageError> {
    let mut deps = Deps {
        installed: Vec::new(),
        native: None,
        keys: Vec::new(),
        fresh: Vec::new(),
        finished_with: None,
        ready: Vec::new(),
    };
    let (layers, cache) = (&cx.sources.layers, cx.sources.cache);
    for platform in &cx.plan.platforms {
        let t = target(cx, app, *platform)?;
        let key = install_key(cx, app, &t);
        let kept = key
            .as_ref()
            .and_then(|k| layers.record::<InstallRecord>(cache, "app-installs", k));
        let (d, fresh) = match kept {
            Some(r) => (
                r.installed(work(cx).join(format!("cached-{platform}"))),
                false,
            ),
            None => {
                let d = install_one(cx, app, *platform)?;
                if let Some(k) = &key {
                    layers.keep(cache, "app-installs", k, &InstallRecord::of(&d));
                }
                (d, true)
            }
        };
        deps.native = NativeNeeds::merge(deps.native.take(), d.native.clone());
        deps.installed.push(d);
        deps.keys.push(key);
        deps.fresh.push(fresh);
        deps.ready.push(None);
    }
    Ok(deps)
}

fn install_one(cx: &Context, app: &dyn App, platform: Platform) -> Result<Installed, StageError> {
    cx.progress
        .start(&format!("installing dependencies for {platform}"), 0);
    let mut t = target(cx, app, platform)?;
    // Yarn, pnpm and Bun run under the official Node of the image's line, for this machine,
    // not whatever `node` the host has.
    if let Some(major) = cx.plan.debian.node {
        let cache = cx.sources.cache.root();
        let registry = node::registry(cache)?;
        t.tool_node = node::host_node(
            cache,
            cx.sources.fetcher,
            &registry,
            major,
            cx.plan.debian.node_version.as_deref(),
        )?;
    }
    if app.builds_from_source() {
        t.build_root = build_root(cx)?;
    }
    let d = app.install(&t, &work(cx), cx.sources.cache.root())?;
    cx.progress.finish();
    Ok(d)
}

/// What allowed source builds need from the image's release, for this machine: its Python
/// with headers, and a C compiler.
const BUILD_TOOLS: [&str; 3] = ["python3-dev", "gcc", "libc6-dev"];

/// The image release's [`BUILD_TOOLS`] for this machine, resolved from the verified
/// indexes and kept as a root in the cache; `None` on a machine of no known platform.
fn build_root(cx: &Context) -> Result<Option<PathBuf>, StageError> {
    let Some(arch) = distill_core::Arch::host() else {
        return Ok(None);
    };
    let host = Platform::linux(arch);
    let plan = crate::plan::DebianPlan {
        include: BUILD_TOOLS.iter().map(|s| (*s).to_owned()).collect(),
        exclude: Vec::new(),
        tiers: Vec::new(),
        node: None,
        node_version: None,
        native: None,
        locked: false,
        ..cx.plan.debian.clone()
    };
    cx.progress
        .start("resolving the build tools for allowed sources", 0);
    let lock = crate::resolve::lock(&plan, &[host], cx.sources, cx.progress).map_err(Box::new)?;
    let pins: Vec<distill_apt::pin::Pin> = lock
        .platforms
        .iter()
        .flat_map(|p| &p.packages)
        .map(crate::lock::LockedPackage::pin)
        .collect();
    let root = sysroot::get(cx, host, &pins)?;
    cx.progress.finish();
    Ok(Some(root.root().to_path_buf()))
}

/// Platform `i`'s install made now, when its record came from the cache.
fn ensure_installed(
    cx: &Context,
    app: &dyn App,
    deps: &mut Deps,
    i: usize,
) -> Result<(), StageError> {
    if !deps.fresh[i] {
        deps.installed[i] = install_one(cx, app, cx.plan.platforms[i])?;
        deps.fresh[i] = true;
    }
    Ok(())
}

/// The key of platform `i`'s finished dependency layer.
fn layer_key(cx: &Context, deps: &Deps, i: usize) -> Option<Key> {
    let install = deps.keys[i].as_ref()?;
    cx.key(
        "app-deps",
        &serde_json::json!({
            "install": install.as_str(),
            "finished_with": deps.finished_with,
        }),
    )
}

/// Runs the app's finishing step with the image's programs; returns the files to put in the
/// image instead of the plan's when the app wrote into a copy of its tree. Dependencies
/// whose finished layer the cache holds are not finished again.
pub fn finish(
    cx: &Context,
    app: &dyn App,
    deps: &mut Deps,
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
    let pins: Vec<_> = pinned.packages.iter().map(|p| p.pin()).collect();
    let shas: Vec<&str> = pins.iter().map(|p| p.sha256.as_str()).collect();
    deps.finished_with = Some(distill_oci::Digest::of(shas.join(" ").as_bytes()).to_string());
    let mut unfinished = Vec::new();
    for i in 0..deps.installed.len() {
        deps.ready[i] = layer_key(cx, deps, i).and_then(|k| {
            let c = cx
                .sources
                .layers
                .get::<()>(cx.sources.cache, &k, cx.store)?;
            Some(StageLayer {
                layer: distill_oci::ImageLayer {
                    layer: c.layer,
                    created_by: c.created_by,
                },
                components: c.components,
                notable: c.notable,
            })
        });
        if deps.ready[i].is_none() {
            ensure_installed(cx, app, deps, i)?;
            unfinished.push(deps.installed[i].clone());
        }
    }
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
    let image = sysroot::get(cx, host, &pins)?;
    app.finish(&unfinished, copy.as_deref(), &image)?;
    cx.progress.finish();
    Ok(copy.map(|_| files))
}

/// One layer per platform of the installed dependencies (`None` where there are none).
pub fn layers(
    cx: &Context,
    app: &dyn App,
    deps: &mut Deps,
) -> Result<Vec<Option<StageLayer>>, StageError> {
    let mut out = Vec::new();
    for i in 0..deps.installed.len() {
        if let Some(ready) = deps.ready[i].take() {
            out.push(Some(ready));
            continue;
        }
        let key = layer_key(cx, deps, i);
        // A layer the cache lacks: the install is made now if only its record was kept.
        ensure_installed(cx, app, deps, i)?;
        let d = &deps.installed[i];
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
            ..FileSpec::default()
        }])?;
        if entries.is_empty() {
            out.push(None);
            continue;
        }
        let (layer, ()) = cx.cached(key, || {
            let layer = cx.write(
                entries,
                format!("distill: {}", d.what),
                d.components.clone(),
            )?;
            Ok((layer, ()))
        })?;
        out.push(Some(layer));
    }
    Ok(out)
}

/// The image root an app is finished in, kept in the cache under the packages it is made
/// of, so that a rebuild does not extract and write the image's packages again.
mod sysroot {
    use super::*;
    use distill_apt::pin::Pin;

    /// How many kept roots stay (each is an image's packages on disk, or a release's build
    /// tools); older ones go, once unused for [`IDLE`].
    const KEEP: usize = 3;
    /// How long a root must have gone unused before it may go: a build running beside this
    /// one may be using it.
    const IDLE: std::time::Duration = std::time::Duration::from_secs(3600);

    pub(super) fn get(cx: &Context, host: Platform, pins: &[Pin]) -> Result<Sysroot, StageError> {
        let shas: Vec<&str> = pins.iter().map(|p| p.sha256.as_str()).collect();
        let key = cx.key(
            "sysroot",
            &serde_json::json!({"platform": host.to_string(), "packages": shas}),
        );
        let Some(key) = key else {
            return make(cx, host, pins, &work(cx).join("image-root"));
        };
        let dir = cx.sources.cache.root().join("sysroots");
        let root = dir.join(key.as_str());
        let done = |r: &std::path::Path| {
            let mark = r.join(".distill-complete");
            // Its time says when the root was last used, for `prune`.
            std::fs::File::options()
                .write(true)
                .open(&mark)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()))
                .is_ok()
        };
        if done(&root) {
            return Ok(Sysroot::open(&root, host.arch));
        }
        let _lock = cx.sources.layers.lock(cx.sources.cache, &key);
        if done(&root) {
            return Ok(Sysroot::open(&root, host.arch));
        }
        let _ = std::fs::remove_dir_all(&root);
        let made = make(cx, host, pins, &root)?;
        let io = |source| StageError::Read {
            path: root.clone(),
            source,
        };
        std::fs::write(root.join(".distill-complete"), b"").map_err(io)?;
        prune(&dir, &root);
        Ok(made)
    }

    fn make(
        cx: &Context,
        host: Platform,
        pins: &[Pin],
        root: &std::path::Path,
    ) -> Result<Sysroot, StageError> {
        let stage = work(cx).join("image-stage");
        let (entries, _) = super::super::packages::extract(cx, pins, host, &stage)?;
        let image =
            Sysroot::materialize(&entries, root, host.arch).map_err(distill_app::AppError::from)?;
        let _ = std::fs::remove_dir_all(&stage);
        Ok(image)
    }

    /// Removes all but the [`KEEP`] most recently used roots (`keep` among them), of those
    /// unused for [`IDLE`].
    fn prune(dir: &std::path::Path, keep: &std::path::Path) {
        let Ok(read) = std::fs::read_dir(dir) else {
            return;
        };
        let used = |p: &std::path::Path| {
            std::fs::metadata(p.join(".distill-complete"))
                .or_else(|_| std::fs::metadata(p))
                .and_then(|m| m.modified())
                .ok()
        };
        let mut roots: Vec<(std::time::SystemTime, PathBuf)> = read
            .filter_map(Result::ok)
            .filter(|e| e.path() != keep)
            .filter_map(|e| Some((used(&e.path())?, e.path())))
            .collect();
        roots.sort();
        let extra = (roots.len() + 1).saturating_sub(KEEP);
        let now = std::time::SystemTime::now();
        for (when, old) in roots.into_iter().take(extra) {
            if now.duration_since(when).is_ok_and(|idle| idle >= IDLE) {
                let _ = std::fs::remove_dir_all(old);
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use std::time::{Duration, SystemTime};

        #[test]
        fn only_roots_idle_for_an_hour_go_and_three_stay() {
            let d = tempfile::tempdir().unwrap();
            let now = SystemTime::now();
            let root = |name: &str, ago: u64| {
                let r = d.path().join(name);
                std::fs::create_dir_all(&r).unwrap();
                let f = std::fs::File::create(r.join(".distill-complete")).unwrap();
                f.set_modified(now - Duration::from_secs(ago)).unwrap();
            };
            root("new", 0);
            root("busy", 60);
            root("idle-1", 7200);
            root("idle-2", 9000);
            root("idle-3", 10000);
            super::prune(d.path(), &d.path().join("new"));
            let mut left: Vec<String> = std::fs::read_dir(d.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            left.sort();
            assert_eq!(left, ["busy", "idle-1", "new"]);
            // A root in use is kept, however many there are.
            root("busy-2", 30);
            root("busy-3", 10);
            super::prune(d.path(), &d.path().join("new"));
            assert!(d.path().join("busy").is_dir() && d.path().join("busy-2").is_dir());
            assert!(!d.path().join("idle-1").exists());
        }
    }
}
