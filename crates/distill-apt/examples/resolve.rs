//! Resolves packages against the host's Debian mirror and prints the set with timings:
//! `cargo run --release -p distill-apt --example resolve -- 12 python3`.

use std::time::Instant;

use distill_apt::debian::{Mirrors, Release, load_universe, now};
use distill_apt::fetch::{Cache, HttpFetcher};
use distill_apt::trust::HOST_DEBIAN_KEYRING;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release: Release = args[0].parse().expect("12 or 13");
    let arch: distill_core::Arch = std::env::var("ARCH")
        .unwrap_or_else(|_| "amd64".into())
        .parse()
        .expect("amd64 or arm64");
    let roots: Vec<String> = args[1..].to_vec();
    let mirrors = Mirrors::find(None, std::path::Path::new("/etc/apt")).unwrap();
    let keyrings = mirrors
        .keyrings(None, std::path::Path::new(HOST_DEBIAN_KEYRING))
        .unwrap();
    let suites = mirrors.suites(release, &keyrings);
    let t = Instant::now();
    let u = load_universe(
        &suites,
        arch,
        &Cache::new(Cache::default_root()),
        &HttpFetcher::new(),
        now(),
    )
    .unwrap();
    let loaded = t.elapsed();
    let t = Instant::now();
    let set = u.resolve(&roots).unwrap();
    eprintln!(
        "load {loaded:?} ({} packages), resolve {:?}",
        u.len(),
        t.elapsed()
    );
    for p in set {
        println!("{} {}", p.name, p.version);
    }
}
