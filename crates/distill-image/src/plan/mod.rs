//! The validated build plan: what to build, checked and resolved, before any work.
//!
//! As in ripgrep, configuration comes in two stages. [`crate::config`] holds what was
//! written. Here it becomes first a [`Request`] (validated, with the line of every mistake:
//! [`config`]), or a request is made directly from what the context is ([`detect`]: a
//! Python or Node app, a binary) or from `distill base` ([`member`]); then [`finish`] adds
//! defaults and the family's recipe and gives the [`Plan`]. No TOML is ever written to be
//! parsed again, and nothing is built until a plan exists.

pub mod checks;
pub mod config;
pub mod detect;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use distill_app::FileSpec;
use distill_app::elf::NativeNeeds;
use distill_core::runtime::{ANNOTATION_EOL, ANNOTATION_RUNTIME, Runtime};
use distill_core::{EnvVar, FamilyMember, Platform, Reference, Release};
use distill_oci::{Address, Compression, ImageSpec};

use crate::config::ConfigError;
use crate::init::InitPlan;

/// The `PATH` every image gets unless the config sets one: distroless's.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// distroless's nonroot user and group.
pub const NONROOT_UID: u64 = 65532;
/// Where a family image's CA bundle is.
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What came from the command line; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The build context: `[[files]] src` paths are relative to it.
    pub context: PathBuf,
    /// The config file; `CONTEXT/distill.toml` when `None`.
    pub config: Option<PathBuf>,
    pub outputs: Vec<Address>,
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

/// Why there is no plan.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    App(#[from] distill_app::AppError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Native(#[from] distill_app::native::NativeError),
    #[error("{} is built for {arch}, but the build asks for {platform}", path.display())]
    #[diagnostic(help("build the binary for each platform, or pass --platform linux/{arch}"))]
    NativeArch {
        path: PathBuf,
        arch: String,
        platform: String,
    },
    #[error("Cannot resolve {}: {source}", path.display())]
    #[diagnostic(help("check that the path exists"))]
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the image starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// Nothing.
    Scratch,
    /// A member of the distroless family, built from Debian packages.
    Family(FamilyMember),
    /// An image in a registry: its layers are kept, its config is the default for ours.
    Registry(Reference),
}

/// The variant of an image: who it runs as, and whether it has a busybox shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Variant {
    pub nonroot: bool,
    pub debug: bool,
    /// Whether the config named it; without one, a registry base keeps its user.
    pub explicit: bool,
}

/// An extra apt repository, validated.
#[derive(Debug, Clone)]
pub struct RepositoryPlan {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    pub keyring: Option<PathBuf>,
    pub signed: bool,
}

/// Where Debian packages come from and which ones.
#[derive(Debug, Clone)]
pub struct DebianPlan {
    pub release: Release,
    pub mirror: Option<String>,
    /// `[debian] keyring`, which replaces the host's keyring choice.
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
    /// What native code (a binary, an app's dependencies) needs, mapped to packages through
    /// the Contents index.
    pub native: Option<NativeNeeds>,
    pub repositories: Vec<RepositoryPlan>,
    /// `distill.lock`, beside the config file.
    pub lockfile: PathBuf,
    pub locked: bool,
}

/// What the user asked for, validated, before defaults and the family's recipe.
#[derive(Debug, Clone)]
pub struct Request {
    pub base: Base,
    pub variant: Variant,
    pub platforms: Vec<Platform>,
    pub compression: Compression,
    /// The user's variables, by name.
    pub env: Vec<EnvVar>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<String>,
    pub stop_signal: Option<String>,
    pub files: Vec<FileSpec>,
    pub debian: DebianPlan,
    pub ca_extra: Vec<PathBuf>,
    pub init: Option<InitPlan>,
    /// Where `[entrypoint]` was written, for the error when the image names no program.
    pub init_at: Option<crate::config::Location>,
    /// The config file, when there is one: its digest is an input of the build.
    pub config: Option<PathBuf>,
}

/// Everything a build needs, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub base: Base,
    pub variant: Variant,
    /// The runtime a family member ships, with its end of life.
    pub runtime: Option<Runtime>,
    /// Links a family member adds, `(path, target)`.
    pub family_links: Vec<(String, String)>,
    /// distill-init in front of the entrypoint (`[entrypoint]`).
    pub init: Option<InitPlan>,
    /// What distill detected in the context, for the user (printed on stderr).
    pub detected: Option<String>,
    /// A detected app, whose dependencies become a layer of their own.
    pub app: Option<Arc<dyn distill_app::App>>,
    /// Extra CA certificates (PEM files) for a family image's bundle.
    pub ca_extra: Vec<PathBuf>,
    pub platforms: Vec<Platform>,
    pub epoch: u64,
    pub compression: Compression,
    /// The image config shared by every platform (its `platform` is unset).
    pub image: ImageSpec,
    pub files: Vec<FileSpec>,
    pub debian: DebianPlan,
    pub outputs: Vec<Address>,
    pub registry: distill_oci::registry::RegistryOptions,
    /// The config file, when there is one.
    pub config: Option<PathBuf>,
}

impl Plan {
    /// The family member the image is, if it is one.
    pub fn family(&self) -> Option<FamilyMember> {
        match self.base {
            Base::Family(m) => Some(m),
            _ => None,
        }
    }
}

/// Loads the config named by `opts` (or detects what the context is) and plans the build.
pub fn plan(opts: &Options) -> Result<Plan, PlanError> {
    let mut plan = if opts.config.is_none() && opts.context.is_file() {
        detect::native(opts)?
    } else {
        let path = opts
            .config
            .clone()
            .unwrap_or_else(|| opts.context.join("distill.toml"));
        let detect = opts.config.is_none() && !path.exists() && opts.context.is_dir();
        match detect.then(|| detect::app(opts)).transpose()?.flatten() {
            Some(plan) => plan,
            None => finish(config::load(&path, opts)?, opts)?,
        }
    };
    if let Some(e) = &opts.entrypoint {
        plan.image.entrypoint = Some(e.clone());
    }
    if let Some(c) = &opts.cmd {
        plan.image.cmd = Some(c.clone());
    }
    Ok(plan)
}

/// The plan of `distill base`: a member of the family as an image of its own.
pub fn member(
    member: FamilyMember,
    release: Release,
    variant: Variant,
    opts: &Options,
) -> Result<Plan, PlanError> {
    let mut req = Request::on(
        Base::Family(member),
        release,
        opts,
        PathBuf::from("distill.lock"),
    );
    req.variant = variant;
    finish(req, opts)
}

impl Request {
    /// A request for an image on `base`, with the defaults of everything else.
    pub fn on(base: Base, release: Release, opts: &Options, lockfile: PathBuf) -> Self {
        Self {
            base,
            variant: Variant {
                nonroot: true,
                debug: false,
                explicit: false,
            },
            platforms: config::platforms(opts.platforms.clone()),
            compression: opts.compression.unwrap_or_default(),
            env: Vec::new(),
            entrypoint: None,
            cmd: None,
            workdir: None,
            user: None,
            labels: BTreeMap::new(),
            ports: Vec::new(),
            stop_signal: None,
            files: Vec::new(),
            debian: DebianPlan {
                release,
                mirror: opts.mirror.clone(),
                keyring: None,
                include: Vec::new(),
                exclude: Vec::new(),
                tiers: Vec::new(),
                node: None,
                native: None,
                repositories: Vec::new(),
                lockfile,
                locked: opts.locked,
            },
            ca_extra: Vec::new(),
            init: None,
            init_at: None,
            config: None,
        }
    }
}

fn push_new(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

/// Adds the defaults and the family's recipe to a request.
pub fn finish(req: Request, opts: &Options) -> Result<Plan, PlanError> {
    let family = match req.base {
        Base::Family(m) => Some(m),
        _ => None,
    };
    let Variant { nonroot, debug, .. } = req.variant;
    let user_sets = |k: &str| req.env.iter().any(|e| e.name == k);
    // The order of these variables is part of the image's digest: defaults, then the
    // user's (by name), then the family's.
    let mut env: Vec<String> = Vec::new();
    if !user_sets("PATH") {
        // Debug images find busybox's applets on PATH, as distroless's do.
        let busybox = if debug { ":/busybox" } else { "" };
        env.push(format!("PATH={DEFAULT_PATH}{busybox}"));
    }
    if family.is_some() && !user_sets("SSL_CERT_FILE") {
        env.push(format!("SSL_CERT_FILE={CA_BUNDLE}"));
    }
    env.extend(req.env.iter().map(ToString::to_string));
    let mut entrypoint = req
        .entrypoint
        .clone()
        .or_else(|| debug.then(|| vec!["/busybox/sh".to_owned()]));
    let mut debian = req.debian.clone();
    let (mut family_links, mut runtime) = (Vec::new(), None);
    if let Some(member) = family {
        let recipe = crate::family::recipe(member, debian.release);
        debian.tiers = crate::family::tiers(member)
            .iter()
            .map(|m| crate::family::recipe(*m, debian.release).packages)
            .collect();
        for e in &recipe.env {
            let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            if !user_sets(key) {
                env.push(e.clone());
            }
        }
        if entrypoint.is_none() {
            entrypoint = recipe.entrypoint.clone();
        }
        family_links = recipe.links.clone();
        runtime = recipe.runtime;
        debian.node = crate::family::node_major(member);
        // Node trusts its own copy of Mozilla's list; extra CAs reach it through this.
        if debian.node.is_some() && !req.ca_extra.is_empty() && !user_sets("NODE_EXTRA_CA_CERTS") {
            env.push(format!("NODE_EXTRA_CA_CERTS={CA_BUNDLE}"));
        }
        let mut include = recipe.packages;
        for p in &req.debian.include {
            push_new(&mut include, p);
        }
        if debug {
            push_new(&mut include, "busybox-static");
        }
        debian.include = include;
        for e in &recipe.exclude {
            push_new(&mut debian.exclude, e);
        }
    }
    if let Some(init) = &req.init {
        if entrypoint.is_none() && req.cmd.is_none() {
            return Err(ConfigError::Invalid {
                at: req.init_at.clone().unwrap_or_else(|| crate::config::Location {
                    path: "distill.toml".into(),
                    line: 1,
                    column: 1,
                }),
                message: "[entrypoint] runs distill-init in front of the app, but the image names no program".into(),
                hint: Some("set entrypoint (or cmd) in [image], or build on a family member that has one".into()),
            }
            .into());
        }
        entrypoint = Some(init.wrap(entrypoint.as_deref().unwrap_or_default()));
    }
    let workdir = req
        .workdir
        .clone()
        .or_else(|| (family.is_some() && nonroot).then(|| "/home/nonroot".to_owned()));
    let user = req.user.clone().or_else(|| match (nonroot, family) {
        // The family has /etc/passwd, which gives the group; scratch has none.
        (true, Some(_)) => Some(NONROOT_UID.to_string()),
        (true, None) => Some(format!("{NONROOT_UID}:{NONROOT_UID}")),
        (false, _) => None,
    });
    let annotations = runtime
        .map(|r| {
            BTreeMap::from([
                (
                    ANNOTATION_RUNTIME.to_owned(),
                    format!("{} {}", r.name, r.version),
                ),
                (ANNOTATION_EOL.to_owned(), r.eol.to_string()),
            ])
        })
        .unwrap_or_default();
    Ok(Plan {
        variant: Variant {
            explicit: req.variant.explicit || req.user.is_some(),
            ..req.variant
        },
        runtime,
        family_links,
        init: req.init,
        detected: None,
        app: None,
        ca_extra: req.ca_extra,
        platforms: req.platforms,
        epoch: opts.epoch,
        compression: req.compression,
        image: ImageSpec {
            platform: None,
            created: opts.epoch,
            entrypoint,
            cmd: req.cmd,
            env,
            workdir,
            user,
            labels: req.labels,
            exposed_ports: req.ports,
            stop_signal: req.stop_signal,
            annotations,
        },
        files: req.files,
        debian,
        outputs: opts.outputs.clone(),
        registry: opts.registry.clone(),
        base: req.base,
        config: req.config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::{Config, ConfigError, Source};
    use distill_core::Arch;
    use distill_oci::Compression;

    fn plan_of(text: &str) -> Result<Plan, ConfigError> {
        let source = Source {
            path: "distill.toml".into(),
            text: text.into(),
        };
        let config = Config::parse(&source)?;
        let opts = Options {
            context: "/ctx".into(),
            ..Default::default()
        };
        finish(config::request(config, &source, &opts)?, &opts).map_err(|e| match e {
            PlanError::Config(c) => c,
            e => panic!("{e}"),
        })
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
            vec![Platform::linux(Arch::Arm64), Platform::linux(Arch::Amd64)]
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
                (
                    at.line,
                    e.to_string(),
                    distill_core::hint(&e).unwrap_or_default(),
                )
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
        assert!(
            !hint.contains("docs/"),
            "hints name no file the user may lack: {hint}"
        );
    }
}

#[cfg(test)]
mod family_tests {
    use super::*;

    /// `distill base` and `base = "python3"` give the same plan, with the family's defaults.
    #[test]
    fn a_member_plan_has_the_family_defaults() {
        let opts = Options::default();
        let nonroot = Variant {
            nonroot: true,
            debug: false,
            explicit: true,
        };
        let p = member(FamilyMember::Python3, Release::Trixie, nonroot, &opts).unwrap();
        assert_eq!(p.image.user.as_deref(), Some("65532"));
        assert_eq!(p.image.workdir.as_deref(), Some("/home/nonroot"));
        assert_eq!(
            p.image.env,
            [
                format!("PATH={DEFAULT_PATH}"),
                format!("SSL_CERT_FILE={CA_BUNDLE}"),
                "LANG=C.UTF-8".to_owned()
            ]
        );
        assert_eq!(
            p.image.entrypoint,
            Some(vec!["/usr/bin/python3.13".to_owned()])
        );
        assert_eq!(p.debian.tiers.len(), 5);
        assert_eq!(p.image.annotations[ANNOTATION_EOL], "2029-10");
        let debug = Variant {
            nonroot: false,
            debug: true,
            explicit: true,
        };
        let p = member(FamilyMember::Cc, Release::Bookworm, debug, &opts).unwrap();
        assert_eq!(p.image.entrypoint, Some(vec!["/busybox/sh".to_owned()]));
        assert!(p.debian.include.contains(&"busybox-static".to_owned()));
        assert!(p.image.env[0].ends_with(":/busybox"));
        assert_eq!(p.image.user, None);
    }
}
