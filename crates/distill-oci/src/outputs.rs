//! Several outputs written as one: all are opened first (proving them writable, and
//! connecting to registries, before any work) and committed only when every one was
//! written, so one bad destination leaves none of them behind. Remote outputs are written
//! last: a push is the one step that cannot be undone.

use crate::blob::BlobStore;
use crate::image::Built;
use crate::registry::RegistryOptions;
use crate::transport::{Address, PushReport, Sink, SinkError};

/// Opens the sink at `address`: proves it writable, or connects to the registry, before any
/// work is done.
pub(crate) fn open_sink(
    address: &Address,
    opts: &RegistryOptions,
) -> Result<Box<dyn Sink>, SinkError> {
    Ok(match address {
        Address::OciDir { .. } => Box::new(crate::layout::LayoutSink::open(address)?),
        Address::OciArchive { .. } | Address::DockerArchive { .. } => {
            Box::new(crate::archive::ArchiveSink::open(address)?)
        }
        Address::Registry { .. } => Box::new(crate::registry::RegistrySink::open(address, opts)?),
    })
}

pub struct Outputs(Vec<Box<dyn Sink>>);

impl Outputs {
    pub fn open(addresses: &[Address], opts: &RegistryOptions) -> Result<Self, SinkError> {
        let mut sinks = addresses
            .iter()
            .map(|a| open_sink(a, opts))
            .collect::<Result<Vec<_>, _>>()?;
        sinks.sort_by_key(|s| s.is_remote());
        Ok(Self(sinks))
    }

    /// Lets pushes to `source`'s registry mount blobs from its repository.
    pub fn mount_from(&mut self, source: &distill_core::Reference) {
        for s in &mut self.0 {
            s.mount_from(source);
        }
    }

    /// Whether any output is a registry.
    pub fn has_registry(&self) -> bool {
        self.0.iter().any(|s| s.is_remote())
    }

    /// Gives every registry output what to push beside the image, made for its repository.
    pub fn attach(
        &mut self,
        make: &mut dyn FnMut(&distill_core::Reference) -> Vec<crate::registry::attach::Attachment>,
    ) {
        for s in &mut self.0 {
            s.attach(make);
        }
    }

    /// Writes `built`, whose blobs are in `store`, to every output and commits them.
    /// Returns what each push did.
    pub fn finish(
        mut self,
        store: &BlobStore,
        built: &Built,
        epoch: u64,
    ) -> Result<Vec<PushReport>, SinkError> {
        for s in &mut self.0 {
            s.write(store, built, epoch)?;
        }
        let mut pushed = Vec::new();
        for s in self.0 {
            pushed.extend(s.commit()?);
        }
        Ok(pushed)
    }
}
