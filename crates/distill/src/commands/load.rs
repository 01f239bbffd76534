//! Reading any image for the commands that look into one (`sbom`, `inspect`, `diff`): its
//! blobs staged in a temporary directory that is removed when the command ends, and one
//! platform of it chosen.

use distill_oci::transport::Loaded;
use distill_oci::{Address, BuiltImage};

use super::args::RegistryArgs;
use crate::ui::Context;

/// A loaded image and the staging directory holding its blobs.
pub struct Opened {
    pub loaded: Loaded,
    _staging: tempfile::TempDir,
}

/// Loads `src` (registry credentials for the hosts of `named`), with `prefix` naming its
/// staging directory; `what` says what the loading was for in an error.
pub fn open(
    src: &Address,
    named: &[&Address],
    registry: &RegistryArgs,
    prefix: &str,
    what: impl Fn() -> String,
) -> miette::Result<Opened> {
    distill_oci::cleanup::sweep(&std::env::temp_dir(), prefix);
    let staging = tempfile::Builder::new()
        .prefix(&distill_oci::cleanup::owned_prefix(prefix))
        .tempdir()
        .map_err(|e| {
            crate::ui::Hinted::report(
                format!("Cannot create a staging directory: {e}"),
                "set TMPDIR to a writable directory",
            )
        })?;
    let loaded = distill_oci::copy::load(
        src,
        &registry.options(named.iter().copied()),
        staging.path(),
    )
    .with_context(what)?;
    Ok(Opened {
        loaded,
        _staging: staging,
    })
}

impl Opened {
    /// The image for `platform` (`os/arch`), or the first.
    pub fn image(&self, src: &Address, platform: Option<&str>) -> miette::Result<&BuiltImage> {
        let images = &self.loaded.built.images;
        match platform {
            None => Ok(&images[0]),
            Some(p) => images
                .iter()
                .find(|i| i.platform.to_string() == p)
                .ok_or_else(|| {
                    let have: Vec<String> = images.iter().map(|i| i.platform.to_string()).collect();
                    crate::ui::Hinted::report(
                        format!("{src} has no image for {p}"),
                        &format!("pass one of: {}", have.join(", ")),
                    )
                }),
        }
    }
}
