//! distill-test: the harness every end-to-end test stands on.
//!
//! - [`validate`]: re-hashes every blob of an image layout or archive and checks sizes,
//!   media types and `diff_ids`, as go-containerregistry's `validate` does;
//! - [`runtime`]: runs images in real runtimes: podman (through runc, with the
//!   containers.conf these machines need) and a Docker engine started and stopped per test;
//! - [`aptrepo`], [`http`]: a signed apt repository made in the test, served on 127.0.0.1,
//!   or from memory with no network ([`memfetch`]);
//! - [`registry`]: Debian's docker-registry on 127.0.0.1 (plain, or TLS and htpasswd) and a
//!   fault-injecting proxy;
//! - [`scripted`]: a loopback server answering as the test says, recording what it saw;
//! - [`tls`]: a test CA and an HTTPS server on 127.0.0.1 presenting a certificate it signed;
//! - [`family`]: a miniature Debian 12 of the family's lower members' packages;
//! - [`fuzz`]: the fuzz targets' bodies, and the replay of their kept inputs;
//! - [`tools`]: finding the external tools, failing loudly when one is missing.

pub mod aptrepo;
pub mod family;
pub mod fuzz;
pub mod http;
pub mod memfetch;
pub mod registry;
pub mod runtime;
pub mod scripted;
pub mod tls;
pub mod tools;
pub mod validate;

pub use runtime::{DockerEngine, Podman, RunOutput};
pub use tools::require;
pub use validate::{
    Summary, layer_digests, layout_paths, unpack_layout, validate_archive, validate_layout,
};
