//! Builds distill-init as a static binary for the target, to be embedded in distill and
//! added to images (the `static` one included, which has no libc).
//!
//! A nested `cargo build` with its own target directory, since `crt-static` cannot be asked
//! for one crate of a workspace. Paths are remapped and symbols stripped, so the embedded
//! bytes, and with them image digests, do not depend on where distill was built.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest
        .join("../..")
        .canonicalize()
        .expect("workspace root");
    let init = workspace.join("crates/distill-init");
    println!("cargo:rerun-if-changed={}", init.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        init.join("Cargo.toml").display()
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let target = std::env::var("TARGET").expect("set by cargo");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let home = std::env::var("CARGO_HOME")
        .ok()
        .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.cargo")))
        .unwrap_or_default();
    let rustflags = [
        "-Ctarget-feature=+crt-static".to_owned(),
        format!("--remap-path-prefix={}=/distill", workspace.display()),
        format!("--remap-path-prefix={home}=/cargo"),
    ]
    .join("\x1f");
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "-p",
            "distill-init",
            "--release",
            "--locked",
            "--offline",
        ])
        .args(["--target", &target, "--target-dir"])
        .arg(out.join("init"))
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .status()
        .expect("run cargo for distill-init");
    assert!(status.success(), "building distill-init failed");
    let built = out.join("init").join(&target).join("release/distill-init");
    std::fs::copy(&built, out.join("distill-init")).expect("copy distill-init");
}
