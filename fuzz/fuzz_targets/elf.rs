//! The ELF reader that picks a binary's libraries, interpreter and glibc needs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = distill_app::elf::parse(data);
});
