//! Packages indexes and Release files, parsed as distill parses verified text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = distill_apt::packages::parse(&text, 0, "fuzz");
    if let Ok(r) = distill_apt::release::ReleaseFile::parse(&text, "fuzz") {
        let _ = r.check("bookworm", "fuzz", 0);
    }
});
