//! A loopback HTTP server whose answers a test writes as a function of the request, and
//! which records every request it saw: for registries that lie, token services that should
//! never be reached, and hosts that must never see a credential.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// The `Authorization` header, if one was sent.
    pub authorization: Option<String>,
}

/// An answer: status, extra header lines (`Name: value`), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, line: impl Into<String>) -> Self {
        self.headers.push(line.into());
        self
    }
}

type Script = dyn Fn(&Request, SocketAddr) -> Answer + Send + Sync;

/// Stopped when dropped.
pub struct Scripted {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Scripted {
    /// Serves on a free port of 127.0.0.1; `script` is given each request and this
    /// server's own address.
    pub fn start(script: impl Fn(&Request, SocketAddr) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let (s, rec) = (stop.clone(), seen.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (script, rec) = (script.clone(), rec.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, addr, &*script, &rec);
                });
            }
        });
        Self { addr, seen, stop }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    conn: TcpStream,
    addr: SocketAddr,
    script: &Script,
    seen: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let (mut length, mut authorization) = (0u64, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink())?;
    let mut parts = first.split_whitespace();
    let request = Request {
        method: parts.next().unwrap_or_default().to_owned(),
        path: parts.next().unwrap_or_default().to_owned(),
        authorization,
    };
    seen.lock().unwrap().push(request.clone());
    let answer = script(&request, addr);
    let mut conn = conn;
    write!(conn, "HTTP/1.1 {} X\r\n", answer.status)?;
    for h in &answer.headers {
        write!(conn, "{h}\r\n")?;
    }
    write!(
        conn,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    )?;
    conn.write_all(&answer.body)
}
