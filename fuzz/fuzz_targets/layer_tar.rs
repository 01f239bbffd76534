//! An image layer's tar, read as `distill sbom` reads every layer (whiteouts, databases).
//! The body is distill_test::fuzz::layer_tar, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::layer_tar(data));
