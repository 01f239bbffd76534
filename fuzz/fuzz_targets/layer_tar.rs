//! An image layer's tar, read as `distill sbom` reads every layer (whiteouts, databases).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut meta = distill_sbom::metadata::Metadata::default();
    let _ = distill_sbom::scan::scan_tar(Box::new(std::io::Cursor::new(data.to_vec())), &mut meta);
});
