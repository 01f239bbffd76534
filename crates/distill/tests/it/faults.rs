//! Issue #17: every fault a mirror can inject, on the index and on a package, ends in the
//! fault-free build's digest or in a clear error naming the URL, with nothing written; the
//! endless body is refused in bounded memory.

use std::process::Command;
use std::time::Duration;

use distill_test::aptrepo::{AptRepo, DebSpec, GpgKey};
use distill_test::http::{Fault, FileServer};

/// How a fault must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Retried or resumed: the fault-free digest.
    Same,
    /// Refused: exit 1, the URL on stderr, no output.
    Refused,
}

/// Each fault, how many answers it spoils, and how it must end. A stall or slow start of
/// 4 s outlasts the 2 s stall timeout the builds run with.
fn cases() -> [(Fault, usize, End); 10] {
    let (once, always) = (1, usize::MAX);
    [
        (Fault::Reset, once, End::Same),
        (Fault::Truncate, once, End::Same),
        (Fault::Status(500), once, End::Same),
        (Fault::Status(503), once, End::Same),
        (Fault::TooMany(2), once, End::Same),
        (Fault::SlowStart(Duration::from_secs(4)), once, End::Same),
        (Fault::Stall(Duration::from_secs(4)), once, End::Same),
        (Fault::Flip, once, End::Refused),
        (Fault::RedirectLoop, always, End::Refused),
        (Fault::Endless, always, End::Refused),
    ]
}

/// `o` ended as `end` says: the fault-free `digest`, or exit 1 with `url` and a hint on
/// stderr and nothing at `dest`.
fn assert_ended(
    what: &str,
    end: End,
    o: &std::process::Output,
    digest: &str,
    url: &str,
    dest: &std::path::Path,
) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    match end {
        End::Same => {
            assert!(o.status.success(), "{what}:\n{stderr}");
            assert_eq!(String::from_utf8_lossy(&o.stdout), digest, "{what}");
        }
        End::Refused => {
            assert_eq!(o.status.code(), Some(1), "{what}:\n{stderr}");
            assert!(
                stderr.contains(url) && stderr.contains("hint: "),
                "{what}:\n{stderr}"
            );
            assert!(!dest.exists(), "{what}: output written");
        }
    }
}

/// A 429's `Retry-After` was waited out: a lower bound only (the backoff alone waits about
/// 200 ms), which a slow machine cannot make fail.
fn assert_waited(fault: Fault, took: Duration) {
    if let Fault::TooMany(secs) = fault {
        assert!(
            took >= Duration::from_secs(secs),
            "Retry-After: {secs} not waited out ({took:?})"
        );
    }
}

struct Mirror {
    repo: AptRepo,
    /// Kept alive: its directory holds the keyring.
    _key: GpgKey,
    ctx: tempfile::TempDir,
}

impl Mirror {
    fn new() -> Self {
        let key = GpgKey::generate("repo");
        let repo = AptRepo::new();
        // Big enough that half a body is a real partial download.
        let noise: String = (0..200_000u32)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        repo.bookworm(
            &[DebSpec::new("hello-app", "1").file("usr/share/hello/noise", &noise)],
            &key,
        );
        let ctx = tempfile::tempdir().unwrap();
        std::fs::copy(&key.public, ctx.path().join("repo.asc")).unwrap();
        std::fs::write(
            ctx.path().join("distill.toml"),
            "[image]\nbase = \"scratch\"\ndebian = \"12\"\n\n[debian]\nkeyring = \"repo.asc\"\n\n[packages]\ninclude = [\"hello-app\"]\n",
        )
        .unwrap();
        Self {
            repo,
            _key: key,
            ctx,
        }
    }

    /// Builds through `server` with an empty cache; the output, the peak RSS in MiB and
    /// where the image would be.
    fn build(&self, server: &FileServer) -> (std::process::Output, u64, tempfile::TempDir) {
        let (cache, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("distill"));
        cmd.env("DISTILL_CACHE", cache.path())
            .env("DISTILL_HTTP_STALL_SECS", "2")
            .env_remove("SOURCE_DATE_EPOCH")
            .arg("build")
            .arg(self.ctx.path())
            .args(["--mirror", &server.url("/debian")])
            .arg("-o")
            .arg(format!("oci:{}", out.path().join("img").display()));
        let (o, mib) = crate::hostile::measured(&mut cmd);
        (o, mib, out)
    }
}

#[test]
fn each_mirror_fault_ends_in_the_same_digest_or_a_clear_error() {
    let m = Mirror::new();
    let clean = FileServer::start(m.repo.path());
    let (o, _, _) = m.build(&clean);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let digest = String::from_utf8(o.stdout).unwrap();
    let cases = cases();
    // The package, the index it is listed in, and the signed Release that lists the index.
    let targets = [
        "pool/main/hello-app_1_amd64.deb",
        "binary-amd64/Packages.gz",
        "dists/bookworm/InRelease",
    ];
    for target in targets {
        for (fault, times, end) in cases {
            let server = FileServer::faulty(m.repo.path(), fault, target, times);
            let start = std::time::Instant::now();
            let (o, peak, out) = m.build(&server);
            assert_waited(fault, start.elapsed());
            let what = format!("{fault:?} on {target}");
            assert!(server.injected() > 0, "{what}: the fault never struck");
            assert_ended(&what, end, &o, &digest, target, &out.path().join("img"));
            assert!(peak < 300, "{what}: peak RSS {peak} MiB");
            eprintln!(
                "{what}: {end:?}, {} answers spoiled, peak {peak} MiB",
                server.injected()
            );
        }
    }
}

#[test]
fn each_registry_fault_ends_in_the_same_digest_or_a_clear_error() {
    use distill_test::registry::{FaultProxy, Faults, RegistryServer};
    let reg = RegistryServer::plain();
    // An image with a layer of some size, pushed fault-free.
    let ctx = crate::common::context("[image]\nbase = \"static\"\n");
    let dir = tempfile::tempdir().unwrap();
    let src = format!("oci:{}:v1", dir.path().join("l").display());
    crate::common::build_ok(ctx.path(), std::slice::from_ref(&src));
    let o = crate::common::distill()
        .args(["push", &src, &format!("docker://{}/img:1", reg.addr)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let digest = String::from_utf8(o.stdout).unwrap();
    let cases = cases();
    for (fault, times, end) in cases {
        let proxy = FaultProxy::start(
            &reg.addr,
            Faults {
                blob_get: Some((fault, times)),
                ..Faults::default()
            },
        );
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("pulled");
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("distill"));
        cmd.env("DISTILL_HTTP_STALL_SECS", "2")
            .args(["pull", &format!("docker://{}/img:1", proxy.addr), "-o"])
            .arg(format!("oci:{}", dest.display()));
        let start = std::time::Instant::now();
        let (o, peak) = crate::hostile::measured(&mut cmd);
        assert_waited(fault, start.elapsed());
        let what = format!("{fault:?} on a blob");
        let spoiled = proxy.spoiled.load(std::sync::atomic::Ordering::SeqCst);
        assert!(spoiled > 0, "{what}: the fault never struck");
        let url = format!("{}/v2/img/blobs/sha256:", proxy.addr);
        assert_ended(&what, end, &o, &digest, &url, &dest);
        assert!(peak < 300, "{what}: peak RSS {peak} MiB");
        eprintln!("{what}: {end:?}, {spoiled} answers spoiled, peak {peak} MiB");
    }
}
