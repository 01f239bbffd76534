//! Plans for contexts with no `distill.toml`: an app directory, recognised by the first app
//! kind that knows it ([`distill_app::kind::KINDS`]), or a single ELF binary.
//!
//! An app goes onto the family member for its runtime, nonroot, with its files under `/app`
//! and its dependencies in a layer of their own. A binary goes to `/usr/local/bin/NAME` on
//! the member its ELF calls for, with its libraries from packages. The planner knows no kind
//! by name: a new kind changes nothing here.

use std::path::Path;
use std::sync::Arc;

use distill_app::{APP_DIR, DetectOptions, FileSpec};
use distill_core::{EnvVar, Platform, Release};

use super::finish::{finish, platforms};
use super::types::{Base, Options, Plan, PlanError, Request};

/// What the command line tells detection.
pub(crate) fn detect_options(opts: &Options) -> DetectOptions {
    DetectOptions {
        use_node_modules: opts.use_node_modules,
        allow_scripts: opts.allow_scripts.clone(),
        allow_source: opts.allow_source.clone(),
        workspace: opts.workspace.clone(),
        ..DetectOptions::default()
    }
}

/// The plan for the app in `opts.context`, if one of the kinds recognises it.
pub fn app(opts: &Options) -> Result<Option<Plan>, PlanError> {
    let Some(found) = app_request(opts, &detect_options(opts))? else {
        return Ok(None);
    };
    finish_app(found, opts).map(Some)
}

/// An app found in the context, with the request detection makes for it.
pub(crate) struct Found {
    pub req: Request,
    pub app: Box<dyn distill_app::App>,
    pub image: distill_app::AppImage,
}

/// The request for the app in `opts.context`, if one of the kinds recognises it.
pub(crate) fn app_request(
    opts: &Options,
    detect: &DetectOptions,
) -> Result<Option<Found>, PlanError> {
    let dir = &opts.context;
    let Some(app) = distill_app::detect(dir, detect)? else {
        return Ok(None);
    };
    let image = app.image(opts.entrypoint.as_deref())?;
    let mut req = Request::on(
        Base::Family(image.member),
        image.release,
        opts,
        dir.join("distill.lock"),
    );
    let mut env = image.env.clone();
    env.sort();
    req.env = env;
    req.workdir = Some(image.workdir.clone().unwrap_or_else(|| APP_DIR.into()));
    req.debian.node_version = image.runtime_version.clone();
    req.entrypoint = Some(image.entrypoint.clone());
    let mut exclude: Vec<String> = distill_app::kind::IGNORED
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    exclude.push("distill.toml".into());
    let root = std::path::absolute(dir).map_err(|source| PlanError::Path {
        path: dir.clone(),
        source,
    })?;
    // And the paths the app leaves out (a workspace's members it does not need).
    exclude.extend(image.left_out.iter().cloned());
    req.files.push(FileSpec {
        src: root,
        dst: APP_DIR.into(),
        mode: None,
        uid: 0,
        gid: 0,
        origin: "the app".into(),
        exclude,
        ..FileSpec::default()
    });
    Ok(Some(Found { req, app, image }))
}

/// The plan of an app found in the context.
pub(crate) fn finish_app(found: Found, opts: &Options) -> Result<Plan, PlanError> {
    let Found { req, app, image } = found;
    let dir = &opts.context;
    let mut plan = finish(req, opts)?;
    plan.detected = Some(format!(
        "{}: {}; it goes onto `{}` (Debian {}) under {APP_DIR}, started by {}",
        dir.display(),
        image.summary,
        image.member,
        image.release.number(),
        image.entrypoint.join(" ")
    ));
    plan.app = Some(Arc::from(app));
    Ok(plan)
}

/// A single ELF binary as the context: it goes to `/usr/local/bin/NAME` on the family member
/// its ELF calls for, Debian 13 and nonroot, and its libraries come from packages.
pub fn native(opts: &Options) -> Result<Plan, PlanError> {
    let native = distill_app::native::inspect(&opts.context, &opts.include_lib)?;
    let dir = opts
        .context
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let platforms = match &opts.platforms {
        Some(ps) => {
            if let Some(p) = ps.iter().find(|p| p.arch != native.arch) {
                return Err(PlanError::NativeArch {
                    path: native.path.clone(),
                    arch: native.arch.to_string(),
                    platform: p.to_string(),
                });
            }
            platforms(Some(ps.clone()))
        }
        None => vec![Platform::linux(native.arch)],
    };
    let member = native.member();
    let release = Release::default();
    let mut req = Request::on(
        Base::Family(member),
        release,
        opts,
        dir.join("distill.lock"),
    );
    req.platforms = platforms;
    let program = format!("/usr/local/bin/{}", native.name);
    req.entrypoint = Some(vec![program.clone()]);
    if !native.bundled.is_empty() {
        req.env = EnvVar::new("LD_LIBRARY_PATH", "/usr/local/lib")
            .into_iter()
            .collect();
    }
    // Given as specs, not config lines: `--include-lib` directories may lie outside the
    // context, and these paths were chosen by the user on the command line.
    let file = |src: &Path, dst: String, mode: u32| FileSpec {
        src: src.to_path_buf(),
        dst,
        mode: Some(mode),
        uid: 0,
        gid: 0,
        origin: "native binary".into(),
        ..FileSpec::default()
    };
    req.files.push(file(&native.path, program, 0o755));
    for (soname, lib) in &native.bundled {
        req.files
            .push(file(lib, format!("/usr/local/lib/{soname}"), 0o644));
    }
    if !native.needs.is_static() {
        req.debian.native = Some(distill_app::elf::NativeNeeds {
            binary: native.name.clone(),
            needed: native.needs.needed.clone(),
            glibc: native.needs.glibc,
        });
    }
    let mut plan = finish(req, opts)?;
    let needs = if native.needs.is_static() {
        " (static)".to_owned()
    } else {
        format!(" needing {}", native.needs.needed.join(" "))
    };
    let bundled = if native.bundled.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = native.bundled.iter().map(|(n, _)| n.as_str()).collect();
        format!(", with {} from --include-lib", names.join(" "))
    };
    plan.detected = Some(format!(
        "{}: a {} ELF binary{needs}; it goes onto `{member}` (Debian {}) as /usr/local/bin/{}{bundled}",
        native.path.display(),
        native.arch,
        release.number(),
        native.name,
    ));
    Ok(plan)
}
