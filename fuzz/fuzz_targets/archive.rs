//! An oci-archive or docker-archive file, loaded as `distill push` and `distill sbom` load
//! them: unpacked, then its index or manifest.json read.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.tar");
    std::fs::write(&file, data).unwrap();
    for kind in ["oci-archive", "docker-archive"] {
        let staging = tempfile::tempdir_in(dir.path()).unwrap();
        let Ok(address) = format!("{kind}:{}", file.display()).parse::<distill_oci::Address>()
        else {
            continue;
        };
        let _ = distill_oci::copy::load(&address, &Default::default(), staging.path());
    }
});
