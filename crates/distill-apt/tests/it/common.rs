//! Loading the real indexes once per test binary.

use std::path::Path;
use std::sync::Arc;

use distill_apt::debian::{Mirrors, Release, load_universe, now};
use distill_apt::fetch::{Cache, HttpFetcher};
use distill_apt::repo::Suite;
use distill_apt::resolver::Universe;
use distill_apt::trust::Keyring;

pub fn mirrors() -> Mirrors {
    Mirrors::find(None, Path::new("/etc/apt")).expect("a Debian mirror in the host's apt sources")
}

pub fn suites(release: Release) -> Vec<Suite> {
    mirrors().suites(release, &Arc::new(Keyring::debian()))
}

pub fn universe(release: Release, arch: &str) -> Universe {
    let cache = Cache::new(Cache::default_root());
    load_universe(&suites(release), arch, &cache, &HttpFetcher::new(), now())
        .expect("load the real indexes")
}
