//! Issue #15, the Python half: one Flask app with one dependency besides Flask and a dev
//! group, locked by each tool (Poetry in non-package and package mode, Pipenv, PDM, uv's
//! pylock.toml and uv.lock, and a hashed requirements.txt), each lock made here with the
//! real tool from the index (lockfiles record index addresses, so none is committed). Each
//! image runs nonroot in podman and answers over HTTP; every dist-info in it has the version
//! the tool itself reports for its main group, and the dev dependency is absent.
//! `.python-version` 3.11 puts the app on Debian 12. A Poetry project in non-package mode
//! with no dependencies runs with `--entrypoint`/`--cmd`. An sdist-only dependency is
//! refused before its setup.py runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use distill_test::tools::run_ok;

/// The lockers' virtual environment, as scripts/install-deps makes it.
fn lockers() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    let dir = cache.join("distill/test-tools/python-lockers");
    for tool in ["poetry", "pipenv", "pdm"] {
        assert!(
            dir.join("bin").join(tool).is_file(),
            "{tool} is not installed in {}; run ./scripts/install-deps test",
            dir.display()
        );
    }
    dir
}

pub(crate) const APP: &str = "import os, sys\nimport humanize\nfrom flask import Flask\napp = Flask(__name__)\n\n\
@app.get('/')\ndef index():\n    return f'{humanize.intcomma(1234567)} on Python {sys.version_info.major}.{sys.version_info.minor}\\n'\n\n\
if __name__ == '__main__':\n    app.run(host='0.0.0.0', port=int(os.environ.get('PORT', '8080')))\n";

/// A tool run in the project `dir`, with its caches and homes under `scratch`.
fn tool(dir: &Path, scratch: &Path, program: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .env("POETRY_CACHE_DIR", scratch.join("poetry"))
        .env("POETRY_VIRTUALENVS_PATH", scratch.join("venvs"))
        .env("WORKON_HOME", scratch.join("venvs"))
        .env("PIPENV_YES", "1")
        .env("PIPENV_NOSPIN", "1")
        .env("PIPENV_PYTHON", "python3")
        .env("PDM_HOME", scratch.join("pdm"))
        .env("PDM_CACHE_DIR", scratch.join("pdm-cache"))
        .env("PDM_CHECK_UPDATE", "false")
        .env("PDM_IGNORE_SAVED_PYTHON", "1")
        .env("UV_CACHE_DIR", scratch.join("uv"));
    c
}

/// `name==version` lines (any markers after), normalized names.
pub(crate) fn pins(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.split([';', ' ', '\\']).next()?.trim();
            let (name, version) = l.split_once("==")?;
            Some((normalize(name), version.to_owned()))
        })
        .collect()
}

fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}

/// `poetry show` lines: the name, then the first word that starts with a digit (a package
/// the environment lacks is marked `(!)` between them).
fn poetry_pins(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            let version = words.find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
            Some((normalize(name), version.to_owned()))
        })
        .collect()
}

/// `poetry lock`, then the main group as `poetry show` lists it.
fn poetry(dir: &Path, scratch: &Path) -> BTreeMap<String, String> {
    let poetry = lockers().join("bin/poetry");
    run_ok(tool(dir, scratch, &poetry).args(["lock", "--no-interaction"]));
    let shown = ["show", "--only", "main", "--no-ansi", "--no-interaction"];
    poetry_pins(&run_ok(tool(dir, scratch, &poetry).args(shown)))
}

const PYPROJECT: &str = "[project]\nname = \"svc\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [\"flask\", \"humanize\"]\n";

/// Writes the project for `kind` into `dir`, locks it with the kind's tool, and returns
/// the tool's own list of the main group's pins: the oracle.
fn lock(kind: &str, dir: &Path, scratch: &Path) -> BTreeMap<String, String> {
    let bin = lockers().join("bin");
    let uv = PathBuf::from("uv");
    let out = |c: &mut Command| run_ok(c);
    match kind {
        "poetry.lock" => {
            std::fs::write(
                dir.join("pyproject.toml"),
                "[tool.poetry]\npackage-mode = false\n[tool.poetry.dependencies]\npython = \"^3.11\"\nflask = \"^3\"\nhumanize = \"*\"\n\
                 [tool.poetry.group.dev.dependencies]\niniconfig = \"*\"\n",
            )
            .unwrap();
            poetry(dir, scratch)
        }
        "poetry.lock (package mode)" => {
            std::fs::write(
                dir.join("pyproject.toml"),
                format!("{PYPROJECT}[tool.poetry]\npackages = [{{ include = \"app.py\" }}]\n[tool.poetry.group.dev.dependencies]\niniconfig = \"*\"\n\
                         [build-system]\nrequires = [\"poetry-core>=2.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n"),
            )
            .unwrap();
            poetry(dir, scratch)
        }
        "Pipfile.lock" => {
            std::fs::write(
                dir.join("Pipfile"),
                "[packages]\nflask = \"*\"\nhumanize = \"*\"\n[dev-packages]\niniconfig = \"*\"\n",
            )
            .unwrap();
            out(tool(dir, scratch, &bin.join("pipenv")).arg("lock"));
            pins(&out(
                tool(dir, scratch, &bin.join("pipenv")).arg("requirements")
            ))
        }
        "pdm.lock" => {
            std::fs::write(
                dir.join("pyproject.toml"),
                format!("{PYPROJECT}[dependency-groups]\ndev = [\"iniconfig\"]\n[tool.pdm]\ndistribution = false\n"),
            )
            .unwrap();
            out(tool(dir, scratch, &bin.join("pdm")).arg("lock"));
            pins(&out(tool(dir, scratch, &bin.join("pdm")).args([
                "export",
                "--prod",
                "--no-hashes",
                "-f",
                "requirements",
            ])))
        }
        "pylock.toml" | "uv.lock" => {
            std::fs::write(
                dir.join("pyproject.toml"),
                format!("{PYPROJECT}[dependency-groups]\ndev = [\"iniconfig\"]\n"),
            )
            .unwrap();
            out(tool(dir, scratch, &uv).args(["lock", "--quiet"]));
            let oracle = pins(&out(tool(dir, scratch, &uv).args([
                "export",
                "--quiet",
                "--no-dev",
                "--no-hashes",
                "--no-emit-project",
            ])));
            if kind == "pylock.toml" {
                out(tool(dir, scratch, &uv).args([
                    "export",
                    "--quiet",
                    "--no-dev",
                    "--no-emit-project",
                    "--format",
                    "pylock.toml",
                    "-o",
                    "pylock.toml",
                ]));
                std::fs::remove_file(dir.join("uv.lock")).unwrap();
                std::fs::remove_file(dir.join("pyproject.toml")).unwrap();
            }
            oracle
        }
        "requirements.txt" => {
            std::fs::write(dir.join("requirements.in"), "flask\nhumanize\n").unwrap();
            // The image's Python: 3.11, for .python-version below.
            out(tool(dir, scratch, &uv).args([
                "pip",
                "compile",
                "--quiet",
                "--generate-hashes",
                "--python-version",
                "3.11",
                "--python-platform",
                "x86_64-manylinux_2_36",
                "requirements.in",
                "-o",
                "requirements.txt",
            ]));
            std::fs::write(dir.join(".python-version"), "3.11\n").unwrap();
            pins(&std::fs::read_to_string(dir.join("requirements.txt")).unwrap())
        }
        other => panic!("no such kind {other}"),
    }
}

/// `NAME-VERSION.dist-info` directories under `site`, normalized names.
pub(crate) fn dist_infos(site: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(site)
        .unwrap_or_else(|e| panic!("{}: {e}", site.display()))
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let stem = n.strip_suffix(".dist-info")?;
            let (name, version) = stem.rsplit_once('-')?;
            Some((normalize(name), version.to_owned()))
        })
        .collect()
}

/// One kind end to end; a panic message says which.
fn one_kind(kind: &'static str) {
    let app = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("app.py"), APP).unwrap();
    let oracle = lock(kind, app.path(), scratch.path());
    let file = kind.split(' ').next().unwrap();
    assert!(
        app.path().join(file).is_file(),
        "{kind}: no {file} was made"
    );
    assert!(
        !oracle.contains_key("iniconfig"),
        "{kind}: the oracle has the dev group"
    );
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(ok, "{kind}: {err}");
    let python = if kind == "requirements.txt" {
        "3.11"
    } else {
        "3.13"
    };
    let debian = if python == "3.11" { "12" } else { "13" };
    assert!(
        err.contains(&format!("a Python app ({file}) for Python {python}"))
            && err.contains(&format!("(Debian {debian})")),
        "{kind}: {err}"
    );
    let root = crate::common::rootfs(&archive, out.path());
    let site = root.join(format!("usr/local/lib/python{python}/dist-packages"));
    let mut installed = dist_infos(&site);
    if kind == "poetry.lock (package mode)" {
        // The project itself, built by poetry-core in the sandbox, as `poetry install` does.
        assert_eq!(
            installed.remove("svc").as_deref(),
            Some("0.1.0"),
            "{kind}: {installed:?}"
        );
        assert!(
            site.join("app.py").is_file(),
            "{kind}: the project's module is not installed"
        );
    }
    for (name, version) in &installed {
        assert_eq!(
            oracle.get(name),
            Some(version),
            "{kind}: {name} {version} is not the lock's"
        );
    }
    for name in [
        "flask",
        "humanize",
        "werkzeug",
        "jinja2",
        "markupsafe",
        "click",
    ] {
        assert!(
            installed.contains_key(name),
            "{kind}: {name} missing: {installed:?}"
        );
    }
    assert!(
        !installed.contains_key("iniconfig"),
        "{kind}: the dev group is in the image"
    );
    let (answer, _) = crate::common::serve(&archive, None);
    assert!(
        answer.ends_with(&format!("1,234,567 on Python {python}\n")),
        "{kind}: {answer}"
    );
    if kind == "poetry.lock (package mode)" {
        // The project's wheel is built from its tree: a change to it is not a cache hit.
        let text = std::fs::read_to_string(app.path().join("app.py")).unwrap();
        std::fs::write(
            app.path().join("app.py"),
            text.replace(" on Python ", " now on Python "),
        )
        .unwrap();
        let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
        assert!(ok, "{kind}: {err}");
        let root = crate::common::rootfs(&archive, &out.path().join("again"));
        let module = std::fs::read_to_string(
            root.join(format!("usr/local/lib/python{python}/dist-packages/app.py")),
        )
        .unwrap();
        assert!(
            module.contains(" now on Python "),
            "{kind}: the project's wheel is stale"
        );
    }
    grouped(kind, app.path(), out.path(), &installed, python);
}

/// `[python] groups` in a distill.toml installs the dev group beside the main one (Pipenv
/// calls it `develop`), and changes nothing else; a lock with no such group refuses it.
fn grouped(kind: &str, app: &Path, out: &Path, main: &BTreeMap<String, String>, python: &str) {
    let group = if kind == "Pipfile.lock" {
        "develop"
    } else {
        "dev"
    };
    std::fs::write(
        app.join("distill.toml"),
        format!("[python]\ngroups = [\"{group}\"]\n"),
    )
    .unwrap();
    let archive = out.join("grouped.tar");
    let (ok, err) = crate::common::build_archive(app, &[], &archive);
    std::fs::remove_file(app.join("distill.toml")).unwrap();
    if matches!(kind, "requirements.txt" | "pylock.toml") {
        assert!(
            !ok && err.contains(&format!("has no dependency group `{group}`")),
            "{kind}: {err}"
        );
        return;
    }
    assert!(ok, "{kind} with groups: {err}");
    let root = crate::common::rootfs(&archive, &out.join("grouped"));
    let with = dist_infos(&root.join(format!("usr/local/lib/python{python}/dist-packages")));
    assert!(
        with.contains_key("iniconfig"),
        "{kind}: the dev group is not installed: {with:?}"
    );
    for (name, version) in main {
        assert_eq!(with.get(name), Some(version), "{kind}: {name} changed");
    }
}

#[test]
fn every_python_lock_kind_installs_exactly_its_main_group_and_runs() {
    let kinds = [
        "poetry.lock",
        "poetry.lock (package mode)",
        "Pipfile.lock",
        "pdm.lock",
        "pylock.toml",
        "uv.lock",
        "requirements.txt",
    ];
    crate::common::two_at_a_time(&kinds, one_kind);
}

#[test]
fn a_poetry_project_with_no_dependencies_runs_with_entrypoint_and_cmd() {
    let app = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(
        app.path().join("pyproject.toml"),
        "[tool.poetry]\npackage-mode = false\n[tool.poetry.dependencies]\npython = \"^3.11\"\n",
    )
    .unwrap();
    std::fs::write(
        app.path().join("hello.py"),
        "import sys\nprint('hello', sys.argv[1:])\n",
    )
    .unwrap();
    run_ok(
        tool(app.path(), scratch.path(), &lockers().join("bin/poetry"))
            .args(["lock", "--no-interaction"]),
    );
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(
        app.path(),
        &[
            "--entrypoint",
            "python3",
            "--cmd",
            r#"["/app/hello.py", "x"]"#,
        ],
        &archive,
    );
    assert!(ok, "{err}");
    assert!(err.contains("a Python app (poetry.lock)"), "{err}");
    let run = distill_test::Podman::new().run(&format!("oci-archive:{}", archive.display()), &[]);
    assert_eq!(run.stdout, "hello ['x']\n", "{}", run.stderr);
}

#[test]
fn an_sdist_only_dependency_is_refused_before_its_setup_py_runs() {
    let app = tempfile::tempdir().unwrap();
    let index = app.path().join("wheels");
    let marker = app
        .path()
        .join("..")
        .join(format!("distill-setup-py-ran-{}", std::process::id()));
    let src = app.path().join("build/sdonly-0.1");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&index).unwrap();
    std::fs::write(
        src.join("setup.py"),
        format!(
            "open({:?}, 'w').write('ran')\nfrom setuptools import setup\nsetup(name='sdonly', version='0.1')\n",
            marker.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("PKG-INFO"),
        "Metadata-Version: 2.1\nName: sdonly\nVersion: 0.1\n",
    )
    .unwrap();
    run_ok(
        Command::new("tar")
            .current_dir(app.path().join("build"))
            .arg("czf")
            .arg(index.join("sdonly-0.1.tar.gz"))
            .arg("sdonly-0.1"),
    );
    std::fs::remove_dir_all(app.path().join("build")).unwrap();
    // A local index (a flat one) that serves only the sdist.
    std::fs::write(
        app.path().join("requirements.txt"),
        format!("--find-links {}\nsdonly==0.1\n", index.display()),
    )
    .unwrap();
    std::fs::write(app.path().join("main.py"), "import sdonly\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &[], &archive);
    assert!(!ok && !archive.exists(), "{err}");
    assert!(
        err.contains("exists only as source") && err.contains("sdonly") && err.contains("hint:"),
        "{err}"
    );
    assert!(err.contains("not locked"), "the unlocked warning: {err}");
    assert!(!marker.exists(), "setup.py ran on the host");
}

/// `sdonly-0.1.tar.gz` whose setup.py tries to write `marker` and to reach `port` on the
/// host's loopback, and records both outcomes in the module it builds.
fn hostile_sdist(dir: &Path, marker: &Path, port: u16) -> PathBuf {
    let src = dir.join("build/sdonly-0.1");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("setup.py"),
        format!(
            "import socket\n\
             try:\n    open({marker:?}, 'w').write('ran'); wrote = 'written'\n\
             except OSError:\n    wrote = 'refused'\n\
             try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5); net = 'online'\n\
             except OSError:\n    net = 'offline'\n\
             open('sdonly.py', 'w').write(f'STATE = {{wrote!r}} + \" \" + {{net!r}}\\n')\n\
             from setuptools import setup\n\
             setup(name='sdonly', version='0.1', py_modules=['sdonly'])\n",
            marker = marker.display().to_string(),
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("PKG-INFO"),
        "Metadata-Version: 2.1\nName: sdonly\nVersion: 0.1\n",
    )
    .unwrap();
    let tarball = dir.join("sdonly-0.1.tar.gz");
    run_ok(
        Command::new("tar")
            .current_dir(dir.join("build"))
            .arg("czf")
            .arg(&tarball)
            .arg("sdonly-0.1"),
    );
    std::fs::remove_dir_all(dir.join("build")).unwrap();
    tarball
}

/// Issue #15's acceptance 5, allowed: the sdist builds in the sandbox, from a find-links
/// directory with its hash locked, and from an index; setup.py could neither write outside
/// nor reach the network, and the image imports what it built. A tampered sdist is refused
/// before it is built.
#[test]
fn an_allowed_sdist_builds_confined_and_cannot_write_outside_or_reach_the_network() {
    use sha2::Digest;
    let host = tempfile::tempdir().unwrap();
    let marker = host.path().join("marker");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(served.path().join("files")).unwrap();
    let sdist = hostile_sdist(&served.path().join("files"), &marker, port);
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&sdist).unwrap()));

    let app = tempfile::tempdir().unwrap();
    std::fs::write(
        app.path().join("main.py"),
        "import sdonly\nprint(sdonly.STATE)\n",
    )
    .unwrap();
    let build = |reqs: &str, name: &str| {
        std::fs::write(app.path().join("requirements.txt"), reqs).unwrap();
        let archive = host.path().join(name);
        let (ok, err) =
            crate::common::build_archive(app.path(), &["--allow-source", "sdonly"], &archive);
        (ok, err, archive)
    };
    let links = served.path().join("files");
    let (ok, err, archive) = build(
        &format!(
            "--find-links {}\nsdonly==0.1 --hash=sha256:{sha}\n",
            links.display()
        ),
        "links.tar",
    );
    assert!(ok, "{err}");
    let run = distill_test::Podman::new().run(&format!("oci-archive:{}", archive.display()), &[]);
    assert_eq!(run.stdout, "refused offline\n", "{}", run.stderr);
    assert!(!marker.exists(), "setup.py wrote outside the sandbox");

    std::fs::create_dir_all(served.path().join("simple/sdonly")).unwrap();
    std::fs::write(
        served.path().join("simple/sdonly/index.html"),
        format!("<html><body><a href=\"../../files/sdonly-0.1.tar.gz#sha256={sha}\">sdonly-0.1.tar.gz</a></body></html>\n"),
    )
    .unwrap();
    let server = distill_test::http::FileServer::start(served.path());
    let (ok, err, archive) = build(
        &format!("--index-url {}\nsdonly==0.1\n", server.url("/simple")),
        "index.tar",
    );
    assert!(ok, "{err}");
    let root = crate::common::rootfs(&archive, &host.path().join("index"));
    let module =
        std::fs::read_to_string(root.join("usr/local/lib/python3.13/dist-packages/sdonly.py"))
            .unwrap();
    assert!(
        module.contains("refused") && module.contains("offline"),
        "{module}"
    );
    assert!(!marker.exists());
    // On an extra index, which uv looks in before the index (here one without it).
    let (ok, err, _) = build(
        &format!(
            "--index-url {}\n--extra-index-url={}\nsdonly==0.1\n",
            server.url("/empty"),
            server.url("/simple")
        ),
        "extra.tar",
    );
    assert!(ok, "{err}");
    // On an extra index the host's pip settings name: uv is given them.
    std::fs::write(app.path().join("requirements.txt"), "sdonly==0.1\n").unwrap();
    let o = crate::common::distill()
        .arg("build")
        .arg(app.path())
        .args(["--allow-source", "sdonly", "-o"])
        .arg(format!(
            "oci-archive:{}",
            host.path().join("pip.tar").display()
        ))
        .env("PIP_EXTRA_INDEX_URL", server.url("/simple"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let (ok, err, archive) = build(
        &format!(
            "--find-links {}\nsdonly==0.1 --hash=sha256:{}\n",
            links.display(),
            "0".repeat(64)
        ),
        "tampered.tar",
    );
    assert!(!ok && !archive.exists(), "{err}");
    assert!(
        err.contains("does not have the sha256 the requirements name"),
        "{err}"
    );
}
