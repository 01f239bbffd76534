//! The ar reader, control.tar and data.tar through the limits, as `distill build` extracts.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let deb = dir.path().join("x.deb");
    std::fs::write(&deb, data).unwrap();
    let _ = distill_apt::deb::extract(&deb, "fuzz", &dir.path().join("stage"));
});
