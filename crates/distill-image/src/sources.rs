//! Where packages come from: the download cache (and the layer cache in it) and the network (a [`Fetcher`], which tests
//! replace with one serving fixtures from memory), and the suites a plan draws from, each
//! with the keyring it is trusted with.

use std::path::Path;
use std::sync::Arc;

use distill_apt::debian::Mirrors;
use distill_apt::fetch::{Cache, Fetcher};
use distill_apt::repo::Suite;
use distill_apt::trust::{HOST_DEBIAN_KEYRING, Keyring};

use crate::layercache::LayerCache;
use crate::plan::DebianPlan;

/// The cache and the network.
pub struct Sources<'a> {
    pub cache: &'a Cache,
    pub fetcher: &'a dyn Fetcher,
    /// The host's apt configuration, where the default mirror and its keyring come from.
    pub apt_dir: &'a Path,
    /// The host's Debian archive keyring, the second choice after a `Signed-By`.
    pub host_keyring: &'a Path,
    /// Whether finished layers are kept in (and taken from) the cache.
    pub layers: LayerCache,
}

/// The host's apt configuration.
pub(crate) const APT_DIR: &str = "/etc/apt";

impl<'a> Sources<'a> {
    /// The cache and the network, with the host's apt configuration.
    pub fn host(cache: &'a Cache, fetcher: &'a dyn Fetcher) -> Self {
        Self {
            cache,
            fetcher,
            apt_dir: Path::new(APT_DIR),
            host_keyring: Path::new(HOST_DEBIAN_KEYRING),
            layers: LayerCache::new(),
        }
    }
}

/// Why the suites of a plan cannot be set up.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SourcesError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Debian(#[from] distill_apt::debian::DebianError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Trust(#[from] distill_apt::trust::TrustError),
}

/// Every suite the plan draws packages from, each with the keys it is trusted with.
pub fn suites(plan: &DebianPlan, sources: &Sources) -> Result<Vec<Suite>, SourcesError> {
    let mirrors = Mirrors::find(plan.mirror.as_deref(), sources.apt_dir)?;
    let keyrings = mirrors.keyrings(plan.keyring.as_deref(), sources.host_keyring)?;
    let mut out = mirrors.suites(plan.release, &keyrings);
    for r in &plan.repositories {
        let keyring = Arc::new(match &r.keyring {
            Some(k) => Keyring::load(k)?,
            None => Keyring::default(),
        });
        for s in &r.suites {
            out.push(Suite {
                uri: r.uri.clone(),
                suite: s.clone(),
                components: r.components.clone(),
                keyring: keyring.clone(),
                signed: r.signed,
            });
        }
    }
    Ok(out)
}
