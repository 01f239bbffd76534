//! One module per verb of the command line.

pub mod args;
pub mod base;
pub mod build;
pub mod keygen;
pub mod lock;
pub mod push;
pub mod sbom;
pub mod sign;

use std::path::{Path, PathBuf};

/// Runs `f` with the real package sources: the user's download cache, the network and the
/// host's apt configuration.
pub fn with_sources<T>(f: impl FnOnce(&distill_image::Sources) -> T) -> T {
    let cache = distill_apt::fetch::Cache::new(distill_apt::fetch::Cache::default_root());
    let fetcher = distill_apt::fetch::HttpFetcher::new();
    f(&distill_image::Sources::host(&cache, &fetcher))
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
        let tmp = tempfile::Builder::new()
            .prefix(".distill-report-")
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

    pub fn write(mut self, report: &distill_image::Report) -> miette::Result<()> {
        let fail = |e: std::io::Error| {
            crate::ui::Hinted::report(
                format!("Cannot write the report {}: {e}", self.path.display()),
                "check that the disk has room",
            )
        };
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        std::io::Write::write_all(&mut self.tmp, format!("{text}\n").as_bytes()).map_err(fail)?;
        use std::os::unix::fs::PermissionsExt;
        self.tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
        let path = self.path.clone();
        self.tmp.persist(&path).map_err(|e| fail(e.error)).map(drop)
    }
}
