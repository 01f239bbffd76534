//! Resolves packages against the host's Debian mirror and prints the set with timings:
//! `cargo run --release -p distill-apt --example resolve -- 12 python3`.

use std::sync::Arc;
use std::time::Instant;

use distill_apt::debian::{Mirrors, Release, load_universe, now};
use distill_apt::fetch::{Cache, HttpFetcher};
use distill_apt::trust::Keyring;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = Release::parse(&args[0]).expect("12 or 13");
    let arch = std::env::var("ARCH").unwrap_or_else(|_| "amd64".into());
    let roots: Vec<String> = args[1..].to_vec();
    let mirrors = Mirrors::find(None, std::path::Path::new("/etc/apt")).unwrap();
    let suites = mirrors.suites(release, &Arc::new(Keyring::debian()));
    let t = Instant::now();
    let u = load_universe(
        &suites,
        &arch,
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
