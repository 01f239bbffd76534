//! Registry credentials: where they come from, and keeping them out of every message.
//!
//! In order: `DISTILL_REGISTRY_USERNAME` with `DISTILL_REGISTRY_PASSWORD` (for CI), then the
//! Docker client config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`): a
//! `credHelpers` entry for the host, an `auths` entry, then the global `credsStore`.
//! Credential helpers are run as `docker-credential-NAME get`, the protocol Docker uses.
//!
//! Every credential belongs to one host. The Docker config names it; the environment's pair
//! belongs to the hosts in `DISTILL_REGISTRY_HOST` (comma-separated), or, when that is
//! unset, to the registries named on the command line (`-o docker://…`, `push`'s and
//! `pull`'s addresses): never to one that only a config file names (a `base`), since a
//! config may come from anyone.

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;

/// A secret. Its `Debug` shows no secret, so it cannot leak through logs or errors.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`), traded for a bearer token.
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

impl Credential {
    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Credential::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Credential::IdentityToken(_) => None,
        }
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CredentialError {
    #[error("Cannot read {path}: {why}")]
    #[diagnostic(help("fix the JSON of {}, or point DOCKER_CONFIG at another directory", path.display()))]
    Config { path: PathBuf, why: String },
    #[error("Credential helper docker-credential-{helper} failed for {host}: {why}")]
    #[diagnostic(help("run `docker-credential-{helper} get` by hand to see why, or log in again"))]
    Helper {
        helper: String,
        host: String,
        why: String,
    },
}

fn config_path() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(|d| PathBuf::from(d).join("config.json"))
        .or_else(|| dirs::home_dir().map(|h| h.join(".docker/config.json")))
}

/// The credential for `host`, if any is configured; `named` are the registries the command
/// line names.
pub fn lookup(host: &str, named: &[String]) -> Result<Option<Credential>, CredentialError> {
    if let Some(c) = from_env(host, named, |k| std::env::var(k).ok()) {
        return Ok(Some(c));
    }
    match config_path() {
        Some(path) => lookup_in_config(host, &path),
        None => Ok(None),
    }
}

/// The environment's pair, when it belongs to `host` (see the module docs).
fn from_env(
    host: &str,
    named: &[String],
    var: impl Fn(&str) -> Option<String>,
) -> Option<Credential> {
    let username = var("DISTILL_REGISTRY_USERNAME")?;
    let password = var("DISTILL_REGISTRY_PASSWORD")?;
    let belongs = match var("DISTILL_REGISTRY_HOST") {
        Some(hosts) => hosts.split(',').any(|h| same_host(h, host)),
        None => named.iter().any(|h| same_host(h, host)),
    };
    belongs.then_some(Credential::Basic { username, password })
}

/// `reg.example:5000` names the same registry as `https://REG.example:5000/`.
fn same_host(given: &str, host: &str) -> bool {
    let given = given.trim();
    let given = given
        .strip_prefix("https://")
        .or_else(|| given.strip_prefix("http://"))
        .unwrap_or(given);
    given.trim_end_matches('/').eq_ignore_ascii_case(host)
}

/// The credential for `host` in the Docker client config at `path`.
pub(crate) fn lookup_in_config(
    host: &str,
    path: &std::path::Path,
) -> Result<Option<Credential>, CredentialError> {
    let path = path.to_path_buf();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let bad = |why: String| CredentialError::Config {
        path: path.clone(),
        why,
    };
    let cfg: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if let Some(helper) = cfg["credHelpers"][host].as_str() {
        return helper_get(helper, host);
    }
    for key in [
        host.to_owned(),
        format!("https://{host}"),
        format!("http://{host}"),
    ] {
        let entry = &cfg["auths"][&key];
        if entry.is_null() {
            continue;
        }
        if let Some(t) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
            return Ok(Some(Credential::IdentityToken(t.to_owned())));
        }
        if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth)
                .map_err(|_| bad(format!("auths.{key}.auth is not base64")))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| bad(format!("auths.{key}.auth is not UTF-8")))?;
            let (username, password) = decoded
                .split_once(':')
                .ok_or_else(|| bad(format!("auths.{key}.auth is not user:password")))?;
            return Ok(Some(Credential::Basic {
                username: username.to_owned(),
                password: password.to_owned(),
            }));
        }
        if let (Some(u), Some(p)) = (entry["username"].as_str(), entry["password"].as_str()) {
            return Ok(Some(Credential::Basic {
                username: u.to_owned(),
                password: p.to_owned(),
            }));
        }
    }
    match cfg["credsStore"].as_str() {
        Some(store) => helper_get(store, host),
        None => Ok(None),
    }
}

fn helper_get(helper: &str, host: &str) -> Result<Option<Credential>, CredentialError> {
    let err = |why: String| CredentialError::Helper {
        helper: helper.to_owned(),
        host: host.to_owned(),
        why,
    };
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(e.to_string()))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(host.as_bytes())
        .map_err(|e| err(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        // "credentials not found" is not an error: the registry may allow anonymous access.
        let msg = String::from_utf8_lossy(&out.stdout).to_lowercase();
        if msg.contains("not found") {
            return Ok(None);
        }
        return Err(err(format!("exit status {}", out.status)));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|_| err("its answer is not JSON".into()))?;
    let (user, secret) = (
        v["Username"].as_str().unwrap_or(""),
        v["Secret"].as_str().unwrap_or(""),
    );
    Ok(Some(if user == "<token>" {
        Credential::IdentityToken(secret.to_owned())
    } else {
        Credential::Basic {
            username: user.to_owned(),
            password: secret.to_owned(),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credential::Basic {
            username: "me".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credential::IdentityToken("tok".into())).contains("tok"));
        assert_eq!(c.basic_header().unwrap(), "Basic bWU6aHVudGVyMg==");
    }

    #[test]
    fn the_environments_credentials_belong_to_one_host() {
        let env = |host: Option<&'static str>| {
            move |k: &str| match k {
                "DISTILL_REGISTRY_USERNAME" => Some("ci".to_owned()),
                "DISTILL_REGISTRY_PASSWORD" => Some("pw".to_owned()),
                "DISTILL_REGISTRY_HOST" => host.map(str::to_owned),
                _ => None,
            }
        };
        let cli = ["reg.example".to_owned()];
        // Unnamed: the registries of the command line, and no other.
        assert!(from_env("reg.example", &cli, env(None)).is_some());
        assert!(from_env("base.example", &cli, env(None)).is_none());
        // Named: those hosts, and no other.
        let named = env(Some("https://REG.example/, 127.0.0.1:5000"));
        assert!(from_env("reg.example", &[], named).is_some());
        assert!(from_env("127.0.0.1:5000", &[], named).is_some());
        assert!(from_env("other.example", &cli, named).is_none());
        assert!(from_env("127.0.0.1:5001", &[], named).is_none());
        assert!(from_env("reg.example.evil", &[], named).is_none());
    }

    #[test]
    fn docker_config_auths_are_read_per_host() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"auths":{"reg.invalid":{"auth":"bWU6aHVudGVyMg=="},"https://tok.invalid":{"identitytoken":"abc"},"bad.invalid":{"auth":"!!"}}}"#,
        )
        .unwrap();
        assert_eq!(
            lookup_in_config("reg.invalid", &p).unwrap(),
            Some(Credential::Basic {
                username: "me".into(),
                password: "hunter2".into()
            })
        );
        assert_eq!(
            lookup_in_config("tok.invalid", &p).unwrap(),
            Some(Credential::IdentityToken("abc".into()))
        );
        assert_eq!(lookup_in_config("other.invalid", &p).unwrap(), None);
        assert!(lookup_in_config("bad.invalid", &p).is_err());
    }
}
