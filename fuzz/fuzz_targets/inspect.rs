//! Layer tars read as `distill inspect` and `distill diff` read them, every report written.
//! The body is distill_test::fuzz::inspect, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::inspect(data));
