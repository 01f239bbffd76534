//! Keys for signing: `distill keygen` writes cosign's files and refuses to clobber them.

use crate::common::distill;

fn keygen(dir: &std::path::Path, password: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut c = distill();
    c.current_dir(dir).arg("keygen").args(args);
    match password {
        Some(p) => c.env("DISTILL_KEY_PASSWORD", p),
        None => c.env_remove("DISTILL_KEY_PASSWORD"),
    };
    c.output().unwrap()
}

#[test]
fn keygen_writes_a_cosign_key_pair_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = keygen(dir.path(), None, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DISTILL_KEY_PASSWORD is not set"),
        "{stderr}"
    );
    assert!(!dir.path().join("distill.key").exists());

    let out = keygen(dir.path(), Some(""), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let private = std::fs::read_to_string(dir.path().join("distill.key")).unwrap();
    let public = std::fs::read_to_string(dir.path().join("distill.pub")).unwrap();
    assert!(private.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("distill.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the private key is readable by others");
    // The pair belongs together: the private key, decrypted, has this public key.
    let key = distill_sign::PrivateKey::read(&dir.path().join("distill.key"), "").unwrap();
    assert_eq!(key.public().to_pem(), public);

    let out = keygen(dir.path(), Some(""), &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("distill.key already exists"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("distill.key")).unwrap(),
        private,
        "the existing key was overwritten"
    );

    let out = keygen(dir.path(), Some("pw"), &["sub/none"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Cannot write sub/none.key"), "{stderr}");
}
