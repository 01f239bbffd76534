//! The cleartext-signature framing of InRelease and detached signatures, checked against
//! Debian's keys (a forgery is what a fuzzer cannot find; a panic is what it may).
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static DEBIAN: LazyLock<distill_apt::trust::Keyring> =
    LazyLock::new(distill_apt::trust::Keyring::debian);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    assert!(DEBIAN.verify_inline(&text, "fuzz", 1_800_000_000).is_err());
    let (release, sig) = data.split_at(data.len() / 2);
    assert!(DEBIAN.verify_detached(release, sig, "fuzz", 1_800_000_000).is_err());
});
