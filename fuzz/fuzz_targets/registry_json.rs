//! What a registry says: `WWW-Authenticate` challenges and JSON error bodies.
//! The body is distill_test::fuzz::registry_json, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::registry_json(data));
