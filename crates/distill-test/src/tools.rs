//! External tools the tests use. A missing tool fails the test with the command that
//! installs it: a test that silently skips would pass on a machine that checks nothing.

use std::path::PathBuf;
use std::process::Command;

/// The path of `tool`, or a panic that says how to install it.
pub fn require(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "required tool `{tool}` is not installed; run ./scripts/test, which installs \
                 every tool the tests need (apt-get install {})",
                package_of(tool)
            )
        })
}

fn package_of(tool: &str) -> &str {
    match tool {
        "dockerd" | "docker" => "docker.io",
        "oci-image-tool" => "oci-image-tool",
        "docker-registry" => "docker-registry",
        other => other,
    }
}

/// Runs `cmd`, panicking with its output unless it succeeds; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Compiles a C source into a statically linked binary with gcc.
pub fn gcc_static(source: &str, out: &std::path::Path) {
    gcc_static_with(source, out, &[]);
}

/// Like [`gcc_static`], linking the static `libs` too (`-lssl`: libssl-dev's archives).
pub fn gcc_static_with(source: &str, out: &std::path::Path, libs: &[&str]) {
    require("gcc");
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("main.c");
    std::fs::write(&c, source).unwrap();
    run_ok(
        Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(out)
            .arg(&c)
            .args(libs),
    );
}
