//! An oci-archive or docker-archive file, loaded as `distill push` and `distill sbom` load
//! The body is distill_test::fuzz::archive, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::archive(data));
