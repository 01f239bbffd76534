//! `distill base NAME`: a member of the distroless family, as an image of its own.

use anyhow::Context;
use distill_image::build;
use distill_image::config::{Config, Source};
use distill_oci::{Destination, Platform};

use super::build::{RegistryArgs, source_date_epoch};

#[derive(clap::Args)]
pub struct Args {
    /// static, base-nossl, base, cc, python3, java, nodejs22, nodejs24 or nodejs26.
    name: String,
    /// The Debian release: 12 (bookworm) or 13 (trixie).
    #[arg(long, default_value = "13")]
    debian: String,
    /// nonroot (the default: uid 65532, workdir /home/nonroot), latest (root), debug or
    /// debug-nonroot (busybox under /busybox, its shell as the entrypoint).
    #[arg(long, default_value = "nonroot")]
    variant: String,
    /// Platforms, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "OS/ARCH")]
    platform: Option<Vec<Platform>>,
    /// Where to write the image. Repeat for several outputs.
    #[arg(short, long = "output", required = true, value_name = "DEST")]
    output: Vec<Destination>,
    /// The Debian archive to use instead of the one in the host's apt sources.
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(args: Args, quiet: bool) -> anyhow::Result<()> {
    // The same recipe as `base = "NAME"` in distill.toml: one path through the planner.
    let text = format!(
        "[image]\nbase = {:?}\ndebian = {:?}\nvariant = {:?}\n",
        args.name, args.debian, args.variant
    );
    let source = Source {
        path: "distill base".into(),
        text,
    };
    let config = Config::parse(&source).context("Invalid arguments")?;
    let opts = distill_image::Options {
        context: ".".into(),
        config: None,
        outputs: args.output,
        platforms: args.platform,
        compression: None,
        epoch: source_date_epoch()?,
        mirror: args.mirror,
        locked: false,
        registry: args.registry.options(),
        include_lib: Vec::new(),
        entrypoint: None,
        cmd: None,
        use_node_modules: false,
    };
    let plan =
        distill_image::plan::plan_from(config, &source, &opts).context("Invalid arguments")?;
    let report = super::with_sources(|sources| {
        build(&plan, sources, &crate::ui::Bars::new(quiet)).context("Build failed")
    })?;
    super::report(&report, quiet);
    println!("{}", report.digest());
    Ok(())
}
