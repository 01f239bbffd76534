//! Executes a [`BuildPlan`]: layers into a staging blob store, then the image, then every
//! output, written atomically.
//!
//! Outputs are opened before any layer is written, so an unwritable destination costs no
//! work; the staging store is a temporary directory removed on every exit path.

use distill_app::FilesError;
use distill_oci::image::{ImageLayer, finish, write_image};
use distill_oci::layer::write_layer;
use distill_oci::{
    BlobStore, BlobStoreError, Built, Digest, ImageError, ImageSpec, LayerError, Outputs, SinkError,
};

pub use distill_apt::install::Progress;

use crate::packages::{self, PackagesError, Sources};
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
    #[error(transparent)]
    Packages(#[from] PackagesError),
    #[error("Cannot write {path}: {source}")]
    WriteLock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
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
            BuildError::Packages(e) => e.hint(),
            BuildError::Staging { .. } => Some("set TMPDIR to a writable directory".into()),
            _ => None,
        }
    }
}

/// What a finished build reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub built: Built,
    pub files: usize,
    /// Debian packages installed, per platform.
    pub packages: usize,
    /// What each registry output's push did.
    pub pushed: Vec<distill_oci::registry::PushReport>,
}

impl Report {
    pub fn digest(&self) -> &Digest {
        self.built.digest()
    }
}

/// Builds the plan's image and writes it to every output.
pub fn build(
    plan: &BuildPlan,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<Report, BuildError> {
    let outputs = Outputs::open(&plan.outputs, &plan.registry)?;

    let tmp = std::env::temp_dir();
    let staging = tempfile::Builder::new()
        .prefix("distill-build-")
        .tempdir_in(&tmp)
        .map_err(|source| BuildError::Staging { dir: tmp, source })?;
    let _cleanup = distill_oci::cleanup::Registered::new(staging.path());
    let store = BlobStore::create(staging.path().join("layout"))?;

    // Local files first: a missing one fails the build before any network work.
    progress.start("collecting files", 0);
    let entries = distill_app::collect(&plan.files)?;
    let files = entries.len();
    let files_layer = if entries.is_empty() {
        None
    } else {
        let layer = write_layer(&store, plan.compression, plan.epoch, entries)?;
        tracing::info!(digest = %layer.digest, size = layer.size, "files layer");
        Some(ImageLayer {
            layer,
            created_by: "distill: [[files]]".into(),
        })
    };
    progress.finish();

    let lock = if plan.debian.include.is_empty() {
        None
    } else {
        Some(packages::packages_for(
            &plan.debian,
            &plan.platforms,
            sources,
            progress,
        )?)
    };

    let mut images = Vec::new();
    let mut package_count = 0;
    for (i, p) in plan.platforms.iter().enumerate() {
        let mut layers = Vec::new();
        if let Some(lock) = &lock {
            let pinned = &lock
                .platform(&p.to_string())
                .expect("the lock covers every platform: checked when it was read")
                .packages;
            let stage = staging.path().join(format!("stage-{i}"));
            let (entries, installed) =
                packages::entries(pinned, &p.architecture, &stage, sources, progress)?;
            package_count = installed.len();
            progress.start(&format!("writing the packages layer for {p}"), 0);
            let layer = write_layer(&store, plan.compression, plan.epoch, entries)?;
            progress.finish();
            let _ = std::fs::remove_dir_all(&stage);
            layers.push(ImageLayer {
                layer,
                created_by: format!("distill: debian packages {}", plan.debian.include.join(" ")),
            });
        }
        layers.extend(files_layer.clone());
        let spec = ImageSpec {
            platform: Some(p.clone()),
            ..plan.image.clone()
        };
        images.push(write_image(&store, &spec, &layers)?);
    }
    let built = finish(&store, images)?;

    progress.start("writing outputs", 0);
    let pushed = outputs.finish(&store, &built, plan.epoch)?;
    progress.finish();
    Ok(Report {
        built,
        files,
        packages: package_count,
        pushed,
    })
}

/// Resolves the plan's packages and writes `distill.lock` atomically beside the config.
pub fn write_lock(
    plan: &BuildPlan,
    sources: &Sources,
    progress: &dyn Progress,
) -> Result<std::path::PathBuf, BuildError> {
    let lock = packages::lock(&plan.debian, &plan.platforms, sources, progress)?;
    let path = plan.debian.lockfile.clone();
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let err = |source| BuildError::WriteLock {
        path: path.clone(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".distill.lock.")
        .tempfile_in(dir)
        .map_err(err)?;
    std::io::Write::write_all(&mut tmp, lock.to_toml().as_bytes()).map_err(err)?;
    tmp.persist(&path).map_err(|e| err(e.error))?;
    Ok(path)
}
