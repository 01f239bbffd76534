//! `distill inspect SRC` and `distill diff A B`: reports on any image, read offline from
//! its blobs ([`distill_inspect`]). Both exit 3 when what was asked for is found (a
//! `--fail-on` gate, or a difference), 0 when not, and 1 on an error.

use std::path::PathBuf;

use distill_inspect::{Gate, Inspection};
use distill_oci::Address;

use super::args::RegistryArgs;
use crate::ui::Context;

/// The exit code of a gate that fails, or of two images that differ.
pub const FOUND: u8 = 3;

#[derive(clap::Args)]
pub struct InspectArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE or docker://REF.
    src: Address,
    /// Print the JSON report (docs/inspect.md) instead of text.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Exit 3 when any of these holds: root, shell, package-manager, setuid,
    /// world-writable, secrets, eol, efficiency<RATIO, size>SIZE.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    fail_on: Vec<Gate>,
    /// Of a multi-platform image, the platform to inspect [default: the first].
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The first image, in any transport `inspect` reads.
    a: Address,
    /// The second image.
    b: Address,
    /// Print the JSON difference (docs/inspect.md) instead of text.
    #[arg(long)]
    json: bool,
    /// Of multi-platform images, the platform to compare [default: the first].
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Loads and inspects `src`; `named` are the addresses whose hosts get credentials.
fn load(
    src: &Address,
    named: &[&Address],
    registry: &RegistryArgs,
    platform: Option<&str>,
) -> miette::Result<Inspection> {
    let what = || format!("Cannot inspect {src}");
    let opened = super::load::open(src, named, registry, "distill-inspect-", what)?;
    let image = opened.image(src, platform)?;
    distill_inspect::inspect(&opened.loaded.store, image, &src.to_string(), now())
        .with_context(what)
}

fn print(text: &str) -> miette::Result<()> {
    std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes()).map_err(|e| {
        crate::ui::Hinted::report(
            format!("Cannot write to stdout: {e}"),
            "check where stdout goes",
        )
    })
}

pub fn inspect(args: InspectArgs) -> miette::Result<u8> {
    let report = load(
        &args.src,
        &[&args.src],
        &args.registry,
        args.platform.as_deref(),
    )?;
    if let Some(path) = &args.html {
        super::sbom::write_atomic(path, distill_inspect::html::page(&report).as_bytes())?;
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        print(&format!("{text}\n"))?;
    } else {
        print(&report.to_text())?;
    }
    let failing = report.failing(&args.fail_on);
    for line in &failing {
        eprintln!("fail: {line}");
    }
    Ok(if failing.is_empty() { 0 } else { FOUND })
}

pub fn diff(args: DiffArgs) -> miette::Result<u8> {
    let named = [&args.a, &args.b];
    let platform = args.platform.as_deref();
    let a = load(&args.a, &named, &args.registry, platform)?;
    let b = load(&args.b, &named, &args.registry, platform)?;
    let d = distill_inspect::diff::diff(&a, &b);
    if args.json {
        let text = serde_json::to_string_pretty(&d.to_json(&a, &b)).unwrap_or_default();
        print(&format!("{text}\n"))?;
    } else {
        print(&d.to_text(&a, &b))?;
    }
    Ok(if d.identical { 0 } else { FOUND })
}
