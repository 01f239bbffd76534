//! Fixtures shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use assert_cmd::Command;

/// A C program that prints its argv, environment and ids, one per line.
pub const PRINT_ENV_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++) printf("env:%s\n", *e);
    printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
    char cwd[512];
    if (getcwd(cwd, sizeof cwd)) printf("cwd=%s\n", cwd);
    return 0;
}
"#;

/// The static test program, compiled once per test run.
pub fn print_env_binary() -> &'static Path {
    static BIN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = BIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("printenv");
        distill_test::tools::gcc_static(PRINT_ENV_C, &path);
        (dir, path)
    });
    path
}

pub const HELLO_CONFIG: &str = r#"
[image]
entrypoint = ["/usr/bin/printenv", "from-entrypoint"]
cmd = ["from-cmd"]
env = { GREETING = "hello world", APP_ENV = "prod" }
workdir = "/srv"
labels = { "org.opencontainers.image.title" = "printenv" }
ports = ["8080"]

[[files]]
src = "printenv"
dst = "/usr/bin/printenv"
mode = "0755"

[[files]]
src = "srv"
dst = "/srv/"
"#;

/// A build context holding the static test program, a data directory and `config`.
pub fn context(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(print_env_binary(), dir.path().join("printenv")).unwrap();
    std::fs::create_dir_all(dir.path().join("srv/data")).unwrap();
    std::fs::write(dir.path().join("srv/data/greeting.txt"), "hi\n").unwrap();
    std::fs::write(dir.path().join("distill.toml"), config).unwrap();
    dir
}

/// The repository's examples directory.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub fn distill() -> Command {
    let mut c = Command::cargo_bin("distill").unwrap();
    c.env_remove("SOURCE_DATE_EPOCH").env_remove("DISTILL_LOG");
    c
}

/// Runs `distill build CONTEXT -o ...` and returns its output, without judging it.
pub fn build(context: &Path, outputs: &[String]) -> Output {
    let mut c = distill();
    c.arg("build").arg(context);
    for o in outputs {
        c.arg("-o").arg(o);
    }
    c.output().unwrap()
}

/// Like [`build`], asserting success; returns the digest printed on stdout.
pub fn build_ok(context: &Path, outputs: &[String]) -> String {
    let out = build(context, outputs);
    assert!(
        out.status.success(),
        "distill build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout is the digest alone: {stdout:?}");
    assert!(
        lines[0].starts_with("sha256:") && lines[0].len() == 71,
        "{stdout:?}"
    );
    lines[0].to_owned()
}

/// Everything the test program printed about itself, checked line by line.
pub fn assert_printenv(stdout: &str, args: &[&str], uid: u32) {
    let argv: Vec<&str> = stdout.lines().filter(|l| l.starts_with("argv[")).collect();
    let mut want = vec![
        "argv[0]=/usr/bin/printenv".to_owned(),
        "argv[1]=from-entrypoint".to_owned(),
    ];
    want.extend(
        args.iter()
            .enumerate()
            .map(|(i, a)| format!("argv[{}]={a}", i + 2)),
    );
    assert_eq!(argv, want, "argv in:\n{stdout}");
    for env in [
        "env:GREETING=hello world",
        "env:APP_ENV=prod",
        "env:PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ] {
        assert!(
            stdout.lines().any(|l| l == env),
            "{env} missing in:\n{stdout}"
        );
    }
    assert!(
        stdout.lines().any(|l| l == format!("uid={uid} gid={uid}")),
        "uid in:\n{stdout}"
    );
    assert!(stdout.lines().any(|l| l == "cwd=/srv"), "cwd in:\n{stdout}");
}

/// `distill build CONTEXT ARGS -o oci-archive:OUT:app` (CONTEXT a directory or a binary):
/// whether it succeeded, and its stderr (the detected plan, the report, or the error).
pub fn build_archive(context: &Path, args: &[&str], out: &Path) -> (bool, String) {
    let o = distill()
        .arg("build")
        .arg(context)
        .args(args)
        .arg("-o")
        .arg(format!("oci-archive:{}:app", out.display()))
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The root filesystem of an archive written by [`build_archive`], unpacked with umoci
/// under `dir` after the archive is validated.
pub fn rootfs(archive: &Path, dir: &Path) -> PathBuf {
    let (_, layout) = distill_test::validate_archive(archive).unwrap();
    let bundle = dir.join("bundle");
    distill_test::tools::run_ok(
        std::process::Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:app", layout.path().display()))
            .arg(&bundle),
    );
    bundle.join("rootfs")
}

/// Runs the image (an oci-archive) with `PORT` set, on the host network, and returns its
/// answer to `GET /` and its logs; asserts that it answered and ran as 65532.
pub fn serve(archive: &Path, platform: Option<&str>) -> (String, String) {
    use std::io::{Read, Write};
    let port = distill_test::tls::free_port();
    let podman = distill_test::Podman::new();
    let name = format!("distill-app-{}-{port}", std::process::id());
    let image = format!("oci-archive:{}", archive.display());
    let mut run = podman.cmd();
    run.args(["run", "-d", "--quiet", "--network", "host", "--name", &name]);
    if let Some(p) = platform {
        run.args(["--platform", p]);
    }
    distill_test::tools::run_ok(run.args(["-e", &format!("PORT={port}"), &image]));
    let mut answer = String::new();
    // Under qemu a Python start takes a while; the loop ends as soon as the app answers.
    for _ in 0..600 {
        if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            c.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let _ = c.read_to_string(&mut answer);
            if !answer.is_empty() {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let user = distill_test::tools::run_ok(podman.cmd().args([
        "inspect",
        &name,
        "--format",
        "{{.Config.User}}",
    ]));
    let logs = distill_test::tools::run_ok(podman.cmd().args(["logs", &name]));
    let _ = podman.cmd().args(["rm", "-f", "-t", "0", &name]).status();
    assert!(answer.starts_with("HTTP/1."), "no answer; logs:\n{logs}");
    assert_eq!(user.trim(), "65532", "nonroot");
    (answer, logs)
}

/// Runs `one` for each of `kinds`, two at a time (the lockers wait on the registry, the
/// builds on the CPU); a panic in one is raised here.
pub fn two_at_a_time(kinds: &[&'static str], one: fn(&'static str)) {
    for pair in kinds.chunks(2) {
        std::thread::scope(|s| {
            let handles: Vec<_> = pair.iter().map(|k| s.spawn(move || one(k))).collect();
            for h in handles {
                if let Err(e) = h.join() {
                    std::panic::resume_unwind(e);
                }
            }
        });
    }
}

/// Writes `package.json` (`manifest`) in `dir` and a `package-lock.json` for it with the
/// host's npm, from the registry, running no scripts.
pub fn npm_lock(dir: &Path, manifest: &str) {
    std::fs::write(dir.join("package.json"), manifest).unwrap();
    distill_test::tools::run_ok(
        std::process::Command::new("npm")
            .current_dir(dir)
            .args(["install", "--package-lock-only", "--ignore-scripts"])
            .args(["--no-audit", "--no-fund"]),
    );
}

/// The config of the first image in an unpacked layout.
pub fn image_config(layout: &Path) -> serde_json::Value {
    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let blob = |d: &serde_json::Value| layout.join("blobs/sha256").join(&d.as_str().unwrap()[7..]);
    let mut m = json(&blob(
        &json(&layout.join("index.json"))["manifests"][0]["digest"],
    ));
    if m["manifests"].is_array() {
        m = json(&blob(&m["manifests"][0]["digest"]));
    }
    json(&blob(&m["config"]["digest"]))
}
