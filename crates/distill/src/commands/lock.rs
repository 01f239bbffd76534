//! `distill lock`: resolve `[packages]` and write distill.lock beside the config.

use crate::ui::Context;
use distill_image::{plan, write_lock};

use super::build::{Common, options};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
}

pub fn run(args: Args, quiet: bool) -> miette::Result<()> {
    let allow_downgrade = args.common.allow_downgrade;
    let opts = options(args.common, Vec::new(), false)?;
    let plan = plan(&opts).context("Invalid configuration")?;
    let path = super::with_sources(allow_downgrade, Default::default(), |sources| {
        write_lock(&plan, sources, &crate::ui::Bars::new(quiet)).context("Lock failed")
    })?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
