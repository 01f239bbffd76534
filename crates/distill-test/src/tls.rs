//! A test CA made with the openssl command, a server certificate it signs for 127.0.0.1, and
//! an HTTPS server (`openssl s_server -www`) on 127.0.0.1 that presents it.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::{require, run_ok};

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ca.crt` and `ca.key`, and `server.crt` / `server.key` for IP 127.0.0.1, in `dir`.
pub struct TestCa {
    dir: PathBuf,
}

impl TestCa {
    pub fn create(dir: &Path) -> Self {
        require("openssl");
        let ssl = |args: &[&str]| run_ok(Command::new("openssl").current_dir(dir).args(args));
        ssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=distill test CA",
        ]);
        ssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    pub(crate) fn server_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    pub(crate) fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

/// `openssl s_server -www` on 127.0.0.1, with a certificate from its own [`TestCa`]; it
/// answers each `GET /` with a 200 status page. Stopped by its PID when dropped.
pub struct HttpsServer {
    child: Child,
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub port: u16,
}

impl HttpsServer {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("https").tempdir().unwrap();
        let ca = TestCa::create(dir.path());
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept", &addr, "-cert"])
            .arg(ca.server_cert())
            .arg("-key")
            .arg(ca.server_key())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "openssl s_server did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            ca: ca.ca(),
            _dir: dir,
            port,
        }
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
