//! One module per verb of the command line.

pub mod args;
pub mod base;
pub mod build;
pub mod inspect;
pub mod keygen;
pub mod load;
pub mod lock;
pub mod migrate;
pub mod push;
pub mod sbom;
pub mod sign;

use std::path::{Path, PathBuf};

/// Runs `f` with the real package sources: the user's download cache, the network and the
/// host's apt configuration. `allow_downgrade` lets an older Release than seen be used;
/// `layers` is the layer cache (off, local, or shared through a cache repository).
pub fn with_sources<T>(
    allow_downgrade: bool,
    layers: distill_image::layercache::LayerCache,
    f: impl FnOnce(&distill_image::Sources) -> T,
) -> T {
    let cache = distill_apt::fetch::Cache::new(distill_apt::fetch::Cache::default_root())
        .allow_downgrade(allow_downgrade);
    let fetcher = distill_apt::fetch::HttpFetcher::new();
    let mut sources = distill_image::Sources::host(&cache, &fetcher);
    sources.layers = layers;
    f(&sources)
}

/// The build report on stderr (stdout carries only the digest): what went in, and what the
/// exclusions kept out.
pub fn report(report: &distill_image::Report, quiet: bool) {
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

/// `--report FILE`, written atomically once the build succeeds.
pub struct ReportFile {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
}

impl ReportFile {
    pub fn open(path: &Path) -> miette::Result<Self> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        distill_oci::cleanup::sweep(dir, ".distill-report-");
        let tmp = tempfile::Builder::new()
            .prefix(&distill_oci::cleanup::owned_prefix(".distill-report-"))
            .tempfile_in(dir)
            .map_err(|e| {
                crate::ui::Hinted::report(
                    format!("Cannot write the report {}: {e}", path.display()),
                    "pass --report a path in a writable directory that exists",
                )
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
        })
    }

    /// Writes the report; the temporary file that proved the directory writable goes.
    pub fn write(self, report: &distill_image::Report) -> miette::Result<()> {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        drop(self.tmp);
        sbom::write_atomic(&self.path, format!("{text}\n").as_bytes())
    }
}
