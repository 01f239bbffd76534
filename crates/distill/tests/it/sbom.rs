//! Issue #13, acceptance 1 and 2: `build --sbom` and `distill sbom` write SPDX 2.3 and
//! CycloneDX 1.6 documents that the formats' own validators (pyspdxtools, and
//! cyclonedx-python-lib's strict JSON schema, installed by scripts/install-deps) accept, and
//! whose package URLs are exactly the set this file derives from the unpacked image: its
//! status.d, dist-info, node_modules and, for the Node runtime, what `node --version` says
//! and the integrity distill.lock pins.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{build_ok, distill, examples};

/// The validators' virtual environment, as scripts/install-deps makes it.
fn validators() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    let dir = cache.join("distill/test-tools/sbom-validators");
    assert!(
        dir.join("bin/pyspdxtools").is_file(),
        "the SBOM validators are not installed in {}; run ./scripts/install-deps test",
        dir.display()
    );
    dir
}

const CDX_CHECK: &str = "
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if err is not None:
    sys.exit(f'invalid CycloneDX 1.6: {err}')
";

/// Both validators accept both documents.
fn validate(spdx: &Path, cdx: &Path) {
    let v = validators();
    distill_test::tools::run_ok(Command::new(v.join("bin/pyspdxtools")).arg("-i").arg(spdx));
    distill_test::tools::run_ok(
        Command::new(v.join("bin/python"))
            .args(["-c", CDX_CHECK])
            .arg(cdx),
    );
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn spdx_purls(doc: &serde_json::Value) -> BTreeSet<String> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["referenceType"] == "purl")
        .map(|r| r["referenceLocator"].as_str().unwrap().to_owned())
        .collect()
}

fn cdx_purls(doc: &serde_json::Value) -> BTreeSet<String> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str().map(str::to_owned))
        .collect()
}

/// purl-spec's percent-encoding of a Debian name or version: `:` and `+` are not left bare.
fn enc(version: &str) -> String {
    version.replace(':', "%3A").replace('+', "%2B")
}

fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            walk(&e.path(), out);
        } else if ty.is_file() {
            out.push(e.path());
        }
    }
}

/// The package URLs of an unpacked image, from its own records.
fn image_purls(root: &Path, debian: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(root.join("var/lib/dpkg/status.d")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md5sums") {
            continue;
        }
        let t = std::fs::read_to_string(&p).unwrap();
        let name = field(&t, "Package").unwrap();
        let source = field(&t, "Source")
            .map(|s| s.split(' ').next().unwrap().to_owned())
            .filter(|s| *s != name);
        let mut purl = format!(
            "pkg:deb/debian/{}@{}?arch={}&distro=debian-{debian}",
            enc(&name),
            enc(&field(&t, "Version").unwrap()),
            field(&t, "Architecture").unwrap()
        );
        if let Some(s) = source {
            purl.push_str(&format!("&upstream={}", enc(&s)));
        }
        out.insert(purl);
    }
    let mut files = Vec::new();
    walk(root, &mut files);
    for f in files {
        let parent = f.parent().unwrap();
        let under_modules = |d: &Path| d.file_name().is_some_and(|n| n == "node_modules");
        if f.file_name().unwrap() == "METADATA"
            && parent.extension().is_some_and(|x| x == "dist-info")
        {
            let t = std::fs::read_to_string(&f).unwrap();
            let name = field(&t, "Name")
                .unwrap()
                .to_lowercase()
                .replace(['_', '.'], "-");
            out.insert(format!("pkg:pypi/{name}@{}", field(&t, "Version").unwrap()));
        } else if f.file_name().unwrap() == "package.json" {
            let grand = parent.parent().unwrap();
            let scoped = grand
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with('@')
                && under_modules(grand.parent().unwrap());
            let dir_name = parent.file_name().unwrap().to_string_lossy();
            if !(scoped || under_modules(grand)) || dir_name.starts_with(['.', '@']) {
                continue;
            }
            let v = json(&f);
            let name = v["name"].as_str().unwrap().replace('@', "%40");
            out.insert(format!("pkg:npm/{name}@{}", v["version"].as_str().unwrap()));
        }
    }
    out
}

/// The Node runtime's purl from `node --version` in the image and the lock's integrity.
fn node_purl(archive: &Path, lock: &Path) -> String {
    let podman = distill_test::Podman::new();
    // The node binary itself, whatever the image's entrypoint (the Express app's serves).
    let out = podman.run_with(
        &["--entrypoint", "/nodejs/bin/node"],
        &format!("oci-archive:{}", archive.display()),
        &["--version"],
    );
    let version = out.stdout.trim().trim_start_matches('v').to_owned();
    assert!(
        !version.is_empty(),
        "node --version printed nothing: {}",
        out.stderr
    );
    let lock: toml::Table = toml::from_str(&std::fs::read_to_string(lock).unwrap()).unwrap();
    let integrity = lock["platform"][0]["node"]["integrity"].as_str().unwrap();
    let raw = base64_decode(integrity.strip_prefix("sha512-").unwrap());
    format!(
        "pkg:generic/node@{version}?checksum=sha512%3A{}",
        hex::encode(raw)
    )
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Builds `context` (locked, so the lock is there to read) with `--sbom`, validates both
/// documents and `distill sbom`'s, and compares every purl set with the image's own.
fn check(context: &Path, node: bool) {
    let o = distill().arg("lock").arg(context).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("image");
    let dir = out.path().join("sbom");
    let o = distill()
        .arg("build")
        .arg(context)
        .arg("--locked")
        .arg("--sbom")
        .arg(&dir)
        .arg("-o")
        .arg(format!("oci:{}", layout.display()))
        .arg("-o")
        .arg(format!(
            "oci-archive:{}",
            out.path().join("image.tar").display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (spdx, cdx) = (dir.join("sbom.spdx.json"), dir.join("sbom.cdx.json"));
    validate(&spdx, &cdx);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&spdx).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o644,
        "an SBOM others may read, not a temporary file's 0600"
    );
    let root = distill_test::unpack_layout(&layout);
    let os = std::fs::read_to_string(root.path().join("usr/lib/os-release")).unwrap();
    let debian = os
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_ID="))
        .unwrap()
        .replace('"', "");
    // The SBOM inside the image is valid SPDX too, and has no digest of its own image.
    let inside = root.path().join("var/lib/db/sbom/distill.spdx.json");
    distill_test::tools::run_ok(
        Command::new(validators().join("bin/pyspdxtools"))
            .arg("-i")
            .arg(&inside),
    );
    let digest = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(
        !std::fs::read_to_string(&inside)
            .unwrap()
            .contains(&digest[7..])
    );
    let mut expected = image_purls(root.path(), &debian);
    if node {
        expected.insert(node_purl(
            &out.path().join("image.tar"),
            &context.join("distill.lock"),
        ));
    }
    assert_eq!(spdx_purls(&json(&spdx)), expected, "build --sbom, SPDX");
    assert_eq!(cdx_purls(&json(&cdx)), expected, "build --sbom, CycloneDX");
    // The same from the image alone, as any user's image would be read.
    for (format, file) in [
        ("spdx-json", "scan.spdx.json"),
        ("cyclonedx-json", "scan.cdx.json"),
    ] {
        let o = distill()
            .arg("sbom")
            .arg(format!("oci:{}", layout.display()))
            .args(["--format", format, "-o"])
            .arg(out.path().join(file))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (s, c) = (
        out.path().join("scan.spdx.json"),
        out.path().join("scan.cdx.json"),
    );
    validate(&s, &c);
    assert_eq!(spdx_purls(&json(&s)), expected, "distill sbom, SPDX");
    assert_eq!(cdx_purls(&json(&c)), expected, "distill sbom, CycloneDX");
}

fn member(base: &str) -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("distill.toml"),
        format!("[image]\nbase = \"{base}\"\n"),
    )
    .unwrap();
    ctx
}

fn example(name: &str) -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(examples().join(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), ctx.path().join(e.file_name())).unwrap();
    }
    ctx
}

#[test]
fn python3_sboms_are_valid_and_list_what_the_image_records() {
    check(member("python3").path(), false);
}

#[test]
fn nodejs24_sboms_list_the_node_runtime_with_its_integrity() {
    check(member("nodejs24").path(), true);
}

#[test]
fn java_sboms_are_valid_and_list_what_the_image_records() {
    check(member("java").path(), false);
}

#[test]
fn flask_example_sboms_list_every_distribution() {
    check(example("python-flask").path(), false);
}

#[test]
fn express_example_sboms_list_every_npm_package_and_node() {
    check(example("node-express").path(), true);
}

/// A regular Debian image keeps its packages in `var/lib/dpkg/status`: `distill sbom` reads
/// them as dpkg does. The image holds this machine's own status file (hundreds of packages,
/// in whatever states dpkg left them; removed-but-not-purged entries are a unit test of
/// distill-sbom); the oracle is `dpkg-query` on the same file.
#[test]
fn a_dpkg_status_database_is_read_as_dpkg_query_reads_it() {
    distill_test::tools::require("dpkg-query");
    let ctx = tempfile::tempdir().unwrap();
    let admin = ctx.path().join("admin");
    std::fs::create_dir_all(admin.join("info")).unwrap();
    std::fs::copy("/var/lib/dpkg/status", admin.join("status")).unwrap();
    std::fs::write(
        ctx.path().join("distill.toml"),
        "[image]\nbase = \"scratch\"\n\n[[files]]\nsrc = \"admin/status\"\ndst = \"/var/lib/dpkg/status\"\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}", out.path().join("image").display());
    build_ok(ctx.path(), std::slice::from_ref(&layout));
    let o = distill().args(["sbom", &layout]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: BTreeSet<String> = spdx_purls(&doc)
        .into_iter()
        .filter(|p| p.starts_with("pkg:deb/"))
        .collect();
    let listed = distill_test::tools::run_ok(
        Command::new("dpkg-query")
            .arg(format!("--admindir={}", admin.display()))
            .args([
                "-W",
                "-f",
                "${db:Status-Status} ${Package} ${Version} ${Architecture} ${source:Package}\\n",
            ]),
    );
    let expected: BTreeSet<String> = listed
        .lines()
        .filter_map(|l| l.strip_prefix("installed "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let mut purl = format!("pkg:deb/debian/{}@{}?arch={}", enc(f[0]), enc(f[1]), f[2]);
            if f[3] != f[0] {
                purl.push_str(&format!("&upstream={}", enc(f[3])));
            }
            purl
        })
        .collect();
    assert!(expected.len() > 50, "{} packages", expected.len());
    let extra: Vec<_> = got.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "not installed: {extra:?}\nmissed: {missing:?}"
    );
}

/// `-o` on something that is not a regular file (a FIFO here; `/dev/null` and
/// `/dev/stdout` alike) is written into, never replaced by a renamed temporary file.
#[test]
fn an_output_that_is_not_a_regular_file_is_written_into_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("distill.toml"),
        "[image]\nbase = \"static\"\n",
    )
    .unwrap();
    let layout = format!("oci:{}", ctx.path().join("image").display());
    build_ok(ctx.path(), std::slice::from_ref(&layout));
    let fifo = ctx.path().join("fifo");
    distill_test::tools::run_ok(Command::new("mkfifo").arg(&fifo));
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let o = distill()
        .args(["sbom", &layout, "-o"])
        .arg(&fifo)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Checked before reading: a replaced FIFO would leave the reader waiting forever.
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let doc: serde_json::Value = serde_json::from_slice(&reader.join().unwrap()).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
}
