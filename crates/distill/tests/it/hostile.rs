//! Issue #17: hostile .debs, built here, are refused naming the package, within bounded time
//! and memory, leaving nothing behind: an xz bomb, a million entries, a declared 16 GiB,
//! a 10,000-character path, an 8 GiB long-name header, and hard links to a later entry and
//! out of the package.

use std::io::Write;
use std::process::Command;

use distill_test::aptrepo::{AptRepo, DebSpec, GpgKey};
use distill_test::http::FileServer;
use distill_test::tools::require;

/// A gnu tar header for `name` (at most 100 bytes) of type `ty` declaring `size`.
fn header(name: &str, ty: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(ty);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    h
}

/// `zeros` zero bytes into `w`, a MiB at a time.
fn zeros(w: &mut impl Write, zeros: u64) {
    let mib = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let k = left.min(mib.len() as u64) as usize;
        w.write_all(&mib[..k]).unwrap();
        left -= k as u64;
    }
}

fn gz(write: impl FnOnce(&mut flate2::write::GzEncoder<Vec<u8>>)) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    write(&mut e);
    e.finish().unwrap()
}

/// 256 MiB of zeros as one file, for a package that says it installs 1 KiB: a few KiB of xz.
fn xz_bomb() -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(header("./usr/share/bomb", tar::EntryType::Regular, 256 << 20).as_bytes())
        .unwrap();
    zeros(&mut e, 256 << 20);
    e.finish().unwrap()
}

fn million_entries() -> Vec<u8> {
    gz(|e| {
        for i in 0..1_000_000u32 {
            let h = header(&format!("./f/{i:07}"), tar::EntryType::Regular, 0);
            e.write_all(h.as_bytes()).unwrap();
        }
    })
}

/// A file that says it is 16 GiB, then a MiB of it.
fn declares_16_gib() -> Vec<u8> {
    gz(|e| {
        e.write_all(header("./usr/share/huge", tar::EntryType::Regular, 16 << 30).as_bytes())
            .unwrap();
        zeros(e, 1 << 20);
    })
}

fn long_path() -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let path = format!("./usr/share/{}", "a".repeat(10_000));
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, &path, &b"x"[..]).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

/// A GNU long-name header that says 8 GiB follow, and 64 MiB that do.
fn long_name_of_8_gib() -> Vec<u8> {
    gz(|e| {
        e.write_all(header("././@LongLink", tar::EntryType::GNULongName, 8 << 30).as_bytes())
            .unwrap();
        zeros(e, 64 << 20);
    })
}

fn hardlink(target: &str) -> Vec<u8> {
    gz(|e| {
        let mut h = header("./usr/share/link", tar::EntryType::Link, 0);
        h.set_link_name(target).unwrap();
        h.set_cksum();
        e.write_all(h.as_bytes()).unwrap();
        e.write_all(header("./usr/share/later", tar::EntryType::Regular, 0).as_bytes())
            .unwrap();
        e.write_all(&[0u8; 1024]).unwrap();
    })
}

/// Peak resident memory of `cmd` in MiB, measured by GNU time, and its output.
pub fn measured(cmd: &mut Command) -> (std::process::Output, u64) {
    require("/usr/bin/time");
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut timed = Command::new("/usr/bin/time");
    timed.args(["-f", "%M", "-o"]).arg(file.path());
    timed.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let out = timed.output().unwrap();
    let kib: u64 = std::fs::read_to_string(file.path())
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time's %M");
    (out, kib / 1024)
}

#[test]
fn hostile_debs_are_refused_naming_the_package_in_bounded_memory() {
    // (name, data member, its name, the Installed-Size it claims in KiB, what stderr says)
    type Case = (
        &'static str,
        Vec<u8>,
        &'static str,
        u64,
        &'static [&'static str],
    );
    let gz = "data.tar.gz";
    let cases: Vec<Case> = vec![
        (
            "bomb",
            xz_bomb(),
            "data.tar.xz",
            1,
            &["data.tar.xz is refused", "more than 64.0 MiB"],
        ),
        // It claims enough room, so the entry count is what stops it.
        (
            "many",
            million_entries(),
            gz,
            4 << 20,
            &["more than 250000 entries"],
        ),
        (
            "huge",
            declares_16_gib(),
            gz,
            1,
            &["declares 17179869184 bytes"],
        ),
        ("deep", long_path(), gz, 1, &["longer than 4096 bytes"]),
        (
            "longname",
            long_name_of_8_gib(),
            gz,
            1,
            &["long name header declares 8589934592"],
        ),
        (
            "forward",
            hardlink("./usr/share/later"),
            gz,
            1,
            &["hard link to a file the package does not hold"],
        ),
        (
            "shadow",
            hardlink("/etc/shadow"),
            gz,
            1,
            &["/etc/shadow", "absolute path"],
        ),
    ];
    let key = GpgKey::generate("repo");
    let debs: Vec<DebSpec> = cases
        .iter()
        .map(|(name, bytes, member, kib, _)| {
            DebSpec::new(&format!("evil-{name}"), "1").raw_data(member, bytes.clone(), *kib)
        })
        .collect();
    let repo = AptRepo::new();
    repo.bookworm(&debs, &key);
    let server = FileServer::start(repo.path());
    let cache = tempfile::tempdir().unwrap();
    for (name, _, _, _, needles) in &cases {
        let ctx = tempfile::tempdir().unwrap();
        std::fs::copy(&key.public, ctx.path().join("repo.asc")).unwrap();
        std::fs::write(
            ctx.path().join("distill.toml"),
            format!("[image]\nbase = \"scratch\"\ndebian = \"12\"\n\n[debian]\nkeyring = \"repo.asc\"\n\n[packages]\ninclude = [\"evil-{name}\"]\n"),
        )
        .unwrap();
        let (tmp, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let dest = out.path().join("img");
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("distill"));
        cmd.env("DISTILL_CACHE", cache.path())
            .env("TMPDIR", tmp.path())
            .arg("build")
            .arg(ctx.path())
            .args(["--mirror", &server.url("/debian")])
            .arg("-o")
            .arg(format!("oci:{}", dest.display()));
        let (o, peak_mib) = measured(&mut cmd);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "evil-{name}:\n{stderr}");
        assert!(stderr.contains(&format!("evil-{name}")), "{stderr}");
        for n in *needles {
            assert!(
                stderr.contains(n),
                "evil-{name}: stderr lacks {n:?}:\n{stderr}"
            );
        }
        assert!(stderr.contains("hint: "), "{stderr}");
        assert!(peak_mib < 300, "evil-{name} peaked at {peak_mib} MiB");
        assert!(!dest.exists(), "evil-{name}: output written");
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert!(left.is_empty(), "evil-{name} left {left:?} in TMPDIR");
        eprintln!("evil-{name}: refused at {peak_mib} MiB peak");
    }
}
