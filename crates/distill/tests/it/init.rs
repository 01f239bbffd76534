//! Issue #6, distill-init: the helper in front of the entrypoint, on `static` (no libc, no
//! shell), run in podman. Each known bug of such helpers has a case here: the exit code and
//! SIGTERM reach the app (exec, not fork), `${A:-x}/p` keeps the `/`, waiting pauses
//! between tries and gives up with a message, and option errors are errors, not crashes.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use distill_test::{Podman, validate_archive};

const APP_C: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern char **environ;
static void term(int s) { (void)s; printf("got SIGTERM\n"); fflush(stdout); _exit(42); }
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    printf("pid=%d\n", (int)getpid());
    if (argc > 1 && !strcmp(argv[1], "env")) {
        for (char **e = environ; *e; e++) printf("env:%s\n", *e);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "exit")) return atoi(argv[2]);
    if (argc > 1 && !strcmp(argv[1], "serve")) {
        signal(SIGTERM, term);
        printf("ready\n");
        fflush(stdout);
        for (;;) pause();
    }
    return 0;
}
"#;

fn app() -> &'static Path {
    static BIN: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    let (_, p) = BIN.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("app");
        distill_test::tools::gcc_static(APP_C, &p);
        (d, p)
    });
    p
}

/// Builds `static` with the app at /usr/local/bin/app, a secret file, and `extra` config.
fn build_image(extra: &str) -> (tempfile::TempDir, String) {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy(app(), ctx.path().join("app")).unwrap();
    std::fs::write(ctx.path().join("pw"), "s3cret\n").unwrap();
    std::fs::write(
        ctx.path().join("distill.toml"),
        format!(
            "[image]\nbase = \"static\"\ndebian = \"13\"\n{extra}\n[[files]]\nsrc = \"app\"\ndst = \"/usr/local/bin/app\"\nmode = \"0755\"\n\n[[files]]\nsrc = \"pw\"\ndst = \"/secrets/pw\"\nmode = \"0444\"\n"
        ),
    )
    .unwrap();
    let archive = ctx.path().join("img.tar");
    crate::common::build_ok(ctx.path(), &[format!("oci-archive:{}", archive.display())]);
    validate_archive(&archive).unwrap();
    let image = format!("oci-archive:{}", archive.display());
    (ctx, image)
}

#[test]
fn the_app_gets_the_exit_code_expanded_arguments_and_secrets_from_files() {
    let (_ctx, image) = build_image(
        "entrypoint = [\"${APP_DIR:-/usr/local/bin}/app\"]\ncmd = [\"env\", \"${A:-x}/p\", \"$B\", \"${B}!\", \"$$5\"]\nenv = { B = \"bee\", DB_PASSWORD_FILE = \"/secrets/pw\" }\n\n[entrypoint]\nfile_env = [\"DB_PASSWORD\"]\n",
    );
    let podman = Podman::new();
    let run = podman.run(&image, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = &run.stdout;
    for line in [
        "argv[0]=/usr/local/bin/app",
        "argv[2]=x/p",
        "argv[3]=bee",
        "argv[4]=bee!",
        "argv[5]=$5",
        "env:DB_PASSWORD=s3cret",
        // exec, not fork: the app is the container's first process.
        "pid=1",
    ] {
        assert!(s.lines().any(|l| l == line), "{line} missing:\n{s}");
    }
    assert!(!s.contains("DB_PASSWORD_FILE"), "{s}");

    // The exit code is the app's.
    let run = podman.run(&image, &["exit", "7"]);
    assert_eq!(run.code, 7, "{}", run.stderr);

    // Both the variable and its file: refused before the app starts.
    let run = podman.run_with(&["-e", "DB_PASSWORD=x"], &image, &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("both DB_PASSWORD and DB_PASSWORD_FILE are set"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("argv[0]"),
        "the app ran: {}",
        run.stdout
    );
}

#[test]
fn podman_stop_reaches_the_app_through_sigterm() {
    let (_ctx, image) = build_image("cmd = [\"/usr/local/bin/app\", \"serve\"]\n\n[entrypoint]\n");
    let podman = Podman::new();
    let name = format!("distill-init-stop-{}", std::process::id());
    distill_test::tools::run_ok(
        podman
            .cmd()
            .args(["run", "-d", "--quiet", "--name", &name, &image]),
    );
    // Wait until the app has installed its handler (it says so), then stop with a long
    // timeout: a helper that forked would leave SIGTERM unhandled and podman would SIGKILL
    // (137) after 30 s; the app's own handler exits 42.
    let mut logs = String::new();
    for _ in 0..200 {
        logs = distill_test::tools::run_ok(podman.cmd().args(["logs", &name]));
        if logs.contains("ready") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(logs.contains("ready"), "{logs}");
    distill_test::tools::run_ok(podman.cmd().args(["stop", "-t", "30", &name]));
    let code = distill_test::tools::run_ok(podman.cmd().args([
        "inspect",
        &name,
        "--format",
        "{{.State.ExitCode}}",
    ]));
    let logs = distill_test::tools::run_ok(podman.cmd().args(["logs", &name]));
    let _ = podman.cmd().args(["rm", "-f", &name]).status();
    assert_eq!(code.trim(), "42", "{logs}");
    assert!(logs.contains("got SIGTERM"), "{logs}");
}

#[test]
fn wait_server_waits_for_a_late_server_and_gives_up_with_a_message() {
    let port = distill_test::tls::free_port();
    let (_ctx, image) = build_image(&format!(
        "cmd = [\"/usr/local/bin/app\", \"started\"]\n\n[entrypoint]\nwait = [\"localhost:{port}\"]\nwait_tries = 300\nwait_interval = \"100ms\"\n"
    ));
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = accepted.clone();
    // The server comes up only after the container has started and found nothing there.
    let server = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(3));
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let (_c, _) = l.accept().unwrap();
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let run = Podman::new().run_with(&["--network", "host"], &image, &[]);
    server.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("argv[1]=started"), "{}", run.stdout);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let dead = distill_test::tls::free_port();
    let (_ctx, image) = build_image(&format!(
        "cmd = [\"/usr/local/bin/app\", \"started\"]\n\n[entrypoint]\nwait = [\"127.0.0.1:{dead}\"]\nwait_tries = 3\nwait_interval = \"100ms\"\n"
    ));
    let run = Podman::new().run_with(&["--network", "host"], &image, &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "127.0.0.1:{dead} did not accept a connection after 3 tries"
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("started"));
}

#[test]
fn healthcheck_answers_0_when_healthy_and_1_when_not() {
    let (_ctx, image) = build_image("cmd = [\"/usr/local/bin/app\"]\n\n[entrypoint]\n");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for status in ["200 OK", "503 Service Unavailable"] {
            let (mut c, _) = listener.accept().unwrap();
            let mut req = [0u8; 512];
            let _ = c.read(&mut req).unwrap();
            write!(c, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").unwrap();
        }
    });
    let podman = Podman::new();
    let url = format!("http://localhost:{port}/healthz");
    let check = |url: &str| {
        podman.run_with(
            &["--network", "host", "--entrypoint", "/distill-init"],
            &image,
            &["healthcheck", url, "--timeout=5"],
        )
    };
    assert_eq!(check(&url).code, 0);
    let sick = check(&url);
    assert_eq!(sick.code, 1, "{}", sick.stderr);
    assert!(sick.stderr.contains("answered 503"), "{}", sick.stderr);
    server.join().unwrap();
    let gone = check(&url);
    assert_eq!(gone.code, 1, "nothing listens: {}", gone.stderr);
}

#[test]
fn bad_entrypoint_config_is_refused_at_build_time() {
    for (extra, needle) in [
        (
            "[entrypoint]\nfile_env = [\"1BAD\"]\n",
            "not an environment variable name",
        ),
        ("[entrypoint]\nwait = [\"db\"]\n", "is not HOST:PORT"),
        ("[entrypoint]\nwait_tries = 0\n", "not a positive number"),
        (
            "[entrypoint]\nwait_interval = \"soon\"\n",
            "is not a duration",
        ),
        ("[entrypoint]\nunknown = 1\n", "Unknown field"),
    ] {
        let ctx = tempfile::tempdir().unwrap();
        std::fs::copy(app(), ctx.path().join("app")).unwrap();
        std::fs::write(
            ctx.path().join("distill.toml"),
            format!("[image]\nentrypoint = [\"/app\"]\n\n{extra}\n[[files]]\nsrc = \"app\"\ndst = \"/app\"\nmode = \"0755\"\n"),
        )
        .unwrap();
        let out = ctx.path().join("o.tar");
        let o = crate::common::build(ctx.path(), &[format!("oci-archive:{}", out.display())]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && !out.exists(), "{extra}: {err}");
        assert!(
            err.contains(needle) && err.contains("distill.toml:"),
            "{extra}: {err}"
        );
    }
}
