//! Signatures and attestations: `--sign-key` on build and push, `distill verify` and
//! `distill attestations`.

use std::path::PathBuf;

use crate::ui::Context;
use distill_oci::Address;
use distill_oci::registry::attach::Attachment;
use distill_sign::image::{Predicate, Subject};

use super::args::RegistryArgs;

/// The SPDX and CycloneDX predicate types of in-toto attestations.
const SPDX_PREDICATE: &str = "https://spdx.dev/Document";
const CYCLONEDX_PREDICATE: &str = "https://cyclonedx.org/bom";

fn predicates(docs: &[distill_sbom::model::Document]) -> Vec<Predicate> {
    docs.iter()
        .flat_map(|d| {
            [
                Predicate {
                    predicate_type: SPDX_PREDICATE.into(),
                    predicate: distill_sbom::spdx::write(d),
                },
                Predicate {
                    predicate_type: CYCLONEDX_PREDICATE.into(),
                    predicate: distill_sbom::cyclonedx::write(d),
                },
            ]
        })
        .collect()
}

fn repository(r: &distill_core::Reference) -> String {
    format!("{}/{}", r.host, r.repository)
}

fn subject<'a>(built: &'a distill_oci::Built, reference: &distill_core::Reference) -> Subject<'a> {
    let (media_type, digest, size) = built.root();
    Subject {
        repository: repository(reference),
        media_type,
        digest,
        size,
    }
}

/// What a build attaches: the signature, its SBOMs and its provenance.
pub fn for_build(
    key: &distill_sign::PrivateKey,
    report: &distill_image::Report,
    reference: &distill_core::Reference,
) -> Vec<Attachment> {
    let subject = subject(&report.built, reference);
    let docs: Vec<_> = (0..report.built.images.len())
        .map(|i| report.sbom(i))
        .collect();
    let mut preds = predicates(&docs);
    preds.push(Predicate {
        predicate_type: distill_image::provenance::PREDICATE_TYPE.into(),
        predicate: distill_image::provenance::predicate(report),
    });
    distill_sign::image::attachments(key, &subject, &preds)
}

/// What a push attaches: the signature and the SBOMs read from the image.
pub fn for_push(
    key: &distill_sign::PrivateKey,
    loaded: &distill_oci::Loaded,
    reference: &distill_core::Reference,
) -> Vec<Attachment> {
    let subject = subject(&loaded.built, reference);
    let name = repository(reference);
    let docs: Vec<_> = loaded
        .built
        .images
        .iter()
        .filter_map(|img| distill_sbom::scan::document(&loaded.store, img, &name).ok())
        .collect();
    distill_sign::image::attachments(key, &subject, &predicates(&docs))
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The image: docker://HOST/REPO:TAG or docker://HOST/REPO@DIGEST.
    src: Address,
    /// The public key (a `.pub` file from `distill keygen` or cosign).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(clap::Args)]
pub struct AttestationsArgs {
    /// The image: docker://HOST/REPO:TAG or docker://HOST/REPO@DIGEST.
    src: Address,
    /// Print every attestation's statement as JSON lines, not a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Connects to the image's registry and reads what is attached to its digest.
fn attached(
    src: &Address,
    registry: &RegistryArgs,
) -> miette::Result<distill_sign::image::Attached> {
    let Address::Registry { reference } = src else {
        return Err(crate::ui::Hinted::report(
            format!("{src} is not a registry reference"),
            "signatures and attestations live in registries: give docker://HOST/REPO:TAG",
        ));
    };
    let what = || format!("Cannot read what is attached to {src}");
    let r: distill_core::Reference = reference.parse().with_context(what)?;
    let client =
        distill_oci::registry::Client::connect(&r, &registry.options([src])).with_context(what)?;
    let digest = match r.digest.clone() {
        Some(d) => d,
        None => {
            let target = r.tag.clone().unwrap_or_else(|| "latest".into());
            client.get_manifest(&target).with_context(what)?.2
        }
    };
    distill_sign::image::read(&client, &digest).with_context(what)
}

pub fn verify(args: VerifyArgs) -> miette::Result<()> {
    let key = distill_sign::PublicKey::read(&args.key).context("Cannot verify")?;
    let attached = attached(&args.src, &args.registry)?;
    let good = attached
        .verify(&key, &args.key.display().to_string())
        .with_context(|| format!("Verification of {} failed", args.src))?;
    eprintln!(
        "verified {}: {good} signature(s), {} attestation(s)",
        attached.image,
        attached.attestations.len()
    );
    println!("{}", attached.image);
    Ok(())
}

pub fn attestations(args: AttestationsArgs) -> miette::Result<()> {
    let attached = attached(&args.src, &args.registry)?;
    for a in &attached.attestations {
        if args.json {
            let line = serde_json::json!({
                "artifact": a.artifact,
                "predicate_type": a.predicate_type,
                "subject": a.manifest_subject,
                "statement": a.statement(),
            });
            println!("{line}");
        } else {
            println!("{}  {}", a.artifact, a.predicate_type);
        }
    }
    Ok(())
}
