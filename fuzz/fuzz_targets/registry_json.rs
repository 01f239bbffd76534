//! What a registry says: `WWW-Authenticate` challenges and JSON error bodies.
#![no_main]
use libfuzzer_sys::fuzz_target;

use distill_oci::registry::challenge;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = challenge::parse_challenge(&text);
    let _ = challenge::challenge_error(&text);
    let _ = challenge::registry_errors(&text);
});
