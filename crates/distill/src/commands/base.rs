//! `distill base NAME`: a member of the distroless family, as an image of its own.

use crate::ui::Context;
use distill_core::{FamilyMember, Platform, Release};
use distill_image::assemble;
use distill_image::plan::Variant;
use distill_oci::Address;

use super::args::RegistryArgs;
use super::build::source_date_epoch;

/// The variants distroless publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum VariantArg {
    /// uid 65532, workdir /home/nonroot.
    Nonroot,
    /// root.
    Latest,
    /// busybox under /busybox, its shell as the entrypoint, as root.
    Debug,
    /// busybox, as uid 65532.
    DebugNonroot,
}

#[derive(clap::Args)]
pub struct Args {
    /// The member of the family: static, base-nossl, base, cc, python3, java, nodejs22,
    /// nodejs24, nodejs26, or any other Node major from nodejs4 to nodejs25.
    name: FamilyMember,
    /// The Debian release: 12 (bookworm) or 13 (trixie).
    #[arg(long, default_value = "13", value_parser = parse_release)]
    debian: Release,
    /// Who the image runs as, and whether it carries a busybox shell.
    #[arg(long, value_enum, default_value = "nonroot")]
    variant: VariantArg,
    /// Platforms, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "OS/ARCH")]
    platform: Option<Vec<Platform>>,
    /// Where to write the image. Repeat for several outputs.
    #[arg(short, long = "output", required = true, value_name = "DEST")]
    output: Vec<Address>,
    /// The Debian archive to use instead of the one in the host's apt sources.
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
    /// Use a Release older than one this cache has seen for its suite.
    #[arg(long = "allow-downgrade")]
    allow_downgrade: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    cache: super::args::CacheArgs,
}

fn parse_release(s: &str) -> Result<Release, String> {
    s.parse()
        .map_err(|e: distill_core::release::UnknownRelease| e.to_string())
}

pub fn run(args: Args, quiet: bool) -> miette::Result<()> {
    let variant = Variant {
        nonroot: matches!(args.variant, VariantArg::Nonroot | VariantArg::DebugNonroot),
        debug: matches!(args.variant, VariantArg::Debug | VariantArg::DebugNonroot),
        explicit: true,
    };
    let registry = args
        .registry
        .options(args.output.iter().chain(&args.cache.cache_repo));
    let layers = args.cache.layers(&registry)?;
    let opts = distill_image::Options {
        context: ".".into(),
        outputs: args.output,
        platforms: args.platform,
        epoch: source_date_epoch()?,
        mirror: args.mirror,
        registry,
        ..Default::default()
    };
    let plan = distill_image::plan::member(args.name, args.debian, variant, &opts)
        .context("Invalid arguments")?;
    let report = super::with_sources(args.allow_downgrade, layers, |sources| {
        assemble(&plan, sources, &crate::ui::Bars::new(quiet)).context("Build failed")
    })?;
    super::report(&report, quiet);
    println!("{}", report.digest());
    Ok(())
}
