//! `distill sbom SRC --format spdx-json|cyclonedx-json`: the SBOM of any image, from its
//! own metadata; and `build --sbom DIR`, both formats from the build's inventory.

use std::path::{Path, PathBuf};

use crate::ui::Context;
use distill_oci::Address;
use distill_sbom::model::Document;

use super::args::RegistryArgs;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// SPDX 2.3, JSON.
    SpdxJson,
    /// CycloneDX 1.6, JSON.
    CyclonedxJson,
}

impl Format {
    pub fn write(self, doc: &Document) -> Vec<u8> {
        let value = match self {
            Format::SpdxJson => distill_sbom::spdx::write(doc),
            Format::CyclonedxJson => distill_sbom::cyclonedx::write(doc),
        };
        let mut bytes = serde_json::to_vec_pretty(&value).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    fn suffix(self) -> &'static str {
        match self {
            Format::SpdxJson => "spdx.json",
            Format::CyclonedxJson => "cdx.json",
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE or docker://REF.
    src: Address,
    #[arg(long, value_enum, default_value = "spdx-json")]
    format: Format,
    /// Of a multi-platform image, the platform to describe [default: the first].
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(args: Args) -> miette::Result<()> {
    let what = || format!("Cannot make the SBOM of {}", args.src);
    let opened = super::load::open(
        &args.src,
        &[&args.src],
        &args.registry,
        "distill-sbom-",
        what,
    )?;
    let image = opened.image(&args.src, args.platform.as_deref())?;
    let doc = distill_sbom::scan::document(&opened.loaded.store, image, &args.src.to_string())
        .with_context(what)?;
    let bytes = args.format.write(&doc);
    match &args.output {
        Some(path) => write_atomic(path, &bytes)?,
        None => std::io::Write::write_all(&mut std::io::stdout(), &bytes).map_err(|e| {
            crate::ui::Hinted::report(format!("Cannot write to stdout: {e}"), "pass --output FILE")
        })?,
    }
    Ok(())
}

/// `build --sbom DIR`: both formats of every platform's document. One platform's are
/// `sbom.spdx.json` and `sbom.cdx.json`; several platforms' add the platform,
/// `sbom.linux-arm64.spdx.json`.
pub fn write_dir(dir: &Path, report: &distill_image::Report) -> miette::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| {
        crate::ui::Hinted::report(
            format!("Cannot create the SBOM directory {}: {e}", dir.display()),
            "pass --sbom a directory you can write",
        )
    })?;
    let images = &report.built.images;
    let mut written = Vec::new();
    for (i, img) in images.iter().enumerate() {
        let doc = report.sbom(i);
        for format in [Format::SpdxJson, Format::CyclonedxJson] {
            let name = if images.len() == 1 {
                format!("sbom.{}", format.suffix())
            } else {
                let platform = img.platform.to_string().replace('/', "-");
                format!("sbom.{platform}.{}", format.suffix())
            };
            let path = dir.join(name);
            write_atomic(&path, &format.write(&doc))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Writes `bytes` to `path` through a temporary file beside it, so a failure leaves no
/// half-written file. A path that is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO)
/// is written into, never replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> miette::Result<()> {
    let fail = |e: std::io::Error| {
        crate::ui::Hinted::report(
            format!("Cannot write {}: {e}", path.display()),
            "check that its directory exists and is writable",
        )
    };
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(fail)?;
        return std::io::Write::write_all(&mut f, bytes).map_err(fail);
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Named with the PID, so that a later run removes it if this one is killed.
    distill_oci::cleanup::sweep(dir, ".distill-");
    let mut tmp = tempfile::Builder::new()
        .prefix(&distill_oci::cleanup::owned_prefix(".distill-"))
        .tempfile_in(dir)
        .map_err(fail)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(fail)?;
    // Readable as any file the user writes, not the temporary file's 0600.
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    distill_core::crash::point("file-written");
    tmp.persist(path).map_err(|e| fail(e.error))?;
    distill_oci::durable::sync_parent(path).map_err(fail)?;
    Ok(())
}
