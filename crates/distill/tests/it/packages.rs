//! Issue #3: Debian packages from a local signed repository made in the test and served on
//! 127.0.0.1. Hostile repositories and packages each end in a clear error, a non-zero exit,
//! nothing written and a cache that holds only verified entries.

use std::path::Path;

use distill_test::aptrepo::{AptRepo, DebEntry, DebSpec, GpgKey};
use distill_test::http::FileServer;
use distill_test::validate_layout;

use crate::common::distill;

pub(crate) fn good_packages() -> Vec<DebSpec> {
    vec![
        DebSpec::new("hello-app", "1.0-1")
            .depends("libgreet (>= 2), base-stuff | other-stuff")
            .file("usr/bin/hello-app", "#!app\n"),
        DebSpec::new("libgreet", "2.1-1")
            .file("lib/x86_64-linux-gnu/libgreet.so.2.1", "ELF-ish\n")
            .entry(DebEntry::Symlink {
                path: "lib/x86_64-linux-gnu/libgreet.so.2".into(),
                target: "libgreet.so.2.1".into(),
            }),
        DebSpec::new("base-stuff", "5").file("etc/base.conf", "base\n"),
        DebSpec::new("other-stuff", "1").file("etc/other.conf", "other\n"),
        DebSpec::new("unrelated", "1").file("etc/unrelated", "x\n"),
    ]
}

/// A repository, its server, its key, a context whose config includes `include`, and a
/// private cache.
pub(crate) struct Fixture {
    pub(crate) repo: AptRepo,
    server: FileServer,
    pub(crate) key: GpgKey,
    pub(crate) ctx: tempfile::TempDir,
    cache: tempfile::TempDir,
    pub(crate) out: tempfile::TempDir,
}

impl Fixture {
    pub(crate) fn new(debs: &[DebSpec], include: &[&str]) -> Self {
        let key = GpgKey::generate("repo");
        let repo = AptRepo::new();
        repo.bookworm(debs, &key);
        let server = FileServer::start(repo.path());
        let ctx = tempfile::tempdir().unwrap();
        std::fs::copy(&key.public, ctx.path().join("repo.asc")).unwrap();
        let list: Vec<String> = include.iter().map(|p| format!("\"{p}\"")).collect();
        std::fs::write(
            ctx.path().join("distill.toml"),
            format!(
                "[image]\ndebian = \"12\"\nentrypoint = [\"/usr/bin/hello-app\"]\n\n[debian]\nkeyring = \"repo.asc\"\n\n[packages]\ninclude = [{}]\n",
                list.join(", ")
            ),
        )
        .unwrap();
        Self {
            repo,
            server,
            key,
            ctx,
            cache: tempfile::tempdir().unwrap(),
            out: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn mirror(&self) -> String {
        self.server.url("/debian")
    }

    pub(crate) fn cache(&self) -> &Path {
        self.cache.path()
    }

    pub(crate) fn run(&self, verb: &str, extra: &[&str]) -> std::process::Output {
        self.command(self.cache.path(), verb, extra)
            .output()
            .unwrap()
    }

    /// `distill VERB CONTEXT --mirror … EXTRA…` with `cache` as the cache: another machine.
    pub(crate) fn command(&self, cache: &Path, verb: &str, extra: &[&str]) -> assert_cmd::Command {
        let mut c = distill();
        c.env("DISTILL_CACHE", cache)
            .arg(verb)
            .arg(self.ctx.path())
            .args(["--mirror", &self.server.url("/debian")])
            .args(extra);
        c
    }

    pub(crate) fn build(&self, name: &str, extra: &[&str]) -> std::process::Output {
        let dest = format!("oci:{}", self.out.path().join(name).display());
        let mut args = vec!["-o", dest.as_str()];
        args.extend_from_slice(extra);
        self.run("build", &args)
    }

    /// The failure contract: non-zero, `needles` and a hint on stderr, no output, clean cache.
    fn assert_fails(&self, needles: &[&str]) {
        let o = self.build("img", &[]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "not a plain failure:\n{stderr}");
        for n in needles {
            assert!(stderr.contains(n), "stderr lacks {n:?}:\n{stderr}");
        }
        assert!(stderr.contains("hint: "), "no hint:\n{stderr}");
        assert_eq!(
            std::fs::read_dir(self.out.path()).unwrap().count(),
            0,
            "output written"
        );
        assert_cache_clean(self.cache.path());
    }
}

/// Every cache entry hashes to its name and nothing is half-downloaded.
fn assert_cache_clean(cache: &Path) {
    use sha2::Digest;
    if let Ok(d) = std::fs::read_dir(cache.join("sha256")) {
        for e in d {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path()).unwrap();
            assert_eq!(
                hex::encode(sha2::Sha256::digest(&bytes)),
                name,
                "corrupt cache entry"
            );
        }
    }
    if let Ok(d) = std::fs::read_dir(cache.join("partial")) {
        let left: Vec<_> = d.map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "partial downloads left: {left:?}");
    }
}

fn layer_paths(layout: &Path) -> Vec<String> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let blob = |d: &serde_json::Value| layout.join("blobs/sha256").join(&d.as_str().unwrap()[7..]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&index["manifests"][0]["digest"])).unwrap())
            .unwrap();
    let mut out = Vec::new();
    for l in manifest["layers"].as_array().unwrap() {
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(blob(&l["digest"])).unwrap(),
        ));
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let mut s = e.path().unwrap().display().to_string();
            if let Some(t) = e.link_name().unwrap() {
                s += &format!(" -> {}", t.display());
            }
            out.push(s);
        }
    }
    out
}

#[test]
fn packages_resolve_download_and_land_in_a_layer() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    let o = f.build("img", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let layout = f.out.path().join("img");
    validate_layout(&layout).unwrap();
    let paths = layer_paths(&layout);
    for want in [
        "usr/bin/hello-app",
        "usr/lib/x86_64-linux-gnu/libgreet.so.2.1",
        "usr/lib/x86_64-linux-gnu/libgreet.so.2 -> libgreet.so.2.1",
        "etc/base.conf",
        "bin -> usr/bin",
        "lib -> usr/lib",
        "lib64 -> usr/lib64",
    ] {
        assert!(
            paths.iter().any(|p| p.trim_end_matches('/') == want),
            "{want} missing in {paths:#?}"
        );
    }
    for absent in ["etc/other.conf", "etc/unrelated"] {
        assert!(
            !paths.iter().any(|p| p == absent),
            "{absent} should not be installed"
        );
    }
    assert_cache_clean(f.cache.path());
}

#[test]
fn lock_is_stable_and_locked_builds_are_reproducible() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    let lockfile = f.ctx.path().join("distill.lock");
    assert!(f.run("lock", &[]).status.success());
    let first = std::fs::read_to_string(&lockfile).unwrap();
    assert!(f.run("lock", &[]).status.success());
    assert_eq!(std::fs::read_to_string(&lockfile).unwrap(), first);
    for name in ["hello-app", "libgreet", "base-stuff"] {
        assert!(first.contains(&format!("name = \"{name}\"")), "{first}");
    }
    assert!(!first.contains("other-stuff"));

    let a = f.build("a", &["--locked"]);
    let b = f.build("b", &["--locked"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout, "locked builds differ");

    // A pinned version that is gone from the mirror.
    std::fs::remove_file(f.repo.deb_path(&good_packages()[1])).unwrap();
    std::fs::remove_dir_all(f.cache.path()).unwrap();
    let o = f.build("c", &["--locked"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("libgreet 2.1-1 is gone") && stderr.contains("distill lock"),
        "{stderr}"
    );

    // A lock for other packages does not match the config.
    let cfg = std::fs::read_to_string(f.ctx.path().join("distill.toml")).unwrap();
    std::fs::write(
        f.ctx.path().join("distill.toml"),
        cfg.replace("\"hello-app\"", "\"hello-app\", \"unrelated\""),
    )
    .unwrap();
    let o = f.build("d", &["--locked"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success()
            && stderr.contains("does not match the config")
            && stderr.contains("hint: run `distill lock`"),
        "{stderr}"
    );
    assert!(!f.out.path().join("c").exists() && !f.out.path().join("d").exists());
}

#[test]
fn tampered_inrelease_is_refused() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    let p = f.repo.path().join("debian/dists/bookworm/InRelease");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replacen("Suite: bookworm", "Suite: bookwarm", 1)).unwrap();
    f.assert_fails(&["InRelease", "not signed by a trusted key"]);
}

#[test]
fn signature_by_an_unknown_key_is_refused() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    let stranger = GpgKey::generate("stranger");
    f.repo
        .publish("debian", "bookworm", &good_packages(), &stranger, 86_400);
    f.assert_fails(&["not signed by a trusted key"]);
    drop(f.key);
}

/// Issue #11: a key past its expiry or revoked is an error that names the keyring, the key,
/// its expiry and the clock, with a hint; it used to be a panic (exit 101).
#[test]
fn expired_and_revoked_keys_are_refused_by_name() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    let keyring = f.ctx.path().join("repo.asc");
    let old = GpgKey::generate_expired("old");
    f.repo
        .publish("debian", "bookworm", &good_packages(), &old, 86_400);

    // A keyring whose only key has expired can verify nothing.
    std::fs::copy(&old.public, &keyring).unwrap();
    f.assert_fails(&[
        "No key of keyring",
        "repo.asc",
        "old <old@test.invalid>",
        "expired 202",
        "can be used at 20",
        "hint: if the clock is wrong",
    ]);

    // Beside a live key, the expired signer is named as the reason.
    let both = |a: &GpgKey, b: &GpgKey| {
        let mut ring = std::fs::read(&a.public).unwrap();
        ring.extend(std::fs::read(&b.public).unwrap());
        std::fs::write(&keyring, ring).unwrap();
    };
    both(&f.key, &old);
    f.assert_fails(&[
        "InRelease",
        "signed only by keys that cannot be used",
        "old <old@test.invalid>",
        "expired 202",
        "hint: if the clock is wrong",
    ]);

    // A revoked signer likewise, however valid its signature.
    let gone = GpgKey::generate("gone");
    f.repo
        .publish("debian", "bookworm", &good_packages(), &gone, 86_400);
    both(&f.key, &gone);
    let o = f.build("img", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_dir_all(f.out.path().join("img")).unwrap();
    gone.revoke();
    both(&f.key, &gone);
    f.assert_fails(&[
        "signed only by keys that cannot be used",
        "gone <gone@test.invalid>",
        "revoked",
    ]);
}

#[test]
fn expired_valid_until_is_refused() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    f.repo
        .publish("debian", "bookworm", &good_packages(), &f.key, -3600);
    f.assert_fails(&["expired", "Valid-Until"]);
}

#[test]
fn an_older_release_is_refused_after_a_newer_one_was_seen() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    let o = f.build("new", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The same packages, validly signed, valid for a day more, but published a day ago:
    // what a mirror replaying yesterday's Release serves.
    f.repo.publish_dated(
        "debian",
        "bookworm",
        &good_packages(),
        &f.key,
        86_400,
        86_400,
    );
    let o = f.build("old", &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    for needle in [
        "dists/bookworm/InRelease",
        "older than",
        "--allow-downgrade",
        "hint: ",
    ] {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
    assert!(!f.out.path().join("old").exists(), "output written");
    let o = f.build("old", &["--allow-downgrade"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn world_writable_files_from_a_package_lose_o_w_but_tmp_keeps_its_sticky_mode() {
    let mut debs = good_packages();
    debs[2] = DebSpec::new("base-stuff", "5")
        .entry(DebEntry::File {
            path: "etc/wide-open".into(),
            content: b"x\n".to_vec(),
            mode: 0o666,
        })
        .entry(DebEntry::DirMode("var/spool/open".into(), 0o777))
        .entry(DebEntry::DirMode("tmp".into(), 0o1777));
    let f = Fixture::new(&debs, &["hello-app"]);
    let o = f.build("img", &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("base-stuff: /etc/wide-open is world-writable (666)"),
        "{stderr}"
    );
    let modes = crate::hardening::modes_in_layers(&f.out.path().join("img"));
    assert_eq!(modes["etc/wide-open"], 0o664);
    assert_eq!(modes["var/spool/open/"], 0o775);
    assert_eq!(modes["tmp/"], 0o1777);
}

#[test]
fn tampered_packages_index_is_refused() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    let p = f
        .repo
        .path()
        .join("debian/dists/bookworm/main/binary-amd64/Packages.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"Package: hello-app\nVersion: 9\n").unwrap();
    std::fs::write(&p, gz.finish().unwrap()).unwrap();
    f.assert_fails(&["Packages", "expected"]);
}

#[test]
fn tampered_deb_is_refused() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    let p = f.repo.deb_path(&good_packages()[2]);
    let mut bytes = std::fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xff;
    std::fs::write(&p, bytes).unwrap();
    f.assert_fails(&["base-stuff", "SHA-256"]);
}

#[test]
fn deb_with_path_traversal_is_refused() {
    let mut debs = good_packages();
    debs[2] = DebSpec::new("base-stuff", "5").file("../../../../tmp/distill-pwned", "x\n");
    let f = Fixture::new(&debs, &["hello-app"]);
    f.assert_fails(&["base-stuff", "unsafe entry", ".."]);
    assert!(!Path::new("/tmp/distill-pwned").exists());
}

#[test]
fn deb_with_symlink_escape_is_refused() {
    let mut debs = good_packages();
    debs[2] = DebSpec::new("base-stuff", "5").entry(DebEntry::Symlink {
        path: "usr/lib/evil".into(),
        target: "../../../../etc/shadow".into(),
    });
    let f = Fixture::new(&debs, &["hello-app"]);
    f.assert_fails(&["base-stuff", "escapes the image root"]);
}

#[test]
fn missing_package_is_named() {
    let f = Fixture::new(&good_packages(), &["no-such-package"]);
    f.assert_fails(&["no-such-package", "not in any configured repository"]);
}

#[test]
fn unsatisfiable_dependency_shows_the_chain() {
    let mut debs = good_packages();
    debs[1] = DebSpec::new("libgreet", "1.0-1").file("usr/lib/libgreet.so.1", "x");
    let f = Fixture::new(&debs, &["hello-app"]);
    f.assert_fails(&["libgreet (>= 2)", "needed by hello-app"]);
}

/// End to end against the host's real Debian mirror: `[packages] include = ["python3"]` on
/// scratch gives an image whose Python runs in podman, as nonroot.
#[test]
fn python3_from_the_host_mirror_runs_in_podman() {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("distill.toml"),
        "[image]\ndebian = \"12\"\nentrypoint = [\"/usr/bin/python3.11\"]\n\n[packages]\ninclude = [\"python3\"]\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("py.tar");
    crate::common::build_ok(ctx.path(), &[format!("oci-archive:{}", archive.display())]);
    let (summary, dir) = distill_test::validate_archive(&archive).unwrap();
    assert_eq!(summary.images.len(), 1);
    let paths = layer_paths(dir.path());
    for want in [
        "usr/bin/python3.11",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "lib64 -> usr/lib64",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want} missing");
    }
    let run = distill_test::Podman::new().run(
        &format!("oci-archive:{}", archive.display()),
        &["-c", "import os, ssl, sqlite3, zlib; print('py', os.getuid(), ssl.OPENSSL_VERSION.split()[0])"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "py 65532 OpenSSL");
}

#[test]
fn release_gpg_fallback_is_verified_and_unsigned_repositories_are_refused() {
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    let dists = f.repo.path().join("debian/dists/bookworm");
    std::fs::remove_file(dists.join("InRelease")).unwrap();
    let release = std::fs::read_to_string(dists.join("Release")).unwrap();
    std::fs::write(dists.join("Release.gpg"), f.key.detach_sign(&release)).unwrap();
    let o = f.build("ok", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_dir_all(f.out.path().join("ok")).unwrap();

    std::fs::write(
        dists.join("Release"),
        release.replace("Label: Test", "Label: Evil"),
    )
    .unwrap();
    f.assert_fails(&["Release", "not signed by a trusted key"]);

    std::fs::remove_file(dists.join("Release.gpg")).unwrap();
    f.assert_fails(&["is unsigned", "signed = false"]);
}

#[test]
fn extra_repository_is_trusted_with_its_own_keyring_only() {
    let f = Fixture::new(&good_packages(), &["vendor-app"]);
    let vendor = GpgKey::generate("vendor");
    f.repo.publish(
        "vendor",
        "stable",
        &[DebSpec::new("vendor-app", "3.0")
            .depends("libgreet")
            .file("opt/vendor/app", "v\n")],
        &vendor,
        86_400,
    );
    std::fs::copy(&vendor.public, f.ctx.path().join("vendor.asc")).unwrap();
    let cfg = std::fs::read_to_string(f.ctx.path().join("distill.toml")).unwrap();
    let with_repo = format!(
        "{cfg}\n[[repositories]]\nuri = \"{}\"\nsuites = [\"stable\"]\nkeyring = \"vendor.asc\"\n",
        f.server.url("/vendor")
    );
    std::fs::write(f.ctx.path().join("distill.toml"), &with_repo).unwrap();
    let o = f.build("img", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let paths = layer_paths(&f.out.path().join("img"));
    assert!(paths.iter().any(|p| p == "opt/vendor/app"), "{paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| p == "usr/lib/x86_64-linux-gnu/libgreet.so.2.1")
    );
    std::fs::remove_dir_all(f.out.path().join("img")).unwrap();

    // The Debian mirror's key does not vouch for the vendor's repository.
    std::fs::copy(&f.key.public, f.ctx.path().join("vendor.asc")).unwrap();
    f.assert_fails(&["vendor", "not signed by a trusted key"]);

    // A repository without a keyring is a config error, unless explicitly unsigned.
    std::fs::write(
        f.ctx.path().join("distill.toml"),
        with_repo.replace("keyring = \"vendor.asc\"\n", ""),
    )
    .unwrap();
    f.assert_fails(&["has no keyring", "signed = false"]);
}
