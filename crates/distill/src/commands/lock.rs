//! `distill lock`: resolve `[packages]` and write distill.lock beside the config.

use anyhow::Context;
use distill_apt::fetch::{Cache, HttpFetcher};
use distill_image::{Sources, plan, write_lock};

use super::build::{Common, options};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
}

pub fn run(args: Args, quiet: bool) -> anyhow::Result<()> {
    let opts = options(args.common, Vec::new(), false)?;
    let plan = plan(&opts).context("Invalid configuration")?;
    let cache = Cache::new(Cache::default_root());
    let fetcher = HttpFetcher::new();
    let sources = Sources {
        cache: &cache,
        fetcher: &fetcher,
    };
    let path = write_lock(&plan, &sources, &crate::ui::Bars::new(quiet)).context("Lock failed")?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
