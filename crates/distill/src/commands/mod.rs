//! One module per verb of the command line.

pub mod base;
pub mod build;
pub mod lock;
pub mod push;

/// Runs `f` with the real package sources: the user's download cache and the network.
pub fn with_sources<T>(f: impl FnOnce(&distill_image::Sources) -> T) -> T {
    let cache = distill_apt::fetch::Cache::new(distill_apt::fetch::Cache::default_root());
    let fetcher = distill_apt::fetch::HttpFetcher::new();
    f(&distill_image::Sources {
        cache: &cache,
        fetcher: &fetcher,
    })
}
