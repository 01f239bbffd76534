//! distill-init's options (NUL-separated arguments) and its `${VAR}` expansion.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = text.split('\0').map(str::to_owned).collect();
    let _ = distill_init::options::parse(&args);
    let lookup = |name: &str| (name.len() % 2 == 0).then(|| name.repeat(2));
    for a in &args {
        let _ = distill_init::expand::expand(a, &lookup);
    }
});
