//! Flags several commands share: how to reach registries, and the signing key.

use std::path::PathBuf;

use crate::ui::Context;

/// How to reach registries.
#[derive(clap::Args, Default)]
pub struct RegistryArgs {
    /// A PEM file of CA certificates to trust for registries, beside the system roots.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
    /// A registry that may be reached over plain HTTP (loopback registries always may).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Upload blobs larger than this many bytes in chunks of this size (default 64 MiB),
    /// for proxies that limit request sizes.
    #[arg(long = "chunk-size", value_name = "BYTES")]
    pub chunk_size: Option<u64>,
}

impl RegistryArgs {
    /// The options for a command whose command line names `addresses`: their registries
    /// are the ones the environment's credentials are for (a config's `base` is not).
    pub fn options<'a>(
        &self,
        addresses: impl IntoIterator<Item = &'a distill_oci::Address>,
    ) -> distill_oci::registry::RegistryOptions {
        let named_hosts = addresses
            .into_iter()
            .filter_map(|a| match a {
                distill_oci::Address::Registry { reference } => {
                    reference.parse::<distill_core::Reference>().ok()
                }
                _ => None,
            })
            .map(|r| r.host)
            .collect();
        distill_oci::registry::RegistryOptions {
            ca_certs: self.ca_cert.clone(),
            insecure: self.insecure_registry.clone(),
            chunk_size: self.chunk_size.unwrap_or(0),
            named_hosts,
        }
    }
}

/// `--sign-key FILE`, for build and push.
#[derive(clap::Args, Default)]
pub struct SignArgs {
    /// Sign what is pushed to registries with this private key (cosign's format, the
    /// password in DISTILL_KEY_PASSWORD), and attach its SBOMs (and a build's provenance)
    /// as signed attestations.
    #[arg(long = "sign-key", value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
}

impl SignArgs {
    /// The key, read and decrypted before any work.
    pub fn key(&self) -> miette::Result<Option<distill_sign::PrivateKey>> {
        let Some(path) = &self.sign_key else {
            return Ok(None);
        };
        let password = distill_sign::password_from_env().context("Cannot read the signing key")?;
        distill_sign::PrivateKey::read(path, &password)
            .context("Cannot read the signing key")
            .map(Some)
    }
}
