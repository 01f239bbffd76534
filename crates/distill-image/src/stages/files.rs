//! The user's own files: `[[files]]`, the binary of a binary context, or an app's tree
//! (after the image's programs wrote into a copy of it, when the app kind does that).

use super::{Context, StageError, StageLayer, file_components};

/// The files layer, shared by every platform (`None` when there are no files), and how
/// many entries it has.
pub fn layer(
    cx: &Context,
    files: &[distill_app::FileSpec],
) -> Result<(Option<StageLayer>, usize), StageError> {
    cx.progress.start("collecting files", 0);
    let entries = distill_app::collect(files)?;
    let count = entries.len();
    if entries.is_empty() {
        cx.progress.finish();
        return Ok((None, 0));
    }
    let components = file_components(&entries, false)?;
    let layer = cx.layer(entries, "distill: [[files]]".into(), components)?;
    tracing::info!(digest = %layer.layer.layer.digest, size = layer.layer.layer.size, "files layer");
    cx.progress.finish();
    Ok((Some(layer), count))
}
