//! `distill migrate`: a Dockerfile's final stage as the distill.toml that builds the same
//! image, on stdout; its notes on stderr.

use std::path::PathBuf;

use crate::ui::Context;

#[derive(clap::Args)]
pub struct Args {
    /// The Dockerfile.
    #[arg(default_value = "Dockerfile")]
    pub dockerfile: PathBuf,
    /// The build context its COPY lines read [default: the Dockerfile's directory].
    pub context: Option<PathBuf>,
    /// A build argument, NAME=VALUE (repeatable), for its ARG lines.
    #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = super::build::parse_build_arg)]
    pub build_arg: Vec<(String, String)>,
    /// The stage to translate instead of the last.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
}

pub fn run(args: Args, quiet: bool) -> miette::Result<()> {
    let context = args.context.unwrap_or_else(|| {
        args.dockerfile
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
    });
    let opts = distill_image::dockerfile::Options {
        context,
        build_args: args.build_arg.into_iter().collect(),
        target: args.target,
    };
    let migration = distill_image::dockerfile::load(&args.dockerfile, &opts)
        .context("Cannot translate the Dockerfile")?;
    for note in migration.notes.iter().filter(|_| !quiet) {
        eprintln!("note: {note}");
    }
    print!("{}", migration.toml);
    Ok(())
}
