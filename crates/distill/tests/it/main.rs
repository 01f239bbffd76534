//! End-to-end tests of the `distill` binary: one test binary, as linking dominates here.

mod apps;
mod attest;
mod common;
mod crash;
mod errors;
mod family;
mod faults;
mod hardening;
mod hostile;
mod init;
mod inspect;
mod keys;
mod native;
mod nodelocks;
mod nodescripts;
mod outputs;
mod packages;
mod pinning;
mod pylocks;
mod registry;
mod report;
mod reproducible;
mod runtimes;
mod sbom;
mod sign;
mod workspaces;
