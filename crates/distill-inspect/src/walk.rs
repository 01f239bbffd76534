//! Walking an image's layer tars as a container runtime stacks them (image-spec `layer.md`):
//! a later layer's entry replaces an earlier one's, a whiteout `.wh.NAME` removes `NAME`
//! and what is under it, and an opaque whiteout `.wh..wh..opq` empties its directory of
//! what earlier layers put there.
//!
//! The walk keeps, per path, what a diff compares (kind, size, mode, owner, link target,
//! the sha256 of a file's content), every appearance of a path for the wasted-bytes score,
//! and the bytes of the few files that say who owns the others ([`wanted`]). Memory is
//! bounded: at most [`MAX_ENTRIES`] entries, metadata files of at most
//! [`distill_sbom::metadata::MAX_FILE`] bytes each and [`MAX_META`] in all.

use std::collections::BTreeMap;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// The most tar entries (of all layers together, whiteouts included) an inspection reads:
/// several times a large real image's, and about 0.5 GB of memory at most.
pub const MAX_ENTRIES: usize = 1_000_000;
/// The most bytes of metadata files an inspection holds.
pub const MAX_META: u64 = 512 << 20;
/// Files up to this size are searched for private keys.
const SECRET_SCAN: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Other,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Symlink => "symlink",
            Kind::Hardlink => "hardlink",
            Kind::Other => "special",
        }
    }
}

/// A path as the stacked layers leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Bytes of content (0 but for regular files).
    pub size: u64,
    /// Permission bits with setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Modification time, seconds: what most often keeps two builds from one digest.
    pub mtime: u64,
    /// A symlink's or hardlink's target.
    pub link: Option<String>,
    /// sha256 of a regular file's content.
    pub digest: Option<[u8; 32]>,
    /// The index of the layer it comes from.
    pub layer: usize,
}

/// One layer's own facts.
#[derive(Debug, Clone, Default)]
pub struct LayerFacts {
    /// The compressed blob's digest and size.
    pub digest: String,
    pub compressed: u64,
    /// Bytes of the uncompressed tar.
    pub tar_bytes: u64,
    /// The size of every regular file of the layer, by path.
    pub files: Vec<(String, u64)>,
    /// Entries of any kind, whiteouts included.
    pub entries: usize,
}

/// A private key found in a file of some layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub path: String,
    pub layer: usize,
}

/// Everything the walk learnt.
#[derive(Debug, Default)]
pub struct Walk {
    pub layers: Vec<LayerFacts>,
    pub tree: BTreeMap<String, Node>,
    /// The bytes of the [`wanted`] files of the final tree.
    pub meta: BTreeMap<String, Vec<u8>>,
    /// The size of each appearance of each non-directory path; a removal appears as 0.
    pub appearances: BTreeMap<String, Vec<u64>>,
    pub secrets: Vec<Secret>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WalkError {
    #[error("Cannot read layer {digest}: {source}")]
    #[diagnostic(help("the image's blobs are damaged; copy the image again"))]
    Read { digest: String, source: io::Error },
    #[error("Layer {digest} has media type {media_type}, which is not a layer distill reads")]
    #[diagnostic(help("distill reads tar layers, uncompressed, gzip or zstd"))]
    MediaType { digest: String, media_type: String },
    #[error("The image has more than {MAX_ENTRIES} files")]
    #[diagnostic(help("no real image has this many; the image is hostile or damaged"))]
    TooManyEntries,
    #[error("The image's package metadata is larger than {} MiB", MAX_META >> 20)]
    #[diagnostic(help("no real image has this much; the image is hostile or damaged"))]
    TooMuchMetadata,
    #[error(transparent)]
    #[diagnostic(transparent)]
    Blob(#[from] distill_oci::BlobStoreError),
}

/// Whether the walk keeps a file's bytes: what says who owns files, what the image runs
/// as, and what [`distill_sbom::metadata`] reads packages from.
pub fn wanted(path: &str) -> bool {
    if distill_sbom::metadata::is_notable(path) && !path.starts_with("usr/share/doc/") {
        return true;
    }
    if ["etc/passwd", "etc/group"].contains(&path) {
        return true;
    }
    if let Some(name) = path
        .strip_prefix("var/lib/dpkg/info/")
        .or_else(|| path.strip_prefix("var/lib/dpkg/status.d/"))
    {
        return !name.contains('/')
            && [".list", ".md5sums", ".conffiles"]
                .iter()
                .any(|s| name.ends_with(s));
    }
    path.strip_suffix("/RECORD")
        .is_some_and(|d| d.ends_with(".dist-info"))
}

/// One layer entry, before it is stacked.
struct Pending {
    path: String,
    node: Node,
    bytes: Option<Vec<u8>>,
}

/// What a layer removes from the layers below it.
enum Removal {
    Whiteout(String),
    Opaque(String),
}

impl Walk {
    /// Stacks one layer, given as its uncompressed tar.
    pub fn add_layer(&mut self, tar: impl Read, mut facts: LayerFacts) -> Result<(), io::Error> {
        let layer = self.layers.len();
        let mut counted = Counting { inner: tar, n: 0 };
        let (pending, removals) = read_entries(&mut counted, layer, self, &mut facts)?;
        // What follows the end-of-archive blocks is padding; read a bounded amount of it.
        let _ = io::copy(&mut (&mut counted).take(1 << 20), &mut io::sink());
        facts.tar_bytes = counted.n;
        for r in removals {
            match r {
                Removal::Whiteout(p) => self.remove(&p, false),
                Removal::Opaque(d) => self.remove(&d, true),
            }
        }
        for p in pending {
            if p.node.kind != Kind::Dir {
                self.appearances
                    .entry(p.path.clone())
                    .or_default()
                    .push(p.node.size);
            }
            // A path under what was a file makes that file a directory.
            let mut at = p.path.as_str();
            while let Some((parent, _)) = at.rsplit_once('/') {
                if self.tree.get(parent).is_some_and(|n| n.kind != Kind::Dir) {
                    self.forget(parent);
                }
                at = parent;
            }
            // A directory entry over a directory keeps what is under it; any other entry
            // replaces the subtree (tar semantics: the last entry for a path wins).
            if p.node.kind == Kind::Dir {
                if self.tree.get(&p.path).is_some_and(|n| n.kind != Kind::Dir) {
                    self.forget(&p.path);
                }
            } else {
                self.remove(&p.path, true);
            }
            match p.bytes {
                Some(b) => {
                    self.meta.insert(p.path.clone(), b);
                }
                None => {
                    self.meta.remove(&p.path);
                }
            }
            self.tree.insert(p.path, p.node);
        }
        self.layers.push(facts);
        Ok(())
    }

    /// Removes what is under `path`, and `path` itself unless `keep_self` (an opaque
    /// whiteout empties its directory but keeps it). The tree holds only lower layers' nodes
    /// when this runs, which are all a layer's whiteouts apply to. Each removed
    /// non-directory appears once more, with size 0.
    fn remove(&mut self, path: &str, keep_self: bool) {
        let mut gone: Vec<String> = self.under(path).map(|(k, _)| k.clone()).collect();
        if !keep_self {
            gone.push(path.to_owned());
        }
        for k in gone {
            self.forget(&k);
        }
    }

    /// The paths of the tree below the directory `dir`, in order.
    pub fn under<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a String, &'a Node)> {
        let prefix = format!("{dir}/");
        self.tree
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
    }

    fn forget(&mut self, path: &str) {
        if let Some(n) = self.tree.remove(path) {
            if n.kind != Kind::Dir {
                self.appearances.entry(path.to_owned()).or_default().push(0);
            }
            self.meta.remove(path);
        }
    }

    /// The bytes of a wanted file of the final tree, as text.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.meta
            .get(path)
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// Reads a layer's entries; file contents are hashed as they pass.
fn read_entries(
    tar: impl Read,
    layer: usize,
    walk: &mut Walk,
    facts: &mut LayerFacts,
) -> io::Result<(Vec<Pending>, Vec<Removal>)> {
    let (tar, _) =
        distill_oci::tarlimits::Guarded::new(tar, distill_oci::tarlimits::Limits::unbounded());
    let mut archive = tar::Archive::new(tar);
    let mut pending = Vec::new();
    let mut removals = Vec::new();
    let mut meta_total: u64 = walk.meta.values().map(|b| b.len() as u64).sum();
    // Every entry of every layer is held (in its layer's facts, and as an appearance), not
    // only those the stack keeps: the bound is on all of them.
    let before: usize = walk.layers.iter().map(|l| l.entries).sum();
    for entry in archive.entries()? {
        let mut entry = entry?;
        facts.entries += 1;
        if before + facts.entries > MAX_ENTRIES {
            return Err(io::Error::other(TOO_MANY));
        }
        let raw = entry.path_bytes();
        let path = normalize(&String::from_utf8_lossy(&raw));
        if path.is_empty() {
            continue;
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
        if name == ".wh..wh..opq" {
            removals.push(Removal::Opaque(dir.to_owned()));
            continue;
        }
        if let Some(gone) = name.strip_prefix(".wh.") {
            removals.push(Removal::Whiteout(join(dir, gone)));
            continue;
        }
        let header = entry.header();
        let kind = match header.entry_type() {
            t if t.is_file() => Kind::File,
            t if t.is_dir() => Kind::Dir,
            t if t.is_symlink() => Kind::Symlink,
            t if t.is_hard_link() => Kind::Hardlink,
            _ => Kind::Other,
        };
        let link = entry
            .link_name()
            .ok()
            .flatten()
            .map(|l| l.to_string_lossy().into_owned());
        let link = match kind {
            Kind::Hardlink => link.map(|l| normalize(&l)),
            Kind::Symlink => link,
            _ => None,
        };
        let size = if kind == Kind::File { entry.size() } else { 0 };
        let mut node = Node {
            kind,
            size,
            mode: header.mode().unwrap_or(0) & 0o7777,
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mtime: header.mtime().unwrap_or(0),
            link,
            digest: None,
            layer,
        };
        let mut bytes = None;
        if kind == Kind::File {
            let keep = wanted(&path) && size <= distill_sbom::metadata::MAX_FILE;
            if keep {
                meta_total += size;
                if meta_total > MAX_META {
                    return Err(io::Error::other(TOO_MUCH));
                }
            }
            let (digest, content, secret) = hash(&mut entry, keep, size <= SECRET_SCAN)?;
            node.digest = Some(digest);
            bytes = content;
            if secret {
                walk.secrets.push(Secret {
                    path: path.clone(),
                    layer,
                });
            }
            facts.files.push((path.clone(), size));
        }
        pending.push(Pending { path, node, bytes });
    }
    Ok((pending, removals))
}

const TOO_MANY: &str = "too many entries";
const TOO_MUCH: &str = "too much metadata";

/// Maps the walk's own limits, carried through `io::Error`, to their errors.
pub(crate) fn classify(digest: &str, e: io::Error) -> WalkError {
    match e.get_ref().map(|r| r.to_string()) {
        Some(m) if m == TOO_MANY => WalkError::TooManyEntries,
        Some(m) if m == TOO_MUCH => WalkError::TooMuchMetadata,
        _ => WalkError::Read {
            digest: digest.to_owned(),
            source: e,
        },
    }
}

/// The sha256 of a file, its bytes when `keep`, and whether it holds a private key (when
/// `scan`, which holds at most [`SECRET_SCAN`] bytes).
fn hash(
    r: &mut impl Read,
    keep: bool,
    scan: bool,
) -> io::Result<([u8; 32], Option<Vec<u8>>, bool)> {
    let mut sha = Sha256::new();
    let mut held = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        if keep || scan {
            held.extend_from_slice(&buf[..n]);
        }
    }
    let secret = scan && is_private_key(&held);
    Ok((sha.finalize().into(), keep.then_some(held), secret))
}

/// A PEM or OpenSSH private key: `-----BEGIN … PRIVATE KEY-----`.
pub fn is_private_key(bytes: &[u8]) -> bool {
    const END: &[u8] = b"PRIVATE KEY-----";
    bytes.windows(END.len()).enumerate().any(|(i, w)| {
        w == END && {
            let start = i.saturating_sub(40);
            let line = &bytes[start..i];
            line.windows(11).any(|b| b == b"-----BEGIN ")
        }
    })
}

/// `./a/b/` → `a/b`.
pub fn normalize(path: &str) -> String {
    let p = path.trim_start_matches("./").trim_start_matches('/');
    p.trim_end_matches('/').to_owned()
}

pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer of `(path, content)` files, `None` for a directory.
    fn layer(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, content) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            match content {
                Some(c) => {
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

    fn stack(layers: &[Vec<u8>]) -> Walk {
        let mut w = Walk::default();
        for l in layers {
            w.add_layer(l.as_slice(), LayerFacts::default()).unwrap();
        }
        w
    }

    fn paths(w: &Walk) -> Vec<&str> {
        w.tree.keys().map(String::as_str).collect()
    }

    #[test]
    fn whiteouts_remove_lower_paths_and_opaque_ones_empty_a_directory() {
        let w = stack(&[
            layer(&[
                ("d", None),
                ("d/x", Some(b"1")),
                ("d/sub/y", Some(b"22")),
                ("e/z", Some(b"333")),
                ("f", Some(b"4444")),
            ]),
            layer(&[
                ("d/.wh..wh..opq", Some(b"")),
                ("d/new", Some(b"5")),
                ("e/.wh.z", Some(b"")),
                ("f/inside", Some(b"6")),
            ]),
        ]);
        // The opaque whiteout keeps d and what its own layer adds; f, once a file, is a
        // directory now (the tars name no parent directories but d).
        assert_eq!(paths(&w), ["d", "d/new", "f/inside"]);
        assert_eq!(w.appearances["d/x"], [1, 0]);
        assert_eq!(w.appearances["d/sub/y"], [2, 0]);
        assert_eq!(w.appearances["e/z"], [3, 0]);
        assert_eq!(w.appearances["f"], [4, 0]);
        assert_eq!(w.tree["d/new"].layer, 1);
    }

    #[test]
    fn a_file_over_a_directory_replaces_its_subtree_and_metadata_follows_the_stack() {
        let w = stack(&[
            layer(&[
                ("etc/passwd", Some(b"root:x:0:0::/:/bin/sh\n")),
                ("a/b", Some(b"x")),
            ]),
            layer(&[("a", Some(b"now a file")), ("etc/.wh.passwd", Some(b""))]),
        ]);
        assert_eq!(paths(&w), ["a"]);
        assert_eq!(w.text("etc/passwd"), None);
        assert_eq!(w.appearances["a/b"], [1, 0]);
        let w = stack(&[
            layer(&[("etc/passwd", Some(b"one\n"))]),
            layer(&[("etc/passwd", Some(b"two\n"))]),
        ]);
        assert_eq!(w.text("etc/passwd"), Some("two\n"));
        assert_eq!(w.appearances["etc/passwd"], [4, 4]);
    }

    #[test]
    fn entries_are_bounded_over_all_layers_not_only_those_kept() {
        let mut w = Walk::default();
        // Layers that each delete what the last added keep the tree small; the walk still
        // counts what it read.
        w.layers.push(LayerFacts {
            entries: MAX_ENTRIES - 1,
            ..Default::default()
        });
        let two = layer(&[("a", Some(b"1")), ("b", Some(b"2"))]);
        let e = w
            .add_layer(two.as_slice(), LayerFacts::default())
            .unwrap_err();
        assert!(matches!(classify("l", e), WalkError::TooManyEntries));
        let mut w = Walk::default();
        w.layers.push(LayerFacts {
            entries: MAX_ENTRIES - 2,
            ..Default::default()
        });
        w.add_layer(two.as_slice(), LayerFacts::default()).unwrap();
    }

    #[test]
    fn private_keys_are_found_by_their_armour() {
        assert!(is_private_key(b"x\n-----BEGIN RSA PRIVATE KEY-----\nMII"));
        assert!(is_private_key(b"-----BEGIN PRIVATE KEY-----\n"));
        assert!(!is_private_key(b"-----BEGIN PUBLIC KEY-----\n"));
        assert!(!is_private_key(b"the PRIVATE KEY----- of nothing"));
    }
}
