//! Issue #15: `distill lock` pins a Python app whose own files pin nothing (a
//! requirements.txt without hashes). distill.lock then holds the resolution, every version
//! with its hashes, and `build --locked` installs exactly it: each dist-info in the image
//! has the version the lock records, and the image answers over HTTP. Two lock runs write
//! the same bytes. A changed requirements.txt, or a tampered set that adds an index, is
//! refused.

use std::path::Path;

fn lock(dir: &Path) {
    let o = crate::common::distill()
        .arg("lock")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "distill lock: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The `[platform.app] requirements` of distill.lock, as `name -> version`.
fn locked(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("distill.lock")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let platform = &doc["platform"].as_array().unwrap()[0];
    crate::pylocks::pins(platform["app"]["requirements"].as_str().unwrap())
}

#[test]
fn distill_lock_pins_an_unlocked_requirements_txt_and_locked_builds_install_it() {
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("app.py"), crate::pylocks::APP).unwrap();
    std::fs::write(app.path().join("requirements.txt"), "flask\nhumanize\n").unwrap();
    lock(app.path());
    let first = std::fs::read(app.path().join("distill.lock")).unwrap();
    lock(app.path());
    assert_eq!(
        first,
        std::fs::read(app.path().join("distill.lock")).unwrap(),
        "two locks differ"
    );
    let pinned = locked(app.path());
    for name in ["flask", "humanize", "werkzeug", "jinja2", "markupsafe"] {
        assert!(
            pinned.contains_key(name),
            "{name} is not pinned: {pinned:?}"
        );
    }
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &["--locked"], &archive);
    assert!(ok, "{err}");
    assert!(!err.contains("not locked"), "{err}");
    let root = crate::common::rootfs(&archive, out.path());
    let installed =
        crate::pylocks::dist_infos(&root.join("usr/local/lib/python3.13/dist-packages"));
    assert_eq!(installed, pinned, "the image is not the lock");
    let (answer, _) = crate::common::serve(&archive, None);
    assert!(answer.ends_with("1,234,567 on Python 3.13\n"), "{answer}");

    // A tampered set: an index of the attacker's, which the hashes would not stop.
    let text = std::fs::read_to_string(app.path().join("distill.lock")).unwrap();
    let tampered = text.replacen(
        "requirements = '''\n",
        "requirements = '''\n--extra-index-url http://127.0.0.1:9/simple\n",
        1,
    );
    assert_ne!(tampered, text, "the lock's layout changed: {text}");
    std::fs::write(app.path().join("distill.lock"), &tampered).unwrap();
    let again = out.path().join("again.tar");
    let (ok, err) = crate::common::build_archive(app.path(), &["--locked"], &again);
    assert!(
        !ok && err.contains("--extra-index-url")
            && err.contains("not a pinned, hashed distribution"),
        "{err}"
    );
    // Other requirements than the lock was made from.
    std::fs::write(app.path().join("distill.lock"), &text).unwrap();
    std::fs::write(
        app.path().join("requirements.txt"),
        "flask\nhumanize\nitsdangerous\n",
    )
    .unwrap();
    let (ok, err) = crate::common::build_archive(app.path(), &["--locked"], &again);
    assert!(
        !ok && err.contains("resolved from other requirements") && err.contains("distill lock"),
        "{err}"
    );
    assert!(!again.exists());
}
