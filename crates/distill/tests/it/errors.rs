//! Issue #2, acceptance 3: bad input ends in a clear error naming the problem, a non-zero
//! exit code, and nothing at the destination (not even a temporary file beside it).

use std::path::Path;

use crate::common::*;

/// Asserts a failed build: non-zero exit, every `needles` in stderr, a hint, and an empty
/// output directory.
fn assert_fails(ctx: &Path, outdir: &Path, outputs: &[String], needles: &[&str]) -> String {
    let o = build(ctx, outputs);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "build succeeded; stderr:\n{stderr}");
    assert!(
        o.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}:\n{stderr}");
    }
    assert!(stderr.contains("\nhint: "), "no hint:\n{stderr}");
    let left: Vec<_> = std::fs::read_dir(outdir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    stderr
}

fn outs(dir: &Path) -> Vec<String> {
    vec![
        format!("oci:{}", dir.join("layout").display()),
        format!("oci-archive:{}", dir.join("i.tar").display()),
        format!("docker-archive:{}", dir.join("d.tar").display()),
    ]
}

#[test]
fn invalid_toml_names_file_and_line() {
    let ctx = context("[image]\nentrypoint = [\"/x\"\n");
    let out = tempfile::tempdir().unwrap();
    assert_fails(
        ctx.path(),
        out.path(),
        &outs(out.path()),
        &["distill.toml:2:"],
    );
}

#[test]
fn unknown_key_names_the_key_and_its_line() {
    let ctx = context(&HELLO_CONFIG.replace("workdir =", "workdri ="));
    let out = tempfile::tempdir().unwrap();
    assert_fails(
        ctx.path(),
        out.path(),
        &outs(out.path()),
        &[
            "distill.toml:6:",
            "workdri",
            "expected one of",
            "`workdir`",
            "listed above",
        ],
    );
}

#[test]
fn bad_mode_names_its_line() {
    let ctx = context(&HELLO_CONFIG.replace("mode = \"0755\"", "mode = \"0855\""));
    let out = tempfile::tempdir().unwrap();
    assert_fails(
        ctx.path(),
        out.path(),
        &outs(out.path()),
        &["distill.toml:13:", "Invalid mode `0855`"],
    );
}

#[test]
fn missing_source_file_names_the_file_and_the_config_line() {
    let ctx = context(&HELLO_CONFIG.replace("src = \"printenv\"", "src = \"no-such-binary\""));
    let out = tempfile::tempdir().unwrap();
    let stderr = assert_fails(
        ctx.path(),
        out.path(),
        &outs(out.path()),
        &["no-such-binary", "does not exist", "distill.toml:11:"],
    );
    assert!(
        stderr.contains(&ctx.path().display().to_string()),
        "{stderr}"
    );
}

#[test]
fn missing_config_file_says_how_to_fix_it() {
    let ctx = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    assert_fails(
        ctx.path(),
        out.path(),
        &outs(out.path()),
        &["distill.toml", "-f"],
    );
}

#[test]
fn unwritable_destinations_fail_before_anything_is_written() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    // A destination under a regular file, and one in /proc, where not even root may create.
    let blocker = out.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let cases = [
        (
            format!("oci-archive:{}/x.tar", blocker.display()),
            "not a directory",
        ),
        ("oci-archive:/proc/distill-test.tar".to_owned(), "/proc"),
        (
            format!("oci:{}/nested/layout", out.path().join("missing").display()),
            "does not exist",
        ),
    ];
    for (dest, needle) in cases {
        let good = format!("oci-archive:{}", out.path().join("good.tar").display());
        let o = build(ctx.path(), &[good, dest.clone()]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{dest} succeeded");
        assert!(
            stderr.contains(needle) && stderr.contains("hint: "),
            "{dest}:\n{stderr}"
        );
        // The good output beside the bad one is not written either.
        let left: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("blocker")], "{dest}");
    }
}

#[test]
fn existing_directory_that_is_not_a_layout_is_left_alone() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let mine = out.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("precious.txt"), "keep").unwrap();
    let o = build(ctx.path(), &[format!("oci:{}", mine.display())]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not an OCI image layout"));
    assert_eq!(
        std::fs::read_to_string(mine.join("precious.txt")).unwrap(),
        "keep"
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);
}

#[test]
fn multi_platform_docker_archive_is_refused_and_no_output_is_written() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    let o = distill()
        .arg("build")
        .arg(ctx.path())
        .args(["--platform", "linux/amd64,linux/arm64"])
        .arg("-o")
        .arg(format!(
            "oci-archive:{}",
            out.path().join("i.tar").display()
        ))
        .arg("-o")
        .arg(format!(
            "docker-archive:{}",
            out.path().join("d.tar").display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("holds one platform") && stderr.contains("hint: "),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn bad_source_date_epoch_and_bad_destination_syntax_are_refused() {
    let ctx = context(HELLO_CONFIG);
    let out = tempfile::tempdir().unwrap();
    // Issue #11: a time past the year 9999 made the config's `created` panic.
    for bad in ["yesterday", "253402300800", "18446744073709551615"] {
        let o = distill()
            .env("SOURCE_DATE_EPOCH", bad)
            .arg("build")
            .arg(ctx.path())
            .arg("-o")
            .arg(format!("oci:{}", out.path().join("l").display()))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{bad}: {stderr}");
        assert!(
            stderr.contains(&format!("SOURCE_DATE_EPOCH=`{bad}`")) && stderr.contains("hint: "),
            "{stderr}"
        );
    }

    let o = distill()
        .arg("build")
        .arg(ctx.path())
        .args(["-o", "tarball:x.tar"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("oci-archive:FILE"), "{stderr}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn interrupted_build_leaves_nothing_behind() {
    // A 4 GiB sparse file: seconds of compression, so the signal lands mid-build.
    let ctx = context(&(HELLO_CONFIG.to_owned() + "\n[[files]]\nsrc = \"big\"\ndst = \"/big\"\n"));
    std::fs::File::create(ctx.path().join("big"))
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("distill"))
        .arg("build")
        .arg(ctx.path())
        .arg("-o")
        .arg(format!(
            "oci-archive:{}",
            out.path().join("i.tar").display()
        ))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The output's temporary appears before any work starts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(out.path()).unwrap().count() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no temporary output appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
