//! Output destinations in the transport syntax of skopeo and podman.
//!
//! `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME[:TAG]]` and
//! `docker://HOST/REPO:TAG`. As in skopeo, the path ends at the first `:` after the
//! transport, so paths cannot contain a colon.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
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

#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
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

impl FromStr for Destination {
    type Err = DestinationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (transport, rest) = s
            .split_once(':')
            .ok_or_else(|| DestinationError::UnknownTransport(s.to_owned()))?;
        if transport == "docker" {
            let reference = rest
                .strip_prefix("//")
                .ok_or_else(|| DestinationError::UnknownTransport(s.to_owned()))?;
            return Ok(Destination::Registry {
                reference: reference.to_owned(),
            });
        }
        let (path, suffix) = match rest.split_once(':') {
            Some((p, t)) => (p, Some(t)),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(DestinationError::EmptyPath(s.to_owned()));
        }
        let path = PathBuf::from(path);
        let tag = |t: Option<&str>| -> Result<Option<String>, DestinationError> {
            match t {
                None => Ok(None),
                Some(t) if valid_tag(t) => Ok(Some(t.to_owned())),
                Some(t) => Err(DestinationError::BadTag {
                    dest: s.to_owned(),
                    tag: t.to_owned(),
                }),
            }
        };
        match transport {
            "oci" => Ok(Destination::OciDir {
                path,
                tag: tag(suffix)?,
            }),
            "oci-archive" => Ok(Destination::OciArchive {
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
                            return Err(DestinationError::BadName {
                                dest: s.to_owned(),
                                name: name.to_owned(),
                            });
                        }
                        Some(format!("{name}:{}", tag(Some(t))?.unwrap_or_default()))
                    }
                };
                Ok(Destination::DockerArchive { path, reference })
            }
            _ => Err(DestinationError::UnknownTransport(s.to_owned())),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |t: &Option<String>| t.as_ref().map(|t| format!(":{t}")).unwrap_or_default();
        match self {
            Destination::OciDir { path, tag } => write!(f, "oci:{}{}", path.display(), opt(tag)),
            Destination::OciArchive { path, tag } => {
                write!(f, "oci-archive:{}{}", path.display(), opt(tag))
            }
            Destination::DockerArchive { path, reference } => {
                write!(f, "docker-archive:{}{}", path.display(), opt(reference))
            }
            Destination::Registry { reference } => write!(f, "docker://{reference}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Destination {
        s.parse().unwrap()
    }

    #[test]
    fn parses_each_transport() {
        assert_eq!(
            p("oci:out/img:v1"),
            Destination::OciDir {
                path: "out/img".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            p("oci-archive:/tmp/a.tar"),
            Destination::OciArchive {
                path: "/tmp/a.tar".into(),
                tag: None
            }
        );
        assert_eq!(
            p("docker-archive:a.tar:app"),
            Destination::DockerArchive {
                path: "a.tar".into(),
                reference: Some("app:latest".into())
            }
        );
        assert_eq!(
            p("docker-archive:a.tar:localhost:5000/team/app:1.2"),
            Destination::DockerArchive {
                path: "a.tar".into(),
                reference: Some("localhost:5000/team/app:1.2".into())
            }
        );
        assert_eq!(
            p("docker://127.0.0.1:5000/app:1"),
            Destination::Registry {
                reference: "127.0.0.1:5000/app:1".into()
            }
        );
    }

    #[test]
    fn refuses_bad_input_with_the_reason() {
        assert!(matches!(
            "tarball:x".parse::<Destination>(),
            Err(DestinationError::UnknownTransport(_))
        ));
        assert!(matches!(
            "out.tar".parse::<Destination>(),
            Err(DestinationError::UnknownTransport(_))
        ));
        assert!(matches!(
            "oci:".parse::<Destination>(),
            Err(DestinationError::EmptyPath(_))
        ));
        assert!(matches!(
            "oci:d:-bad".parse::<Destination>(),
            Err(DestinationError::BadTag { .. })
        ));
        assert!(matches!(
            "docker-archive:a.tar:App/X:1".parse::<Destination>(),
            Err(DestinationError::BadName { .. })
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
