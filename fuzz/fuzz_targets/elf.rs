//! The ELF reader that picks a binary's libraries, interpreter and glibc needs.
//! The body is distill_test::fuzz::elf, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::elf(data));
