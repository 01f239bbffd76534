//! Issue #11: which keyring verifies the real mirror, and what a clock past its keys' expiry
//! does. The oracle is gpgv, under the same fake clock, on the InRelease files fetched in the
//! same run, so a mirror that changes its signers cannot turn these red without a real bug.

use std::path::{Path, PathBuf};
use std::process::Command;

use distill_apt::debian::{Mirrors, Release};
use distill_apt::fetch::{HttpFetcher, get_bytes};
use distill_apt::trust::HOST_DEBIAN_KEYRING;
use distill_test::tools::require;

use crate::common::distill;

/// `base = "base"` on Debian 12, the config of the acceptance list.
fn base_context() -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("distill.toml"),
        "[image]\nbase = \"base\"\ndebian = \"12\"\n",
    )
    .unwrap();
    ctx
}

/// Each bookworm suite distill reads, with its InRelease URL and the keyring apt would use:
/// the `Signed-By` of the host's entry for that archive, else the host's archive keyring.
fn suites() -> Vec<(String, PathBuf)> {
    let mirrors = Mirrors::find(None, Path::new("/etc/apt")).expect("a mirror in /etc/apt");
    let default = PathBuf::from(HOST_DEBIAN_KEYRING);
    let ring = |s: &Option<PathBuf>| s.clone().unwrap_or_else(|| default.clone());
    let c = Release::Bookworm.codename();
    vec![
        (
            format!("{}/dists/{c}/InRelease", mirrors.debian),
            ring(&mirrors.debian_signed_by),
        ),
        (
            format!("{}/dists/{c}-updates/InRelease", mirrors.debian),
            ring(&mirrors.debian_signed_by),
        ),
        (
            format!("{}/dists/{c}-security/InRelease", mirrors.security),
            ring(&mirrors.security_signed_by),
        ),
    ]
}

/// gpgv's status lines for `url`'s InRelease at the clock `at` (none: the real clock).
fn gpgv_status(url: &str, keyring: &Path, at: Option<&str>) -> String {
    require("gpgv");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("InRelease");
    std::fs::write(&file, get_bytes(&HttpFetcher::new(), url, 1 << 20).unwrap()).unwrap();
    let mut c = match at {
        Some(t) => {
            require("faketime");
            let mut c = Command::new("faketime");
            c.args([t, "gpgv"]);
            c
        }
        None => Command::new("gpgv"),
    };
    let out = c
        .args(["--status-fd", "1", "--keyring"])
        .arg(keyring)
        .arg(&file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Acceptance 3: in June 2031 the bookworm keys have expired. distill exits 1 and names the
/// expired key of the first suite that gpgv, under the same clock, finds no good signature
/// on; had every suite still a good one, it must fail on the security suite's Valid-Until.
#[test]
fn a_clock_past_the_keys_expiry_is_an_error_naming_the_expired_key() {
    const AT: &str = "2031-06-01";
    require("faketime");
    let ctx = base_context();
    let out = Command::new("faketime")
        .arg(AT)
        .arg(assert_cmd::cargo::cargo_bin("distill"))
        .arg("lock")
        .arg(ctx.path())
        .env_remove("DISTILL_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(
        !ctx.path().join("distill.lock").exists(),
        "a lock was written"
    );

    let failing = suites().into_iter().find_map(|(url, ring)| {
        let status = gpgv_status(&url, &ring, Some(AT));
        (!status.contains("[GNUPG:] GOODSIG")).then_some((url, status))
    });
    match failing {
        Some((url, status)) => {
            // EXPKEYSIG <long key id> <user id>: each must be named, by fingerprint.
            let expired: Vec<&str> = status
                .lines()
                .filter_map(|l| l.strip_prefix("[GNUPG:] EXPKEYSIG "))
                .filter_map(|l| l.split_whitespace().next())
                .collect();
            assert!(!expired.is_empty(), "gpgv saw no expired signer:\n{status}");
            assert!(stderr.contains(&url), "{url} not named:\n{stderr}");
            assert!(
                stderr.contains("signed only by keys that cannot be used at 2031-06-01"),
                "{stderr}"
            );
            for id in expired {
                assert!(stderr.contains(id), "expired key {id} not named:\n{stderr}");
            }
            assert!(stderr.contains("expired 2031-01-"), "{stderr}");
            assert!(stderr.contains("hint: if the clock is wrong"), "{stderr}");
        }
        None => assert!(stderr.contains("Valid-Until"), "{stderr}"),
    }
}

/// Acceptance 3, with a correct clock: `-v` says which keyring verified each Release, and it
/// is the one apt uses on this host.
#[test]
fn verbose_names_the_host_keyring_that_verified_each_release() {
    let ctx = base_context();
    let out = distill()
        .args(["-v", "lock"])
        .arg(ctx.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for (url, ring) in suites() {
        // The oracle: gpgv with that keyring accepts the file today.
        let status = gpgv_status(&url, &ring, None);
        assert!(status.contains("[GNUPG:] GOODSIG"), "{url}:\n{status}");
        let want = format!("{url}: verified with {}", ring.display());
        assert!(stderr.contains(&want), "{want:?} not in:\n{stderr}");
    }
}
