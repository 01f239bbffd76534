//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, never run in CI), and their
//! replay: every input in `fuzz/corpus/TARGET/` and `fuzz/regressions/TARGET/` goes through
//! its target in the normal test command, so a crash once found stays fixed and the corpus
//! keeps covering what the fuzzer reached. Each target feeds hostile bytes to one reader,
//! as distill would meet them; none may panic, hang or allocate without bound.

use std::path::Path;
use std::sync::LazyLock;

/// A target's body: bytes in, nothing out but a panic when something is wrong.
pub type Target = fn(&[u8]);

/// The targets, by name, as `fuzz/Cargo.toml` lists them.
pub const TARGETS: &[(&str, Target)] = &[
    ("deb", deb),
    ("deb822", deb822),
    ("clearsign", clearsign),
    ("layer_tar", layer_tar),
    ("elf", elf),
    ("config", config),
    ("archive", archive),
    ("registry_json", registry_json),
    ("init", init),
    ("inspect", inspect),
];

/// The ar reader, control.tar and data.tar through the limits, as a build extracts.
pub fn deb(data: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let deb = dir.path().join("x.deb");
    std::fs::write(&deb, data).unwrap();
    let _ = distill_apt::deb::extract(&deb, "fuzz", &dir.path().join("stage"));
}

/// Packages indexes and Release files.
pub fn deb822(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = distill_apt::packages::parse(&text, 0, "fuzz");
    if let Ok(r) = distill_apt::release::ReleaseFile::parse(&text, "fuzz") {
        let _ = r.check("bookworm", "fuzz", 0);
    }
}

static DEBIAN: LazyLock<distill_apt::trust::Keyring> =
    LazyLock::new(distill_apt::trust::Keyring::debian);

/// InRelease's cleartext framing and detached signatures, against Debian's keys: a forgery
/// is what a fuzzer cannot find, a panic is what it may.
pub fn clearsign(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    assert!(DEBIAN.verify_inline(&text, "fuzz", 1_800_000_000).is_err());
    let (release, sig) = data.split_at(data.len() / 2);
    assert!(
        DEBIAN
            .verify_detached(release, sig, "fuzz", 1_800_000_000)
            .is_err()
    );
}

/// An image layer's tar, read as the SBOM scan reads every layer.
pub fn layer_tar(data: &[u8]) {
    let mut meta = distill_sbom::metadata::Metadata::default();
    let tar = Box::new(std::io::Cursor::new(data.to_vec()));
    let _ = distill_sbom::scan::scan_tar(tar, &mut meta);
}

/// `distill inspect` and `diff` on layers an image may hold: the bytes as one layer, then
/// their halves as two, every report written.
pub fn inspect(data: &[u8]) {
    let (a, b) = data.split_at(data.len() / 2);
    let config = serde_json::json!({"config": {"User": "nobody"}});
    let read = |tars: &[&[u8]]| {
        let i = distill_inspect::inspect_tars(tars, config.clone(), 1_800_000_000).ok()?;
        let _ = (i.to_text(), i.to_json(), distill_inspect::html::page(&i));
        Some(i)
    };
    if let (Some(one), Some(two)) = (read(&[data]), read(&[a, b])) {
        let d = distill_inspect::diff::diff(&one, &two);
        let _ = (d.to_text(&one, &two), d.to_json(&one, &two));
    }
}

/// The ELF reader that picks a binary's libraries, interpreter and glibc needs.
pub fn elf(data: &[u8]) {
    let _ = distill_app::elf::parse(data);
}

/// `distill.toml`.
pub fn config(data: &[u8]) {
    let source = distill_image::config::Source {
        path: "distill.toml".into(),
        text: String::from_utf8_lossy(data).into_owned(),
    };
    let _ = distill_image::config::Config::parse(&source);
}

/// An oci-archive or docker-archive file, loaded as `distill push` and `distill sbom` do.
pub fn archive(data: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.tar");
    std::fs::write(&file, data).unwrap();
    for kind in ["oci-archive", "docker-archive"] {
        let staging = tempfile::tempdir_in(dir.path()).unwrap();
        let Ok(address) = format!("{kind}:{}", file.display()).parse::<distill_oci::Address>()
        else {
            continue;
        };
        let _ = distill_oci::copy::load(&address, &Default::default(), staging.path());
    }
}

/// A registry's `WWW-Authenticate` challenges and JSON error bodies.
pub fn registry_json(data: &[u8]) {
    use distill_oci::registry::challenge;
    let text = String::from_utf8_lossy(data);
    let _ = challenge::parse_challenge(&text);
    let _ = challenge::challenge_error(&text);
    let _ = challenge::registry_errors(&text);
}

/// distill-init's options (NUL-separated arguments) and its `${VAR}` expansion.
pub fn init(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = text.split('\0').map(str::to_owned).collect();
    let _ = distill_init::options::parse(&args);
    let lookup = |name: &str| name.len().is_multiple_of(2).then(|| name.repeat(2));
    for a in &args {
        let _ = distill_init::expand::expand(a, &lookup);
    }
}

/// Every input kept for `target` under `fuzz/` (corpus and regressions), by path.
pub fn inputs(fuzz_dir: &Path, target: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = ["corpus", "regressions"]
        .iter()
        .filter_map(|d| std::fs::read_dir(fuzz_dir.join(d).join(target)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kept_fuzz_input_runs_through_its_target_without_a_panic() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let mut total = 0;
        for (name, target) in TARGETS {
            let inputs = inputs(&fuzz, name);
            assert!(!inputs.is_empty(), "fuzz/corpus/{name} is empty");
            for path in &inputs {
                let data = std::fs::read(path).unwrap();
                let run = std::panic::catch_unwind(|| target(&data));
                assert!(run.is_ok(), "{name} panics on {}", path.display());
            }
            total += inputs.len();
        }
        eprintln!("{total} fuzz inputs replayed");
    }
}
