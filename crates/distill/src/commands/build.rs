//! `distill build`: plan from config and flags, build, print the digest.

use std::path::PathBuf;

use anyhow::Context;
use distill_image::{Options, build, plan};
use distill_oci::{Compression, Destination, Platform};

#[derive(clap::Args)]
pub struct Args {
    /// The build context: the directory `[[files]] src` paths are relative to.
    #[arg(default_value = ".")]
    context: PathBuf,
    /// The config file [default: CONTEXT/distill.toml].
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Where to write the image: oci:DIR[:TAG], oci-archive:FILE[:TAG] or
    /// docker-archive:FILE[:NAME:TAG]. Repeat for several outputs.
    #[arg(short, long = "output", required = true, value_name = "DEST")]
    output: Vec<Destination>,
    /// Platforms to build, comma-separated, such as linux/amd64,linux/arm64.
    #[arg(long, value_delimiter = ',', value_name = "OS/ARCH")]
    platform: Option<Vec<Platform>>,
    /// Layer compression: gzip (default) or zstd.
    #[arg(long)]
    compression: Option<Compression>,
}

pub fn run(args: Args, quiet: bool) -> anyhow::Result<()> {
    let epoch = source_date_epoch()?;
    let opts = Options {
        context: args.context,
        config: args.file,
        outputs: args.output,
        platforms: args.platform,
        compression: args.compression,
        epoch,
    };
    let plan = plan(&opts).context("Invalid build configuration")?;
    let progress = crate::ui::Spinner::new(quiet);
    let report = build(&plan, &progress).context("Build failed")?;
    progress.finish();
    tracing::info!(files = report.files, "built {}", report.digest());
    println!("{}", report.digest());
    Ok(())
}

/// `SOURCE_DATE_EPOCH` (reproducible-builds.org): the build's only clock. 0 when unset.
fn source_date_epoch() -> anyhow::Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Err(_) => Ok(0),
        Ok(v) if v.trim().is_empty() => Ok(0),
        Ok(v) => v.trim().parse().map_err(|_| {
            anyhow::anyhow!(crate::ui::Hinted {
                message: format!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds"),
                hint: "set it to a Unix time, such as $(git log -1 --format=%ct), or unset it"
                    .into(),
            })
        }),
    }
}
