//! The plan's types: what the command line gave ([`Options`]), what the user asked for
//! ([`Request`]), and what will be built ([`Plan`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use distill_app::FileSpec;
use distill_app::elf::NativeNeeds;
use distill_core::runtime::Runtime;
use distill_core::{EnvVar, FamilyMember, Platform, Reference, Release};
use distill_oci::{Address, Compression, ImageSpec};

use crate::config::ConfigError;
use crate::init::InitPlan;

/// The `PATH` every image gets unless the config sets one: distroless's.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// distroless's nonroot user and group.
pub(crate) const NONROOT_UID: u64 = 65532;
/// Where a family image's CA bundle is.
pub(crate) const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

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
    /// `--allow-scripts`: Node packages whose install scripts run, confined.
    pub allow_scripts: Vec<String>,
    /// `--allow-source`: Python distributions that may be built from source, confined.
    pub allow_source: Vec<String>,
    /// `--workspace`: the member of a Node monorepo to build.
    pub workspace: Option<String>,
    /// `--entrypoint` / `--cmd`: replace what the config or the detection gives.
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `--deny-eol`: a runtime past its upstream end of life is an error, not a warning.
    pub deny_eol: bool,
    /// `--build-arg` and `--target`, for a Dockerfile.
    pub build_args: std::collections::BTreeMap<String, String>,
    pub target: Option<String>,
}

/// Why there is no plan.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dockerfile(#[from] crate::dockerfile::DockerfileError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    App(#[from] distill_app::AppError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Native(#[from] distill_app::native::NativeError),
    #[error(
        "{name} {version} reached its upstream end of life in {eol}, and --deny-eol refuses it"
    )]
    #[diagnostic(help(
        "ask for a supported version (.nvmrc, engines.node, .python-version), or drop --deny-eol"
    ))]
    EndOfLife {
        name: String,
        version: String,
        eol: String,
    },
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
    /// The exact Node release the app pins (`.nvmrc` `v20.16.0`), taken when the registry
    /// has it.
    pub node_version: Option<String>,
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
    pub volumes: Vec<String>,
    pub healthcheck: Option<distill_oci::image::Healthcheck>,
    /// `[image] allow_setuid`: a registry base keeps its setuid and setgid files.
    pub allow_setuid: bool,
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
    /// Files distill writes for the family member.
    pub family_extra: Vec<crate::family::Extra>,
    /// distill-init in front of the entrypoint (`[entrypoint]`).
    pub init: Option<InitPlan>,
    /// What distill detected in the context, for the user (printed on stderr).
    pub detected: Option<String>,
    /// What the user should know about how the input was read (a Dockerfile's notes).
    pub notes: Vec<String>,
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
    /// A registry base keeps its setuid and setgid files (`[image] allow_setuid`).
    pub allow_setuid: bool,
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
