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

/// The build report on stderr (stdout carries only the digest): what went in, and what the
/// exclusions kept out.
pub fn report(report: &distill_image::build::Report, quiet: bool) {
    if quiet {
        return;
    }
    eprintln!(
        "built {}: {} Debian packages, {} files of yours",
        report.digest(),
        report.packages,
        report.files
    );
    if !report.excluded.is_empty() {
        eprintln!("kept out: {}", report.excluded.join(" "));
    }
}
