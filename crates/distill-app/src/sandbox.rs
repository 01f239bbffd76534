//! Confinement for code from a project or its dependencies that the user allowed to run on
//! the build machine (an npm install script that builds a native addon).
//!
//! It runs under bubblewrap (Debian's `bubblewrap`) in new namespaces of every kind, so
//! with no network at all, not even the host's loopback: whatever it needs was fetched
//! before it starts. The host's root is mounted read-only; `/tmp`, `/run` and the home
//! directory are empty (no credentials, caches or keys from the host); the one writable
//! place is the directory given (the package being built). The environment is cleared to
//! what is passed, every capability is dropped, and the process dies with distill.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SandboxError {
    #[error("Cannot confine an allowed build step: bubblewrap (bwrap) is not installed")]
    #[diagnostic(help(
        "install Debian's bubblewrap (`apt-get install bubblewrap`), or drop the allowed packages and use ones that ship prebuilt binaries"
    ))]
    NoBwrap,
    #[error("Cannot confine an allowed build step: bubblewrap fails on this machine: {why}")]
    #[diagnostic(help(
        "bubblewrap needs user namespaces (sysctl kernel.unprivileged_userns_clone=1) or root; in a container, run it with --privileged or a seccomp profile that allows them"
    ))]
    Unusable { why: String },
}

/// The search path inside the sandbox, after the caller's own directories.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `bwrap`, checked once to work here.
fn bwrap() -> Result<PathBuf, SandboxError> {
    static CHECKED: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let found = CHECKED.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let Some(bwrap) = std::env::split_paths(&path)
            .map(|d| d.join("bwrap"))
            .find(|p| p.is_file())
        else {
            return Err(String::new());
        };
        let o = Command::new(&bwrap)
            .args(["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/"])
            .arg("true")
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(bwrap)
        } else {
            Err(String::from_utf8_lossy(&o.stderr).trim().to_owned())
        }
    });
    match found {
        Ok(p) => Ok(p.clone()),
        Err(why) if why.is_empty() => Err(SandboxError::NoBwrap),
        Err(why) => Err(SandboxError::Unusable { why: why.clone() }),
    }
}

/// A host directory seen in the sandbox at `at`.
#[derive(Debug, Clone)]
pub struct Mount {
    pub host: PathBuf,
    pub at: PathBuf,
    pub writable: bool,
}

/// A command that runs `program ARGS` confined, in `cwd`, with `mounts` (in order, over the
/// emptied `/tmp` and home) as the only places besides the read-only root, the environment
/// `env` and `path` before the system's directories on `PATH`.
pub fn command(
    mounts: &[Mount],
    cwd: &Path,
    path: &[PathBuf],
    env: &[(&str, OsString)],
    program: &str,
    args: &[&str],
) -> Result<Command, SandboxError> {
    command_in(None, mounts, cwd, path, env, program, args)
}

/// [`command`], with `root` (a merged-/usr root filesystem, such as the image release's
/// build tools) in place of the host's: its `/usr` and `/etc`, read-only, on an empty root.
pub fn command_in(
    root: Option<&Path>,
    mounts: &[Mount],
    cwd: &Path,
    path: &[PathBuf],
    env: &[(&str, OsString)],
    program: &str,
    args: &[&str],
) -> Result<Command, SandboxError> {
    let mut c = Command::new(bwrap()?);
    c.args(["--unshare-all", "--die-with-parent", "--new-session"])
        .args(["--cap-drop", "ALL"]);
    match root {
        None => {
            c.args(["--ro-bind", "/", "/"]);
        }
        Some(r) => {
            c.args(["--tmpfs", "/"])
                .arg("--ro-bind")
                .arg(r.join("usr"))
                .arg("/usr")
                .arg("--ro-bind")
                .arg(r.join("etc"))
                .arg("/etc");
            for (link, to) in [
                ("/bin", "usr/bin"),
                ("/sbin", "usr/sbin"),
                ("/lib", "usr/lib"),
                ("/lib64", "usr/lib64"),
            ] {
                c.args(["--symlink", to, link]);
            }
        }
    }
    c.args(["--dev", "/dev", "--proc", "/proc"])
        .args(["--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/root"]);
    if let Some(home) =
        dirs::home_dir().filter(|h| root.is_none() && h.is_dir() && h != Path::new("/"))
    {
        c.arg("--tmpfs").arg(home);
    }
    for m in mounts {
        c.arg(if m.writable { "--bind" } else { "--ro-bind" })
            .arg(&m.host)
            .arg(&m.at);
    }
    c.arg("--chdir").arg(cwd).arg("--clearenv");
    let mut search: Vec<PathBuf> = path.to_vec();
    search.extend(std::env::split_paths(PATH));
    let search = std::env::join_paths(search).unwrap_or_else(|_| PATH.into());
    c.arg("--setenv").arg("PATH").arg(search);
    for (k, v) in [("HOME", "/tmp"), ("TMPDIR", "/tmp"), ("LANG", "C.UTF-8")] {
        c.args(["--setenv", k, v]);
    }
    for (k, v) in env {
        c.arg("--setenv").arg(k).arg(v);
    }
    c.arg("--").arg(program).args(args);
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs bubblewrap, which `scripts/install-deps test` installs: a missing one fails.
    #[test]
    fn only_the_writable_directory_can_be_written_and_nothing_is_reachable() {
        let d = tempfile::tempdir().unwrap();
        let inside = d.path().join("pkg");
        std::fs::create_dir_all(&inside).unwrap();
        let outside = d.path().join("marker");
        // Reachable from the host, so "offline" is the sandbox's doing.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host_file = d.path().join("host-file");
        std::fs::write(&host_file, "a host file beside the writable directory").unwrap();
        let script = format!(
            "echo built > {}/built; echo x > {} 2>/dev/null; \
             echo x > /usr/distill-probe 2>/dev/null || echo refused; \
             (exec 3<>/dev/tcp/127.0.0.1/{}) 2>/dev/null && echo reached || echo offline; \
             echo \"$SECRET_FROM_HOST\"; test -e {} && echo visible || echo hidden",
            inside.display(),
            outside.display(),
            listener.local_addr().unwrap().port(),
            host_file.display()
        );
        let mounts = [Mount {
            host: inside.clone(),
            at: inside.clone(),
            writable: true,
        }];
        let o = command(
            &mounts,
            &inside,
            &[],
            &[("GIVEN", "yes".into())],
            "bash",
            &["-c", &script],
        )
        .expect("bubblewrap is installed and works (scripts/install-deps test)")
        .env("SECRET_FROM_HOST", "leaked")
        .output()
        .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(out, "refused\noffline\n\nhidden\n");
        assert_eq!(
            std::fs::read_to_string(inside.join("built")).unwrap(),
            "built\n"
        );
        assert!(!outside.exists());
    }
}
