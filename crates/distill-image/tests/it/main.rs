//! distill-image below the CLI: plans assembled against a signed repository served from
//! memory, with no network and no container runtime. Digests are pinned, and the lock, the
//! report and every error message are snapshots (insta), so a change to any of them is one
//! reviewed diff.

mod assemble;
mod cache;
mod errors;
mod fixture;
