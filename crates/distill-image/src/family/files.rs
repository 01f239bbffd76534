//! The files every distroless image carries, exactly as distroless's own tests expect them.

use distill_core::Release;
use distill_oci::layer::{Entry, EntryKind};

/// `/etc/passwd`, exactly.
pub const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
/// `/etc/group`, exactly.
pub const GROUP: &str = "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n";
pub(crate) const NSSWITCH: &str = "passwd:         files\ngroup:          files\nshadow:         files\ngshadow:        files\n\nhosts:          files dns\nnetworks:       files\n\nprotocols:      files\nservices:       files\nethers:         files\nrpc:            files\n";

/// `/usr/lib/os-release` for `release`.
pub(crate) fn os_release(release: Release) -> String {
    let (n, c) = (release.number(), release.codename());
    format!(
        "PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nVERSION_ID=\"{n}\"\nVERSION=\"Debian GNU/Linux {n} ({c})\"\nVERSION_CODENAME={c}\n"
    )
}

fn file(path: &str, body: &[u8], mode: u32) -> Entry {
    Entry::bytes(path, body.to_vec(), mode)
}

fn dir(path: &str, mode: u32, owner: u64) -> Entry {
    Entry {
        path: path.to_owned(),
        kind: EntryKind::Dir,
        mode,
        uid: owner,
        gid: owner,
    }
}

/// Accounts, home directories, `/tmp`, os-release, nsswitch.conf, and the CA bundle.
pub fn entries(release: Release, ca_bundle: &[u8]) -> Vec<Entry> {
    vec![
        file("etc/passwd", PASSWD.as_bytes(), 0o644),
        file("etc/group", GROUP.as_bytes(), 0o644),
        file("etc/nsswitch.conf", NSSWITCH.as_bytes(), 0o644),
        file("usr/lib/os-release", os_release(release).as_bytes(), 0o644),
        Entry {
            path: "etc/os-release".into(),
            kind: EntryKind::Symlink {
                target: "../usr/lib/os-release".into(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
        },
        file("etc/ssl/certs/ca-certificates.crt", ca_bundle, 0o644),
        dir("root", 0o700, 0),
        dir("home", 0o755, 0),
        dir("home/nonroot", 0o700, 65532),
        dir("tmp", 0o1777, 0),
    ]
}

/// Applets linked in `/busybox` of debug images.
pub(crate) const BUSYBOX_APPLETS: &[&str] = &[
    "ash", "awk", "basename", "cat", "chmod", "chown", "cp", "cut", "date", "df", "dirname", "du",
    "echo", "env", "false", "find", "grep", "gunzip", "gzip", "head", "hostname", "id", "kill",
    "less", "ln", "ls", "mkdir", "mv", "netstat", "nslookup", "ping", "printf", "ps", "pwd",
    "readlink", "rm", "rmdir", "sed", "sh", "sleep", "sort", "stat", "tail", "tar", "tee", "test",
    "top", "touch", "tr", "true", "uname", "uniq", "vi", "wc", "wget", "which", "whoami", "xargs",
];

/// Moves busybox from `/usr/bin` to `/busybox`, with a link per applet: the shell is there
/// for debugging, not on the default search path of the image's programs.
pub fn busybox(entries: &mut Vec<Entry>) {
    let Some(bb) = entries.iter_mut().find(|e| e.path == "usr/bin/busybox") else {
        return;
    };
    bb.path = "busybox/busybox".into();
    bb.mode = 0o755;
    entries.push(dir("busybox", 0o755, 0));
    for applet in BUSYBOX_APPLETS {
        entries.push(Entry {
            path: format!("busybox/{applet}"),
            kind: EntryKind::Symlink {
                target: "busybox".into(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_names_the_debian_release() {
        let r = os_release(Release::Bookworm);
        assert!(r.contains("PRETTY_NAME=\"Distroless\""));
        assert!(r.contains("VERSION=\"Debian GNU/Linux 12 (bookworm)\""));
        assert!(os_release(Release::Trixie).contains("VERSION=\"Debian GNU/Linux 13 (trixie)\""));
    }
}
