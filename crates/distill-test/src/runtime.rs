//! Real container runtimes for end-to-end tests.
//!
//! - [`Podman`]: podman through runc, with its own storage in a temporary directory and the
//!   containers.conf these machines need (runc, cgroupfs, file events, and ulimits within the
//!   hard limits a VM here allows). crun fails on this hybrid cgroup layout.
//! - [`DockerEngine`]: a private `dockerd` on its own socket and data root, started for a
//!   test and stopped by its PID when the test ends.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::tools::{require, run_ok};

/// A finished container run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

fn output_of(cmd: &mut Command) -> RunOutput {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    RunOutput {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

const CONTAINERS_CONF: &str = r#"[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"#;

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// podman with private storage.
pub struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    pub fn new() -> Self {
        require("podman");
        require("runc");
        let dir = tempfile::Builder::new()
            .prefix("distill-podman-")
            .tempdir()
            .unwrap();
        fs::write(dir.path().join("containers.conf"), CONTAINERS_CONF).unwrap();
        Self { dir }
    }

    /// A `podman` command bound to this instance's config and storage.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            // Engine state apart too: the default (/run/libpod) is shared, and one
            // instance's `system reset` would wipe another's.
            .arg("--tmpdir")
            .arg(self.dir.path().join("tmp"))
            .stdin(Stdio::null());
        c
    }

    /// `podman run --network none IMAGE ARGS...`; IMAGE may be `oci-archive:FILE`. The
    /// container is removed afterwards.
    pub fn run(&self, image: &str, args: &[&str]) -> RunOutput {
        self.run_with(&["--network", "none"], image, args)
    }

    /// `podman run OPTIONS IMAGE ARGS...`, removed afterwards; `--network host` reaches a
    /// test server on 127.0.0.1.
    pub fn run_with(&self, options: &[&str], image: &str, args: &[&str]) -> RunOutput {
        let mut out = None;
        for attempt in 0..3 {
            // No `--rm`: with it, podman 4.3's cleanup process can remove the container
            // before `podman run` reads its exit code ("no such exit code", reported as 127).
            let name = format!("distill-test-{}-{attempt}", std::process::id());
            let name = format!(
                "{name}-{}",
                NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            );
            let o = output_of(
                self.cmd()
                    .args(["run", "--name", &name, "--quiet"])
                    .args(options)
                    .arg(image)
                    .args(args),
            );
            let _ = self
                .cmd()
                .args(["rm", "--force", &name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            // Should podman still lose the exit code, that is its race, not the image's
            // result: run again.
            let lost = o.stderr.contains("no such exit code");
            out = Some(o);
            if !lost {
                break;
            }
        }
        out.expect("ran at least once")
    }

    /// `podman load -i ARCHIVE`; returns what podman printed.
    pub fn load(&self, archive: &Path) -> String {
        run_ok(self.cmd().arg("load").arg("-i").arg(archive))
    }
}

impl Default for Podman {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Unmounts the overlay storage so the directory can be removed.
        let _ = self
            .cmd()
            .args(["system", "reset", "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// One private engine at a time: two dockerd would race for their managed containerd.
static DOCKER: Mutex<()> = Mutex::new(());

/// A private Docker engine, stopped by PID on drop.
pub struct DockerEngine {
    child: Child,
    sock: PathBuf,
    dir: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl DockerEngine {
    pub fn start() -> Self {
        require("dockerd");
        require("docker");
        let turn = DOCKER.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::Builder::new()
            .prefix("distill-docker-")
            .tempdir()
            .unwrap();
        let sock = dir.path().join("docker.sock");
        let log = fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new("dockerd")
                .arg("--host")
                .arg(format!("unix://{}", sock.display()))
                .arg("--data-root")
                .arg(dir.path().join("data"))
                .arg("--exec-root")
                .arg(dir.path().join("exec"))
                .arg("--pidfile")
                .arg(dir.path().join("dockerd.pid"))
                .args(["--bridge", "none", "--iptables=false", "--ip6tables=false"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                // Its own process group, as with setsid: a ^C to the test run reaches
                // the tests, which then stop the engine themselves.
                .process_group(0)
                .spawn()
                .expect("start dockerd")
        };
        let mut engine = Self {
            child,
            sock,
            dir,
            _turn: turn,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ok = engine
                .docker()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            if let Ok(Some(status)) = engine.child.try_wait() {
                panic!("dockerd exited with {status}:\n{}", engine.log());
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not come up in 90 s:\n{}",
                engine.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        engine
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// A `docker` command talking to this engine.
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.dir.path().join("client"))
            .stdin(Stdio::null());
        c
    }

    /// `docker load -i ARCHIVE`; returns what docker printed.
    pub fn load(&self, archive: &Path) -> String {
        run_ok(self.docker().arg("load").arg("-i").arg(archive))
    }

    /// `docker run --rm --network none IMAGE ARGS...`.
    pub fn run(&self, image: &str, args: &[&str]) -> RunOutput {
        output_of(
            self.docker()
                .args(["run", "--rm", "--network", "none", image])
                .args(args),
        )
    }
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
