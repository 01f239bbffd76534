//! Loading the real indexes once per test binary.

use std::path::Path;

use distill_apt::debian::{Mirrors, Release, load_universe, now};
use distill_apt::fetch::{Cache, HttpFetcher};
use distill_apt::repo::Suite;
use distill_apt::resolver::Universe;
use distill_apt::trust::HOST_DEBIAN_KEYRING;

pub fn mirrors() -> Mirrors {
    Mirrors::find(None, Path::new("/etc/apt")).expect("a Debian mirror in the host's apt sources")
}

pub fn suites(release: Release) -> Vec<Suite> {
    let mirrors = mirrors();
    let keyrings = mirrors
        .keyrings(None, Path::new(HOST_DEBIAN_KEYRING))
        .expect("the host's keyring for its mirror");
    mirrors.suites(release, &keyrings)
}

pub fn universe(release: Release, arch: distill_core::Arch) -> Universe {
    let cache = Cache::new(Cache::default_root());
    load_universe(&suites(release), arch, &cache, &HttpFetcher::new(), now())
        .expect("load the real indexes")
}
