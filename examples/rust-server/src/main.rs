//! A tiny HTTP server on std alone: `GET /` answers a greeting, anything else 404.
//! Listens on 0.0.0.0:$PORT (8080 by default).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let listener = TcpListener::bind(format!("0.0.0.0:{port}"))?;
    eprintln!("listening on {port}");
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let mut request = String::new();
        if BufReader::new(&conn).read_line(&mut request).is_err() {
            continue;
        }
        let (status, body) = if request.starts_with("GET / ") {
            ("200 OK", "hello from a Rust server in a distroless image\n")
        } else {
            ("404 Not Found", "not found\n")
        };
        let _ = write!(
            conn,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    Ok(())
}
