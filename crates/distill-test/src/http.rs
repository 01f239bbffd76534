//! A static file server on 127.0.0.1 for tests: serves a directory, answers `Range`
//! requests with 206. Stopped when dropped. A directory's URL serves
//! its file `index`, so one path can be both a document and a prefix (as in the npm
//! registry, where `/PKG` is the package document and `/PKG/-/FILE` its tarballs), or its
//! `index.html` as HTML (a Python simple index's `/simple/NAME/`).
//!
//! [`FileServer::faulty`] injects one [`Fault`] into the answers for matching paths, a given
//! number of times: what a flaky or hostile mirror does.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a [`FileServer::faulty`] does instead of a plain answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Half the body, then a TCP reset (SO_LINGER of zero, then close).
    Reset,
    /// Half the body, then a clean close: a body shorter than its `Content-Length`.
    Truncate,
    /// This status and no body (500, 503).
    Status(u16),
    /// 429 with `Retry-After: N`.
    TooMany(u64),
    /// Nothing for this long, then the answer.
    SlowStart(Duration),
    /// Half the body, nothing for this long, then the rest.
    Stall(Duration),
    /// The whole body with one byte changed.
    Flip,
    /// A redirect to the same URL.
    RedirectLoop,
    /// 200 with no length, and zeros until the client goes away.
    Endless,
}

/// Where and how often a [`Fault`] strikes.
#[derive(Debug, Clone)]
struct Injector {
    fault: Fault,
    /// Paths containing this are hit.
    matching: String,
    /// How many answers it spoils; `usize::MAX` for all.
    times: usize,
    done: Arc<AtomicUsize>,
}

pub struct FileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    injected: Option<Arc<AtomicUsize>>,
}

impl FileServer {
    /// Serves `root` on a free port of 127.0.0.1.
    pub fn start(root: &Path) -> Self {
        Self::spawn(root, None)
    }

    /// Serves `root`, but the first `times` answers for paths containing `matching` get
    /// `fault` (`usize::MAX`: every one). [`FileServer::injected`] counts them.
    pub fn faulty(root: &Path, fault: Fault, matching: &str, times: usize) -> Self {
        Self::spawn(
            root,
            Some(Injector {
                fault,
                matching: matching.to_owned(),
                times,
                done: Arc::new(AtomicUsize::new(0)),
            }),
        )
    }

    fn spawn(root: &Path, injector: Option<Injector>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let s = stop.clone();
        let injected = injector.as_ref().map(|i| i.done.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (root, injector) = (root.clone(), injector.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &root, injector.as_ref());
                });
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
            injected,
        }
    }

    /// How many answers the fault has spoiled so far.
    pub fn injected(&self) -> usize {
        self.injected
            .as_ref()
            .map_or(0, |d| d.load(Ordering::SeqCst))
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut conn: TcpStream, root: &Path, injector: Option<&Injector>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut range: Option<u64> = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            range = v.trim().trim_end_matches('-').parse().ok();
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let rel: PathBuf = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != "." && *c != "..")
        .collect();
    let mut full = root.join(rel);
    if full.is_dir() {
        // A PEP 503 page (`index.html`, sent as HTML) or any other document (`index`).
        full.push(if full.join("index.html").is_file() {
            "index.html"
        } else {
            "index"
        });
    }
    let html = full.extension().is_some_and(|e| e == "html");
    let Ok(mut f) = std::fs::File::open(&full).and_then(|f| {
        if f.metadata()?.is_file() {
            Ok(f)
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        }
    }) else {
        return conn.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let len = f.metadata()?.len();
    let (status, start) = match range {
        Some(s) if s < len => ("206 Partial Content", s),
        _ => ("200 OK", 0),
    };
    f.seek(SeekFrom::Start(start))?;
    let mut body = Vec::new();
    f.read_to_end(&mut body)?;
    let fault = injector.filter(|i| {
        path.contains(&i.matching)
            && i.done
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < i.times).then_some(n + 1)
                })
                .is_ok()
    });
    match fault.map(|i| i.fault) {
        Some(f) => spoil(conn, f, status, path, body),
        None => {
            let kind = if html {
                "Content-Type: text/html\r\n"
            } else {
                ""
            };
            write!(
                conn,
                "HTTP/1.1 {status}\r\n{kind}Content-Length: {}\r\nConnection: close\r\n\r\n",
                len - start
            )?;
            conn.write_all(&body)
        }
    }
}

/// Answers as `fault` says instead of with `status` (`200 OK`) and `body`.
pub(crate) fn spoil(
    mut conn: TcpStream,
    fault: Fault,
    status: &str,
    path: &str,
    mut body: Vec<u8>,
) -> std::io::Result<()> {
    let head = |conn: &mut TcpStream, len: usize| {
        write!(
            conn,
            "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    let half = body.len() / 2;
    match fault {
        Fault::Reset | Fault::Truncate => {
            head(&mut conn, body.len())?;
            conn.write_all(&body[..half])?;
            if fault == Fault::Reset {
                conn.flush()?;
                rustix::net::sockopt::set_socket_linger(&conn, Some(Duration::ZERO))?;
            }
            Ok(())
        }
        Fault::Status(code) => write!(
            conn,
            "HTTP/1.1 {code} Fault\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        Fault::TooMany(secs) => write!(
            conn,
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {secs}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        Fault::SlowStart(d) => {
            std::thread::sleep(d);
            head(&mut conn, body.len())?;
            conn.write_all(&body)
        }
        Fault::Stall(d) => {
            head(&mut conn, body.len())?;
            conn.write_all(&body[..half])?;
            conn.flush()?;
            std::thread::sleep(d);
            conn.write_all(&body[half..])
        }
        Fault::Flip => {
            if let Some(b) = body.get_mut(half) {
                *b ^= 0x55;
            }
            head(&mut conn, body.len())?;
            conn.write_all(&body)
        }
        Fault::RedirectLoop => write!(
            conn,
            "HTTP/1.1 302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        Fault::Endless => {
            conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            let zeros = vec![0u8; 64 << 10];
            loop {
                conn.write_all(&zeros)?;
            }
        }
    }
}
