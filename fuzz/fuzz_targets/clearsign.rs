//! The cleartext-signature framing of InRelease and detached signatures, checked against
//! The body is distill_test::fuzz::clearsign, which the normal test command replays on the corpus.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| distill_test::fuzz::clearsign(data));
