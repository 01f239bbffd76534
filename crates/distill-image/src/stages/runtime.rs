//! The language runtime a member ships beside its packages: the official Node build of the
//! `nodejs` members, verified against the integrity the lock pins, with node's own ELF
//! needs checked against the image's libraries. The layer is kept in the layer cache under
//! the build's integrity.

use distill_core::Component;

use super::packages::{Packages, check_libraries};
use super::{Context, StageError, StageLayer};
use crate::family::node;

/// The node layer, when the platform's lock pins a Node build.
pub(crate) fn node_layer(cx: &Context, p: &Packages) -> Result<Option<StageLayer>, StageError> {
    let Some(pinned) = &p.pinned.node else {
        return Ok(None);
    };
    let arch = p.platform.arch;
    // The build is pinned by its integrity: the same tarball gives the same layer.
    let key = cx.key(
        "node",
        &serde_json::json!({
            "platform": p.platform.to_string(),
            "version": pinned.version,
            "integrity": pinned.integrity,
        }),
    );
    let (layer, needed) = cx.cached(key, || {
        let registry = node::registry(cx.sources.cache.root())?;
        cx.progress
            .start(&format!("fetching node {}", pinned.version), 0);
        let tarball = node::fetch(
            cx.sources.cache.root(),
            cx.sources.fetcher,
            &registry,
            arch,
            pinned,
        )?;
        let stage = cx.staging.join(format!("node-{arch}"));
        let entries = node::entries(&tarball, &stage)?;
        cx.progress.finish();
        let needs = distill_app::elf::read(&stage.join("node"))?;
        cx.progress.start("writing the node layer", 0);
        let layer = cx.write(
            entries,
            format!("distill: node {} (official build)", pinned.version),
            vec![Component::NodeRuntime {
                version: pinned.version.clone(),
                integrity: pinned.integrity.clone(),
                origin: node::package(arch),
            }],
        )?;
        cx.progress.finish();
        Ok((layer, needs.needed))
    })?;
    // Checked on every build: the libraries are this build's, the layer may be an old one.
    check_libraries(&format!("node {}", pinned.version), &needed, &p.libraries)?;
    Ok(Some(layer))
}
