//! `distill-init healthcheck http://HOST:PORT/PATH`: one HTTP/1.0 GET; healthy on 2xx or 3xx
//! (exit 0), unhealthy on anything else, including no answer (exit 1).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `(host, port, path)` of an `http://` URL.
pub fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}`: only http:// URLs are checked"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse().map_err(|_| format!("`{url}`: bad port"))?,
        ),
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("`{url}`: no host"));
    }
    Ok((host.to_owned(), port, path.to_owned()))
}

/// The status code the server answers, if it answers.
pub fn status(url: &str, timeout: Duration) -> Result<u16, String> {
    let (host, port, path) = parse_url(url)?;
    let ip = crate::resolve::resolve(&host)
        .into_iter()
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let mut conn = TcpStream::connect_timeout(&SocketAddr::new(ip, port), timeout)
        .map_err(|e| format!("{url}: {e}"))?;
    let _ = conn.set_read_timeout(Some(timeout));
    let _ = conn.set_write_timeout(Some(timeout));
    // One write: a request split over several segments is legal but trips naive servers.
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: distill-init\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(request.as_bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match conn.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .filter(|_| line.starts_with("HTTP/"))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{url}: not an HTTP answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080/health?x=1").unwrap(),
            ("127.0.0.1".into(), 8080, "/health?x=1".into())
        );
        assert_eq!(
            parse_url("http://app").unwrap(),
            ("app".into(), 80, "/".into())
        );
        assert_eq!(
            parse_url("http://[::1]:81/").unwrap(),
            ("::1".into(), 81, "/".into())
        );
        assert!(parse_url("https://x/").is_err());
        assert!(parse_url("http://x:port/").is_err());
        assert!(parse_url("http://:80/").is_err());
    }

    #[test]
    fn status_of_a_local_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            for answer in [
                "HTTP/1.1 204 No Content\r\n\r\n",
                "HTTP/1.0 503 Unavailable\r\n\r\n",
            ] {
                let (mut c, _) = listener.accept().unwrap();
                let mut req = [0u8; 256];
                let n = c.read(&mut req).unwrap();
                assert!(String::from_utf8_lossy(&req[..n]).starts_with("GET /h HTTP/1.0\r\n"));
                c.write_all(answer.as_bytes()).unwrap();
            }
        });
        let url = format!("http://127.0.0.1:{port}/h");
        assert_eq!(status(&url, Duration::from_secs(5)), Ok(204));
        assert_eq!(status(&url, Duration::from_secs(5)), Ok(503));
        t.join().unwrap();
        assert!(
            status(&url, Duration::from_secs(1)).is_err(),
            "nothing listens now"
        );
    }
}
