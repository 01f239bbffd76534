//! `distill build`: plan from config and flags, build, print the digest.

use std::path::PathBuf;

use crate::ui::Context;
use distill_core::Platform;
use distill_image::plan;
use distill_oci::{Address, Compression};

/// What `build` and `lock` share: where the config is and what it is built for.
#[derive(clap::Args)]
pub struct Common {
    /// The build context: the directory `[[files]] src` paths are relative to, or a single
    /// ELF binary, which goes onto the family member its libraries call for.
    #[arg(default_value = ".")]
    pub context: PathBuf,
    /// The config file [default: CONTEXT/distill.toml], or a Dockerfile (named
    /// Dockerfile, Containerfile, *.Dockerfile, or starting with FROM or ARG), whose final
    /// stage is built as the distill.toml `distill migrate` prints.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// A Dockerfile's build argument, NAME=VALUE (repeatable), for its ARG lines.
    #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = parse_build_arg)]
    pub build_arg: Vec<(String, String)>,
    /// The Dockerfile stage to build instead of the last.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Platforms to build, comma-separated, such as linux/amd64,linux/arm64.
    #[arg(long, value_delimiter = ',', value_name = "OS/ARCH")]
    pub platform: Option<Vec<Platform>>,
    /// The Debian archive to use instead of the one in the host's apt sources.
    #[arg(long, value_name = "URL", value_parser = parse_mirror)]
    pub mirror: Option<String>,
    /// Use a Release older than one this cache has seen for its suite (a rollback, which
    /// is otherwise refused as a replay).
    #[arg(long = "allow-downgrade")]
    pub allow_downgrade: bool,
    /// For a binary context: a directory of libraries that no Debian package provides,
    /// copied to /usr/local/lib when the binary needs them. Repeatable.
    #[arg(long = "include-lib", value_name = "DIR")]
    pub include_lib: Vec<PathBuf>,
    /// The image's entrypoint, replacing the config's or the detected one: a JSON array
    /// (`["python3", "-m", "app"]`) or words separated by spaces.
    #[arg(long, value_name = "COMMAND", value_parser = parse_command)]
    pub entrypoint: Option<Words>,
    /// For a Node app: put its existing node_modules in the image instead of running
    /// `npm ci` (the directory must hold production dependencies for the target platform).
    #[arg(long = "use-node-modules")]
    pub use_node_modules: bool,
    /// For a Node app: run the install scripts of these packages (comma-separated or
    /// repeated), confined with bubblewrap to the package's directory with no network, to
    /// build a native addon none of their versions ships prebuilt. Host platform only.
    #[arg(long = "allow-scripts", value_name = "PKG", value_delimiter = ',')]
    pub allow_scripts: Vec<String>,
    /// For a Python app: build these distributions from their source (comma-separated or
    /// repeated) when no wheel fits, confined with bubblewrap with no network, after their
    /// sdist and build requirements are fetched and checked.
    #[arg(long = "allow-source", value_name = "DIST", value_delimiter = ',')]
    pub allow_source: Vec<String>,
    /// For a Node monorepo (npm or Yarn `workspaces`, pnpm-workspace.yaml): build this
    /// member, by package name or directory, with the members it depends on.
    #[arg(long, value_name = "NAME")]
    pub workspace: Option<String>,
    /// The image's default arguments (cmd), in the same forms.
    #[arg(long, value_name = "ARGS", value_parser = parse_command)]
    pub cmd: Option<Words>,
    /// Refuse a runtime (Node, Python) past its upstream end of life, instead of warning.
    #[arg(long = "deny-eol")]
    pub deny_eol: bool,
}

/// A command line given as one flag value (a newtype, so clap takes it as one value).
#[derive(Debug, Clone)]
pub struct Words(pub Vec<String>);

fn parse_command(s: &str) -> Result<Words, String> {
    if s.trim_start().starts_with('[') {
        serde_json::from_str(s)
            .map(Words)
            .map_err(|e| format!("not a JSON array of strings: {e}"))
    } else {
        Ok(Words(s.split_whitespace().map(str::to_owned).collect()))
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    registry: super::args::RegistryArgs,
    #[command(flatten)]
    cache: super::args::CacheArgs,
    /// Where to write the image: oci:DIR[:TAG], oci-archive:FILE[:TAG] or
    /// docker-archive:FILE[:NAME:TAG] or docker://HOST/REPO:TAG. Repeat for several outputs.
    #[arg(short, long = "output", required = true, value_name = "DEST")]
    output: Vec<Address>,
    /// Layer compression: gzip (default) or zstd.
    #[arg(long)]
    compression: Option<Compression>,
    /// Install exactly the packages distill.lock pins.
    #[arg(long)]
    locked: bool,
    /// Write the build's report as JSON to FILE: the image digest, every layer with what it
    /// adds (packages, distributions, files), and the digests of the config and the lock.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Write the image's SBOMs to DIR: sbom.spdx.json (SPDX 2.3) and sbom.cdx.json
    /// (CycloneDX 1.6), from the build's exact inventory.
    #[arg(long, value_name = "DIR")]
    sbom: Option<PathBuf>,
    #[command(flatten)]
    sign: super::args::SignArgs,
}

pub fn parse_build_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        // Docker takes a bare NAME's value from the environment.
        _ if !s.is_empty() && !s.contains('=') => {
            Ok((s.to_owned(), std::env::var(s).unwrap_or_default()))
        }
        _ => Err("expected NAME=VALUE".into()),
    }
}

fn parse_mirror(s: &str) -> Result<String, String> {
    if s.starts_with("http://") || s.starts_with("https://") {
        Ok(s.trim_end_matches('/').to_owned())
    } else {
        Err("expected an http:// or https:// URL, as in the host's apt sources".into())
    }
}

pub fn options(
    common: Common,
    outputs: Vec<Address>,
    locked: bool,
) -> miette::Result<distill_image::Options> {
    Ok(distill_image::Options {
        context: common.context,
        config: common.file,
        outputs,
        platforms: common.platform,
        compression: None,
        epoch: source_date_epoch()?,
        mirror: common.mirror,
        locked,
        registry: Default::default(),
        include_lib: common.include_lib,
        use_node_modules: common.use_node_modules,
        allow_scripts: common.allow_scripts,
        allow_source: common.allow_source,
        workspace: common.workspace,
        entrypoint: common.entrypoint.map(|w| w.0),
        cmd: common.cmd.map(|w| w.0),
        deny_eol: common.deny_eol,
        build_args: common.build_arg.into_iter().collect(),
        target: common.target,
    })
}

pub fn run(args: Args, quiet: bool) -> miette::Result<()> {
    let allow_downgrade = args.common.allow_downgrade;
    let mut opts = options(args.common, args.output, args.locked)?;
    opts.compression = args.compression;
    opts.registry = args
        .registry
        .options(opts.outputs.iter().chain(&args.cache.cache_repo));
    let layers = args.cache.layers(&opts.registry)?;
    // The report goes beside the outputs: a wrong path fails before any work.
    let report_file = args
        .report
        .as_deref()
        .map(super::ReportFile::open)
        .transpose()?;
    let key = args.sign.key()?;
    if key.is_some()
        && !opts
            .outputs
            .iter()
            .any(|o| matches!(o, Address::Registry { .. }))
    {
        return Err(crate::ui::Hinted::report(
            "--sign-key signs what is pushed, and this build has no docker:// output".into(),
            "add -o docker://HOST/REPO:TAG, or sign a local image when you push it: distill push --sign-key KEY SRC docker://…",
        ));
    }
    let plan = plan(&opts).context("Invalid build configuration")?;
    if let Some(detected) = plan.detected.as_ref().filter(|_| !quiet) {
        eprintln!("detected {detected}");
    }
    for note in plan.notes.iter().filter(|_| !quiet) {
        eprintln!("note: {note}");
    }
    let progress = crate::ui::Bars::new(quiet);
    let attach = |report: &distill_image::Report, reference: &distill_core::Reference| match &key {
        Some(k) => super::sign::for_build(k, report, reference),
        None => Vec::new(),
    };
    let report = super::with_sources(allow_downgrade, layers, |sources| {
        distill_image::assemble_with(&plan, sources, &progress, &attach).context("Build failed")
    })?;
    if let Some(f) = report_file {
        f.write(&report)?;
    }
    if let Some(dir) = &args.sbom {
        super::sbom::write_dir(dir, &report)?;
    }
    tracing::info!(
        files = report.files,
        packages = report.packages,
        "built {}",
        report.digest()
    );
    super::report(&report, quiet);
    println!("{}", report.digest());
    Ok(())
}

/// `SOURCE_DATE_EPOCH` (reproducible-builds.org): the build's only clock. 0 when unset.
pub fn source_date_epoch() -> miette::Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Err(_) => Ok(0),
        Ok(v) if v.trim().is_empty() => Ok(0),
        Ok(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|t| *t <= distill_oci::image::MAX_EPOCH)
            .ok_or_else(|| {
                crate::ui::Hinted::report(
                    format!(
                        "SOURCE_DATE_EPOCH=`{v}` is not a number of seconds up to the year 9999"
                    ),
                    "set it to a Unix time, such as $(git log -1 --format=%ct), or unset it",
                )
            }),
    }
}
