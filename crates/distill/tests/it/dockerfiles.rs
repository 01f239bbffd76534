//! Dockerfiles written for distroless, built with `distill build -f` and translated with
//! `distill migrate`: one digest either way, the image config and files as `docker build`
//! documents them, and the community's entrypoint-helper pattern running in podman.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::common::{distill, image_config, print_env_binary, rootfs};

/// `distill build CONTEXT -f FILE ARGS -o oci-archive:OUT:app`; the digest.
fn build_file(context: &Path, file: Option<&Path>, args: &[&str], out: &Path) -> String {
    let mut c = distill();
    c.arg("build").arg(context);
    if let Some(f) = file {
        c.arg("-f").arg(f);
    }
    let o = c
        .args(args)
        .arg("-o")
        .arg(format!("oci-archive:{}:app", out.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "build failed: {stderr}");
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// `distill migrate DOCKERFILE ARGS`: the distill.toml it prints.
fn migrate(dockerfile: &Path, args: &[&str]) -> String {
    let o = distill()
        .arg("migrate")
        .arg(dockerfile)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// Builds the migrated config twice, from beside the context and as CONTEXT/distill.toml,
/// and asserts both give `digest`.
fn assert_migrates_to(context: &Path, dockerfile: &Path, args: &[&str], digest: &str) {
    let toml = migrate(dockerfile, args);
    let elsewhere = tempfile::tempdir().unwrap();
    let config = elsewhere.path().join("distill.toml");
    std::fs::write(&config, &toml).unwrap();
    let out = elsewhere.path().join("m.tar");
    assert_eq!(
        build_file(context, Some(&config), &[], &out),
        digest,
        "{toml}"
    );
    std::fs::write(context.join("distill.toml"), &toml).unwrap();
    assert_eq!(
        build_file(context, None, &[], &out),
        digest,
        "as CONTEXT/distill.toml:\n{toml}"
    );
    std::fs::remove_file(context.join("distill.toml")).unwrap();
}

const STATIC_DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG WORD=bonjour
FROM gcr.io/distroless/static-debian12:nonroot
ARG WORD
ENV GREETING="${WORD} world" APP_ENV=prod
WORKDIR /srv
LABEL org.opencontainers.image.title="printenv" \
      com.example.release=$WORD
COPY --chmod=0755 printenv /usr/bin/printenv
COPY --chown=nonroot:nonroot conf/ ./conf/
COPY *.txt notes/
COPY . /srv/all/
EXPOSE 8080 53/udp
VOLUME /srv/data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD ["/usr/bin/printenv", "health"]
ENTRYPOINT ["/usr/bin/printenv", "from-entrypoint"]
CMD ["from-cmd"]
"#;

#[test]
fn a_static_dockerfile_builds_as_docker_documents_to_its_migrated_configs_digest_and_runs() {
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    std::fs::copy(print_env_binary(), c.join("printenv")).unwrap();
    std::fs::create_dir_all(c.join("conf/sub")).unwrap();
    std::fs::write(c.join("conf/sub/app.ini"), "x=1\n").unwrap();
    std::fs::write(c.join("a.txt"), "a").unwrap();
    std::fs::write(c.join("b.txt"), "b").unwrap();
    std::fs::write(c.join("debug.log"), "secret").unwrap();
    std::fs::write(c.join("conf/sub/local.ini"), "dev=1\n").unwrap();
    std::fs::write(
        c.join(".dockerignore"),
        "# logs stay out\n*.log\nb.txt\nconf/sub\n!conf/sub/app.ini\n",
    )
    .unwrap();
    std::fs::write(c.join("Dockerfile"), STATIC_DOCKERFILE).unwrap();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("d.tar");
    let args = ["--build-arg", "WORD=hello"];
    let dockerfile = c.join("Dockerfile");
    let digest = build_file(c, Some(&dockerfile), &args, &archive);

    let (_, layout) = distill_test::validate_archive(&archive).unwrap();
    let config = image_config(layout.path());
    let cfg = &config["config"];
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"GREETING=hello world") && env.contains(&"APP_ENV=prod"),
        "{env:?}"
    );
    assert_eq!(cfg["WorkingDir"], "/srv");
    assert_eq!(cfg["User"], "65532");
    assert_eq!(cfg["Labels"]["com.example.release"], "hello");
    assert_eq!(cfg["Labels"]["org.opencontainers.image.title"], "printenv");
    let ports: Vec<&String> = cfg["ExposedPorts"].as_object().unwrap().keys().collect();
    assert_eq!(ports, ["53/udp", "8080/tcp"]);
    assert_eq!(cfg["Volumes"], serde_json::json!({"/srv/data": {}}));
    assert_eq!(cfg["StopSignal"], "SIGINT");
    assert_eq!(
        cfg["Healthcheck"],
        serde_json::json!({"Test": ["CMD", "/usr/bin/printenv", "health"], "Interval": 30_000_000_000u64, "Timeout": 5_000_000_000u64, "Retries": 2})
    );
    assert_eq!(
        cfg["Entrypoint"],
        serde_json::json!(["/usr/bin/printenv", "from-entrypoint"])
    );
    assert_eq!(cfg["Cmd"], serde_json::json!(["from-cmd"]));

    let work = tempfile::tempdir().unwrap();
    let root = rootfs(&archive, work.path());
    let meta =
        |p: &str| std::fs::symlink_metadata(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    // WORKDIR is made as the base's user; --chown and --chmod reach every entry.
    assert_eq!(
        (meta("srv").uid(), meta("srv").mode() & 0o7777),
        (65532, 0o755)
    );
    assert_eq!(meta("usr/bin/printenv").mode() & 0o7777, 0o755);
    assert_eq!(meta("srv/conf/sub/app.ini").uid(), 65532);
    assert_eq!(meta("srv/conf/sub").gid(), 65532);
    // .dockerignore: what it leaves out is not in the context, for globs and directories;
    // its exception is.
    assert!(root.join("srv/notes/a.txt").is_file() && !root.join("srv/notes/b.txt").exists());
    assert!(root.join("srv/conf/sub/app.ini").is_file());
    assert!(!root.join("srv/conf/sub/local.ini").exists());
    assert!(root.join("srv/all/Dockerfile").is_file() && root.join("srv/all/printenv").is_file());
    assert!(!root.join("srv/all/debug.log").exists() && !root.join("srv/all/b.txt").exists());

    let podman = distill_test::Podman::new();
    let run = podman.run(&format!("oci-archive:{}", archive.display()), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for line in [
        "argv[1]=from-entrypoint",
        "argv[2]=from-cmd",
        "uid=65532 gid=65532",
        "cwd=/srv",
        "env:GREETING=hello world",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "{line} in:\n{}",
            run.stdout
        );
    }

    assert_migrates_to(c, &dockerfile, &args, &digest);
}

/// A stand-in for the community's Python entrypoint helper: `--file-env=VAR` reads
/// `$VAR_FILE`, `--wait-server=HOST:PORT` waits for a TCP server, `${VAR}` is expanded in
/// its arguments, and the program runs under the image's python3.
const PY_HELPER: &str = r#"import os, re, socket, sys, time
expand = lambda s: re.sub(r"\$\{(\w+)\}", lambda m: os.environ.get(m.group(1), ""), s)
args = sys.argv[1:]
while args and args[0].startswith("--"):
    opt, value = args.pop(0).split("=", 1)
    if opt == "--file-env":
        with open(os.environ[value + "_FILE"]) as f:
            os.environ[value] = f.read().strip()
    elif opt == "--wait-server":
        host, port = expand(value).rsplit(":", 1)
        for _ in range(100):
            try:
                socket.create_connection((host, int(port)), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("server %s:%s never answered" % (host, port))
        print("waited for %s:%s" % (host, port), flush=True)
os.execv(sys.executable, [sys.executable] + [expand(a) for a in args])
"#;

const JS_HELPER: &str = r#"const fs = require("fs"), net = require("net"), { spawnSync } = require("child_process");
const expand = (s) => s.replace(/\$\{(\w+)\}/g, (_, n) => process.env[n] || "");
const args = process.argv.slice(2);
const reach = (host, port) => new Promise((done) => {
  const c = net.connect(port, host, () => { c.end(); done(true); });
  c.on("error", () => setTimeout(() => done(false), 100));
});
(async () => {
  while (args.length && args[0].startsWith("--")) {
    const opt = args.shift(), value = opt.slice(opt.indexOf("=") + 1);
    if (opt.startsWith("--file-env=")) {
      process.env[value] = fs.readFileSync(process.env[value + "_FILE"], "utf8").trim();
    } else if (opt.startsWith("--wait-server=")) {
      const [host, port] = expand(value).split(":");
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) ok = await reach(host, Number(port));
      if (!ok) { console.error(`server ${host}:${port} never answered`); process.exit(1); }
      console.log(`waited for ${host}:${port}`);
    }
  }
  const r = spawnSync(process.execPath, args.map(expand), { stdio: "inherit" });
  process.exit(r.status);
})();
"#;

/// Builds `dockerfile` with the helper and app in a context, runs it in podman against a
/// listening server, and checks what the helper and app printed; then the migration.
fn helper_example(from: &str, helper: (&str, &str), app: (&str, &str)) {
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    std::fs::write(c.join(helper.0), helper.1).unwrap();
    std::fs::write(c.join(app.0), app.1).unwrap();
    std::fs::write(c.join("secret.txt"), "s3cret\n").unwrap();
    let dockerfile = format!(
        "FROM {from}\nWORKDIR /app\nENV PORT=8080\nCOPY ./{h} /\nCOPY ./{a} ./\nCOPY secret.txt ./\n\
         CMD [\"/{h}\", \"--file-env=DB_PASSWORD\", \"--wait-server=${{DB_HOST}}:${{DB_PORT}}\", \"./{a}\"]\n",
        h = helper.0,
        a = app.0
    );
    std::fs::write(c.join("Dockerfile"), &dockerfile).unwrap();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let digest = build_file(c, Some(&c.join("Dockerfile")), &[], &archive);

    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    let podman = distill_test::Podman::new();
    let run = podman.run_with(
        &[
            "--network",
            "host",
            "-e",
            "DB_HOST=127.0.0.1",
            "-e",
            &format!("DB_PORT={port}"),
            "-e",
            "DB_PASSWORD_FILE=/app/secret.txt",
        ],
        &format!("oci-archive:{}", archive.display()),
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("waited for 127.0.0.1:{port}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("app sees DB_PASSWORD=s3cret PORT=8080 user=65532"),
        "{}",
        run.stdout
    );
    drop(server);
    assert_migrates_to(c, &c.join("Dockerfile"), &[], &digest);
}

#[test]
fn the_python_entrypoint_helper_example_builds_and_runs_its_cmd_under_the_images_python() {
    helper_example(
        "gcr.io/distroless/python3-debian12:nonroot",
        ("docker_entrypoint.py", PY_HELPER),
        (
            "app.py",
            "import os\nprint('app sees DB_PASSWORD=%s PORT=%s user=%d' % (os.environ['DB_PASSWORD'], os.environ['PORT'], os.getuid()))\n",
        ),
    );
}

#[test]
fn the_node_twin_builds_and_runs_its_cmd_under_the_images_node() {
    helper_example(
        "gcr.io/distroless/nodejs24-debian12:nonroot",
        ("docker-entrypoint.js", JS_HELPER),
        (
            "app.js",
            "console.log(`app sees DB_PASSWORD=${process.env.DB_PASSWORD} PORT=${process.env.PORT} user=${process.getuid()}`);\n",
        ),
    );
}

#[test]
fn a_builder_stage_that_runs_pip_and_a_shell_form_cmd_are_refused_with_their_hints() {
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    std::fs::write(c.join("requirements.txt"), "flask\n").unwrap();
    let multi = "FROM python:3.11-slim AS build\nCOPY requirements.txt .\nRUN pip install --target /deps -r requirements.txt\n\n\
                 FROM gcr.io/distroless/python3-debian12\nCOPY --from=build /deps /deps\nCMD [\"app.py\"]\n";
    std::fs::write(c.join("Dockerfile"), multi).unwrap();
    let o = distill()
        .arg("build")
        .arg(c)
        .arg("-f")
        .arg(c.join("Dockerfile"))
        .args(["-o", "oci:/nonexistent/x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("Dockerfile:6")
            && err.contains("--from=build")
            && err.contains("Dockerfile:3"),
        "{err}"
    );
    assert!(
        err.contains("installs Python dependencies") && err.contains("distill build ."),
        "{err}"
    );
    std::fs::write(
        c.join("Containerfile"),
        "FROM gcr.io/distroless/python3-debian12\nCMD python3 -m http.server\n",
    )
    .unwrap();
    let o = distill()
        .arg("migrate")
        .arg(c.join("Containerfile"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && o.stdout.is_empty());
    assert!(
        err.contains("Containerfile:2") && err.contains("Shell-form CMD"),
        "{err}"
    );
    assert!(
        err.contains(r#"CMD ["python3", "-m", "http.server"]"#),
        "{err}"
    );
}
