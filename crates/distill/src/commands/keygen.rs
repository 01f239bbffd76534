//! `distill keygen [PREFIX]`: an ECDSA P-256 key pair in cosign's files, for `--sign-key`
//! and `verify --key` (and for cosign and skopeo, which read the same files).

use std::path::PathBuf;

use crate::ui::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Writes PREFIX.key (encrypted with DISTILL_KEY_PASSWORD) and PREFIX.pub.
    #[arg(default_value = "distill")]
    prefix: PathBuf,
}

pub fn run(args: Args) -> miette::Result<()> {
    let password = distill_sign::password_from_env().context("Cannot write a key pair")?;
    let (private, public) =
        distill_sign::keygen(&args.prefix, &password).context("Cannot write a key pair")?;
    eprintln!(
        "wrote {} (private, keep it secret) and {} (public)",
        private.display(),
        public.display()
    );
    Ok(())
}
