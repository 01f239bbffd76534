//! Executes a [`BuildPlan`]: layers into a staging blob store, then the image, then every
//! output, written atomically.
//!
//! Outputs are opened before any layer is written, so an unwritable destination costs no
//! work; the staging store is a temporary directory removed on every exit path.

use distill_app::FilesError;
use distill_oci::image::{ImageLayer, finish, write_image};
use distill_oci::layer::write_layer;
use distill_oci::{
    BlobStore, BlobStoreError, Built, Digest, ImageError, ImageSpec, LayerError, SinkError, Staged,
};

use crate::plan::BuildPlan;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Blob(#[from] BlobStoreError),
    #[error("Cannot create a staging directory in {dir}: {source}")]
    Staging {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl BuildError {
    pub fn hint(&self) -> Option<String> {
        match self {
            BuildError::Files(e) => e.hint(),
            BuildError::Sink(e) => e.hint(),
            BuildError::Staging { .. } => Some("set TMPDIR to a writable directory".into()),
            _ => None,
        }
    }
}

/// Progress reports, so the binary can draw them as it likes.
pub trait Progress {
    fn step(&self, message: &str);
}

/// What a finished build reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub built: Built,
    pub files: usize,
}

impl Report {
    pub fn digest(&self) -> &Digest {
        self.built.digest()
    }
}

/// Builds the plan's image and writes it to every output.
pub fn build(plan: &BuildPlan, progress: &dyn Progress) -> Result<Report, BuildError> {
    let mut outputs = plan
        .outputs
        .iter()
        .map(Staged::open)
        .collect::<Result<Vec<_>, _>>()?;

    let tmp = std::env::temp_dir();
    let staging = tempfile::Builder::new()
        .prefix("distill-build-")
        .tempdir_in(&tmp)
        .map_err(|source| BuildError::Staging { dir: tmp, source })?;
    let _cleanup = distill_oci::cleanup::Registered::new(staging.path());
    let store = BlobStore::create(staging.path())?;

    progress.step("collecting files");
    let entries = distill_app::collect(&plan.files)?;
    let files = entries.len();
    progress.step(&format!("writing the files layer ({files} entries)"));
    let layer = write_layer(&store, plan.compression, plan.epoch, entries)?;
    tracing::info!(digest = %layer.digest, size = layer.size, "files layer");
    let layers = [ImageLayer {
        layer,
        created_by: "distill: [[files]]".into(),
    }];

    let images = plan
        .platforms
        .iter()
        .map(|p| {
            let spec = ImageSpec {
                platform: Some(p.clone()),
                ..plan.image.clone()
            };
            write_image(&store, &spec, &layers)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let built = finish(&store, images)?;

    for out in &mut outputs {
        progress.step("writing output");
        out.write(&store, &built, plan.epoch)?;
    }
    for out in outputs {
        out.commit()?;
    }
    Ok(Report { built, files })
}
