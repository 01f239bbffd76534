//! Issue #14: `distill inspect` and `distill diff` on images distill built and on images it
//! did not (a crafted layout, a Debian minbase made by mmdebstrap and imported by podman),
//! each checked against a count the test makes itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::common::distill;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One entry of a crafted layer: path, mode, content (`None` for a directory).
type Crafted<'a> = (&'a str, u32, Option<&'a [u8]>);

fn layer_tar(entries: &[Crafted]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, mode, content) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(*mode);
        h.set_mtime(0);
        match content {
            Some(c) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(c.len() as u64);
                b.append_data(&mut h, path, *c).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, path, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// An OCI layout of uncompressed `layers` and `config` (its rootfs filled in).
fn craft_layout(dir: &Path, layers: &[Vec<u8>], mut config: Value) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = sha(bytes);
        std::fs::write(blobs.join(&d), bytes).unwrap();
        format!("sha256:{d}")
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let d = put(l);
        diff_ids.push(d.clone());
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": l.len()}));
    }
    config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
    config["architecture"] = json!("amd64");
    config["os"] = json!("linux");
    let cfg = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(&cfg), "size": cfg.len()},
        "layers": descs,
    }))
    .unwrap();
    let m = put(&manifest);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": manifest.len(),
            "platform": {"os": "linux", "architecture": "amd64"}}]}))
        .unwrap(),
    )
    .unwrap();
}

const KEY: &[u8] = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

/// The issue's three layers: `/a` (1000 B) and `/b` (500 B); `/a` overwritten with 200 B
/// (of mode `a_mode`); `/b` deleted.
fn three_layers(dir: &Path, a_mode: u32) {
    let l1 = layer_tar(&[
        ("a", 0o644, Some(&[b'a'; 1000])),
        ("b", 0o644, Some(&[b'b'; 500])),
    ]);
    let l2 = layer_tar(&[("a", a_mode, Some(&[b'A'; 200]))]);
    let l3 = layer_tar(&[(".wh.b", 0o644, Some(b""))]);
    craft_layout(
        dir,
        &[l1, l2, l3],
        json!({"created": "2026-01-01T00:00:00Z", "config": {"Cmd": ["/a"]}}),
    );
}

/// A setuid file, a world-writable directory, a private key a later layer deletes, an
/// `.env` file and a hostile file name.
fn findings_layers(dir: &Path) {
    let l1 = layer_tar(&[
        ("tmp", 0o1777, None),
        ("data", 0o777, None),
        ("usr/bin/su", 0o4755, Some(b"")),
        ("root/.ssh/id_ed25519", 0o600, Some(KEY)),
        ("srv/.env", 0o644, Some(b"DB_PASSWORD=hunter2\n")),
        ("srv/<script>alert(1)</script>", 0o644, Some(b"x")),
    ]);
    let l2 = layer_tar(&[("root/.ssh/.wh.id_ed25519", 0o644, Some(b""))]);
    craft_layout(dir, &[l1, l2], json!({"config": {"User": "0"}}));
}

fn inspect(args: &[&str]) -> Output {
    distill().arg("inspect").args(args).output().unwrap()
}

fn inspect_json(src: &str) -> Value {
    let o = inspect(&[src, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn checks(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn crafted_layers_score_waste_as_dive_and_show_every_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("img");
    three_layers(&img, 0o644);
    let src = format!("oci:{}", img.display());
    let r = inspect_json(&src);
    assert_eq!(r["schema"], "distill.inspect/v1");
    assert_eq!(r["wasted"], 1500, "{r:#}");
    assert_eq!(r["efficiency"].as_f64().unwrap(), 200.0 / 1700.0);
    let layer_bytes: Vec<u64> = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(layer_bytes, vec![1500, 200, 0]);
    assert_eq!(
        r["wasted_paths"],
        json!([{"path": "/a", "bytes": 1000}, {"path": "/b", "bytes": 500}])
    );
    let o = inspect(&[&src, "--fail-on", "efficiency<0.9,size>1MB,shell"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr.matches("fail: ").count(), 1, "{stderr}");
    assert!(
        stderr.contains("fail: efficiency: 0.1176 is below 0.9 (1.5 kB wasted)"),
        "{stderr}"
    );
    assert_eq!(
        inspect(&[&src, "--fail-on", "size>1MB,shell,efficiency<0.1"])
            .status
            .code(),
        Some(0)
    );
    let o = inspect(&[&src, "--fail-on", "rooot"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rooot") && stderr.contains("package-manager"),
        "{stderr}"
    );

    let bad = tmp.path().join("bad");
    findings_layers(&bad);
    let bsrc = format!("oci:{}", bad.display());
    let r = inspect_json(&bsrc);
    assert_eq!(
        checks(&r),
        ["root", "setuid", "world-writable", "secrets"],
        "{r:#}"
    );
    let text = r["findings"].to_string();
    assert!(text.contains("/usr/bin/su (4755)"), "{text}");
    assert!(
        text.contains("/data (0777)") && !text.contains("/tmp"),
        "{text}"
    );
    assert!(
        text.contains("/root/.ssh/id_ed25519 (a private key, deleted later but still in layer 1)"),
        "{text}"
    );
    assert!(text.contains("/srv/.env (an environment file)"), "{text}");
    let o = inspect(&[&bsrc, "--fail-on", "secrets,setuid"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr.contains("fail: setuid: ") && stderr.contains("fail: secrets: "),
        "{stderr}"
    );

    // The HTML page escapes what the image names, and loads nothing.
    let html = tmp.path().join("report.html");
    assert!(
        inspect(&[&bsrc, "--html", html.to_str().unwrap()])
            .status
            .success()
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for bad in ["<script", "src=", "url(", "@import", "http://", "https://"] {
        assert!(!page.contains(bad), "the page has {bad}");
    }

    // diff: the same image is identical; one mode changed is exactly that.
    let other = tmp.path().join("other");
    three_layers(&other, 0o755);
    let o = distill().args(["diff", &src, &src]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("identical: sha256:"));
    let osrc = format!("oci:{}", other.display());
    let o = distill().args(["diff", &src, &osrc]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert_eq!(
        out.lines().next().unwrap(),
        "first difference: file ~ /a: mode 0644 → 0755"
    );
    let o = distill()
        .args(["diff", &src, &osrc, "--json"])
        .output()
        .unwrap();
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["files"].as_array().unwrap().len(), 1, "{d:#}");
    assert!(
        d["packages"].as_array().unwrap().is_empty() && d["config"].as_array().unwrap().is_empty()
    );

    // The same files under another config: only the config differs, field by field.
    let env = tmp.path().join("env");
    let l = layer_tar(&[("a", 0o644, Some(&[b'a'; 1000]))]);
    craft_layout(
        &env,
        std::slice::from_ref(&l),
        json!({"config": {"Env": ["A=1"], "User": "7"}}),
    );
    let env2 = tmp.path().join("env2");
    craft_layout(
        &env2,
        &[l],
        json!({"config": {"Env": ["A=2"], "User": "7"}}),
    );
    let o = distill()
        .args(["diff", "--json"])
        .arg(format!("oci:{}", env.display()))
        .arg(format!("oci:{}", env2.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        d["config"],
        json!([r#"~ config.Env: ["A=1"] → ["A=2"]"#]),
        "{d:#}"
    );
    assert!(
        d["files"].as_array().unwrap().is_empty() && d["packages"].as_array().unwrap().is_empty()
    );
}

/// `distill base python3 --debian 12 --variant nonroot`, built once per test run.
fn python3_layout() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("python3");
        let o = distill()
            .args([
                "base",
                "python3",
                "--debian",
                "12",
                "--variant",
                "nonroot",
                "-q",
                "-o",
            ])
            .arg(format!("oci:{}", path.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (dir, path)
    });
    path
}

/// `path` as a merged-/usr image has it, by the test's own rule.
fn merged(path: &str) -> String {
    let p = path.trim_start_matches('/');
    for top in ["bin/", "sbin/", "lib/", "lib64/"] {
        if p.starts_with(top) {
            return format!("usr/{p}");
        }
    }
    p.to_owned()
}

/// Bytes per package of `files` (path → size of each regular file), each file counted for
/// the package when exactly one package's list names it.
fn count(
    lists: &BTreeMap<String, Vec<String>>,
    files: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    let mut owners: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (pkg, paths) in lists {
        for p in paths {
            let v = owners.entry(merged(p)).or_default();
            if !v.contains(&pkg.as_str()) {
                v.push(pkg);
            }
        }
    }
    let mut out = BTreeMap::new();
    for (path, size) in files {
        if let Some([one]) = owners.get(path).map(Vec::as_slice) {
            *out.entry(format!("deb:{one}")).or_insert(0) += size;
        }
    }
    out
}

/// What the report says each package holds in the final filesystem.
fn reported(r: &Value) -> BTreeMap<String, u64> {
    r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "deb")
        .map(|p| {
            (
                p["package"].as_str().unwrap().to_owned(),
                p["bytes"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Each layer's packages add up to its bytes, which are its tar less headers and padding.
fn assert_layers_add_up(r: &Value) {
    for l in r["layers"].as_array().unwrap() {
        let bytes = l["bytes"].as_u64().unwrap();
        let sum: u64 = l["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["bytes"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, bytes, "{l:#}");
        let (tar, entries) = (
            l["tar_bytes"].as_u64().unwrap(),
            l["entries"].as_u64().unwrap(),
        );
        assert!(
            tar >= bytes && tar - bytes <= entries * 2048 + 10240,
            "{l:#}"
        );
    }
}

/// Every regular file of a tar stream and its size, and the bytes of the files `keep` picks.
fn tar_files(
    r: impl std::io::Read,
    keep: impl Fn(&str) -> bool,
) -> (BTreeMap<String, u64>, BTreeMap<String, String>) {
    let mut files = BTreeMap::new();
    let mut kept = BTreeMap::new();
    for e in tar::Archive::new(r).entries().unwrap() {
        let mut e = e.unwrap();
        let path = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        if e.header().entry_type().is_file() {
            files.insert(path.clone(), e.size());
            if keep(&path) {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut e, &mut s).unwrap();
                kept.insert(path, s);
            }
        }
    }
    (files, kept)
}

#[test]
fn debian_minbase_is_flagged_and_distills_python_is_not_with_sizes_attributed() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("minbase.tar");
    let mirror = distill_apt::debian::Mirrors::find(None, Path::new("/etc/apt"))
        .expect("a Debian mirror in the host's apt sources")
        .debian;
    // Maintainer scripts run in mmdebstrap's user namespace, not as the host's root.
    let o = std::process::Command::new("mmdebstrap")
        .args(["--mode=unshare", "--variant=minbase", "--quiet", "bookworm"])
        .arg(&rootfs)
        .arg(&mirror)
        .output()
        .expect("mmdebstrap (scripts/install-deps installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let podman = |args: &[&str]| {
        let o = std::process::Command::new("podman")
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    let id = podman(&["import", "-q", rootfs.to_str().unwrap()]);
    let archive = tmp.path().join("minbase-docker.tar");
    let saved = std::process::Command::new("podman")
        .args(["save", "-q", "--format", "docker-archive", "-o"])
        .arg(&archive)
        .arg(&id)
        .status();
    podman(&["rmi", "-f", &id]);
    assert!(saved.unwrap().success());

    let src = format!("docker-archive:{}", archive.display());
    let r = inspect_json(&src);
    let found = checks(&r);
    for c in ["root", "shell", "package-manager", "setuid"] {
        assert!(found.contains(&c.to_owned()), "{c} not in {found:?}");
    }
    let o = inspect(&[&src, "--fail-on", "root"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("fail: root: runs as root"));
    assert_layers_add_up(&r);

    // The oracle: dpkg's own file lists in mmdebstrap's tarball, read by the test.
    let (files, lists) = tar_files(std::fs::File::open(&rootfs).unwrap(), |p| {
        p.starts_with("var/lib/dpkg/info/") && p.ends_with(".list")
    });
    let mut lists: BTreeMap<String, Vec<String>> = lists
        .into_iter()
        .map(|(p, text)| {
            let name = p
                .trim_start_matches("var/lib/dpkg/info/")
                .trim_end_matches(".list");
            let name = name.split(':').next().unwrap().to_owned();
            (name, text.lines().map(str::to_owned).collect())
        })
        .collect();
    // dpkg's own files of a package (`NAME.list`, `NAME.postinst`, …) are the package's.
    for path in files.keys() {
        let Some(file) = path.strip_prefix("var/lib/dpkg/info/") else {
            continue;
        };
        let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
        let name = stem.split(':').next().unwrap();
        if let Some(v) = lists.get_mut(name) {
            v.push(path.clone());
        }
    }
    assert!(lists.len() > 80, "{} lists", lists.len());
    assert_eq!(
        r["layers"][0]["bytes"].as_u64().unwrap(),
        files.values().sum::<u64>()
    );
    assert_eq!(reported(&r), count(&lists, &files));

    // distill's python3: nothing of the four, and its sizes by status.d and Conffiles.
    let py = format!("oci:{}", python3_layout().display());
    let o = inspect(&[&py, "--fail-on", "root,shell,package-manager,setuid"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = inspect_json(&py);
    let found = checks(&r);
    for c in ["root", "shell", "package-manager", "setuid"] {
        assert!(!found.contains(&c.to_owned()), "{c} in {found:?}");
    }
    assert_layers_add_up(&r);
    let root = distill_test::unpack_layout(python3_layout());
    let status = root.path().join("var/lib/dpkg/status.d");
    let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in std::fs::read_dir(&status).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(status.join(&name)).unwrap();
        let (pkg, paths): (String, Vec<String>) = match name.strip_suffix(".md5sums") {
            Some(pkg) => (
                pkg.to_owned(),
                text.lines()
                    .filter_map(|l| Some(l.split_once("  ")?.1.to_owned()))
                    .collect(),
            ),
            None => {
                let conf = text.split("\nConffiles:\n").nth(1).unwrap_or_default();
                let conf = conf.lines().take_while(|l| l.starts_with(' '));
                (
                    name.clone(),
                    conf.filter_map(|l| l.split_whitespace().next())
                        .map(str::to_owned)
                        .collect(),
                )
            }
        };
        let v = lists.entry(pkg).or_default();
        v.extend(paths);
        v.push(format!("var/lib/dpkg/status.d/{name}"));
    }
    // The Conffiles field carries each conffile's MD5, as dpkg's status does.
    let conf = "/etc/ld.so.conf.d/x86_64-linux-gnu.conf";
    let record = std::fs::read_to_string(status.join("libc6")).unwrap();
    let md5 = std::process::Command::new("md5sum")
        .arg(root.path().join(&conf[1..]))
        .output()
        .unwrap();
    let md5 = String::from_utf8(md5.stdout).unwrap();
    let md5 = md5.split_whitespace().next().unwrap();
    assert!(
        record.contains(&format!("\nConffiles:\n {conf} {md5}\n")),
        "{record}"
    );
    let files: BTreeMap<String, u64> = walk(root.path()).into_iter().collect();
    assert_eq!(reported(&r), count(&lists, &files));
    let unowned: Vec<&str> = r["unowned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["path"].as_str().unwrap())
        .collect();
    assert!(
        unowned.contains(&"/etc/passwd") && !unowned.contains(&"/etc/gai.conf"),
        "{unowned:?}"
    );
}

/// Regular files under `root`, relative, with their sizes.
fn walk(root: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, m.len()));
            }
        }
    }
    out
}

fn diff(a: &Path, b: &Path) -> (Option<i32>, Value) {
    let o = distill()
        .args(["diff", "--json"])
        .arg(format!("oci:{}", a.display()))
        .arg(format!("oci:{}", b.display()))
        .output()
        .unwrap();
    (o.status.code(), serde_json::from_slice(&o.stdout).unwrap())
}

#[test]
fn diff_of_locked_builds_is_empty_and_a_pin_change_is_its_package_alone() {
    use crate::packages::{Fixture, good_packages};
    let f = Fixture::new(&good_packages(), &["hello-app"]);
    assert!(f.run("lock", &[]).status.success());
    let a = f.build("a", &["--locked"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    // A second later, with another umask: the same image.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 077 && exec "$0" build "$1" --mirror "$2" --locked -o "oci:$3""#)
        .arg(assert_cmd::cargo::cargo_bin("distill"))
        .arg(f.ctx.path())
        .arg(f.mirror())
        .arg(f.out.path().join("b"))
        .env("DISTILL_CACHE", f.cache())
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let (code, d) = diff(&f.out.path().join("a"), &f.out.path().join("b"));
    assert_eq!((code, &d["identical"]), (Some(0), &json!(true)), "{d:#}");

    // One pin moves: libgreet 2.1-1 → 2.2-1, with other bytes.
    let mut debs = good_packages();
    debs[1] = distill_test::aptrepo::DebSpec::new("libgreet", "2.2-1")
        .file("lib/x86_64-linux-gnu/libgreet.so.2.1", "ELF-ish, newer\n")
        .entry(distill_test::aptrepo::DebEntry::Symlink {
            path: "lib/x86_64-linux-gnu/libgreet.so.2".into(),
            target: "libgreet.so.2.1".into(),
        });
    std::thread::sleep(std::time::Duration::from_millis(1100));
    f.repo.bookworm(&debs, &f.key);
    assert!(f.run("lock", &[]).status.success());
    let c = f.build("c", &["--locked"]);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    let (code, d) = diff(&f.out.path().join("a"), &f.out.path().join("c"));
    assert_eq!(code, Some(3), "{d:#}");
    assert_eq!(
        d["packages"],
        json!(["~ deb:libgreet 2.1-1 → 2.2-1"]),
        "{d:#}"
    );
    assert_eq!(
        d["first_difference"],
        "package ~ deb:libgreet 2.1-1 → 2.2-1"
    );
    // Every file that changed is libgreet's, but for the SBOM in the image, which records
    // every package's version.
    let files = d["files"].as_array().unwrap();
    for f in files {
        if f["path"] != "/var/lib/db/sbom/distill.spdx.json" {
            assert_eq!(f["package"], "deb:libgreet", "{d:#}");
        }
    }
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "/usr/lib/x86_64-linux-gnu/libgreet.so.2.1",
            "/var/lib/db/sbom/distill.spdx.json",
            "/var/lib/dpkg/status.d/libgreet",
            "/var/lib/dpkg/status.d/libgreet.md5sums"
        ]
    );
    assert!(d["config"].as_array().unwrap().is_empty(), "{d:#}");
}

/// Where scripts/install-deps puts playwright-core, pinned.
fn playwright() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    let dir = cache.join("distill/test-tools/playwright");
    assert!(
        dir.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "playwright-core in {} and /usr/bin/chromium are missing: run scripts/install-deps test",
        dir.display()
    );
    dir
}

#[test]
fn html_report_renders_offline_in_chromium_on_a_phone_in_both_schemes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = format!("oci:{}", python3_layout().display());
    let r = inspect_json(&src);
    let largest = r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| !p["package"].is_null())
        .unwrap()["package"]
        .as_str()
        .unwrap()
        .to_owned();
    let finding = r["findings"][0]["message"]
        .as_str()
        .expect("Debian 12's end of security support")
        .to_owned();
    let html = tmp.path().join("report.html");
    assert!(
        inspect(&[&src, "--html", html.to_str().unwrap()])
            .status
            .success()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/html_check.js");
    let needles = json!([largest, finding]).to_string();
    let o = std::process::Command::new("node")
        .arg(&script)
        .arg(playwright())
        .arg(&html)
        .arg(tmp.path())
        .arg("375")
        .arg(&needles)
        .output()
        .expect("node");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let seen: Value = serde_json::from_slice(&o.stdout).unwrap();
    for scheme in ["light", "dark"] {
        let s = &seen[scheme];
        assert_eq!(s["requests"], json!([]), "{scheme}: {s:#}");
        assert_eq!(
            s["has"],
            serde_json::from_str::<Value>(&needles).unwrap(),
            "{scheme}: {s:#}"
        );
        assert!(
            s["scrollWidth"].as_u64().unwrap() <= s["innerWidth"].as_u64().unwrap(),
            "{scheme} scrolls: {s:#}"
        );
        assert!(
            s["colours"].as_u64().unwrap() > 50,
            "{scheme} looks blank: {s:#}"
        );
        assert!(
            tmp.path()
                .join(format!("{scheme}.png"))
                .metadata()
                .unwrap()
                .len()
                > 10_000
        );
    }
    assert_ne!(
        seen["light"]["background"], seen["dark"]["background"],
        "no dark scheme"
    );
}
