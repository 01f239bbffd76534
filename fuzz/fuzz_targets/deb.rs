//! The ar reader, control.tar and data.tar through the limits, as `distill build` extracts.
//! The body is distill_test::fuzz::deb, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::deb(data));
