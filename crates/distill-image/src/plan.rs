//! The validated build plan: raw config plus command-line options, checked and resolved.
//!
//! As in ripgrep, configuration comes in two stages: [`crate::config`] holds what was written,
//! all optional; [`plan`] turns it into a [`BuildPlan`] with absolute paths, a pinned epoch,
//! concrete platforms and defaults filled in. Nothing is built until a plan exists, so every
//! config mistake surfaces before any work, with the line it is on.

use std::path::{Component, Path, PathBuf};

use distill_app::FileSpec;
use distill_oci::{Compression, Destination, ImageSpec, Platform};
use toml::Spanned;

use crate::config::{Config, ConfigError, ModeValue, Source};

/// The `PATH` every image gets unless the config sets one: distroless's.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// distroless's nonroot user and group.
pub const NONROOT_UID: u64 = 65532;

/// What came from the command line; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The build context: `[[files]] src` paths are relative to it.
    pub context: PathBuf,
    /// The config file; `CONTEXT/distill.toml` when `None`.
    pub config: Option<PathBuf>,
    pub outputs: Vec<Destination>,
    pub platforms: Option<Vec<Platform>>,
    pub compression: Option<Compression>,
    /// `SOURCE_DATE_EPOCH`, already parsed.
    pub epoch: u64,
    /// `--mirror`: the Debian archive, overriding the config and the host's apt sources.
    pub mirror: Option<String>,
    /// `--locked`: install exactly what distill.lock pins.
    pub locked: bool,
    /// How to reach registries (`--ca-cert`, `--insecure-registry`).
    pub registry: distill_oci::registry::RegistryOptions,
    /// `--include-lib`: directories of libraries a native binary may take along.
    pub include_lib: Vec<PathBuf>,
    /// `--use-node-modules`: a Node app's own `node_modules` instead of `npm ci`.
    pub use_node_modules: bool,
    /// `--entrypoint` / `--cmd`: replace what the config or the detection gives.
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
}

/// A native binary's needs, for the resolver and the build's glibc check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeNeeds {
    /// The binary's file name, for messages.
    pub binary: String,
    /// Sonames that must come from Debian packages.
    pub needed: Vec<String>,
    /// The newest `GLIBC_x.y` it references.
    pub glibc: Option<(u32, u32)>,
}

/// Where Debian packages come from and which ones.
#[derive(Debug, Clone)]
pub struct DebianPlan {
    pub release: distill_apt::debian::Release,
    pub mirror: Option<String>,
    pub keyring: Option<PathBuf>,
    pub include: Vec<String>,
    /// Packages kept out, with what only they pulled in.
    pub exclude: Vec<String>,
    /// For a family image, the roots of each member up to it (`static`, then `base-nossl`...):
    /// a package goes into the layer of the first member that needs it.
    pub tiers: Vec<Vec<String>>,
    /// The major of the official Node build the image carries (the `nodejs` members),
    /// pinned in the lock beside the packages.
    pub node: Option<u8>,
    /// A native binary's libraries, mapped to packages through the Contents index.
    pub native: Option<NativeNeeds>,
    pub repositories: Vec<RepositoryPlan>,
    /// `distill.lock`, beside the config file.
    pub lockfile: PathBuf,
    pub locked: bool,
}

#[derive(Debug, Clone)]
pub struct RepositoryPlan {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    pub keyring: Option<PathBuf>,
    pub signed: bool,
}

/// What the image starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// Nothing.
    Scratch,
    /// A member of the distroless family, built from Debian packages.
    Family(crate::family::Name),
    /// An image in a registry: its layers are kept, its config is the default for ours.
    Registry(distill_oci::registry::Reference),
}

/// Everything a build needs, validated.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    /// The runtime a family member ships, with its end of life.
    pub runtime: Option<crate::family::eol::Runtime>,
    /// Symlinks a family member adds, `(path, target)`.
    pub family_symlinks: Vec<(String, String)>,
    /// A debug variant: busybox under /busybox, and its shell as the default entrypoint.
    pub debug: bool,
    /// distill-init in front of the entrypoint (`[entrypoint]`).
    pub init: Option<crate::init::InitPlan>,
    /// What distill detected in the context, for the user (printed on stderr).
    pub detected: Option<String>,
    /// A detected app whose dependencies become a layer.
    pub app: Option<crate::app::App>,
    pub base: Base,
    /// Extra CA certificates (PEM files) for a family image's bundle.
    pub ca_extra: Vec<PathBuf>,
    /// Whether the config named a variant; without one, a registry base keeps its user.
    pub explicit_user: bool,
    pub platforms: Vec<Platform>,
    pub epoch: u64,
    pub compression: Compression,
    /// The image config shared by every platform (its `platform` is unset).
    pub image: ImageSpec,
    pub files: Vec<FileSpec>,
    pub debian: DebianPlan,
    pub outputs: Vec<Destination>,
    pub registry: distill_oci::registry::RegistryOptions,
}

struct Checker<'a> {
    source: &'a Source,
}

impl Checker<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        message: String,
        hint: &str,
    ) -> Result<T, ConfigError> {
        Err(ConfigError::Invalid {
            at: self.source.locate(&span),
            message,
            hint: (!hint.is_empty()).then(|| hint.to_owned()),
        })
    }

    fn origin(&self, span: &std::ops::Range<usize>) -> String {
        let at = self.source.locate(span);
        format!("{}:{}", at.path.display(), at.line)
    }
}

/// Loads the config named by `opts` and validates it into a plan.
pub fn plan(opts: &Options) -> Result<BuildPlan, ConfigError> {
    let mut plan = plan_detected(opts)?;
    if let Some(e) = &opts.entrypoint {
        plan.image.entrypoint = Some(e.clone());
    }
    if let Some(c) = &opts.cmd {
        plan.image.cmd = Some(c.clone());
    }
    Ok(plan)
}

/// The config when there is one; else what the context is: a binary, a Python or Node app.
fn plan_detected(opts: &Options) -> Result<BuildPlan, ConfigError> {
    if opts.config.is_none() && opts.context.is_file() {
        return plan_native(opts);
    }
    let path = opts
        .config
        .clone()
        .unwrap_or_else(|| opts.context.join("distill.toml"));
    let detect = opts.config.is_none() && !path.exists() && opts.context.is_dir();
    if let Some(plan) = detect.then(|| plan_app(opts)).transpose()?.flatten() {
        return Ok(plan);
    }
    let (config, source) = Config::load(&path)?;
    plan_from(config, &source, opts)
}

/// A Python or Node app directory with no distill.toml: the family member for its runtime,
/// Debian 13, nonroot, the app under /app and its dependencies in a layer of their own.
fn plan_app(opts: &Options) -> Result<Option<BuildPlan>, ConfigError> {
    use crate::app::{APP_DIR, App};
    let dir = &opts.context;
    let release = distill_apt::debian::Release::Trixie;
    let app_err = |e: crate::app::AppError| ConfigError::App(Box::new(e));
    let python = distill_app::python::detect(dir).map_err(|e| app_err(e.into()))?;
    let node = distill_app::nodeapp::detect(dir)
        .map_err(|e| app_err(e.into()))?
        .map(|n| distill_app::nodeapp::NodeApp {
            use_existing: opts.use_node_modules,
            ..n
        });
    let (app, base, env, entrypoint, what) = match (python, node) {
        (Some(py), _) if py.deps.is_some() || !dir.join("package.json").is_file() => {
            let (version, interpreter) = crate::app::python_of(release);
            let entrypoint = match &opts.entrypoint {
                Some(e) => e.clone(),
                None => py
                    .entrypoint(interpreter, APP_DIR)
                    .map_err(|e| app_err(e.into()))?,
            };
            let what = format!(
                "a Python app ({}) for Python {}.{}",
                match &py.deps {
                    Some(distill_app::python::Deps::UvLock(_)) => "uv.lock",
                    Some(distill_app::python::Deps::Pyproject(_)) => "pyproject.toml",
                    Some(distill_app::python::Deps::Requirements(_)) => "requirements.txt",
                    None => "no dependencies",
                },
                version.0,
                version.1
            );
            (
                App::Python(py),
                "python3".to_owned(),
                "PYTHONPATH = \"/app\", PYTHONUNBUFFERED = \"1\"",
                entrypoint,
                what,
            )
        }
        (_, Some(node)) => {
            let major = node.major().map_err(|e| app_err(e.into()))?;
            let entrypoint = match &opts.entrypoint {
                Some(e) => e.clone(),
                None => node
                    .entrypoint(crate::family::node::NODE, APP_DIR)
                    .map_err(|e| app_err(e.into()))?,
            };
            let what = format!("a Node app (package.json) for Node {major}");
            (
                App::Node(node),
                format!("nodejs{major}"),
                "NODE_ENV = \"production\"",
                entrypoint,
                what,
            )
        }
        _ => return Ok(None),
    };
    let text = format!(
        "[image]\nbase = {base:?}\ndebian = {:?}\nworkdir = {APP_DIR:?}\nenv = {{ {env} }}\nentrypoint = {}\n",
        release.number(),
        serde_json::to_string(&entrypoint).expect("strings serialize"),
    );
    let source = Source {
        path: dir.join("(detected)"),
        text,
    };
    let config = Config::parse(&source)?;
    let mut plan = plan_from(config, &source, opts)?;
    let mut exclude: Vec<String> = crate::app::IGNORED
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    exclude.push("distill.toml".into());
    plan.files.push(FileSpec {
        src: std::path::absolute(dir).map_err(|source| ConfigError::Read {
            path: dir.clone(),
            source,
        })?,
        dst: APP_DIR.into(),
        mode: None,
        uid: 0,
        gid: 0,
        origin: "the app".into(),
        exclude,
    });
    plan.detected = Some(format!(
        "{}: {what}; it goes onto `{base}` (Debian {}) under {APP_DIR}, started by {}",
        dir.display(),
        release.number(),
        entrypoint.join(" ")
    ));
    plan.app = Some(app);
    Ok(Some(plan))
}

/// A single ELF binary as the context: it goes to `/usr/local/bin/NAME` on the family member
/// its ELF calls for, Debian 13 and nonroot, and its libraries come from packages.
fn plan_native(opts: &Options) -> Result<BuildPlan, ConfigError> {
    let native = distill_app::native::inspect(&opts.context, &opts.include_lib)?;
    let dir = opts
        .context
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut text = format!(
        "[image]\nbase = {:?}\nentrypoint = [{:?}]\n",
        native.member(),
        format!("/usr/local/bin/{}", native.name)
    );
    if !native.bundled.is_empty() {
        text += "env = { LD_LIBRARY_PATH = \"/usr/local/lib\" }\n";
    }
    let source = Source {
        path: dir.join(format!("{} (detected)", native.name)),
        text,
    };
    let config = Config::parse(&source)?;
    let platforms = match &opts.platforms {
        Some(ps) => {
            if let Some(p) = ps.iter().find(|p| p.architecture != native.arch) {
                return Err(ConfigError::NativeArch {
                    path: native.path.clone(),
                    arch: native.arch.to_owned(),
                    platform: p.to_string(),
                });
            }
            ps.clone()
        }
        None => vec![
            format!("linux/{}", native.arch)
                .parse()
                .expect("a valid platform"),
        ],
    };
    let opts = Options {
        context: dir.to_path_buf(),
        platforms: Some(platforms),
        ..opts.clone()
    };
    let mut plan = plan_from(config, &source, &opts)?;
    // Given as specs, not config lines: `--include-lib` directories may lie outside the
    // context, and these paths were chosen by the user on the command line.
    let file = |src: &Path, dst: String, mode: u32| FileSpec {
        src: src.to_path_buf(),
        dst,
        mode: Some(mode),
        uid: 0,
        gid: 0,
        origin: "native binary".into(),
        exclude: Vec::new(),
    };
    plan.files.push(file(
        &native.path,
        format!("/usr/local/bin/{}", native.name),
        0o755,
    ));
    for (soname, lib) in &native.bundled {
        plan.files
            .push(file(lib, format!("/usr/local/lib/{soname}"), 0o644));
    }
    if !native.needs.is_static() {
        plan.debian.native = Some(NativeNeeds {
            binary: native.name.clone(),
            needed: native.needs.needed.clone(),
            glibc: native.needs.glibc,
        });
    }
    plan.detected = Some(format!(
        "{}: a {} ELF binary{}; it goes onto `{}` (Debian {}) as /usr/local/bin/{}{}",
        native.path.display(),
        native.arch,
        if native.needs.is_static() {
            " (static)".to_owned()
        } else {
            format!(" needing {}", native.needs.needed.join(" "))
        },
        native.member(),
        plan.debian.release.number(),
        native.name,
        if native.bundled.is_empty() {
            String::new()
        } else {
            format!(
                ", with {} from --include-lib",
                native
                    .bundled
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    ));
    Ok(plan)
}

/// Validates `[entrypoint]`, so that distill-init's own checks never first fail at run time.
fn plan_init(
    c: &Checker,
    section: &toml::Spanned<crate::config::EntrypointSection>,
) -> Result<crate::init::InitPlan, ConfigError> {
    let s = section.get_ref();
    let mut plan = crate::init::InitPlan::default();
    for v in &s.file_env {
        let name = v.get_ref();
        let valid = !name.is_empty()
            && !name.starts_with(|ch: char| ch.is_ascii_digit())
            && name
                .chars()
                .all(|ch| ch == '_' || ch.is_ascii_alphanumeric());
        if !valid {
            return c.err(
                v.span(),
                format!("`{name}` is not an environment variable name"),
                "write the variable's name, such as \"DB_PASSWORD\"; its value is read from the file named in DB_PASSWORD_FILE",
            );
        }
        plan.file_env.push(name.clone());
    }
    for w in &s.wait {
        let ok = w
            .get_ref()
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return c.err(
                w.span(),
                format!("`{}` is not HOST:PORT", w.get_ref()),
                "write the server to wait for as \"db:5432\"",
            );
        }
        plan.wait.push(w.get_ref().clone());
    }
    if let Some(n) = &s.wait_tries {
        match u32::try_from(*n.get_ref()) {
            Ok(v) if v > 0 => plan.wait_tries = Some(v),
            _ => {
                return c.err(
                    n.span(),
                    format!("wait_tries = {} is not a positive number", n.get_ref()),
                    "write wait_tries = 30",
                );
            }
        }
    }
    if let Some(i) = &s.wait_interval {
        let v = i.get_ref();
        let num = v
            .strip_suffix("ms")
            .or_else(|| v.strip_suffix('s'))
            .unwrap_or(v);
        if !num.parse::<f64>().is_ok_and(|n| n.is_finite() && n >= 0.0) {
            return c.err(
                i.span(),
                format!("wait_interval = \"{v}\" is not a duration"),
                "write wait_interval = \"1s\", \"500ms\" or \"0.5\"",
            );
        }
        plan.wait_interval = Some(v.clone());
    }
    Ok(plan)
}

/// Resolves a path written in the config against the config file's directory.
fn beside(source: &Source, p: &str) -> PathBuf {
    let base = source.path.parent().unwrap_or(Path::new("."));
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Validates an already parsed config.
pub fn plan_from(
    config: Config,
    source: &Source,
    opts: &Options,
) -> Result<BuildPlan, ConfigError> {
    let c = Checker { source };
    let img = config.image;

    let base = match &img.base {
        None => Base::Scratch,
        Some(b) if b.get_ref() == "scratch" => Base::Scratch,
        Some(b) if crate::family::Name::parse(b.get_ref()).is_some() => {
            Base::Family(crate::family::Name::parse(b.get_ref()).expect("checked"))
        }
        Some(b) => {
            match b.get_ref().strip_prefix("docker://") {
                Some(r) => match r.parse::<distill_oci::registry::Reference>() {
                    Ok(r) => Base::Registry(r),
                    Err(e) => return c.err(
                        b.span(),
                        e.to_string(),
                        "write base = \"docker://HOST/REPO:TAG\", optionally with @sha256:DIGEST",
                    ),
                },
                None => {
                    return c.err(
                    b.span(),
                    format!("Unknown base `{}`", b.get_ref()),
                    &format!("use base = \"scratch\", one of the family ({}), or an image in a registry: base = \"docker://HOST/REPO:TAG@sha256:...\"", crate::family::Name::ALL),
                );
                }
            }
        }
    };
    let (nonroot, debug) = match img
        .variant
        .as_ref()
        .map(|v| (v.get_ref().as_str(), v.span()))
    {
        None | Some(("nonroot", _)) => (true, false),
        Some(("latest", _)) => (false, false),
        Some(("debug", _)) if matches!(base, Base::Family(_)) => (false, true),
        Some(("debug-nonroot", _)) if matches!(base, Base::Family(_)) => (true, true),
        Some((v @ ("debug" | "debug-nonroot"), span)) => {
            return c.err(
                span,
                format!("The {v} variant needs a base of the distroless family"),
                "use base = \"static\", \"base\" or \"cc\" for a debug image with a busybox shell",
            );
        }
        Some((other, span)) => {
            return c.err(
                span,
                format!("Unknown variant `{other}`"),
                "use \"nonroot\" (the default: uid 65532), \"latest\" (root), or with a family base \"debug\" or \"debug-nonroot\"",
            );
        }
    };

    let platforms = match (&opts.platforms, &img.platforms) {
        (Some(p), _) => p.clone(),
        (None, Some(list)) => {
            let mut out = Vec::new();
            for p in list.get_ref() {
                match p.parse::<Platform>() {
                    Ok(p) => out.push(p),
                    Err(e) => {
                        return c.err(
                            list.span(),
                            e.to_string(),
                            "write platforms = [\"linux/amd64\", \"linux/arm64\"]",
                        );
                    }
                }
            }
            out
        }
        (None, None) => vec![Platform::host()],
    };
    let mut platforms_dedup = Vec::new();
    for p in platforms {
        if !platforms_dedup.contains(&p) {
            platforms_dedup.push(p);
        }
    }
    if platforms_dedup.is_empty() {
        let span = img.platforms.as_ref().map(|p| p.span()).unwrap_or(0..0);
        return c.err(
            span,
            "No platform to build".into(),
            "list at least one, such as \"linux/amd64\"",
        );
    }

    let compression = match (opts.compression, &img.compression) {
        (Some(c), _) => c,
        (None, Some(s)) => match s.get_ref().parse() {
            Ok(v) => v,
            Err(e) => return c.err(s.span(), e, "use \"gzip\" or \"zstd\""),
        },
        (None, None) => Compression::Gzip,
    };

    let mut env = Vec::new();
    if !img.env.contains_key("PATH") {
        // Debug images find busybox's applets on PATH, as distroless's do.
        let busybox = if debug { ":/busybox" } else { "" };
        env.push(format!("PATH={DEFAULT_PATH}{busybox}"));
    }
    let family = matches!(base, Base::Family(_));
    if family && !img.env.contains_key("SSL_CERT_FILE") {
        env.push("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".into());
    }
    for (k, v) in &img.env {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.get_ref().contains('\0') {
            return c.err(
                v.span(),
                format!("Invalid environment variable name `{k}`"),
                "names are non-empty and have no `=`",
            );
        }
        env.push(format!("{k}={}", v.get_ref()));
    }

    let workdir = match &img.workdir {
        Some(w) if !w.get_ref().starts_with('/') => {
            return c.err(
                w.span(),
                format!("workdir `{}` is not absolute", w.get_ref()),
                "write it from the image root, such as \"/app\"",
            );
        }
        Some(w) => Some(w.get_ref().clone()),
        None if family && nonroot => Some("/home/nonroot".into()),
        None => None,
    };

    let user = match &img.user {
        Some(u) if u.get_ref().is_empty() || u.get_ref().contains(char::is_whitespace) => {
            return c.err(
                u.span(),
                format!("Invalid user `{}`", u.get_ref()),
                "write USER, UID or UID:GID, such as \"65532:65532\"",
            );
        }
        Some(u) => Some(u.get_ref().clone()),
        // The family has /etc/passwd, which gives the group; scratch has none.
        None if nonroot && family => Some(NONROOT_UID.to_string()),
        None if nonroot => Some(format!("{NONROOT_UID}:{NONROOT_UID}")),
        None => None,
    };

    let mut exposed_ports = Vec::new();
    for p in &img.ports {
        exposed_ports.push(check_port(&c, p)?);
    }
    exposed_ports.sort();
    exposed_ports.dedup();

    let stop_signal = match &img.stop_signal {
        Some(s) => Some(check_signal(&c, s)?),
        None => None,
    };

    if let Some(e) = &img.entrypoint
        && e.get_ref().is_empty()
    {
        return c.err(
            e.span(),
            "entrypoint is empty".into(),
            "remove it, or name the program to run",
        );
    }

    let context = std::path::absolute(&opts.context).map_err(|e| ConfigError::Read {
        path: opts.context.clone(),
        source: e,
    })?;
    let mut files = Vec::new();
    for item in &config.files {
        files.push(FileSpec {
            src: context_path(&c, &context, &item.src)?,
            dst: check_dst(&c, &item.dst)?,
            mode: item.mode.as_ref().map(|m| check_mode(&c, m)).transpose()?,
            uid: item.uid.unwrap_or(0),
            gid: item.gid.unwrap_or(0),
            origin: c.origin(&item.src.span()),
            exclude: Vec::new(),
        });
    }
    // The config's entrypoint, else a debug image's shell; a family member may still give one.
    let mut entrypoint = img
        .entrypoint
        .clone()
        .map(Spanned::into_inner)
        .or_else(|| debug.then(|| vec!["/busybox/sh".to_owned()]));
    let mut debian = plan_debian(
        &c,
        &config.debian,
        &config.packages,
        &config.repositories,
        &img.debian,
        opts,
    )?;
    let ca_extra: Vec<PathBuf> = config
        .certificates
        .extra
        .iter()
        .map(|p| beside(c.source, p.get_ref()))
        .collect();
    let mut family_symlinks = Vec::new();
    let mut runtime = None;
    if let Base::Family(name) = base {
        let recipe = crate::family::recipe(name, debian.release);
        debian.tiers = crate::family::tiers(name)
            .iter()
            .map(|member| crate::family::recipe(*member, debian.release).packages)
            .collect();
        for e in &recipe.env {
            let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            if !img.env.contains_key(key) {
                env.push(e.clone());
            }
        }
        if entrypoint.is_none() {
            entrypoint = recipe.entrypoint.clone();
        }
        family_symlinks = recipe.symlinks.clone();
        runtime = crate::family::eol::runtime(name, debian.release);
        if let crate::family::Name::Nodejs(major) = name {
            debian.node = Some(major);
            // Node trusts its own copy of Mozilla's list; extra CAs reach it through this.
            if !ca_extra.is_empty() && !img.env.contains_key("NODE_EXTRA_CA_CERTS") {
                env.push("NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt".into());
            }
        }
        let mut include = recipe.packages;
        for p in &debian.include {
            if !include.contains(p) {
                include.push(p.clone());
            }
        }
        if debug && !include.iter().any(|p| p == "busybox-static") {
            include.push("busybox-static".into());
        }
        debian.include = include;
        for e in recipe.exclude {
            if !debian.exclude.contains(&e) {
                debian.exclude.push(e);
            }
        }
    }
    let init = match &config.entrypoint {
        Some(section) => Some(plan_init(&c, section)?),
        None => None,
    };
    if let Some(init) = &init {
        if entrypoint.is_none() && img.cmd.is_none() {
            let span = config.entrypoint.as_ref().map_or(0..0, |s| s.span());
            return c.err(
                span,
                "[entrypoint] runs distill-init in front of the app, but the image names no program".into(),
                "set entrypoint (or cmd) in [image], or build on a family member that has one",
            );
        }
        entrypoint = Some(init.wrap(entrypoint.as_deref().unwrap_or_default()));
    }
    if files.is_empty() && debian.include.is_empty() && base == Base::Scratch {
        return c.err(
            0..0,
            "Nothing to put in the image".into(),
            "add a [[files]] item with src and dst, or [packages] include (see docs/config.md)",
        );
    }

    Ok(BuildPlan {
        runtime,
        debug,
        init,
        detected: None,
        app: None,
        family_symlinks,
        base,
        ca_extra,
        explicit_user: img.variant.is_some() || img.user.is_some(),
        platforms: platforms_dedup,
        epoch: opts.epoch,
        compression,
        image: ImageSpec {
            platform: None,
            created: opts.epoch,
            entrypoint,
            cmd: img.cmd,
            env,
            workdir,
            user,
            labels: img.labels,
            exposed_ports,
            stop_signal,
            annotations: runtime
                .map(|r: crate::family::eol::Runtime| {
                    [
                        (
                            crate::family::eol::ANNOTATION_RUNTIME.to_owned(),
                            format!("{} {}", r.name, r.version),
                        ),
                        (crate::family::eol::ANNOTATION_EOL.to_owned(), r.eol_text()),
                    ]
                    .into_iter()
                    .collect()
                })
                .unwrap_or_default(),
        },
        files,
        debian,
        outputs: opts.outputs.clone(),
        registry: opts.registry.clone(),
    })
}

fn plan_debian(
    c: &Checker,
    section: &crate::config::DebianSection,
    packages: &crate::config::PackagesSection,
    repos: &[crate::config::RepositoryItem],
    release: &Option<Spanned<String>>,
    opts: &Options,
) -> Result<DebianPlan, ConfigError> {
    let release = match release {
        None => distill_apt::debian::Release::Trixie,
        Some(r) => match distill_apt::debian::Release::parse(r.get_ref()) {
            Some(v) => v,
            None => {
                return c.err(
                    r.span(),
                    format!("Unknown Debian release `{}`", r.get_ref()),
                    "use \"12\" (bookworm) or \"13\" (trixie)",
                );
            }
        },
    };
    let mirror = match (&opts.mirror, &section.mirror) {
        (Some(m), _) => Some(m.clone()),
        (None, Some(m))
            if !(m.get_ref().starts_with("http://") || m.get_ref().starts_with("https://")) =>
        {
            return c.err(
                m.span(),
                format!("mirror `{}` is not an http(s) URL", m.get_ref()),
                "write the archive's base URL, as in the host's apt sources",
            );
        }
        (None, Some(m)) => Some(m.get_ref().clone()),
        (None, None) => None,
    };
    let mut include = Vec::new();
    for p in &packages.include {
        let name = p.get_ref();
        let valid = name.len() >= 2
            && name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
            })
            && name.starts_with(|ch: char| ch.is_ascii_alphanumeric());
        if !valid {
            return c.err(
                p.span(),
                format!("`{name}` is not a Debian package name"),
                "package names are lowercase letters, digits, + - and .",
            );
        }
        if !include.contains(name) {
            include.push(name.clone());
        }
    }
    let mut repositories = Vec::new();
    for r in repos {
        let signed = r.signed.unwrap_or(true);
        if signed && r.keyring.is_none() {
            return c.err(
                r.uri.span(),
                format!("Repository {} has no keyring", r.uri.get_ref()),
                "add keyring = \"vendor.gpg\" with the repository's public key (or, insecurely, signed = false)",
            );
        }
        repositories.push(RepositoryPlan {
            uri: r.uri.get_ref().trim_end_matches('/').to_owned(),
            suites: r.suites.clone(),
            components: if r.components.is_empty() {
                vec!["main".into()]
            } else {
                r.components.clone()
            },
            keyring: r.keyring.as_ref().map(|k| beside(c.source, k.get_ref())),
            signed,
        });
    }
    let mut exclude: Vec<String> = Vec::new();
    for p in &packages.exclude {
        if !exclude.contains(p.get_ref()) {
            exclude.push(p.get_ref().clone());
        }
    }
    Ok(DebianPlan {
        release,
        mirror,
        keyring: section
            .keyring
            .as_ref()
            .map(|k| beside(c.source, k.get_ref())),
        include,
        exclude,
        tiers: Vec::new(),
        node: None,
        native: None,
        repositories,
        lockfile: beside(c.source, "distill.lock"),
        locked: opts.locked,
    })
}

/// Resolves a `src` inside the context; refuses absolute paths and `..` that leave it, so
/// a build reads only what its context holds, as `docker build` does.
fn context_path(
    c: &Checker,
    context: &Path,
    src: &Spanned<String>,
) -> Result<PathBuf, ConfigError> {
    let rel = Path::new(src.get_ref());
    let mut depth = 0i32;
    for comp in rel.components() {
        match comp {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => depth = i32::MIN / 2,
        }
        if depth < 0 {
            return c.err(
                src.span(),
                format!(
                    "src `{}` is outside the build context {}",
                    src.get_ref(),
                    context.display()
                ),
                "move the file into the context, or pass a context that contains it",
            );
        }
    }
    Ok(context.join(rel))
}

fn check_dst(c: &Checker, dst: &Spanned<String>) -> Result<String, ConfigError> {
    let d = dst.get_ref();
    if !d.starts_with('/') {
        return c.err(
            dst.span(),
            format!("dst `{d}` is not absolute"),
            "write it from the image root, such as \"/app/\"",
        );
    }
    if d.split('/').any(|p| p == "..") || d.contains('\0') {
        return c.err(
            dst.span(),
            format!("dst `{d}` contains `..`"),
            "write the plain path inside the image",
        );
    }
    if d.trim_matches('/').is_empty() {
        return c.err(
            dst.span(),
            "dst is the image root".into(),
            "name a directory, such as \"/app/\"",
        );
    }
    Ok(d.clone())
}

fn check_mode(c: &Checker, mode: &Spanned<ModeValue>) -> Result<u32, ConfigError> {
    let hint = "write the mode as a string of octal digits, such as \"0644\" or \"0755\"";
    let text = match mode.get_ref() {
        ModeValue::Text(t) => t,
        ModeValue::Integer(i) => {
            return c.err(
                mode.span(),
                format!("mode {i} is a number, which TOML reads as decimal"),
                hint,
            );
        }
    };
    let value = match u32::from_str_radix(text, 8) {
        Ok(v) if !text.is_empty() && v <= 0o7777 => v,
        _ => return c.err(mode.span(), format!("Invalid mode `{text}`"), hint),
    };
    if value & 0o6000 != 0 {
        return c.err(
            mode.span(),
            format!("mode `{text}` sets setuid or setgid"),
            "images carry no setuid or setgid files; drop the leading 4 or 2",
        );
    }
    Ok(value)
}

fn check_port(c: &Checker, p: &Spanned<String>) -> Result<String, ConfigError> {
    let (num, proto) = p.get_ref().split_once('/').unwrap_or((p.get_ref(), "tcp"));
    match (num.parse::<u16>(), proto) {
        (Ok(n), "tcp" | "udp" | "sctp") if n > 0 => Ok(format!("{n}/{proto}")),
        _ => c.err(
            p.span(),
            format!("Invalid port `{}`", p.get_ref()),
            "write PORT or PORT/PROTO, such as \"8080\" or \"53/udp\"",
        ),
    }
}

const SIGNALS: &[&str] = &[
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGKILL",
    "SIGUSR1",
    "SIGUSR2",
    "SIGTERM",
    "SIGWINCH",
    "SIGPWR",
    "SIGRTMIN+3",
];

fn check_signal(c: &Checker, s: &Spanned<String>) -> Result<String, ConfigError> {
    let v = s.get_ref();
    let upper = v.to_ascii_uppercase();
    let named = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    if SIGNALS.contains(&named.as_str()) {
        return Ok(named);
    }
    match v.parse::<u8>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n.to_string()),
        _ => c.err(
            s.span(),
            format!("Unknown stop signal `{v}`"),
            "use a name such as \"SIGTERM\" or \"SIGINT\", or a number",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(text: &str) -> Result<BuildPlan, ConfigError> {
        let source = Source {
            path: "distill.toml".into(),
            text: text.into(),
        };
        let config = Config::parse(&source)?;
        plan_from(
            config,
            &source,
            &Options {
                context: "/ctx".into(),
                ..Default::default()
            },
        )
    }

    const FILES: &str = "[[files]]\nsrc = \"app\"\ndst = \"/app\"\n";

    #[test]
    fn defaults_are_nonroot_host_platform_gzip_and_path() {
        let p = plan_of(FILES).unwrap();
        assert_eq!(p.image.user.as_deref(), Some("65532:65532"));
        assert_eq!(p.platforms, vec![Platform::host()]);
        assert_eq!(p.compression, Compression::Gzip);
        assert_eq!(p.image.env, vec![format!("PATH={DEFAULT_PATH}")]);
        assert_eq!(p.files[0].src, PathBuf::from("/ctx/app"));
        assert_eq!(p.files[0].origin, "distill.toml:2");
    }

    #[test]
    fn image_fields_are_carried_and_normalized() {
        let p = plan_of(&format!(
            "[image]\nvariant = \"latest\"\nentrypoint = [\"/app\"]\ncmd = [\"-v\"]\nenv = {{ B = \"2\", A = \"1\" }}\n\
             workdir = \"/w\"\nports = [\"8080\", \"53/udp\"]\nstop_signal = \"int\"\nlabels = {{ a = \"b\" }}\n\
             platforms = [\"linux/arm64\", \"linux/amd64\"]\ncompression = \"zstd\"\n{FILES}"
        ))
        .unwrap();
        assert_eq!(p.image.user, None);
        assert_eq!(
            p.image.env,
            vec![format!("PATH={DEFAULT_PATH}"), "A=1".into(), "B=2".into()]
        );
        assert_eq!(p.image.exposed_ports, vec!["53/udp", "8080/tcp"]);
        assert_eq!(p.image.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(
            p.platforms,
            vec![Platform::linux("arm64"), Platform::linux("amd64")]
        );
        assert_eq!(p.compression, Compression::Zstd);
        assert_eq!(p.image.workdir.as_deref(), Some("/w"));
    }

    fn err_of(text: &str) -> (usize, String, String) {
        match plan_of(text).unwrap_err() {
            e @ ConfigError::Invalid { .. } => {
                let ConfigError::Invalid { at, .. } = &e else {
                    unreachable!()
                };
                (at.line, e.to_string(), e.hint().unwrap_or_default())
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn bad_values_name_their_line_and_give_a_hint() {
        let cases = [
            (
                "[[files]]\nsrc = \"a\"\ndst = \"/a\"\nmode = \"0999\"\n",
                4,
                "Invalid mode",
            ),
            (
                "[[files]]\nsrc = \"a\"\ndst = \"/a\"\nmode = 644\n",
                4,
                "decimal",
            ),
            (
                "[[files]]\nsrc = \"a\"\ndst = \"/a\"\nmode = \"4755\"\n",
                4,
                "setuid",
            ),
            ("[[files]]\nsrc = \"a\"\ndst = \"a\"\n", 3, "not absolute"),
            (
                "[[files]]\nsrc = \"../a\"\ndst = \"/a\"\n",
                2,
                "outside the build context",
            ),
            (
                "[[files]]\nsrc = \"/etc/passwd\"\ndst = \"/a\"\n",
                2,
                "outside the build context",
            ),
            ("[image]\nbase = \"ubuntu\"\n", 2, "Unknown base"),
            (
                "[image]\nvariant = \"debug\"\n",
                2,
                "needs a base of the distroless family",
            ),
            ("[image]\nvariant = \"fat\"\n", 2, "Unknown variant"),
            ("[image]\nports = [\"http\"]\n", 2, "Invalid port"),
            ("[image]\nworkdir = \"app\"\n", 2, "not absolute"),
            ("[image]\nstop_signal = \"SIGFOO\"\n", 2, "stop signal"),
            ("[image]\nplatforms = [\"linux/s390x\"]\n", 2, "s390x"),
            ("[image]\ncompression = \"lz4\"\n", 2, "lz4"),
        ];
        for (text, line, needle) in cases {
            let (got_line, msg, hint) = err_of(text);
            assert_eq!(got_line, line, "{msg}");
            assert!(msg.contains(needle), "{msg} lacks {needle}");
            assert!(!hint.is_empty(), "{msg} has no hint");
        }
    }

    #[test]
    fn an_empty_image_is_refused() {
        let (_, msg, hint) = err_of("[image]\nentrypoint = [\"/x\"]\n");
        assert!(msg.contains("Nothing to put"), "{msg}");
        assert!(hint.contains("[[files]]"));
    }
}
