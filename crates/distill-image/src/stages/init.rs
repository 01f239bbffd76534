//! distill-init, the static entrypoint helper, as a layer of its own (`[entrypoint]`).

use distill_core::{Component, Platform};
use distill_oci::Entry;

use super::{Context, StageError, StageLayer};
use crate::init;

/// The helper's layer, shared by every platform it can run on.
pub fn layer(cx: &Context) -> Result<Option<StageLayer>, StageError> {
    if cx.plan.init.is_none() {
        return Ok(None);
    }
    let entry = Entry::bytes(
        init::PATH.trim_start_matches('/'),
        init::BINARY.to_vec(),
        0o755,
    );
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(init::BINARY));
    cx.layer(
        vec![entry],
        "distill: distill-init".into(),
        vec![Component::Init {
            version: env!("CARGO_PKG_VERSION").into(),
            path: init::PATH.into(),
            sha256,
        }],
    )
    .map(Some)
}

/// The helper runs on the architecture distill was built for only.
pub(crate) fn check_platform(cx: &Context, platform: Platform) -> Result<(), StageError> {
    if cx.plan.init.is_some() && Some(platform.arch) != init::arch() {
        return Err(StageError::InitArch {
            platform: platform.to_string(),
        });
    }
    Ok(())
}
