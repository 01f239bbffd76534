//! `distill.toml`, parsed and checked as a build reads it.
//! The body is distill_test::fuzz::config, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::config(data));
