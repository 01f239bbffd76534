//! Image references: `HOST[:PORT]/REPOSITORY[:TAG][@sha256:HEX]` (distribution spec names).

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub host: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("Invalid image reference `{reference}`: {why}")]
#[diagnostic(help(
    "write HOST[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST], such as 127.0.0.1:5000/team/app:1"
))]
pub struct ReferenceError {
    pub reference: String,
    pub why: &'static str,
}

impl Reference {
    /// What to ask the registry for: the digest when pinned, else the tag (`latest`).
    pub fn target(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// Whether the registry is on this machine, where plain HTTP is allowed.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

/// A loopback address itself (`127.0.0.1`, `::1`, `localhost`), with or without a port:
/// not a name that merely starts with `127.`, which anyone can register.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .map(|(h, _)| h)
        .unwrap_or_else(|| match host.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        });
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| ReferenceError {
            reference: s.to_owned(),
            why,
        };
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(
                    d.parse::<Digest>()
                        .map_err(|_| err("the digest is not sha256:<64 hex>"))?,
                ),
            ),
            None => (s, None),
        };
        let (host, path) = match rest.split_once('/') {
            Some((h, p)) if h.contains(['.', ':']) || h == "localhost" || h.starts_with('[') => {
                (h.to_owned(), p)
            }
            _ => ("docker.io".to_owned(), rest),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t.to_owned())),
            _ => (path, None),
        };
        let repo_ok = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'.' | b'_' | b'-')
                    })
            });
        if !repo_ok {
            return Err(err(
                "the repository is lowercase letters, digits and . _ - / separators",
            ));
        }
        if let Some(t) = &tag {
            let ok = (1..=128).contains(&t.len())
                && !t.starts_with(['.', '-'])
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !ok {
                return Err(err("invalid tag"));
            }
        }
        let repository = if host == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        Ok(Self {
            host,
            repository,
            tag,
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_tags_and_digests() {
        let r: Reference = "127.0.0.1:5000/team/app:1.2".parse().unwrap();
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "team/app", Some("1.2"))
        );
        assert!(r.is_loopback());
        let d = format!("sha256:{}", "a".repeat(64));
        let r: Reference = format!("reg.example/app@{d}").parse().unwrap();
        assert_eq!(r.target(), d);
        assert!(!r.is_loopback());
        for h in [
            "127.0.0.1",
            "127.0.0.1:5000",
            "127.3.4.5:1",
            "localhost:80",
            "[::1]:443",
            "::1",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "127.evil.example",
            "127.0.0.1.nip.io:5000",
            "localhost.example",
            "10.0.0.1",
            "[::2]:1",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
        let r: Reference = "localhost/app".parse().unwrap();
        assert_eq!(r.target(), "latest");
        assert_eq!(
            "app".parse::<Reference>().unwrap().repository,
            "library/app"
        );
        assert!("reg.example/App:1".parse::<Reference>().is_err());
        assert!("reg.example/app@sha256:zz".parse::<Reference>().is_err());
    }
}
