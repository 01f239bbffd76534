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

/// The layer cache, for build and base.
#[derive(clap::Args, Default)]
pub struct CacheArgs {
    /// Make every layer anew, and keep none in the layer cache (downloads stay cached).
    #[arg(long = "no-cache", conflicts_with = "cache_repo")]
    pub no_cache: bool,
    /// A registry repository that shares the layer cache between machines (CI runners):
    /// layers this machine lacks are pulled from it, and layers it makes are pushed to it.
    #[arg(long = "cache-repo", value_name = "docker://HOST/REPO")]
    pub cache_repo: Option<distill_oci::Address>,
}

impl CacheArgs {
    /// The layer cache these flags ask for; a cache repository is connected now, so that a
    /// wrong address or password fails before any work.
    pub fn layers(
        &self,
        opts: &distill_oci::registry::RegistryOptions,
    ) -> miette::Result<distill_image::layercache::LayerCache> {
        use distill_image::layercache::{LayerCache, Remote};
        if self.no_cache {
            return Ok(LayerCache::disabled());
        }
        let Some(address) = &self.cache_repo else {
            return Ok(LayerCache::new());
        };
        let hint = "name a repository, as in --cache-repo docker://HOST/team/cache: distill tags its entries by their keys";
        let distill_oci::Address::Registry { reference } = address else {
            return Err(crate::ui::Hinted::report(
                format!("--cache-repo {address}: the cache repository must be a docker:// address"),
                hint,
            ));
        };
        use crate::ui::Context as _;
        let r: distill_core::Reference = reference.parse().context("Invalid --cache-repo")?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(crate::ui::Hinted::report(
                format!("--cache-repo {address}: a cache repository takes no tag or digest"),
                hint,
            ));
        }
        let client = distill_oci::registry::Client::connect(&r, opts)
            .with_context(|| format!("Cannot reach the cache repository {address}"))?;
        Ok(LayerCache::new().with_remote(Remote::new(client)))
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
