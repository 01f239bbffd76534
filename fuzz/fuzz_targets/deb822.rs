//! Packages indexes and Release files, parsed as distill parses verified text.
//! The body is distill_test::fuzz::deb822, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::deb822(data));
