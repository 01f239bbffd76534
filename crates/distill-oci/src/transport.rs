//! Where images are read from and written to: the transport syntax of skopeo and podman,
//! and the [`Source`] and [`Sink`] every transport implements.
//!
//! `oci:DIR[:TAG]` ([`crate::layout`]), `oci-archive:FILE[:TAG]` and
//! `docker-archive:FILE[:NAME[:TAG]]` ([`crate::archive`]), and `docker://HOST/REPO:TAG`
//! ([`crate::registry`]). As in skopeo, the path ends at the first `:` after the transport,
//! so paths cannot contain a colon. One [`Address`] names either end of a copy; what reads
//! and what writes are the transports' own types, opened by [`crate::copy::open_source`] and
//! [`crate::outputs::open_sink`]. This module knows no transport.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::blob::BlobStore;
use crate::image::Built;

/// An image's address in a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// An OCI image layout directory.
    OciDir { path: PathBuf, tag: Option<String> },
    /// An OCI image layout in a tar file.
    OciArchive { path: PathBuf, tag: Option<String> },
    /// A tar file that is both an OCI layout and a `docker save` archive.
    DockerArchive {
        path: PathBuf,
        /// `NAME:TAG`, recorded in `RepoTags`.
        reference: Option<String>,
    },
    /// A registry reference, `HOST/REPO:TAG`.
    Registry { reference: String },
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[diagnostic(help(
    "write oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or docker://HOST/REPO:TAG"
))]
pub enum AddressError {
    #[error(
        "Unknown destination `{0}`: expected oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or docker://HOST/REPO:TAG"
    )]
    UnknownTransport(String),
    #[error("Destination `{0}` has an empty path")]
    EmptyPath(String),
    #[error(
        "Invalid tag `{tag}` in `{dest}`: a tag is 1 to 128 of A-Z a-z 0-9 _ . - and does not start with . or -"
    )]
    BadTag { dest: String, tag: String },
    #[error(
        "Invalid image name `{name}` in `{dest}`: use lowercase letters, digits, and . _ - / separators"
    )]
    BadName { dest: String, name: String },
}

fn valid_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Checks a `[HOST[:PORT]/]PATH` repository name as the distribution spec restricts it.
fn valid_name(name: &str) -> bool {
    let (host, path) = match name.split_once('/') {
        Some((h, p)) if h.contains(['.', ':']) || h == "localhost" => (Some(h), p),
        _ => (None, name),
    };
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
    });
    host_ok
        && !path.is_empty()
        && path.split('/').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        })
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (transport, rest) = s
            .split_once(':')
            .ok_or_else(|| AddressError::UnknownTransport(s.to_owned()))?;
        if transport == "docker" {
            let reference = rest
                .strip_prefix("//")
                .ok_or_else(|| AddressError::UnknownTransport(s.to_owned()))?;
            return Ok(Address::Registry {
                reference: reference.to_owned(),
            });
        }
        let (path, suffix) = match rest.split_once(':') {
            Some((p, t)) => (p, Some(t)),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(AddressError::EmptyPath(s.to_owned()));
        }
        let path = PathBuf::from(path);
        let tag = |t: Option<&str>| -> Result<Option<String>, AddressError> {
            match t {
                None => Ok(None),
                Some(t) if valid_tag(t) => Ok(Some(t.to_owned())),
                Some(t) => Err(AddressError::BadTag {
                    dest: s.to_owned(),
                    tag: t.to_owned(),
                }),
            }
        };
        match transport {
            "oci" => Ok(Address::OciDir {
                path,
                tag: tag(suffix)?,
            }),
            "oci-archive" => Ok(Address::OciArchive {
                path,
                tag: tag(suffix)?,
            }),
            "docker-archive" => {
                let reference = match suffix {
                    None => None,
                    Some(r) => {
                        // The tag follows the last colon, unless that colon is a registry port.
                        let (name, t) = match r.rsplit_once(':') {
                            Some((n, t)) if !t.contains('/') => (n, t),
                            _ => (r, "latest"),
                        };
                        if !valid_name(name) {
                            return Err(AddressError::BadName {
                                dest: s.to_owned(),
                                name: name.to_owned(),
                            });
                        }
                        Some(format!("{name}:{}", tag(Some(t))?.unwrap_or_default()))
                    }
                };
                Ok(Address::DockerArchive { path, reference })
            }
            _ => Err(AddressError::UnknownTransport(s.to_owned())),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |t: &Option<String>| t.as_ref().map(|t| format!(":{t}")).unwrap_or_default();
        match self {
            Address::OciDir { path, tag } => write!(f, "oci:{}{}", path.display(), opt(tag)),
            Address::OciArchive { path, tag } => {
                write!(f, "oci-archive:{}{}", path.display(), opt(tag))
            }
            Address::DockerArchive { path, reference } => {
                write!(f, "docker-archive:{}{}", path.display(), opt(reference))
            }
            Address::Registry { reference } => write!(f, "docker://{reference}"),
        }
    }
}

impl Address {
    /// The local path, for the transports that have one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Address::OciDir { path, .. }
            | Address::OciArchive { path, .. }
            | Address::DockerArchive { path, .. } => Some(path),
            Address::Registry { .. } => None,
        }
    }
}

/// An image loaded from a source: its blobs in `store`, and what they make.
pub struct Loaded {
    pub store: BlobStore,
    pub built: Built,
}

/// Reads an image.
pub trait Source {
    /// Loads the image, into `staging` when it must be copied or unpacked first.
    fn load(&self, staging: &Path) -> Result<Loaded, SourceError>;
}

/// Writes an image, invisibly until [`Sink::commit`].
pub trait Sink {
    fn address(&self) -> &Address;
    /// Whether the sink is remote: remote sinks are written after every local one, since a
    /// push cannot be rolled back.
    fn is_remote(&self) -> bool {
        false
    }
    /// Lets the sink take blobs from `source`'s repository instead of copying them.
    fn mount_from(&mut self, _source: &distill_core::Reference) {}
    /// Gives a registry sink what to push beside the image (signatures, attestations),
    /// made for its repository by `make`. Local sinks have nowhere to put them.
    fn attach(
        &mut self,
        _make: &mut dyn FnMut(&distill_core::Reference) -> Vec<crate::registry::attach::Attachment>,
    ) {
    }
    /// Writes `built`, whose blobs are in `store`.
    fn write(&mut self, store: &BlobStore, built: &Built, epoch: u64) -> Result<(), SinkError>;
    /// Makes the written image visible; returns what a push did.
    fn commit(self: Box<Self>) -> Result<Option<PushReport>, SinkError>;
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub digest: String,
    pub blobs_uploaded: usize,
    pub blobs_present: usize,
    pub blobs_mounted: usize,
    pub bytes_sent: u64,
}

/// Why an image cannot be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SourceError {
    #[error("Cannot read {src}: {why}")]
    #[diagnostic(help(
        "give an image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE or docker://HOST/REPO:TAG"
    ))]
    Invalid { src: String, why: String },
    #[error("Cannot read {src}: several images; name one with :TAG (it has {tags})")]
    #[diagnostic(help("add the tag to the address, such as oci:DIR:latest"))]
    Ambiguous { src: String, tags: String },
    #[error("Cannot read {src}: {}", .source)]
    Transfer {
        src: String,
        #[diagnostic_source]
        source: crate::registry::error::TransferError,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Reference(#[from] distill_core::ReferenceError),
}

/// Why an image cannot be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SinkError {
    #[error("Cannot write {dest}: directory {} does not exist", dir.display())]
    #[diagnostic(help("create it first: mkdir -p {}", dir.display()))]
    NoParent { dest: String, dir: PathBuf },
    #[error("Cannot write {dest}: {}: {source}", path.display())]
    #[diagnostic(help("check that {} is writable", path.display()))]
    Io {
        dest: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Cannot write {dest}: {} exists and is not an OCI image layout", path.display())]
    #[diagnostic(help("choose another path, or remove {} if it is yours to replace", path.display()))]
    NotALayout { dest: String, path: PathBuf },
    #[error("Cannot write {dest}: a docker-archive holds one platform, this build has {count}")]
    #[diagnostic(help(
        "pass one --platform, or use an oci-archive: destination for a multi-platform image"
    ))]
    MultiPlatformDockerArchive { dest: String, count: usize },
    #[error("Invalid registry reference in {dest}: {source}")]
    Reference {
        dest: String,
        #[diagnostic_source]
        source: distill_core::ReferenceError,
    },
    #[error("Cannot push {dest}: {source}")]
    Push {
        dest: String,
        #[diagnostic_source]
        source: crate::registry::error::TransferError,
    },
    #[error("Cannot reach the registry of {dest}: {source}")]
    Connect {
        dest: String,
        #[diagnostic_source]
        source: crate::registry::client::RegistryError,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Blob(#[from] crate::blob::BlobStoreError),
    #[error("Cannot serialize {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn parses_each_transport() {
        assert_eq!(
            p("oci:out/img:v1"),
            Address::OciDir {
                path: "out/img".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            p("oci-archive:/tmp/a.tar"),
            Address::OciArchive {
                path: "/tmp/a.tar".into(),
                tag: None
            }
        );
        assert_eq!(
            p("docker-archive:a.tar:app"),
            Address::DockerArchive {
                path: "a.tar".into(),
                reference: Some("app:latest".into())
            }
        );
        assert_eq!(
            p("docker-archive:a.tar:localhost:5000/team/app:1.2"),
            Address::DockerArchive {
                path: "a.tar".into(),
                reference: Some("localhost:5000/team/app:1.2".into())
            }
        );
        assert_eq!(
            p("docker://127.0.0.1:5000/app:1"),
            Address::Registry {
                reference: "127.0.0.1:5000/app:1".into()
            }
        );
    }

    #[test]
    fn refuses_bad_input_with_the_reason() {
        assert!(matches!(
            "tarball:x".parse::<Address>(),
            Err(AddressError::UnknownTransport(_))
        ));
        assert!(matches!(
            "out.tar".parse::<Address>(),
            Err(AddressError::UnknownTransport(_))
        ));
        assert!(matches!(
            "oci:".parse::<Address>(),
            Err(AddressError::EmptyPath(_))
        ));
        assert!(matches!(
            "oci:d:-bad".parse::<Address>(),
            Err(AddressError::BadTag { .. })
        ));
        assert!(matches!(
            "docker-archive:a.tar:App/X:1".parse::<Address>(),
            Err(AddressError::BadName { .. })
        ));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "oci:out:v1",
            "oci-archive:a.tar",
            "docker-archive:a.tar:app:1",
            "docker://h:5000/r:t",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
    }
}
