//! `distill.toml`, parsed and checked as a build reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = distill_image::config::Source {
        path: "distill.toml".into(),
        text: String::from_utf8_lossy(data).into_owned(),
    };
    let _ = distill_image::config::Config::parse(&source);
});
