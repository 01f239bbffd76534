//! Issue #6, native binaries: the examples built here with gcc and cargo, given to `distill
//! build` as the context, their libraries found from their ELF through the Contents index,
//! and run in podman as nonroot.

use std::path::Path;
use std::process::Command;

use distill_test::Podman;
use distill_test::tools::run_ok;

use crate::common::examples;

#[test]
fn a_static_c_program_lands_on_static() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("hello");
    run_ok(
        Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&bin)
            .arg(examples().join("c-static/hello.c")),
    );
    let archive = dir.path().join("hello.tar");
    let (ok, err) = crate::common::build_archive(&bin, &[], &archive);
    assert!(ok, "{err}");
    assert!(err.contains("(static); it goes onto `static`"), "{err}");
    let root = crate::common::rootfs(&archive, dir.path());
    assert!(root.join("usr/local/bin/hello").is_file());
    assert!(
        !root.join("usr/lib/x86_64-linux-gnu/libc.so.6").exists(),
        "no libc on static"
    );
    assert!(!root.join("bin/sh").exists() && !root.join("usr/bin/sh").exists());
    let run = Podman::new().run(&format!("oci-archive:{}", archive.display()), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "hello from a static C program, uid 65532\n");
}

#[test]
fn a_dynamic_openssl_program_gets_its_packages_from_its_elf() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("digest");
    run_ok(
        Command::new("gcc")
            .args(["-O2", "-o"])
            .arg(&bin)
            .arg(examples().join("c-openssl/main.c"))
            .args(["-lssl", "-lcrypto", "-lz"]),
    );
    let archive = dir.path().join("digest.tar");
    let (ok, err) = crate::common::build_archive(&bin, &[], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains("needing libssl.so.3 libcrypto.so.3 libz.so.1 libc.so.6; it goes onto `base` (Debian 13)"),
        "{err}"
    );
    let root = crate::common::rootfs(&archive, dir.path());
    for pkg in ["libssl3t64", "zlib1g", "libc6"] {
        assert!(
            root.join("var/lib/dpkg/status.d").join(pkg).is_file(),
            "{pkg} missing"
        );
    }
    assert!(!root.join("bin/sh").exists() && !root.join("usr/bin/sh").exists());
    let run = Podman::new().run(&format!("oci-archive:{}", archive.display()), &["abc"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(
            "sha256(abc) = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\nOpenSSL 3."
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("TLS context: ok"), "{}", run.stdout);
}

#[test]
fn a_rust_server_built_with_cargo_defaults_runs_on_cc() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    run_ok(
        Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--offline",
                "--locked",
                "--manifest-path",
            ])
            .arg(examples().join("rust-server/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
    );
    let bin = target.join("release/rust-server");
    let archive = dir.path().join("server.tar");
    let (ok, err) = crate::common::build_archive(&bin, &[], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains("libgcc_s.so.1") && err.contains("goes onto `cc`"),
        "{err}"
    );

    let (answer, _) = crate::common::serve(&archive, None);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("hello from a Rust server in a distroless image\n"));
}

#[test]
fn a_binary_needing_a_newer_glibc_is_refused_with_the_version_named() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("new-glibc");
    run_ok(
        Command::new("gcc")
            .args(["-O2", "-o"])
            .arg(&bin)
            .arg(examples().join("c-static/hello.c")),
    );
    // Every glibc-2.34+ program references GLIBC_2.34 (__libc_start_main); make it 2.99.
    let mut bytes = std::fs::read(&bin).unwrap();
    let at = bytes
        .windows(10)
        .position(|w| w == b"GLIBC_2.34")
        .expect("a reference to GLIBC_2.34");
    bytes[at..at + 10].copy_from_slice(b"GLIBC_2.99");
    std::fs::write(&bin, bytes).unwrap();
    let archive = dir.path().join("x.tar");
    let (ok, err) = crate::common::build_archive(&bin, &[], &archive);
    assert!(!ok && !archive.exists(), "{err}");
    assert!(
        err.contains("new-glibc needs GLIBC_2.99, but Debian 13 has glibc 2.41"),
        "{err}"
    );
    assert!(
        err.contains("hint:") && err.contains("Debian 12 has 2.36, Debian 13 has 2.41"),
        "{err}"
    );
}

#[test]
fn a_library_no_package_ships_comes_from_include_lib_or_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let libdir = dir.path().join("lib");
    std::fs::create_dir(&libdir).unwrap();
    std::fs::write(
        dir.path().join("greet.c"),
        "#include <stdio.h>\nvoid greet(void) { puts(\"hello from libgreet\"); }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("main.c"),
        "void greet(void);\nint main(void) { greet(); return 0; }\n",
    )
    .unwrap();
    run_ok(Command::new("gcc").current_dir(dir.path()).args([
        "-shared",
        "-fPIC",
        "-Wl,-soname,libgreet.so.1",
        "-o",
        "lib/libgreet.so.1",
        "greet.c",
    ]));
    run_ok(Command::new("gcc").current_dir(dir.path()).args([
        "-o",
        "app",
        "main.c",
        "lib/libgreet.so.1",
    ]));
    let bin = dir.path().join("app");
    let archive = dir.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(&bin, &[], &archive);
    assert!(!ok && !archive.exists(), "{err}");
    assert!(
        err.contains("app needs libgreet.so.1, which no Debian 13 package for amd64 ships")
            && err.contains("--include-lib"),
        "{err}"
    );
    let (ok, err) =
        crate::common::build_archive(&bin, &["--include-lib", libdir.to_str().unwrap()], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains("with libgreet.so.1 from --include-lib"),
        "{err}"
    );
    let run = Podman::new().run(&format!("oci-archive:{}", archive.display()), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "hello from libgreet\n");
}

#[test]
fn arm64_binaries_build_for_arm64_and_run_under_qemu() {
    distill_test::require("aarch64-linux-gnu-gcc");
    assert!(
        Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists(),
        "qemu-aarch64 is not registered with binfmt_misc; run ./scripts/install-deps"
    );
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("hello-arm64");
    run_ok(
        Command::new("aarch64-linux-gnu-gcc")
            .args(["-O2", "-o"])
            .arg(&bin)
            .arg(examples().join("c-static/hello.c")),
    );
    let archive = dir.path().join("arm.tar");
    // The platform follows the binary; asking for another one is an error.
    let (ok, err) = crate::common::build_archive(&bin, &["--platform", "linux/amd64"], &archive);
    assert!(
        !ok && err.contains("is built for arm64, but the build asks for linux/amd64"),
        "{err}"
    );
    let (ok, err) = crate::common::build_archive(&bin, &["--platform", "linux/arm64"], &archive);
    assert!(ok, "{err}");
    assert!(
        err.contains("a arm64 ELF binary needing libc.so.6"),
        "{err}"
    );
    let run = Podman::new().run_with(
        &["--platform", "linux/arm64"],
        &format!("oci-archive:{}", archive.display()),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "hello from a static C program, uid 65532\n");
}
