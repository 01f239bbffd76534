//! Debian's `docker-registry` (CNCF distribution 2.8) on 127.0.0.1, plain or with TLS from a
//! CA made in the test and htpasswd auth; and a loopback proxy that injects faults.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tools::{require, run_ok};

use crate::tls::free_port;

/// A running registry, stopped by its PID when dropped.
pub struct RegistryServer {
    child: Child,
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The CA that signed its certificate, when it speaks TLS.
    pub ca: Option<PathBuf>,
    /// `(user, password)` when it requires auth.
    pub login: Option<(String, String)>,
}

impl RegistryServer {
    /// Plain HTTP, anonymous.
    pub fn plain() -> Self {
        Self::start(false)
    }

    /// Where the registry keeps its blobs and manifests, to tamper with them.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data/docker/registry/v2")
    }

    /// The body of an anonymous `GET path` (`/v2/…`) on a plain registry, with `accept`;
    /// panics unless it answers 200.
    pub fn get(&self, path: &str, accept: &str) -> Vec<u8> {
        let (status, body) = self.request(path, accept);
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        body
    }

    /// The status and body of an anonymous `GET path` on a plain registry.
    pub fn request(&self, path: &str, accept: &str) -> (u16, Vec<u8>) {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            c,
            "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: {accept}\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).unwrap();
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("an HTTP status");
        (status, answer[split + 4..].to_vec())
    }

    /// TLS from a CA made here, and htpasswd auth for `tester` / `s3cret-pw`.
    pub fn tls_with_auth() -> Self {
        Self::start(true)
    }

    fn start(secure: bool) -> Self {
        require("docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("registry")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            d.join("data").display()
        );
        let (mut ca, mut login) = (None, None);
        if secure {
            require("htpasswd");
            let tls = crate::tls::TestCa::create(d);
            let htpasswd = run_ok(Command::new("htpasswd").args(["-Bbn", "tester", "s3cret-pw"]));
            std::fs::write(d.join("htpasswd"), htpasswd).unwrap();
            config += &format!(
                "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: distill-test\n    path: {}/htpasswd\n",
                tls.server_cert().display(),
                tls.server_key().display(),
                d.display()
            );
            ca = Some(tls.ca());
            login = Some(("tester".to_owned(), "s3cret-pw".to_owned()));
        }
        std::fs::write(d.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(d.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            dir,
            addr,
            ca,
            login,
        }
    }

    /// A directory with the CA as `ca.crt`, for `skopeo --cert-dir`.
    pub(crate) fn cert_dir(&self) -> Option<PathBuf> {
        self.ca.as_ref().map(|_| self.dir.path().to_path_buf())
    }

    /// skopeo's flags for this registry.
    pub fn skopeo_flags(&self) -> Vec<String> {
        let mut f = Vec::new();
        match self.cert_dir() {
            Some(d) => {
                let certs = self.dir.path().join("certs");
                std::fs::create_dir_all(&certs).unwrap();
                std::fs::copy(d.join("ca.crt"), certs.join("ca.crt")).unwrap();
                f.push(format!("--cert-dir={}", certs.display()));
            }
            None => f.push("--tls-verify=false".into()),
        }
        if let Some((u, p)) = &self.login {
            f.push(format!("--creds={u}:{p}"));
        }
        f
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Faults a [`FaultProxy`] injects, each once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Drop the connection halfway through the first request body larger than this.
    pub drop_body_over: Option<u64>,
    /// Answer 503 to the first manifest PUT instead of forwarding it.
    pub manifest_503: bool,
    /// Refuse every manifest with a `subject` (an OCI 1.1 artifact), as registries older
    /// than distribution-spec 1.1 may: 400 MANIFEST_INVALID.
    pub refuse_artifacts: bool,
    /// Spoil the answers to GETs of blobs: the fault and how many answers (`usize::MAX`:
    /// all of them).
    pub blob_get: Option<(crate::http::Fault, usize)>,
}

/// A loopback HTTP proxy in front of a registry: one request per connection, forwarded,
/// except for the faults it was told to inject.
pub struct FaultProxy {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Connections dropped mid-body (at most one).
    pub dropped: Arc<AtomicUsize>,
    /// Manifest PUTs answered 503 (at most one).
    pub refused: Arc<AtomicUsize>,
    /// Blob GET answers spoiled.
    pub spoiled: Arc<AtomicUsize>,
    /// Every blob upload request with a body: its request line and its body's length.
    pub uploads: Arc<Mutex<Vec<(String, u64)>>>,
}

impl FaultProxy {
    /// The bytes of blob uploads so far.
    pub fn uploaded(&self) -> u64 {
        self.uploads.lock().unwrap().iter().map(|(_, n)| n).sum()
    }

    pub fn start(upstream: &str, faults: Faults) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let spoiled = Arc::new(AtomicUsize::new(0));
        let uploads = Arc::new(Mutex::new(Vec::new()));
        let counters = Counters {
            dropped: dropped.clone(),
            refused: refused.clone(),
            spoiled: spoiled.clone(),
            uploads: uploads.clone(),
        };
        let s = stop.clone();
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (up, counters) = (upstream.clone(), counters.clone());
                std::thread::spawn(move || {
                    let _ = relay(conn, &up, faults, &counters);
                });
            }
        });
        Self {
            addr,
            stop,
            dropped,
            refused,
            spoiled,
            uploads,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Forwards a request (its `head`, no body) and answers with upstream's answer spoiled by
/// `fault`.
fn spoil_upstream(
    client: TcpStream,
    upstream: &str,
    head: &[u8],
    first: &str,
    fault: crate::http::Fault,
) -> std::io::Result<()> {
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(head)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let status = String::from_utf8_lossy(&answer[..split])
        .lines()
        .next()
        .and_then(|l| l.split_once(' ').map(|(_, s)| s.to_owned()))
        .unwrap_or_default();
    let body = answer.get(split + 4..).unwrap_or_default().to_vec();
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
    crate::http::spoil(client, fault, &status, &path, body)
}

#[derive(Clone)]
struct Counters {
    dropped: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    spoiled: Arc<AtomicUsize>,
    uploads: Arc<Mutex<Vec<(String, u64)>>>,
}

fn relay(
    client: TcpStream,
    upstream: &str,
    faults: Faults,
    counters: &Counters,
) -> std::io::Result<()> {
    let (dropped, refused) = (&*counters.dropped, &*counters.refused);
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut length = 0u64;
    let mut first = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if first.is_empty() {
            first = line.clone();
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        head.extend_from_slice(line.as_bytes());
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    if first.contains("/blobs/uploads/") && length > 0 {
        let line = first.trim_end().to_owned();
        counters.uploads.lock().unwrap().push((line, length));
    }
    let mut client_w = client;
    let once = |n: &AtomicUsize| {
        n.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    };
    if faults.manifest_503
        && first.starts_with("PUT ")
        && first.contains("/manifests/")
        && once(refused)
    {
        let mut body = vec![0u8; length as usize];
        reader.read_exact(&mut body)?;
        return client_w.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    if faults.refuse_artifacts && first.starts_with("PUT ") && first.contains("/manifests/") {
        let mut body = vec![0u8; length as usize];
        reader.read_exact(&mut body)?;
        if String::from_utf8_lossy(&body).contains("\"subject\"") {
            let answer = r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}"#;
            return write!(
                client_w,
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
        let mut up = TcpStream::connect(upstream)?;
        up.write_all(&head)?;
        up.write_all(&body)?;
        std::io::copy(&mut up, &mut client_w)?;
        return Ok(());
    }
    if let Some((fault, times)) = faults.blob_get
        && first.starts_with("GET ")
        && first.contains("/blobs/sha256:")
        && counters
            .spoiled
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < times).then_some(n + 1)
            })
            .is_ok()
    {
        return spoil_upstream(client_w, upstream, &head, &first, fault);
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(&head)?;
    if let Some(limit) = faults.drop_body_over
        && length > limit
        && once(dropped)
    {
        let mut half = vec![0u8; (length / 2) as usize];
        reader.read_exact(&mut half)?;
        up.write_all(&half)?;
        // Both sides see the connection die mid-body.
        let _ = up.shutdown(std::net::Shutdown::Both);
        return client_w.shutdown(std::net::Shutdown::Both);
    }
    std::io::copy(&mut reader.by_ref().take(length), &mut up)?;
    std::io::copy(&mut up, &mut client_w)?;
    Ok(())
}
