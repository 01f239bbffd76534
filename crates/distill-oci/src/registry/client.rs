//! The OCI distribution protocol client (distribution-spec v1.1): blobs and manifests over
//! HTTP, with the auth flows registries use.
//!
//! - Auth: anonymous first; on `401` the `WWW-Authenticate` challenge decides: `Basic` sends
//!   the credential, `Bearer` trades it (or nothing) for a token at the realm, per scope.
//!   A token the registry rejects is fetched once more, then the request fails.
//! - Credentials stay with their host (see [`auth`]): a URL on another origin (an upload
//!   `Location`, a redirect) is sent no `Authorization`, and a token realm gets the
//!   credential only over https, or over plain http on loopback or the registry's own host.
//! - TLS: the system roots plus `--ca-cert`; plain HTTP only for a loopback registry or one
//!   named by `--insecure-registry`. No redirect goes from https to http.
//! - Faults: connection errors, 429 and 5xx are retried with backoff by the callers, per
//!   idempotent unit of work (a whole blob upload, a manifest PUT), after the registry's
//!   `Retry-After` when a 429 or 503 gives one.
//! - Secrets never enter an error or a log line: messages carry URLs, statuses and the
//!   registry's error codes, never headers.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::{Method, StatusCode};

use super::auth::{self, Credential, CredentialError};
use super::challenge::{Challenge, challenge_error, parse_challenge, registry_errors};
use crate::digest::Digest;
use crate::net::error_chain;
use distill_core::Reference;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Extra CA certificates (PEM) to trust, beside the system roots.
    pub ca_certs: Vec<PathBuf>,
    /// Hosts that may be reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Blobs larger than this are uploaded in chunks of this size; 0 means the default.
    /// Useful behind proxies that limit the size of a request.
    pub chunk_size: u64,
    /// The registries the command line names, which the `DISTILL_REGISTRY_*` credentials
    /// belong to unless `DISTILL_REGISTRY_HOST` says otherwise (see [`auth`]).
    pub named_hosts: Vec<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RegistryError {
    #[error("{registry} refused the credentials for {repository} (HTTP 401{})", detail(.why))]
    #[diagnostic(help(
        "check the credentials for {registry}: `docker login {registry}`, or DISTILL_REGISTRY_USERNAME and DISTILL_REGISTRY_PASSWORD, which go to the registries named on the command line, or to the hosts in DISTILL_REGISTRY_HOST"
    ))]
    Unauthorized {
        registry: String,
        repository: String,
        why: String,
    },
    #[error("{registry} denies access to {repository} (HTTP 403{})", detail(.why))]
    #[diagnostic(help("give the account push or pull rights on {repository}"))]
    Denied {
        registry: String,
        repository: String,
        why: String,
    },
    #[error("{method} {url} answered HTTP {status}{}", detail(.why))]
    Status {
        method: String,
        url: String,
        status: u16,
        why: String,
    },
    #[error("{method} {url} answered HTTP {status} and asks to come back in {retry_after} s")]
    #[diagnostic(help("the registry is busy or rate-limiting; retry later"))]
    Busy {
        method: String,
        url: String,
        status: u16,
        retry_after: u64,
    },
    #[error("Cannot reach {url}: {why}")]
    #[diagnostic(help(
        "check the registry address and the network; for a private CA pass --ca-cert FILE"
    ))]
    Transport { url: String, why: String },
    #[error("{what} from {url} has digest {actual}, expected {expected}")]
    #[diagnostic(help(
        "the registry served other bytes than it named; retry, or check for a proxy that rewrites content"
    ))]
    DigestMismatch {
        what: &'static str,
        url: String,
        expected: String,
        actual: String,
    },
    #[error("{url} sent {actual} bytes{}, but its descriptor says {expected}", if *actual > *expected { " or more" } else { "" })]
    #[diagnostic(help(
        "the registry served other bytes than it named; retry, or check for a proxy that rewrites content"
    ))]
    SizeMismatch {
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("{host} does not speak HTTPS, and plain HTTP is only used for loopback registries")]
    #[diagnostic(help(
        "if {host} is yours and plain HTTP is intended, pass --insecure-registry {host}"
    ))]
    Insecure { host: String },
    #[error("{registry} sends its token requests to {realm}, which is plain HTTP on another host")]
    #[diagnostic(help(
        "a token service must speak HTTPS (credentials and tokens would cross the network in clear); fix the registry's auth realm, or reach it through HTTPS"
    ))]
    InsecureRealm { registry: String, realm: String },
    #[error("Cannot use CA certificate {path}: {why}")]
    #[diagnostic(help("give --ca-cert a PEM file that holds the registry's CA certificate"))]
    CaCert { path: PathBuf, why: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Credential(#[from] CredentialError),
    #[error("Invalid answer from {url}: {why}")]
    Protocol { url: String, why: String },
    #[error("Cannot read blob {digest}: {why}")]
    Local { digest: String, why: String },
}

fn detail(why: &str) -> String {
    if why.is_empty() {
        String::new()
    } else {
        format!(": {why}")
    }
}

impl RegistryError {
    /// Worth another try: the network or the server failed, not the request.
    pub fn transient(&self) -> bool {
        match self {
            RegistryError::Transport { .. } => true,
            RegistryError::Status { status, .. } => {
                *status >= 500 || *status == 429 || *status == 408
            }
            RegistryError::Busy { .. } => true,
            _ => false,
        }
    }

    /// How long the registry asked to wait before the next try.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RegistryError::Busy { retry_after, .. } => Some(Duration::from_secs(*retry_after)),
            _ => None,
        }
    }
}

/// A connection to one registry for one repository.
pub struct Client {
    http: Http,
    /// `https://HOST` or `http://HOST`.
    base: String,
    reference: Reference,
    credential: Option<Credential>,
    /// The `Authorization` header that worked last, reused until rejected.
    authorization: Mutex<Option<String>>,
    /// Plain HTTP is allowed for this registry (loopback or `--insecure-registry`).
    plain_ok: bool,
    /// Blob bytes handed to the network, failed attempts included.
    pub(super) sent: Arc<AtomicU64>,
    chunk_size: u64,
}

/// What `Accept` lists when fetching a manifest.
/// The largest manifest or index read from a registry: far above any real one.
pub const MAX_MANIFEST: u64 = 4 << 20;

pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

impl Client {
    /// Connects to the registry of `reference`: picks the scheme, looks up the credentials
    /// that belong to it.
    pub fn connect(reference: &Reference, opts: &RegistryOptions) -> Result<Self, RegistryError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Per connect, read or write: a stall. A whole upload chunk is one write, so the
        // default is generous; DISTILL_HTTP_STALL_SECS (as for mirrors) overrides it.
        let stall = crate::net::secs_from_env("DISTILL_HTTP_STALL_SECS", 900);
        let mut builder = Http::builder()
            .redirect(crate::net::redirect_policy())
            .connect_timeout(Duration::from_secs(15))
            .timeout(stall)
            .user_agent(concat!("distill/", env!("CARGO_PKG_VERSION")));
        for path in &opts.ca_certs {
            let bad = |why: String| RegistryError::CaCert {
                path: path.clone(),
                why,
            };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no certificate in it".into()));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder.build().map_err(|e| RegistryError::Transport {
            url: reference.host.clone(),
            why: error_chain(&e),
        })?;
        let credential = auth::lookup(&reference.host, &opts.named_hosts)?;
        let plain_ok =
            reference.is_loopback() || opts.insecure.iter().any(|h| h == &reference.host);
        let mut client = Self {
            http,
            base: format!("https://{}", reference.host),
            reference: reference.clone(),
            credential,
            authorization: Mutex::new(None),
            plain_ok,
            sent: Arc::new(AtomicU64::new(0)),
            chunk_size: opts.chunk_size,
        };
        // The API root answers 200 or 401 on any registry; it also settles the scheme.
        match client.http.get(format!("{}/v2/", client.base)).send() {
            Ok(_) => {}
            Err(e) if plain_ok && (e.is_connect() || e.is_request()) => {
                client.base = format!("http://{}", reference.host);
                client
                    .http
                    .get(format!("{}/v2/", client.base))
                    .send()
                    .map_err(|e| RegistryError::Transport {
                        url: format!("{}/v2/", client.base),
                        why: error_chain(&e),
                    })?;
            }
            Err(e)
                if e.is_connect()
                    && !plain_ok
                    && error_chain(&e).to_lowercase().contains("http") =>
            {
                return Err(RegistryError::Insecure {
                    host: reference.host.clone(),
                });
            }
            Err(e) => {
                return Err(RegistryError::Transport {
                    url: format!("{}/v2/", client.base),
                    why: error_chain(&e),
                });
            }
        }
        Ok(client)
    }

    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The chunk size asked for; 0 for the default.
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    /// Blob bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.reference.repository)
    }

    pub(super) fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            format!("{}{location}", self.base)
        }
    }

    /// Sends a request built by `make`, answering one auth challenge if the registry asks.
    pub(super) fn send(
        &self,
        method: Method,
        url: &str,
        make: &dyn Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let go = |auth: Option<&str>| {
            let mut rb = self.http.request(method.clone(), url);
            if let Some(a) = auth {
                rb = rb.header(reqwest::header::AUTHORIZATION, a);
            }
            make(rb).send().map_err(|e| RegistryError::Transport {
                url: url.to_owned(),
                why: error_chain(&e),
            })
        };
        if !self.same_origin(url) {
            // An upload Location or a blob on another host: it gets no credential, and a
            // challenge from it is not answered.
            let resp = go(None)?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                return Err(RegistryError::Status {
                    method: method.to_string(),
                    url: url.to_owned(),
                    status: 401,
                    why: format!(
                        "it is not {}, so it is sent no credentials",
                        self.reference.host
                    ),
                });
            }
            return self.check(resp, &method, url);
        }
        let cached = self
            .authorization
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let resp = go(cached.as_deref())?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return self.check(resp, &method, url);
        }
        let challenge = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .and_then(parse_challenge);
        let body = resp.text().unwrap_or_default();
        let Some(challenge) = challenge else {
            return Err(self.unauthorized(registry_errors(&body)));
        };
        let header = self.authorize(&challenge)?;
        let resp = go(Some(&header))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            *self.authorization.lock().unwrap_or_else(|p| p.into_inner()) = None;
            // A HEAD answer has no body: RFC 6750's error_description says why instead.
            let described = resp
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .and_then(challenge_error);
            let body = resp.text().unwrap_or_default();
            let why = Some(registry_errors(&body))
                .filter(|w| !w.is_empty())
                .or(described)
                .unwrap_or_default();
            return Err(self.unauthorized(why));
        }
        *self.authorization.lock().unwrap_or_else(|p| p.into_inner()) = Some(header);
        self.check(resp, &method, url)
    }

    /// Whether `url` is on the registry itself: the same scheme, host and port (an absent
    /// port and the scheme's default one are the same).
    fn same_origin(&self, url: &str) -> bool {
        let origin = |u: &str| {
            reqwest::Url::parse(u).ok().map(|u| {
                (
                    u.scheme().to_owned(),
                    u.host_str().map(str::to_ascii_lowercase),
                    u.port_or_known_default(),
                )
            })
        };
        origin(url).is_some_and(|o| Some(o) == origin(&self.base))
    }

    /// Refuses a token realm that would get the credential in clear: plain http is fine
    /// only on loopback, or on the registry's own host when that is allowed plain http.
    fn check_realm(&self, realm: &str) -> Result<(), RegistryError> {
        let refuse = || RegistryError::InsecureRealm {
            registry: self.reference.host.clone(),
            realm: realm.to_owned(),
        };
        let url = reqwest::Url::parse(realm).map_err(|_| RegistryError::Protocol {
            url: self.base.clone(),
            why: format!("the auth realm {realm:?} is not a URL"),
        })?;
        match url.scheme() {
            "https" => Ok(()),
            "http" => {
                let host = match (url.host_str(), url.port()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.to_owned(),
                    (None, _) => return Err(refuse()),
                };
                let own = self.plain_ok && host.eq_ignore_ascii_case(&self.reference.host);
                if own || distill_core::is_loopback_host(&host) {
                    Ok(())
                } else {
                    Err(refuse())
                }
            }
            _ => Err(refuse()),
        }
    }

    pub(super) fn unauthorized(&self, why: String) -> RegistryError {
        RegistryError::Unauthorized {
            registry: self.reference.host.clone(),
            repository: self.reference.repository.clone(),
            why: if self.credential.is_none() && why.is_empty() {
                "no credentials are configured".into()
            } else {
                why
            },
        }
    }

    /// Turns 403 and other failures into errors; passes success and 404 through.
    pub(super) fn check(
        &self,
        resp: Response,
        method: &Method,
        url: &str,
    ) -> Result<Response, RegistryError> {
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_FOUND || status.is_redirection() {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::net::retry_after_secs);
        if let (Some(retry_after), 429 | 503) = (retry_after, status.as_u16()) {
            return Err(RegistryError::Busy {
                method: method.to_string(),
                url: url.to_owned(),
                status: status.as_u16(),
                retry_after,
            });
        }
        let body = resp.text().unwrap_or_default();
        if status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Denied {
                registry: self.reference.host.clone(),
                repository: self.reference.repository.clone(),
                why: registry_errors(&body),
            });
        }
        Err(RegistryError::Status {
            method: method.to_string(),
            url: url.to_owned(),
            status: status.as_u16(),
            why: registry_errors(&body),
        })
    }

    /// The `Authorization` header that answers `challenge`.
    pub(super) fn authorize(&self, challenge: &Challenge) -> Result<String, RegistryError> {
        match challenge {
            Challenge::Basic => self
                .credential
                .as_ref()
                .and_then(Credential::basic_header)
                .ok_or_else(|| self.unauthorized(String::new())),
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                self.check_realm(realm)?;
                let scope = scope.clone().unwrap_or_else(|| {
                    format!("repository:{}:pull,push", self.reference.repository)
                });
                let mut rb = self.http.get(realm).query(&[("scope", scope.as_str())]);
                if let Some(s) = service {
                    rb = rb.query(&[("service", s.as_str())]);
                }
                match &self.credential {
                    Some(Credential::Basic { username, password }) => {
                        rb = rb.basic_auth(username, Some(password))
                    }
                    Some(Credential::IdentityToken(_)) | None => {}
                }
                let resp = rb.send().map_err(|e| RegistryError::Transport {
                    url: realm.clone(),
                    why: error_chain(&e),
                })?;
                if resp.status() == StatusCode::UNAUTHORIZED
                    || resp.status() == StatusCode::FORBIDDEN
                {
                    return Err(
                        self.unauthorized("the token service refused the credentials".into())
                    );
                }
                let text = resp.text().unwrap_or_default();
                let v: serde_json::Value =
                    serde_json::from_str(&text).map_err(|_| RegistryError::Protocol {
                        url: realm.clone(),
                        why: "the token answer is not JSON".into(),
                    })?;
                let token = v["token"]
                    .as_str()
                    .or_else(|| v["access_token"].as_str())
                    .ok_or_else(|| RegistryError::Protocol {
                        url: realm.clone(),
                        why: "no token in the answer".into(),
                    })?;
                Ok(format!("Bearer {token}"))
            }
        }
    }

    pub(super) fn manifest_url(&self, target: &str) -> String {
        self.url(&format!("manifests/{target}"))
    }

    /// A response body of at most `max` bytes; a longer one is refused, not read on.
    pub(super) fn bounded_body(
        &self,
        resp: Response,
        url: &str,
        max: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        use std::io::Read;
        let mut bytes = Vec::new();
        resp.take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::Transport {
                url: url.to_owned(),
                why: e.to_string(),
            })?;
        if bytes.len() as u64 > max {
            return Err(RegistryError::Protocol {
                url: url.to_owned(),
                why: format!("the answer is larger than {} MiB", max >> 20),
            });
        }
        Ok(bytes)
    }

    /// PUTs a manifest or index under `target` (a tag or its digest), as these exact bytes.
    pub(crate) fn put_manifest(
        &self,
        target: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let url = self.url(&format!("manifests/{target}"));
        let digest = Digest::of(bytes);
        let resp = self.send(Method::PUT, &url, &|rb| {
            rb.header(reqwest::header::CONTENT_TYPE, media_type)
                .body(bytes.to_vec())
        })?;
        self.expect_created(resp, &url, &digest, "manifest")?;
        Ok(digest)
    }

    /// Fetches a manifest or index: its bytes, media type and digest. A digest reference
    /// is verified against the bytes.
    pub fn get_manifest(&self, target: &str) -> Result<(Vec<u8>, String, Digest), RegistryError> {
        let url = self.url(&format!("manifests/{target}"));
        let resp = self.send(Method::GET, &url, &|rb| {
            rb.header(reqwest::header::ACCEPT, MANIFEST_ACCEPT)
        })?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::Status {
                method: "GET".into(),
                url,
                status: 404,
                why: "no such manifest".into(),
            });
        }
        let media_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let bytes = self.bounded_body(resp, &url, MAX_MANIFEST)?;
        let digest = Digest::of(&bytes);
        if let Ok(want) = target.parse::<Digest>()
            && want != digest
        {
            return Err(RegistryError::DigestMismatch {
                what: "manifest",
                url,
                expected: want.to_string(),
                actual: digest.to_string(),
            });
        }
        Ok((bytes.to_vec(), media_type, digest))
    }
}
