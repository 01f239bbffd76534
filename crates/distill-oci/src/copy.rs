//! Copying an image from any source to any destinations: `distill push` and `distill pull`.

use crate::digest::Digest;
use crate::outputs::Outputs;
use crate::registry::RegistryOptions;
use crate::registry::attach::Attachment;
use crate::transport::{Address, PushReport, SinkError, Source, SourceError};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CopyError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sink(#[from] SinkError),
    #[error("Cannot create a staging directory: {0}")]
    #[diagnostic(help("set TMPDIR to a writable directory"))]
    Staging(std::io::Error),
}

/// Opens the source at `address`.
pub(crate) fn open_source(
    address: &Address,
    opts: &RegistryOptions,
) -> Result<Box<dyn Source>, SourceError> {
    Ok(match address {
        Address::OciDir { path, tag } => {
            Box::new(crate::layout::LayoutSource::new(path, tag.as_deref()))
        }
        Address::OciArchive { path, tag } => {
            Box::new(crate::archive::ArchiveSource::new(path, tag.as_deref()))
        }
        Address::DockerArchive { path, reference } => Box::new(crate::archive::ArchiveSource::new(
            path,
            reference
                .as_deref()
                .and_then(|r| r.rsplit_once(':'))
                .map(|(_, t)| t),
        )),
        Address::Registry { reference } => {
            Box::new(crate::registry::RegistrySource::new(reference, opts)?)
        }
    })
}

/// Loads the image at `address` into `staging` (a registry's blobs, an archive's unpacked
/// layout), for reading it: `distill sbom`, `distill verify`.
pub fn load(
    address: &Address,
    opts: &RegistryOptions,
    staging: &std::path::Path,
) -> Result<crate::transport::Loaded, SourceError> {
    open_source(address, opts)?.load(staging)
}

/// Copies `src` to every destination; returns the image digest and what each push did.
pub fn copy(
    src: &Address,
    dests: &[Address],
    opts: &RegistryOptions,
    epoch: u64,
) -> Result<(Digest, Vec<PushReport>), CopyError> {
    copy_with(src, dests, opts, epoch, &|_, _| Vec::new())
}

/// [`copy`], pushing what `attach` makes for the loaded image beside it to every registry
/// destination.
pub fn copy_with(
    src: &Address,
    dests: &[Address],
    opts: &RegistryOptions,
    epoch: u64,
    attach: &dyn Fn(&crate::transport::Loaded, &distill_core::Reference) -> Vec<Attachment>,
) -> Result<(Digest, Vec<PushReport>), CopyError> {
    let mut outputs = Outputs::open(dests, opts)?;
    if let Address::Registry { reference } = src
        && let Ok(r) = reference.parse::<distill_core::Reference>()
    {
        outputs.mount_from(&r);
    }
    let source = open_source(src, opts)?;
    crate::cleanup::sweep(&std::env::temp_dir(), "distill-copy-");
    let staging = tempfile::Builder::new()
        .prefix(&crate::cleanup::owned_prefix("distill-copy-"))
        .tempdir()
        .map_err(CopyError::Staging)?;
    let _cleanup = crate::cleanup::Registered::new(staging.path());
    let loaded = source.load(staging.path())?;
    outputs.attach(&mut |reference| attach(&loaded, reference));
    let pushed = outputs.finish(&loaded.store, &loaded.built, epoch)?;
    Ok((loaded.built.digest().clone(), pushed))
}
