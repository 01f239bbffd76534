//! `distill push SRC DEST` and `distill pull docker://REF --output DEST...`: copy an image.

use crate::ui::Context;
use distill_oci::Address;
use distill_oci::copy::copy;

use super::args::RegistryArgs;
use super::build::source_date_epoch;

#[derive(clap::Args)]
pub struct PushArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE or docker://REF.
    src: Address,
    /// Where to: docker://HOST/REPO:TAG, or any output form.
    dest: Address,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    sign: super::args::SignArgs,
    /// Print a JSON report (digest, blobs uploaded, present and mounted, bytes sent).
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct PullArgs {
    /// The image: docker://HOST/REPO[:TAG][@DIGEST].
    src: Address,
    /// Where to write it. Repeat for several outputs.
    #[arg(short, long = "output", required = true, value_name = "DEST")]
    output: Vec<Address>,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn push(args: PushArgs) -> miette::Result<()> {
    let key = args.sign.key()?;
    let (digest, pushed) = distill_oci::copy::copy_with(
        &args.src,
        std::slice::from_ref(&args.dest),
        &args.registry.options([&args.src, &args.dest]),
        source_date_epoch()?,
        &|loaded, reference| match &key {
            Some(k) => super::sign::for_push(k, loaded, reference),
            None => Vec::new(),
        },
    )
    .with_context(|| format!("Push of {} to {} failed", args.src, args.dest))?;
    if args.json {
        let report = pushed.into_iter().next().unwrap_or_default();
        println!(
            "{}",
            serde_json::json!({
                "digest": digest.to_string(),
                "blobs_uploaded": report.blobs_uploaded,
                "blobs_present": report.blobs_present,
                "blobs_mounted": report.blobs_mounted,
                "bytes_sent": report.bytes_sent,
            })
        );
    } else {
        println!("{digest}");
    }
    Ok(())
}

pub fn pull(args: PullArgs) -> miette::Result<()> {
    if !matches!(args.src, Address::Registry { .. }) {
        return Err(crate::ui::Hinted::report(
            format!("{} is not a registry reference", args.src),
            "pull takes docker://HOST/REPO:TAG; to copy local images use `distill push`",
        ));
    }
    let (digest, _) = copy(
        &args.src,
        &args.output,
        &args
            .registry
            .options(std::iter::once(&args.src).chain(&args.output)),
        source_date_epoch()?,
    )
    .with_context(|| format!("Pull of {} failed", args.src))?;
    println!("{digest}");
    Ok(())
}
