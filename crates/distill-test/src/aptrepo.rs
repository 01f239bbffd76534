//! A local, signed apt repository made inside a test: a GnuPG key made for the test,
//! `.deb` files written here (so hostile ones can be made too), `Packages`, `Release` and a
//! clearsigned `InRelease` per suite, laid out as a Debian mirror and its security archive.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest as _, Sha256};

use crate::tools::{require, run_ok};

/// A signing key in its own GnuPG home.
pub struct GpgKey {
    home: tempfile::TempDir,
    /// The ASCII-armored public key.
    pub public: PathBuf,
    /// gpg's clock (`--faked-system-time`), for keys made and used in the past.
    clock: Option<&'static str>,
}

impl GpgKey {
    pub fn generate(name: &str) -> Self {
        Self::generate_at(name, None, "0")
    }

    /// A key made on 2020-01-01 that expired a year later; it signs with the clock of
    /// 2020-06-01, so its signatures were good when made and its expiry is what fails.
    pub fn generate_expired(name: &str) -> Self {
        let mut key = Self::generate_at(name, Some("20200101T000000!"), "1y");
        key.clock = Some("20200601T000000!");
        key
    }

    fn generate_at(name: &str, clock: Option<&'static str>, expire: &str) -> Self {
        require("gpg");
        let home = tempfile::Builder::new().prefix("gpg").tempdir().unwrap();
        let public = home.path().join("public.asc");
        let key = Self {
            home,
            public,
            clock,
        };
        let uid = format!("{name} <{name}@test.invalid>");
        run_ok(
            key.gpg()
                .args(["--quick-gen-key", &uid, "ed25519", "sign", expire]),
        );
        key.export();
        key
    }

    fn export(&self) {
        let armored = run_ok(self.gpg().args(["--armor", "--export"]));
        std::fs::write(&self.public, armored).unwrap();
    }

    /// Revokes the key with the revocation certificate gpg made for it, and re-exports the
    /// public key, which now carries the revocation. The secret key still signs.
    pub fn revoke(&self) {
        let dir = self.home.path().join("openpgp-revocs.d");
        let cert = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .next()
            .expect("gpg wrote a revocation certificate");
        // gpg guards the certificate against accidental import with a leading colon.
        let text = std::fs::read_to_string(&cert).unwrap().replace(
            ":-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
        );
        let armored = self.home.path().join("revocation.asc");
        std::fs::write(&armored, text).unwrap();
        run_ok(self.gpg().arg("--import").arg(&armored));
        self.export();
    }

    /// `gpg` on this key's home, unattended, with no passphrase.
    fn gpg(&self) -> Command {
        let mut c = Command::new("gpg");
        c.arg("--homedir").arg(self.home.path());
        if let Some(t) = self.clock {
            c.args(["--faked-system-time", t]);
        }
        c.args([
            "--batch",
            "--quiet",
            "--no-permission-warning",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ]);
        c
    }

    /// Clearsigns `text` as `InRelease` is signed.
    pub(crate) fn clearsign(&self, text: &str) -> String {
        self.sign(text, "--clearsign")
    }

    /// An armored detached signature, as `Release.gpg`.
    pub fn detach_sign(&self, text: &str) -> String {
        self.sign(text, "--detach-sign")
    }

    fn sign(&self, text: &str, how: &str) -> String {
        let mut child = self
            .gpg()
            .args(["--digest-algo", "SHA256", "--armor", how])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "gpg {how} failed");
        String::from_utf8(out.stdout).unwrap()
    }
}

/// One member of a test package's data.tar.
#[derive(Debug, Clone)]
pub enum DebEntry {
    Dir(String),
    /// A directory with this mode.
    DirMode(String, u32),
    File {
        path: String,
        content: Vec<u8>,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// A test package.
#[derive(Debug, Clone)]
pub struct DebSpec {
    pub name: String,
    pub version: String,
    pub depends: Option<String>,
    pub entries: Vec<DebEntry>,
    /// `Installed-Size` in KiB, written into the control file when set.
    pub installed_size: Option<u64>,
    /// A data member given whole (name such as `data.tar.xz`, bytes), instead of one built
    /// from `entries`: for archives no honest tool would write.
    pub data: Option<(String, Vec<u8>)>,
}

impl DebSpec {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            depends: None,
            entries: Vec::new(),
            installed_size: None,
            data: None,
        }
    }

    /// This package's data member is `bytes`, as `name` (its extension says how it is
    /// compressed).
    pub fn raw_data(mut self, name: &str, bytes: Vec<u8>, installed_kib: u64) -> Self {
        self.data = Some((name.into(), bytes));
        self.installed_size = Some(installed_kib);
        self
    }

    pub fn depends(mut self, d: &str) -> Self {
        self.depends = Some(d.into());
        self
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.entries.push(DebEntry::File {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            mode: 0o644,
        });
        self
    }

    pub fn entry(mut self, e: DebEntry) -> Self {
        self.entries.push(e);
        self
    }

    fn control(&self) -> String {
        let mut c = format!(
            "Package: {}\nVersion: {}\nArchitecture: amd64\nMaintainer: Test <t@test.invalid>\nDescription: test package\n",
            self.name, self.version
        );
        if let Some(d) = &self.depends {
            c += &format!("Depends: {d}\n");
        }
        if let Some(k) = self.installed_size {
            c += &format!("Installed-Size: {k}\n");
        }
        c
    }

    /// `md5sums` as dh_md5sums writes it: every regular file, relative, two spaces.
    fn md5sums(&self) -> Vec<u8> {
        use md5::Digest as _;
        let text: String = self
            .entries
            .iter()
            .filter_map(|e| match e {
                DebEntry::File { path, content, .. } => Some(format!(
                    "{}  {path}\n",
                    hex::encode(md5::Md5::digest(content))
                )),
                _ => None,
            })
            .collect();
        text.into_bytes()
    }

    /// The `.deb` bytes. Names are written raw into the tar headers, so a hostile path
    /// (`../x`) goes in exactly as given.
    pub fn build(&self) -> Vec<u8> {
        let control = self.control().into_bytes();
        let md5sums = self.md5sums();
        let control_tar = tar_gz(vec![
            (
                header("./", tar::EntryType::Directory, 0, 0o755),
                Vec::new(),
            ),
            (
                header(
                    "./control",
                    tar::EntryType::Regular,
                    control.len() as u64,
                    0o644,
                ),
                control,
            ),
            (
                header(
                    "./md5sums",
                    tar::EntryType::Regular,
                    md5sums.len() as u64,
                    0o644,
                ),
                md5sums,
            ),
        ]);
        let mut data = vec![(
            header("./", tar::EntryType::Directory, 0, 0o755),
            Vec::new(),
        )];
        for e in &self.entries {
            data.push(match e {
                DebEntry::Dir(p) => (
                    header(&format!("./{p}/"), tar::EntryType::Directory, 0, 0o755),
                    Vec::new(),
                ),
                DebEntry::DirMode(p, mode) => (
                    header(&format!("./{p}/"), tar::EntryType::Directory, 0, *mode),
                    Vec::new(),
                ),
                DebEntry::File {
                    path,
                    content,
                    mode,
                } => (
                    header(
                        &format!("./{path}"),
                        tar::EntryType::Regular,
                        content.len() as u64,
                        *mode,
                    ),
                    content.clone(),
                ),
                DebEntry::Symlink { path, target } => {
                    let mut h = header(&format!("./{path}"), tar::EntryType::Symlink, 0, 0o777);
                    let t = target.as_bytes();
                    h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
                    h.set_cksum();
                    (h, Vec::new())
                }
            });
        }
        let (data_name, data_tar) = match &self.data {
            Some((name, bytes)) => (name.as_str(), bytes.clone()),
            None => ("data.tar.gz", tar_gz(data)),
        };
        let mut ar = b"!<arch>\n".to_vec();
        for (name, body) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.gz", control_tar),
            (data_name, data_tar),
        ] {
            ar.extend(
                format!(
                    "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    name,
                    0,
                    0,
                    0,
                    100644,
                    body.len()
                )
                .as_bytes(),
            );
            ar.extend(&body);
            if body.len() % 2 == 1 {
                ar.push(b'\n');
            }
        }
        ar
    }
}

/// A gzip-compressed tar of `entries`, written as given.
fn tar_gz(entries: Vec<(tar::Header, Vec<u8>)>) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (h, data) in entries {
        b.append(&h, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// A gnu tar header with `name` written raw (a hostile `../x` goes in as it is).
fn header(name: &str, ty: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let bytes = name.as_bytes();
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    h.set_entry_type(ty);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    h
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn date(t: std::time::SystemTime) -> String {
    httpdate::fmt_http_date(t).replace("GMT", "UTC")
}

/// A mirror (`debian/`) and its security archive (`debian-security/`) under one root.
pub struct AptRepo {
    pub root: tempfile::TempDir,
}

impl Default for AptRepo {
    fn default() -> Self {
        Self::new()
    }
}

impl AptRepo {
    pub fn new() -> Self {
        Self {
            root: tempfile::Builder::new()
                .prefix("aptrepo")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// Publishes `debs` as `archive/dists/suite` (component main, amd64), signed by `key`,
    /// valid for `valid_for` seconds from now (negative: already expired).
    pub fn publish(
        &self,
        archive: &str,
        suite: &str,
        debs: &[DebSpec],
        key: &GpgKey,
        valid_for: i64,
    ) {
        self.publish_dated(archive, suite, debs, key, valid_for, 0);
    }

    /// [`Self::publish`], with a `Date` `age` seconds in the past: an older Release,
    /// validly signed, as a replaying mirror would serve.
    pub fn publish_dated(
        &self,
        archive: &str,
        suite: &str,
        debs: &[DebSpec],
        key: &GpgKey,
        valid_for: i64,
        age: u64,
    ) {
        let base = self.root.path().join(archive);
        let mut packages = String::new();
        for d in debs {
            let bytes = d.build();
            let filename = format!("pool/main/{}_{}_amd64.deb", d.name, d.version);
            std::fs::create_dir_all(base.join("pool/main")).unwrap();
            std::fs::write(base.join(&filename), &bytes).unwrap();
            packages += &d.control();
            packages += &format!(
                "Filename: {filename}\nSize: {}\nSHA256: {}\n\n",
                bytes.len(),
                sha256(&bytes)
            );
        }
        let dists = base.join("dists").join(suite);
        let bin = dists.join("main/binary-amd64");
        std::fs::create_dir_all(&bin).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(packages.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        std::fs::write(bin.join("Packages"), &packages).unwrap();
        std::fs::write(bin.join("Packages.gz"), &gz).unwrap();
        let now = std::time::SystemTime::now();
        let until = if valid_for >= 0 {
            now + std::time::Duration::from_secs(valid_for as u64)
        } else {
            now - std::time::Duration::from_secs((-valid_for) as u64)
        };
        let release = format!(
            "Origin: Test\nLabel: Test\nSuite: {suite}\nCodename: {suite}\nDate: {}\nValid-Until: {}\nArchitectures: amd64\nComponents: main\nSHA256:\n {} {} main/binary-amd64/Packages\n {} {} main/binary-amd64/Packages.gz\n",
            date(now - std::time::Duration::from_secs(age)),
            date(until),
            sha256(packages.as_bytes()),
            packages.len(),
            sha256(&gz),
            gz.len()
        );
        std::fs::write(dists.join("Release"), &release).unwrap();
        std::fs::write(dists.join("InRelease"), key.clearsign(&release)).unwrap();
    }

    /// A Debian 12 layout: `bookworm` holding `debs`, empty `-updates` and `-security`.
    pub fn bookworm(&self, debs: &[DebSpec], key: &GpgKey) {
        self.publish("debian", "bookworm", debs, key, 86_400);
        self.publish("debian", "bookworm-updates", &[], key, 86_400);
        self.publish("debian-security", "bookworm-security", &[], key, 86_400);
    }

    /// The file of a published package, for tampering.
    pub fn deb_path(&self, d: &DebSpec) -> PathBuf {
        self.root.path().join(format!(
            "debian/pool/main/{}_{}_amd64.deb",
            d.name, d.version
        ))
    }
}
