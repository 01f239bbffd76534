//! Name resolution with no libc NSS: an IP literal, then `/etc/hosts`, then a DNS query (A and
//! AAAA over UDP, RFC 1035) to the nameservers of `/etc/resolv.conf`, with its `search`
//! domains and `ndots` as a resolver library applies them (so `db` finds
//! `db.ns.svc.cluster.local` in Kubernetes).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

/// What `/etc/resolv.conf` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub ndots: usize,
}

pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut rc = ResolvConf {
        ndots: 1,
        ..Default::default()
    };
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ip) = words.next().and_then(|w| w.parse().ok()) {
                    rc.nameservers.push(ip);
                }
            }
            Some("search" | "domain") => rc.search = words.map(str::to_owned).collect(),
            Some("options") => {
                for w in words {
                    if let Some(n) = w.strip_prefix("ndots:").and_then(|n| n.parse().ok()) {
                        rc.ndots = n;
                    }
                }
            }
            _ => {}
        }
    }
    rc
}

/// The addresses `/etc/hosts` gives `name`.
pub fn from_hosts(text: &str, name: &str) -> Vec<IpAddr> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let ip: IpAddr = words.next()?.parse().ok()?;
            words.any(|w| w.eq_ignore_ascii_case(name)).then_some(ip)
        })
        .collect()
}

/// A DNS query for `name` of `qtype` (1 = A, 28 = AAAA).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)? as usize;
        if len == 0 {
            return Some(at + 1);
        }
        if len & 0xC0 == 0xC0 {
            return Some(at + 2);
        }
        at += 1 + len;
    }
}

/// The A and AAAA records of a response to query `id`; `None` for a malformed or foreign one.
pub fn answers(msg: &[u8], id: u16) -> Option<Vec<IpAddr>> {
    if msg.len() < 12 || msg[..2] != id.to_be_bytes() || msg[2] & 0x80 == 0 {
        return None;
    }
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let an = u16::from_be_bytes([msg[6], msg[7]]);
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(msg, at)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        at = skip_name(msg, at)?;
        let head = msg.get(at..at + 10)?;
        let rtype = u16::from_be_bytes([head[0], head[1]]);
        let len = u16::from_be_bytes([head[8], head[9]]) as usize;
        let data = msg.get(at + 10..at + 10 + len)?;
        match (rtype, len) {
            (1, 4) => out.push(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            ))),
            (28, 16) => {
                let b: [u8; 16] = data.try_into().ok()?;
                out.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {}
        }
        at += 10 + len;
    }
    Some(out)
}

/// Asks `server` for `name`'s A, then AAAA records.
pub fn ask(server: SocketAddr, name: &str, timeout: Duration) -> Vec<IpAddr> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("valid")
    } else {
        "[::]:0".parse().expect("valid")
    };
    let Ok(sock) = UdpSocket::bind(bind) else {
        return Vec::new();
    };
    let _ = sock.set_read_timeout(Some(timeout));
    let mut out = Vec::new();
    for (k, qtype) in [1u16, 28].into_iter().enumerate() {
        // The id need not be secret here; it must only tell our answers apart.
        let id = (std::process::id() as u16).wrapping_add(k as u16);
        if sock.send_to(&query(id, name, qtype), server).is_err() {
            continue;
        }
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if from != server {
                continue;
            }
            if let Some(ips) = answers(&buf[..n], id) {
                out.extend(ips);
                break;
            }
        }
    }
    out
}

/// The names to try for `name`, in order, as a resolver library would.
pub fn candidates(name: &str, rc: &ResolvConf) -> Vec<String> {
    if name.ends_with('.') {
        return vec![name.trim_end_matches('.').to_owned()];
    }
    let searched = rc.search.iter().map(|d| format!("{name}.{d}"));
    if name.matches('.').count() >= rc.ndots {
        std::iter::once(name.to_owned()).chain(searched).collect()
    } else {
        searched.chain(std::iter::once(name.to_owned())).collect()
    }
}

/// Resolves `host` from the container's own files.
pub fn resolve(host: &str) -> Vec<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let found = from_hosts(&hosts, host);
    if !found.is_empty() {
        return found;
    }
    let rc = parse_resolv_conf(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
    for name in candidates(host, &rc) {
        for ns in &rc.nameservers {
            let ips = ask(SocketAddr::new(*ns, 53), &name, Duration::from_secs(2));
            if !ips.is_empty() {
                return ips;
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_and_hosts() {
        let rc = parse_resolv_conf(
            "# k8s\nnameserver 10.96.0.10\nnameserver bad\nsearch ns.svc.cluster.local svc.cluster.local\noptions ndots:5 edns0\n",
        );
        assert_eq!(rc.nameservers, ["10.96.0.10".parse::<IpAddr>().unwrap()]);
        assert_eq!(rc.ndots, 5);
        assert_eq!(
            candidates("db", &rc),
            ["db.ns.svc.cluster.local", "db.svc.cluster.local", "db"]
        );
        let plain = parse_resolv_conf("nameserver 1.2.3.4\n");
        assert_eq!(candidates("a.example", &plain), ["a.example"]);
        assert_eq!(candidates("db.", &rc), ["db"]);
        let hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost # c\n10.0.0.5 db db.local\n#10.0.0.6 db\n";
        assert_eq!(from_hosts(hosts, "DB").len(), 1);
        assert_eq!(from_hosts(hosts, "localhost").len(), 2);
        assert!(from_hosts(hosts, "nope").is_empty());
    }

    /// A DNS server on 127.0.0.1 that answers one A query with a compressed name.
    #[test]
    fn a_query_round_trip_against_a_local_server() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            for _ in 0..2 {
                let mut buf = [0u8; 512];
                let (n, from) = server.recv_from(&mut buf).unwrap();
                let q = &buf[..n];
                let qtype = u16::from_be_bytes([q[n - 4], q[n - 3]]);
                let mut r = q.to_vec();
                r[2] = 0x81;
                r[3] = 0x80;
                if qtype == 1 {
                    r[7] = 1;
                    r.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3]);
                }
                server.send_to(&r, from).unwrap();
            }
        });
        let ips = ask(addr, "db.example", Duration::from_secs(5));
        t.join().unwrap();
        assert_eq!(ips, ["10.1.2.3".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn malformed_answers_are_rejected() {
        let q = query(7, "a.b", 1);
        assert_eq!(answers(&q, 7), None, "a query is not an answer");
        let mut r = q.clone();
        r[2] |= 0x80;
        r[7] = 3; // three answers promised, none there
        assert_eq!(answers(&r, 7), None);
        assert_eq!(answers(&r, 8), None);
        assert_eq!(answers(&[0xFF; 5], 7), None);
    }
}
