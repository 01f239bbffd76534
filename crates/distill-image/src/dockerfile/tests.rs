//! Each instruction and flag, translated and read back as the config the build plans,
//! against what the Dockerfile reference documents.

use std::path::Path;

use super::*;
use crate::config::Config;

fn context() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("app.py"), "print(1)\n").unwrap();
    std::fs::write(d.path().join("b.py"), "").unwrap();
    std::fs::create_dir_all(d.path().join("conf/sub")).unwrap();
    std::fs::write(d.path().join("conf/sub/x.ini"), "").unwrap();
    d
}

fn migrate_in(
    dir: &Path,
    text: &str,
    args: &[(&str, &str)],
) -> Result<(Config, Migration), DockerfileError> {
    let opts = Options {
        context: dir.to_path_buf(),
        build_args: args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        target: None,
    };
    let m = translate(&dir.join("Dockerfile"), text, &opts)?;
    let config: Config = toml::from_str(&m.toml).unwrap_or_else(|e| panic!("{e}\n{}", m.toml));
    Ok((config, m))
}

fn migrate(text: &str) -> (Config, Migration) {
    let d = context();
    migrate_in(d.path(), text, &[]).unwrap()
}

fn refused(text: &str) -> (String, String) {
    let d = context();
    match migrate_in(d.path(), text, &[]) {
        Err(DockerfileError::Refused { at, message, hint }) => (format!("{at}: {message}"), hint),
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn from_maps_distroless_names_and_scratch_and_registry_images() {
    let (c, _) = migrate("FROM gcr.io/distroless/static-debian12:nonroot\n");
    let img = &c.image;
    assert_eq!(img.base.as_ref().unwrap().get_ref(), "static");
    assert_eq!(img.debian.as_ref().unwrap().get_ref(), "12");
    assert_eq!(img.variant.as_ref().unwrap().get_ref(), "nonroot");
    let (c, m) = migrate("FROM scratch\nCOPY app.py /\n");
    assert_eq!(c.image.variant.as_ref().unwrap().get_ref(), "latest");
    assert!(m.notes[0].contains("runs as root"), "{:?}", m.notes);
    let (c, _) = migrate("FROM registry.example:5000/team/base:1@sha256:ab\n");
    assert_eq!(
        c.image.base.as_ref().unwrap().get_ref(),
        "docker://registry.example:5000/team/base:1@sha256:ab"
    );
}

#[test]
fn args_and_build_args_substitute_in_from_and_in_the_stage_and_env_wins() {
    let d = context();
    let text = "ARG REL=13\nARG VARIANT\nFROM gcr.io/distroless/cc-debian${REL}:${VARIANT:-latest}\n\
                ARG REL\nARG NAME=dflt\nENV NAME=env-$NAME\nLABEL rel=$REL name=$NAME\n";
    let (c, _) = migrate_in(d.path(), text, &[("VARIANT", "nonroot"), ("NAME", "cli")]).unwrap();
    assert_eq!(c.image.debian.as_ref().unwrap().get_ref(), "13");
    assert_eq!(c.image.variant.as_ref().unwrap().get_ref(), "nonroot");
    assert_eq!(c.image.env["NAME"].get_ref(), "env-cli");
    assert_eq!(c.image.labels["rel"], "13");
    // ENV takes precedence over ARG of the same name.
    assert_eq!(c.image.labels["name"], "env-cli");
    let (_, m) = migrate_in(
        d.path(),
        "FROM scratch\nCOPY app.py /\n",
        &[("UNUSED", "1")],
    )
    .unwrap();
    assert!(
        m.notes.iter().any(|n| n.contains("UNUSED")),
        "{:?}",
        m.notes
    );
}

#[test]
fn env_label_forms_quotes_and_the_escape_directive() {
    let (c, _) = migrate(
        "FROM scratch\nENV A=1 B=\"two words\" C=$A\\$A\nENV LEGACY one two\nLABEL \"com.x.y\"=\"v\" multi=\"a \\\n  b\"\nCOPY app.py /\n",
    );
    let env = &c.image.env;
    assert_eq!(env["A"].get_ref(), "1");
    assert_eq!(env["B"].get_ref(), "two words");
    // One ENV sees the values from before it: A is not yet 1 there.
    assert_eq!(env["C"].get_ref(), "$A");
    assert_eq!(env["LEGACY"].get_ref(), "one two");
    assert_eq!(c.image.labels["com.x.y"], "v");
    assert_eq!(c.image.labels["multi"], "a   b");
    let (c, _) = migrate("# escape=`\nFROM scratch\nENV P=C:`$X\nCOPY app.py /\n");
    assert_eq!(c.image.env["P"].get_ref(), "C:$X");
}

#[test]
fn workdir_is_made_as_the_user_and_relative_paths_follow_it() {
    let (c, _) = migrate(
        "FROM gcr.io/distroless/static-debian13:nonroot\nWORKDIR app\nWORKDIR ../srv/./x\nUSER 1000:2000\nWORKDIR data\nCOPY app.py ./\nCOPY app.py rel/name.py\n",
    );
    assert_eq!(
        c.image.workdir.as_ref().unwrap().get_ref(),
        "/home/nonroot/srv/x/data"
    );
    assert_eq!(c.image.user.as_ref().unwrap().get_ref(), "1000:2000");
    let dirs: Vec<(String, Option<u64>)> = c
        .files
        .iter()
        .filter(|f| f.src.is_none())
        .map(|f| (f.dst.get_ref().clone(), f.uid))
        .collect();
    assert_eq!(
        dirs,
        [
            ("/home/nonroot/app".into(), Some(65532)),
            ("/home/nonroot/srv/x".into(), Some(65532)),
            ("/home/nonroot/srv/x/data".into(), Some(1000)),
        ]
    );
    let dsts: Vec<&str> = c
        .files
        .iter()
        .filter(|f| f.src.is_some())
        .map(|f| f.dst.get_ref().as_str())
        .collect();
    assert_eq!(
        dsts,
        [
            "/home/nonroot/srv/x/data/",
            "/home/nonroot/srv/x/data/rel/name.py"
        ]
    );
}

#[test]
fn workdir_leaves_a_directory_the_base_has_as_it_is() {
    let (c, _) = migrate(
        "FROM gcr.io/distroless/static-debian13:nonroot\nWORKDIR /tmp\nWORKDIR /home/nonroot\n",
    );
    assert_eq!(c.image.workdir.as_ref().unwrap().get_ref(), "/home/nonroot");
    assert!(
        c.files.is_empty(),
        "no entry replaces /tmp's sticky bit or /home/nonroot's 0700"
    );
    let (c, _) = migrate("FROM scratch\nWORKDIR /tmp\n");
    assert_eq!(c.files[0].dst.get_ref(), "/tmp");
}

#[test]
fn copy_flags_globs_and_several_sources() {
    let (c, _) = migrate(
        "FROM scratch\nCOPY --chown=nonroot --chmod=640 app.py /a\nCOPY --chown=10:20 --chmod=0755 conf /etc/conf\nCOPY *.py app.py /many/\nCOPY --link / /all/\n",
    );
    let f = &c.files;
    assert_eq!((f[0].uid, f[0].gid), (Some(65532), Some(65532)));
    let mode = |i: usize| match f[i].mode.as_ref().map(|m| m.get_ref()) {
        Some(crate::config::ModeValue::Text(t)) => Some(t.clone()),
        _ => None,
    };
    assert_eq!(mode(0).as_deref(), Some("0640"));
    assert!(f[0].dir_mode.is_none());
    assert_eq!((f[1].uid, f[1].gid), (Some(10), Some(20)));
    assert!(
        f[1].dir_mode.is_some(),
        "--chmod applies to a directory's directories too"
    );
    assert_eq!(f[2].src.as_ref().unwrap().get_ref(), "*.py");
    assert_eq!(f[3].dst.get_ref(), "/many/");
    assert_eq!(f[4].src.as_ref().unwrap().get_ref(), ".");
    let (many, hint) = refused("FROM scratch\nCOPY app.py b.py /dir\n");
    assert!(
        many.contains("Dockerfile:2") && many.contains("must be a directory"),
        "{many}"
    );
    assert!(hint.contains("end the destination with `/`"));
    let (bad, _) = refused("FROM scratch\nCOPY --chown=www-data app.py /\n");
    assert!(bad.contains("www-data"), "{bad}");
    let (bad, _) = refused("FROM scratch\nCOPY --chmod=u+x app.py /\n");
    assert!(bad.contains("octal"), "{bad}");
}

#[test]
fn dockerignore_goes_into_the_context_table_with_the_config_itself() {
    let d = context();
    std::fs::write(d.path().join(".dockerignore"), "# c\n*.md\n!README.md\n").unwrap();
    let (c, _) = migrate_in(d.path(), "FROM scratch\nCOPY . /app\n", &[]).unwrap();
    let ignore: Vec<&str> = c
        .context
        .ignore
        .iter()
        .map(|p| p.get_ref().as_str())
        .collect();
    assert_eq!(ignore, ["*.md", "!README.md", "/distill.toml"]);
    std::fs::write(d.path().join("Dockerfile.dockerignore"), "only\n").unwrap();
    let (c, _) = migrate_in(d.path(), "FROM scratch\nCOPY app.py /app\n", &[]).unwrap();
    assert_eq!(c.context.ignore[0].get_ref(), "only");
}

#[test]
fn config_instructions_follow_docker() {
    let (c, _) = migrate(
        "FROM gcr.io/distroless/python3-debian12\nCMD [\"a.py\"]\nEXPOSE 80 53/udp\nSTOPSIGNAL SIGQUIT\nVOLUME /data /logs\nVOLUME [\"/cache\"]\n\
         HEALTHCHECK --interval=5m --timeout=3s --start-period=1s --start-interval=2s --retries=4 CMD [\"/bin/check\", \"-q\"]\n",
    );
    let img = &c.image;
    assert_eq!(img.cmd.as_deref(), Some(&["a.py".to_owned()][..]));
    assert!(
        img.entrypoint.is_none(),
        "CMD alone keeps the base's entrypoint"
    );
    let ports: Vec<&str> = img.ports.iter().map(|p| p.get_ref().as_str()).collect();
    assert_eq!(ports, ["80", "53/udp"]);
    assert_eq!(img.stop_signal.as_ref().unwrap().get_ref(), "SIGQUIT");
    let vols: Vec<&str> = img.volumes.iter().map(|p| p.get_ref().as_str()).collect();
    assert_eq!(vols, ["/data", "/logs", "/cache"]);
    let h = img.healthcheck.as_ref().unwrap().get_ref();
    assert_eq!(h.test.get_ref(), &["CMD", "/bin/check", "-q"]);
    assert_eq!(h.interval.as_ref().unwrap().get_ref(), "5m");
    assert_eq!(h.start_interval.as_ref().unwrap().get_ref(), "2s");
    assert_eq!(*h.retries.as_ref().unwrap().get_ref(), 4);
    let (c, _) = migrate("FROM gcr.io/distroless/static\nHEALTHCHECK NONE\n");
    assert_eq!(
        c.image.healthcheck.unwrap().get_ref().test.get_ref(),
        &["NONE"]
    );
}

#[test]
fn entrypoint_resets_a_base_cmd_but_not_one_written_before_it() {
    let (c, _) = migrate("FROM gcr.io/distroless/static\nENTRYPOINT [\"/app\"]\n");
    assert!(c.image.cmd.is_none());
    let (c, _) = migrate("FROM gcr.io/distroless/static\nCMD [\"x\"]\nENTRYPOINT [\"/app\"]\n");
    assert_eq!(c.image.cmd.as_deref(), Some(&["x".to_owned()][..]));
    let (c, _) =
        migrate("FROM gcr.io/distroless/static AS base\nENV A=1\nFROM base\nCMD [\"y\"]\n");
    assert_eq!(
        c.image.env["A"].get_ref(),
        "1",
        "a stage built on a stage keeps its settings"
    );
    let (c, _) =
        migrate("FROM gcr.io/distroless/static AS a\nCMD [\"x\"]\nFROM a\nENTRYPOINT [\"/app\"]\n");
    assert!(
        c.image.cmd.is_none(),
        "the CMD of the stage built on is a base's"
    );
}

#[test]
fn what_needs_a_shell_is_refused_with_the_line_and_a_hint() {
    let (msg, hint) = refused("FROM gcr.io/distroless/static\nCMD python3 app.py\n");
    assert!(
        msg.starts_with(&format!("{}:2", Path::new("Dockerfile").display()))
            || msg.contains("Dockerfile:2"),
        "{msg}"
    );
    assert!(msg.contains("Shell-form CMD"), "{msg}");
    assert!(hint.contains(r#"CMD ["python3", "app.py"]"#), "{hint}");
    let (msg, hint) = refused("FROM gcr.io/distroless/static\nRUN apt-get install -y curl\n");
    assert!(msg.contains("Dockerfile:2") && msg.contains("RUN"), "{msg}");
    assert!(hint.contains("[packages] include = [\"curl\"]"), "{hint}");
    let builder = "FROM python:3.11-slim AS build\nWORKDIR /w\nRUN pip install --target /deps flask\n\
                   FROM gcr.io/distroless/python3-debian12\nCOPY --from=build /deps /deps\n";
    let (msg, hint) = refused(builder);
    assert!(
        msg.contains("Dockerfile:5")
            && msg.contains("--from=build")
            && msg.contains("Dockerfile:3"),
        "{msg}"
    );
    assert!(
        hint.contains("installs Python dependencies") && hint.contains("distill build ."),
        "{hint}"
    );
    let go = "FROM golang:1.22 AS build\nRUN go mod download\nRUN CGO_ENABLED=0 go build -o /go/bin/app\n\
              FROM gcr.io/distroless/static-debian12\nCOPY --from=build /go/bin/app /\n";
    let (msg, hint) = refused(go);
    assert!(
        msg.contains("RUN at") && msg.contains("Dockerfile:2"),
        "{msg}"
    );
    assert!(
        hint.contains("compiles the app"),
        "the hint reads every RUN: {hint}"
    );
    let (msg, _) = refused("FROM gcr.io/distroless/static\nHEALTHCHECK CMD curl -f http://x/\n");
    assert!(msg.contains("Shell-form HEALTHCHECK"), "{msg}");
    let (msg, _) = refused("FROM gcr.io/distroless/static\nCOPY --from=alpine:3 /bin/sh /sh\n");
    assert!(msg.contains("from an image"), "{msg}");
    let (msg, _) = refused("FROM gcr.io/distroless/static\nADD https://example.invalid/x /x\n");
    assert!(msg.contains("downloads"), "{msg}");
}

#[test]
fn add_of_a_local_archive_is_refused_not_copied_packed() {
    let d = context();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"x").unwrap();
    std::fs::write(d.path().join("a.tar.gz"), gz.finish().unwrap()).unwrap();
    let err = migrate_in(d.path(), "FROM scratch\nADD a.tar.gz /opt/\n", &[]).unwrap_err();
    assert!(err.to_string().contains("unpack"), "{err}");
    let (c, _) = migrate_in(d.path(), "FROM scratch\nADD app.py /opt/\n", &[]).unwrap();
    assert_eq!(c.files[0].dst.get_ref(), "/opt/");
}

#[test]
fn dockerfiles_are_told_from_configs() {
    assert!(is_dockerfile(Path::new("x/Dockerfile"), ""));
    assert!(is_dockerfile(Path::new("Containerfile.prod"), ""));
    assert!(is_dockerfile(Path::new("api.Dockerfile"), ""));
    assert!(is_dockerfile(
        Path::new("build"),
        "# comment\n\nFROM scratch\n"
    ));
    assert!(is_dockerfile(Path::new("build"), "arg X=1\nFROM scratch\n"));
    assert!(!is_dockerfile(Path::new("distill.toml"), "FROM = 1"));
    assert!(!is_dockerfile(
        Path::new("cfg"),
        "# from\n[image]\nbase = \"static\"\n"
    ));
    let err = translate(
        Path::new("Dockerfile"),
        "FROM scratch\nCOPY [\"a\"\n",
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, DockerfileError::Parse { line: 2, .. }),
        "{err}"
    );
}
