//! Issue #15: an allowed source distribution with a C extension is compiled for the
//! image's Python, not the host's: in a root of the image release's own `python3-dev` and
//! `gcc` (resolved from the verified indexes), confined, with no network. The image runs
//! it and reports the Python it was compiled against. For another machine's platform the
//! extension, built for this one, is refused by name.

use std::path::Path;
use std::process::Command;

use distill_test::tools::run_ok;

/// `cext-0.1.tar.gz` in `dist`: a module whose one function names the Python headers it
/// was compiled with.
fn sdist(dist: &Path) {
    let build = dist.join("build/cext-0.1");
    std::fs::create_dir_all(&build).unwrap();
    std::fs::write(
        build.join("setup.py"),
        "from setuptools import setup, Extension\n\
         setup(name='cext', version='0.1', ext_modules=[Extension('cext', ['cext.c'])])\n",
    )
    .unwrap();
    std::fs::write(
        build.join("cext.c"),
        "#include <Python.h>\n\
         static PyObject *hello(PyObject *self, PyObject *args) {\n\
           return PyUnicode_FromFormat(\"compiled for Python %s\", PY_VERSION);\n}\n\
         static PyMethodDef methods[] = {{\"hello\", hello, METH_NOARGS, \"\"}, {NULL, NULL, 0, NULL}};\n\
         static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, \"cext\", NULL, -1, methods};\n\
         PyMODINIT_FUNC PyInit_cext(void) { return PyModule_Create(&mod); }\n",
    )
    .unwrap();
    std::fs::write(
        build.join("PKG-INFO"),
        "Metadata-Version: 2.1\nName: cext\nVersion: 0.1\n",
    )
    .unwrap();
    run_ok(Command::new("tar").current_dir(dist.join("build")).args([
        "czf",
        "../cext-0.1.tar.gz",
        "cext-0.1",
    ]));
    std::fs::remove_dir_all(dist.join("build")).unwrap();
}

#[test]
fn an_allowed_c_extension_is_compiled_for_the_images_python_and_runs() {
    let app = tempfile::tempdir().unwrap();
    sdist(&app.path().join("dist"));
    std::fs::write(
        app.path().join("requirements.txt"),
        "--find-links ./dist\ncext==0.1\n",
    )
    .unwrap();
    std::fs::write(
        app.path().join("main.py"),
        "import cext\nprint(cext.hello())\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &["--allow-source", "cext"], &archive);
    assert!(ok, "{err}");
    let run = distill_test::Podman::new().run(&format!("oci-archive:{}", archive.display()), &[]);
    assert!(
        run.stdout.starts_with("compiled for Python 3.13."),
        "{}{}",
        run.stdout,
        run.stderr
    );
    // Built on this machine, for it: an arm64 image cannot take it.
    let arm = out.path().join("arm.tar");
    let (ok, err) = crate::common::build_archive(
        app.path(),
        &["--allow-source", "cext", "--platform", "linux/arm64"],
        &arm,
    );
    assert!(
        !ok && err.contains("cext==0.1") && err.contains("aarch64") && !arm.exists(),
        "{err}"
    );
}
