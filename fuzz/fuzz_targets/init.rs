//! distill-init's options (NUL-separated arguments) and its `${VAR}` expansion.
//! The body is distill_test::fuzz::init, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::init(data));
