//! The image validator every test asserts with: the library's own
//! ([`distill_oci::validate`]), which re-hashes every blob and checks sizes, media types
//! and `diff_ids`, as go-containerregistry's `validate` does.

pub use distill_oci::validate::{Invalid, Summary, validate, validate_archive, validate_layout};

/// The first image's manifest of the layout at `layout`.
fn manifest(layout: &std::path::Path) -> serde_json::Value {
    let json = |p: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let index = json(layout.join("index.json"));
    let d = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    json(layout.join("blobs/sha256").join(&d[7..]))
}

/// The layer digests of the first image of `layout`, in order.
pub fn layer_digests(layout: &std::path::Path) -> Vec<String> {
    manifest(layout)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// Each layer of the first image of `layout` as its uncompressed tar stream.
fn layer_tars(layout: &std::path::Path) -> Vec<tar::Archive<Box<dyn std::io::Read>>> {
    let manifest = manifest(layout);
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let digest = l["digest"].as_str().unwrap();
            let f = std::fs::File::open(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
            let r: Box<dyn std::io::Read> = match l["mediaType"].as_str() {
                Some(m) if m.ends_with("+zstd") => Box::new(zstd::Decoder::new(f).unwrap()),
                Some(m) if m.ends_with("+gzip") => Box::new(flate2::read::GzDecoder::new(f)),
                _ => Box::new(f),
            };
            tar::Archive::new(r)
        })
        .collect()
}

/// Every path (with ` -> TARGET` for links) in the layers of the first image of `layout`.
pub fn layout_paths(layout: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for mut ar in layer_tars(layout) {
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let mut s = e.path().unwrap().display().to_string();
            if let Some(t) = e.link_name().unwrap() {
                s += &format!(" -> {}", t.display());
            }
            out.push(s.trim_end_matches('/').to_owned());
        }
    }
    out
}

/// The first image of `layout` unpacked into a new directory, layer over layer (a test's
/// view of the root filesystem; whiteouts are not applied, distill writes none).
pub fn unpack_layout(layout: &std::path::Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for mut ar in layer_tars(layout) {
        ar.set_preserve_permissions(false);
        ar.set_overwrite(true);
        ar.unpack(dir.path()).unwrap();
    }
    dir
}
